"""Reading a ledger: grouped totals and record export, as the ``aiusage`` command uses them.

::

    with Ledger("usage.db") as ledger:  # or Ledger("postgresql://aiusage@db/usage")
        report = ledger.report(by=["model", "day"], since=datetime(2026, 11, 1, tzinfo=UTC))
        for group in report.groups:
            print(group.key, group.totals.cost_usd)

The grouping runs in the database (SQL ``GROUP BY``), money summed exactly. One reader per
kind of ledger (``_sqlite_ledger``, ``_postgres_ledger``) turns a query into its SQL; this
module picks the reader from the location and presents the results the same way for both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from ._errors import ConfigurationError
from ._ledger_query import BUILTIN_KEYS, GroupRows, Key, Selection, parse_key
from ._postgres import is_postgres_dsn
from ._records import UsageRecord, UsageTotals

__all__ = ["BUILTIN_KEYS", "GroupTotals", "Ledger", "LedgerReport"]


@dataclass(frozen=True)
class GroupTotals:
    """The totals of one group of a :class:`LedgerReport`."""

    key: tuple[Any, ...]
    """The group's value for each grouping key, in the order of ``by``."""
    totals: UsageTotals
    """Sums over the group's records."""


@dataclass(frozen=True)
class LedgerReport:
    """Totals of a ledger, overall and per group."""

    by: tuple[str, ...]
    """The grouping keys."""
    totals: UsageTotals
    """Sums over every selected record."""
    groups: tuple[GroupTotals, ...]
    """One entry per distinct key, ordered by key: missing values, numbers, then text."""


class _Reader(Protocol):
    """What every kind of ledger answers (``SQLiteReader``, ``PostgresReader``)."""

    location: str

    def schema_version(self) -> int: ...

    def totals(self, keys: Sequence[Key], selection: Selection) -> GroupRows: ...

    def rows(self, selection: Selection) -> Iterator[dict[str, Any]]: ...

    def count(self) -> int: ...

    def has_metadata_key(self, name: str) -> bool: ...

    def metadata_keys(self) -> list[str]: ...

    def close(self) -> None: ...


def _order(value: Any) -> tuple[int, str, float]:
    """Sort key for group values of mixed types: missing, then numbers, then text."""
    if value is None:
        return (0, "", 0.0)
    if isinstance(value, bool | int | float):
        return (1, "", float(value))
    return (2, str(value), 0.0)


class Ledger:
    """A ledger written by :class:`SQLiteSink` (a path) or :class:`PostgresSink` (a
    ``postgresql://`` DSN), opened for reading.

    Raises :class:`LedgerError` if the ledger is missing or not a ledger, and
    :class:`SchemaVersionError` if a newer aiusage wrote it. A ledger of an older schema
    version is migrated first (that one write aside, the ledger is never modified).
    """

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self._reader: _Reader
        if is_postgres_dsn(location):
            from ._postgres_ledger import PostgresReader

            self._reader = PostgresReader(str(location))
        else:
            from ._sqlite_ledger import SQLiteReader

            self._reader = SQLiteReader(location)
        self.path = self._reader.location
        """Where the ledger is: a file path, or the DSN without its password."""

    @property
    def schema_version(self) -> int:
        """The ledger's schema version."""
        return self._reader.schema_version()

    @staticmethod
    def _selection(
        since: datetime | None, until: datetime | None, where: Mapping[str, str] | None
    ) -> Selection:
        return Selection(
            since=since,
            until=until,
            where=tuple((parse_key(k), v) for k, v in (where or {}).items()),
        )

    def report(
        self,
        by: Sequence[str] = ("model",),
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> LedgerReport:
        """Totals over the records with ``since <= timestamp < until``, grouped by ``by``.

        ``where`` keeps records whose key (as for ``by``) equals the given text (or the
        number/boolean it spells); ``model`` also matches the model's dated snapshots
        (``gpt-4o-mini`` selects ``gpt-4o-mini-2024-07-18``). Naive datetimes are UTC.
        A metadata key in ``by`` that no record has raises :class:`ConfigurationError`
        naming the keys that exist.
        """
        by = tuple(by)
        keys = [parse_key(k) for k in by]
        for name, key in zip(by, keys, strict=True):
            self._check_key(name, key)
        totals, rows = self._reader.totals(keys, self._selection(since, until, where))
        groups = [GroupTotals(key=key, totals=group) for key, group in rows]
        groups.sort(key=lambda g: tuple(_order(v) for v in g.key))
        return LedgerReport(by=by, totals=totals, groups=tuple(groups))

    def _check_key(self, name: str, key: Key) -> None:
        """Raise :class:`ConfigurationError` if ``key`` is a metadata key no record has."""
        if key.metadata is None or self._reader.has_metadata_key(key.metadata):
            return
        if not self._reader.count():
            return
        names = self._reader.metadata_keys()
        raise ConfigurationError(
            f"no record has the key {name!r}; metadata keys in the ledger: "
            f"{', '.join(names) or '(none)'}; record fields: {', '.join(BUILTIN_KEYS)}",
            name="by",
            value=name,
        )

    def rows(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The selected records as :meth:`UsageRecord.to_dict` dicts, oldest first."""
        return self._reader.rows(self._selection(since, until, where))

    def records(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> Iterator[UsageRecord]:
        """The selected records, oldest first."""
        for data in self.rows(since=since, until=until, where=where):
            yield UsageRecord.from_dict(data)

    def count(self) -> int:
        """How many records the ledger holds."""
        return self._reader.count()

    def close(self) -> None:
        """Close the connection."""
        self._reader.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self.path!r})"
