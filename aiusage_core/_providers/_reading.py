"""Reading a provider's response fields without trusting them: mappings, pydantic models
and plain objects alike (shared by the adapters; imports no SDK).

A *core* count (one a call's cost rests on) is a non-negative ``int`` or unusable
(:func:`core` gives ``None``); a *detail* count that is absent or ``None`` is 0, and one that
is negative or not an ``int`` is 0 and noted in ``problems`` (:func:`detail`).
"""

from __future__ import annotations

from collections.abc import Mapping

import pydantic

__all__ = ["MAPPING", "MODEL", "OBJECT", "clamp", "core", "detail", "field", "kinds", "values"]


class _Attributes:
    """``.get`` over an object's attributes, for objects that are neither mappings nor
    pydantic models."""

    __slots__ = ("obj",)

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def get(self, name: str) -> object:
        return getattr(self.obj, name, None)


MAPPING, MODEL, OBJECT = 0, 1, 2
kinds: dict[type, int] = {dict: MAPPING}
"""How to read each type seen so far (decided once per type: ``isinstance`` on ABCs is slow)."""


def values(obj: object) -> Mapping[str, object] | _Attributes:
    """The fields of ``obj`` behind a ``.get(name)``, read the cheapest way for its type."""
    kind = kinds.get(type(obj))
    if kind is None:
        # isinstance against ABCs is slow: decided once per type.
        if isinstance(obj, Mapping):
            kind = MAPPING
        elif isinstance(obj, pydantic.BaseModel):
            kind = MODEL
        else:
            kind = OBJECT
        kinds[type(obj)] = kind
    if kind == MAPPING:
        return obj  # type: ignore[return-value]
    if kind == MODEL:
        # pydantic keeps every declared field (defaults included) in the instance __dict__.
        return obj.__dict__
    return _Attributes(obj)


def field(obj: object, name: str) -> object:
    """``obj[name]`` for mappings, ``getattr(obj, name)`` otherwise; ``None`` when absent.

    Never raises: a property or mapping that raises counts as absent.
    """
    if obj is None:
        return None
    try:
        return values(obj).get(name)
    except Exception:
        return None


def core(value: object) -> int | None:
    """``value`` as a core count, or ``None`` when it is not a non-negative ``int``."""
    if type(value) is int:  # the common case, checked first (and bool is not int here)
        return value if value >= 0 else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return int(value)
    return None


def detail(value: object, name: str, problems: list[str]) -> int:
    """``value`` as a detail count (0 when absent; 0 and noted when malformed)."""
    if type(value) is int and value >= 0:
        return value
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return int(value)
    problems.append(f"{name}={value!r:.40} (counted as 0)")
    return 0


def clamp(name: str, value: int, limit: int, limit_name: str, problems: list[str]) -> int:
    """``value`` at most ``limit`` (noted when it was more)."""
    if value > limit:
        problems.append(f"{name}={value} exceeds {limit_name}={limit} (clamped)")
        return limit
    return value
