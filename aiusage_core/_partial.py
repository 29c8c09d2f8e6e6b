"""``partial_failure_context``: a usage context for batches that may partly fail."""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from ._budget import Budget
from ._context import UsageContext
from ._errors import ConfigurationError

__all__ = ["PartialFailureTracker", "partial_failure_context"]

MAX_SUMMARY_ERRORS = 10


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        if isinstance(value, dict):
            return {str(k): _jsonable(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [_jsonable(v) for v in value]
        return repr(value)
    return value


class PartialFailureTracker(MutableMapping[str, Any]):
    """Counts the successes and failures of a batch; also works the dict way.

    Dict way (the original API): ``ctx["success_count"] += 1``, ``ctx["failure_count"] += 1``,
    ``ctx["errors"].append({...})``, ``ctx["tracker"]`` (the :class:`UsageContext`). Method way:
    :meth:`record_success`, :meth:`record_failure`, and ``with ctx.attempt(item): ...``.
    """

    def __init__(self, context: UsageContext, continue_on_error: bool) -> None:
        self._data: dict[str, Any] = {
            "success_count": 0,
            "failure_count": 0,
            "errors": [],
            "tracker": context,
        }
        self.continue_on_error = continue_on_error

    # -- the dict way -----------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "tracker":
            raise KeyError("'tracker' is the usage context and cannot be replaced")
        if key in ("success_count", "failure_count") and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise ConfigurationError(
                f"partial_failure_context[{key!r}] must be a non-negative int, not {value!r}",
                name=key,
                value=value,
            )
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        if key in ("success_count", "failure_count", "errors", "tracker"):
            raise KeyError(f"{key!r} is part of the partial-failure summary and cannot be deleted")
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # -- the method way ---------------------------------------------------------------------

    @property
    def tracker(self) -> UsageContext:
        """The usage context of the batch."""
        context: UsageContext = self._data["tracker"]
        return context

    @property
    def success_count(self) -> int:
        """Items that succeeded."""
        return int(self._data["success_count"])

    @property
    def failure_count(self) -> int:
        """Items that failed."""
        return int(self._data["failure_count"])

    @property
    def errors(self) -> list[Any]:
        """The failures recorded, in order."""
        errors: list[Any] = self._data["errors"]
        return errors

    def record_success(self) -> None:
        """Count one success."""
        self._data["success_count"] += 1

    def record_failure(self, error: BaseException | str, item: Any = None) -> None:
        """Count one failure. With ``continue_on_error=False`` an exception is re-raised."""
        self._data["failure_count"] += 1
        entry: dict[str, Any] = {"error": str(error)}
        if isinstance(error, BaseException):
            entry["type"] = type(error).__name__
        if item is not None:
            entry["item"] = item
        self._data["errors"].append(entry)
        if not self.continue_on_error and isinstance(error, BaseException):
            raise error

    @contextmanager
    def attempt(self, item: Any = None) -> Iterator[None]:
        """Run one item: a clean exit counts a success, an exception a failure.

        The exception is swallowed when ``continue_on_error`` is true, re-raised otherwise.
        """
        try:
            yield
        except Exception as exc:
            self.record_failure(exc, item)
        else:
            self.record_success()

    def summary(self) -> dict[str, Any]:
        """``total``, ``successful``, ``failed``, ``error_count`` and the first 10 ``errors``."""
        successful, failed = self.success_count, self.failure_count
        errors = self.errors
        return {
            "total": successful + failed,
            "successful": successful,
            "failed": failed,
            "error_count": len(errors),
            "errors": _jsonable(list(errors[:MAX_SUMMARY_ERRORS])),
        }

    def __repr__(self) -> str:
        return (
            f"<PartialFailureTracker {self.tracker.operation_type!r} "
            f"successful={self.success_count} failed={self.failure_count}>"
        )


class partial_failure_context:
    """A usage context for a batch that may partly fail; yields a :class:`PartialFailureTracker`.

    ::

        with partial_failure_context("batch_processing") as ctx:
            for item in items:
                try:
                    process(item)
                    ctx["success_count"] += 1
                except Exception as e:
                    ctx["errors"].append({"item": item, "error": str(e)})
                    ctx["failure_count"] += 1

    On exit, ``partial_failure_summary`` (total, successful, failed, error_count, first 10
    errors) is added to the context's metadata. An exception leaving the block is recorded on
    the context and re-raised unchanged. ``budget`` (a :class:`Budget`) limits the batch's
    calls as for :func:`ai_usage_context`; a refused item is an ordinary failure.
    """

    def __init__(
        self,
        operation_type: str,
        continue_on_error: bool = True,
        *,
        budget: Budget | None = None,
        **metadata: Any,
    ) -> None:
        self._context = UsageContext(operation_type, metadata, budget=budget)
        self._tracker = PartialFailureTracker(self._context, continue_on_error)

    def __enter__(self) -> PartialFailureTracker:
        self._context.__enter__()
        return self._tracker

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._context.add_metadata(partial_failure_summary=self._tracker.summary())
        finally:
            self._context.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> PartialFailureTracker:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)
