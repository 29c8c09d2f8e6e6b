"""Metadata: validation at the boundary, the merge rule, and environment auto-tags.

The merge rule: ``merge(a, b)`` is ``a`` updated by ``b``, except that where both hold a
mapping under the same key, those mappings are merged by the same rule. It is associative,
has ``{}`` as identity, and never mutates its inputs. Layers, lowest to highest: environment
auto-tags, client defaults, outer contexts, inner contexts (a decorated function's call-time
values sit on its own context, above its static metadata), then per-call metadata.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from ._errors import MetadataError
from ._limits import MAX_INT_DIGITS, MAX_METADATA_DEPTH, encodable, int_too_long

__all__ = ["environment_tags", "merge_metadata", "validate_metadata"]


def merge_metadata(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` merged with ``override``; ``override`` wins, mappings merge recursively.

    >>> merge_metadata({"team": "ocr", "tags": {"a": 1}}, {"tags": {"b": 2}})
    {'team': 'ocr', 'tags': {'a': 1, 'b': 2}}
    """
    if not override:
        return dict(base)
    result = dict(base)
    for key, value in override.items():
        current = result.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            result[key] = merge_metadata(current, value)
        else:
            result[key] = value
    return result


def validate_metadata(metadata: object, source: str) -> dict[str, Any]:
    """Check that ``metadata`` is a JSON-serialisable mapping with string keys; return a copy.

    Every string must be encodable (no lone surrogates), integers have at most
    ``MAX_INT_DIGITS`` digits, and nesting stops at ``MAX_METADATA_DEPTH`` levels (a mapping
    or list that contains itself is refused by name). Raises :class:`MetadataError` naming
    the offending key path and ``source``.
    """
    if not isinstance(metadata, Mapping):
        raise MetadataError(
            f"metadata from {source} must be a mapping, not {type(metadata).__name__}",
            key="",
            value=metadata,
            source=source,
        )
    return _check_mapping(metadata, "", source, 1, (id(metadata),))


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _check_mapping(
    mapping: Mapping[Any, Any], path: str, source: str, depth: int, seen: tuple[int, ...]
) -> dict[str, Any]:
    return {
        _check_key(key, path, source): _check_value(value, _join(path, key), source, depth, seen)
        for key, value in mapping.items()
    }


def _check_key(key: object, prefix: str, source: str) -> str:
    if not isinstance(key, str):
        raise MetadataError(
            f"metadata key {key!r} at {prefix or 'top level'} from {source} must be a string, "
            f"not {type(key).__name__}",
            key=_join(prefix, key),
            value=key,
            source=source,
        )
    if not encodable(key):
        raise MetadataError(
            f"metadata key {key!r} at {prefix or 'top level'} from {source} holds a lone "
            "surrogate and cannot be encoded as UTF-8",
            key=_join(prefix, key),
            value=key,
            source=source,
        )
    return key


def _check_value(value: object, path: str, source: str, depth: int, seen: tuple[int, ...]) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if encodable(value):
            return value
        raise MetadataError(
            f"metadata key {path!r} from {source} is {value!r:.60}, which holds a lone "
            "surrogate and cannot be encoded as UTF-8",
            key=path,
            value=value,
            source=source,
        )
    if isinstance(value, int):
        if not int_too_long(value):
            return value
        raise MetadataError(
            f"metadata key {path!r} from {source} is an integer of more than "
            f"{MAX_INT_DIGITS} digits, which cannot be written as text; pass str(value)",
            key=path,
            value=value,
            source=source,
        )
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise MetadataError(
            f"metadata key {path!r} from {source} is {value!r}, which JSON cannot represent",
            key=path,
            value=value,
            source=source,
        )
    if isinstance(value, Mapping | list | tuple):
        if id(value) in seen:
            raise MetadataError(
                f"metadata key {path!r} from {source} refers to a mapping or list that "
                "contains it, which JSON cannot represent",
                key=path,
                value=f"<{type(value).__name__} containing itself>",
                source=source,
            )
        if depth >= MAX_METADATA_DEPTH:
            raise MetadataError(
                f"metadata key {path!r} from {source} nests deeper than "
                f"{MAX_METADATA_DEPTH} levels",
                key=path,
                value=f"<{type(value).__name__} at depth {depth + 1}>",
                source=source,
            )
        inner = (*seen, id(value))
        if isinstance(value, Mapping):
            return _check_mapping(value, path, source, depth + 1, inner)
        return [
            _check_value(v, f"{path}[{i}]", source, depth + 1, inner) for i, v in enumerate(value)
        ]
    raise MetadataError(
        f"metadata key {path!r} from {source} holds a {type(value).__name__} ({value!r:.60}), "
        "which is not JSON-serialisable; pass a str, int, float, bool, None, list or mapping "
        "(e.g. str(value) or value.isoformat())",
        key=path,
        value=value,
        source=source,
    )


_TRUTHY_OFF = {"", "0", "false", "no", "off"}
_ENVIRONMENT_VARIABLES = ("AIUSAGE_ENVIRONMENT", "ENVIRONMENT", "APP_ENV", "ENV")


def environment_tags(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Auto-tags from the environment: ``environment`` and ``ci``.

    ``environment`` is ``AIUSAGE_ENVIRONMENT`` if set, else ``ENVIRONMENT``, ``APP_ENV`` or
    ``ENV``, else ``"ci"`` on CI and ``"development"`` elsewhere. ``ci`` is ``True`` when the
    ``CI`` variable is set to anything but an off value (``0``, ``false``, ``no``, ``off``).
    """
    env = os.environ if environ is None else environ
    ci = env.get("CI", "").strip().lower() not in _TRUTHY_OFF
    environment = next(
        (env[name].strip() for name in _ENVIRONMENT_VARIABLES if env.get(name, "").strip()),
        "ci" if ci else "development",
    )
    return {"environment": environment, "ci": ci}
