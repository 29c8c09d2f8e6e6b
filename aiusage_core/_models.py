"""Model names: the one rule for "this record is of that model", and the known names.

The API answers a request for ``gpt-4o-mini`` with the dated snapshot that served it
(``gpt-4o-mini-2024-07-18``), and records carry the model the *response* names. So wherever a
user names a model to select records (``ai_usage.assert_calls(1, model=...)``, a report's
``--where model=...``), :func:`model_matches` decides: the name itself, or a dated snapshot of
it. ``exact=True`` compares the names as they are.

The known names are those genai-prices can price (its bundled data, never its updater); they
give unknown names a "did you mean ...?".
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import Final

__all__ = [
    "SNAPSHOT_SUFFIX",
    "is_known_model",
    "known_models",
    "model_matches",
    "suggest_model",
]

SNAPSHOT_SUFFIX: Final = r"-(?:\d{4}-\d{2}-\d{2}|\d{4})"
"""What a dated snapshot adds to its alias: ``-2024-07-18`` (or, for older models, ``-0125``).
A regular expression that Python and PostgreSQL read alike."""

_SNAPSHOT_SUFFIX: Final = re.compile(SNAPSHOT_SUFFIX)


def model_matches(wanted: str, actual: str, *, exact: bool = False) -> bool:
    """Whether a record of model ``actual`` counts as one of ``wanted``.

    ``gpt-4o-mini`` matches ``gpt-4o-mini`` and ``gpt-4o-mini-2024-07-18``, not
    ``gpt-4o-mini-2024-07-18-ft`` nor ``gpt-4o`` (``gpt-4o`` does not match
    ``gpt-4o-mini-2024-07-18`` either). With ``exact=True`` only the same name matches::

        >>> model_matches("gpt-4o-mini", "gpt-4o-mini-2024-07-18")
        True
        >>> model_matches("gpt-4o-mini", "gpt-4o-mini-2024-07-18", exact=True)
        False
    """
    if actual == wanted:
        return True
    if exact or not actual.startswith(wanted):
        return False
    return _SNAPSHOT_SUFFIX.fullmatch(actual, len(wanted)) is not None


@functools.lru_cache(maxsize=8)
def known_models(provider: str = "openai") -> tuple[str, ...]:
    """Every model name genai-prices prices for ``provider`` (ids and the exact names they
    match), sorted; empty for a provider it does not know."""
    from genai_prices import data_snapshot

    names: set[str] = set()
    for candidate in data_snapshot.get_snapshot().providers:
        if candidate.id != provider:
            continue
        for model in candidate.models:
            names.add(model.id)
            names.update(_exact_names(model.match))
    return tuple(sorted(names))


def _exact_names(clause: object) -> set[str]:
    """The names an ``equals`` clause (or an ``or`` of them) of genai-prices matches."""
    equals = getattr(clause, "equals", None)
    if isinstance(equals, str):
        return {equals}
    found: set[str] = set()
    for inner in getattr(clause, "or_", None) or ():
        found |= _exact_names(inner)
    return found


def is_known_model(model: str, provider: str = "openai") -> bool:
    """Whether genai-prices has a price for ``model`` of ``provider``."""
    from genai_prices import data_snapshot

    try:
        data_snapshot.get_snapshot().find_provider_model(model, None, provider, None)
    except LookupError:
        return False
    return True


def suggest_model(model: str, provider: str = "openai") -> str | None:
    """The known model name closest to ``model`` (a likely typo), or ``None``::

    >>> suggest_model("gpt-4o-mnii")
    'gpt-4o-mini'
    """
    close = difflib.get_close_matches(model, known_models(provider), n=1, cutoff=0.8)
    return close[0] if close else None
