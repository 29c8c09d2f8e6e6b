"""The one error hierarchy of aiusage.

::

    AIUsageError
    ├── ConfigurationError (ValueError)   bad configuration, options or price overrides
    ├── MetadataError (ValueError)        metadata that cannot be merged or serialised
    ├── ContextError (RuntimeError)       misuse of a usage context (entered twice, ...)
    ├── LedgerError                       a ledger that cannot be read or written
    │   └── SchemaVersionError            a ledger written by a newer aiusage
    └── BudgetExceededError               a budget refused a call before it was sent

Errors raised for caller misuse carry the offending value as an attribute. Failures inside
tracking itself (a sink that raises, an unknown model) are never raised into the caller:
they are logged on the ``aiusage`` logger instead.
"""

from __future__ import annotations

__all__ = [
    "AIUsageError",
    "BudgetExceededError",
    "ConfigurationError",
    "ContextError",
    "LedgerError",
    "MetadataError",
    "SchemaVersionError",
]


class AIUsageError(Exception):
    """Base class of every error raised by aiusage."""


class ConfigurationError(AIUsageError, ValueError):
    """A configuration value, option or price override is invalid.

    ``name`` is the setting (or field) at fault and ``value`` the value given.
    """

    def __init__(self, message: str, *, name: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.name = name
        self.value = value


class MetadataError(AIUsageError, ValueError):
    """Metadata cannot be used: not a mapping, not JSON-serialisable, or over a limit.

    ``key`` is the dotted path of the offending key (``"job.started"``), ``value`` the value
    and ``source`` where the metadata came from (e.g. ``context 'receipt_batch'``).
    """

    def __init__(self, message: str, *, key: str, value: object, source: str) -> None:
        super().__init__(message)
        self.key = key
        self.value = value
        self.source = source


class ContextError(AIUsageError, RuntimeError):
    """A usage context was misused, e.g. entered twice or exited out of order."""


class LedgerError(AIUsageError):
    """A usage ledger cannot be opened, read or written. ``path`` names it."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class SchemaVersionError(LedgerError):
    """The ledger's schema is newer than this version of aiusage understands."""

    def __init__(self, message: str, *, path: str, found: int, supported: int) -> None:
        super().__init__(message, path=path)
        self.found = found
        self.supported = supported


class BudgetExceededError(AIUsageError):
    """A budget refused a call before its request was sent (see :class:`Budget`).

    ``limit`` names the limit that refused it (``"usd"``, ``"tokens"``, ``"input_tokens"``,
    ``"output_tokens"``, ``"calls"``), ``allowed`` its value; ``context`` is the path of the
    context whose budget it is (``"job/batch"``); ``spent`` and ``reserved`` are what calls
    that ended spent and what calls in flight reserved under that limit; ``requested`` is the
    refused call's worst case under it (``None`` when it cannot be bounded, or the budget was
    exceeded already) and ``measured`` the sum of the three (``None`` likewise); ``call``
    describes the refused call.
    """

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        measured: object,
        allowed: object,
        context: str | None = None,
        spent: object = None,
        reserved: object = None,
        requested: object = None,
        call: str | None = None,
    ) -> None:
        super().__init__(message)
        self.limit = limit
        self.measured = measured
        self.allowed = allowed
        self.context = context
        self.spent = spent
        self.reserved = reserved
        self.requested = requested
        self.call = call


# Tracebacks and reprs name the public path (``aiusage_core.ConfigurationError``), never this
# private module; pickling finds the classes there too.
for _error in (
    AIUsageError,
    ConfigurationError,
    MetadataError,
    ContextError,
    LedgerError,
    SchemaVersionError,
    BudgetExceededError,
):
    _error.__module__ = "aiusage_core"
del _error
