"""Reading a ledger: grouped totals and record export, as the ``aiusage`` command uses them.

::

    with Ledger("usage.db") as ledger:
        report = ledger.report(by=["model", "day"], since=datetime(2026, 11, 1, tzinfo=UTC))
        for group in report.groups:
            print(group.key, group.totals.cost_usd)

Money is summed exactly: the ledger stores ``cost_usd`` as decimal text, and a ``Decimal``
aggregate (not SQLite's floating-point ``SUM``) adds it up.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from ._counts import COUNT_NAMES
from ._errors import ConfigurationError, LedgerError
from ._records import MONEY, UsageRecord, UsageTotals
from ._sqlite import (
    COLUMNS,
    SQLiteSink,
    check_schema,
    current_schema_version,
    format_timestamp,
    read_schema_version,
)

__all__ = ["BUILTIN_KEYS", "GroupTotals", "Ledger", "LedgerReport"]

BUILTIN_KEYS: Mapping[str, str] = {
    "model": "model",
    "provider": "provider",
    "api": "api",
    "operation_type": "operation_type",
    "path": "context_path",
    "day": "day",
    "month": "substr(day, 1, 7)",
    "service_tier": "service_tier",
    "usage_status": "usage_status",
    "batch": "batch",
    "error": "error_type",
}
"""Grouping keys that are record fields (``day`` and ``month`` are UTC). Any other key is a
metadata key; ``metadata.KEY`` names a metadata key that shadows a built-in one."""


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


class _DecimalSum:
    """SQLite aggregate: the exact sum of decimal strings (``NULL`` ignored)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total = MONEY.add(self.total, Decimal(value))

    def finalize(self) -> str:
        return format(self.total, "f")


def _key_expression(key: str) -> tuple[str, tuple[Any, ...]]:
    """SQL for grouping key ``key`` and its parameters."""
    if not isinstance(key, str) or not key:
        raise ConfigurationError(f"a grouping key must be a non-empty string, not {key!r}")
    if key in BUILTIN_KEYS:
        return BUILTIN_KEYS[key], ()
    name = key.removeprefix("metadata.") if key.startswith("metadata.") else key
    if not name or '"' in name or "\\" in name:
        raise ConfigurationError(
            f"metadata key {key!r} cannot be queried (empty, or contains a quote or backslash)",
            name="by",
            value=key,
        )
    return "json_extract(metadata, ?)", (f'$."{name}"',)


def _display(key: str, value: Any) -> Any:
    if key == "path" and isinstance(value, str):
        return "/".join(json.loads(value))
    if key == "batch" and value is not None:
        return bool(value)
    return value


def _order(value: Any) -> tuple[int, str, float]:
    """Sort key for group values of mixed types: missing, then numbers, then text."""
    if value is None:
        return (0, "", 0.0)
    if isinstance(value, bool | int | float):
        return (1, "", float(value))
    return (2, str(value), 0.0)


_TOTALS_SQL = ", ".join(
    (
        "COUNT(*)",
        *(f"TOTAL({name})" for name in COUNT_NAMES),
        "decimal_sum(cost_usd)",
        "COUNT(*) - COUNT(cost_usd)",
        "COUNT(error_type)",
    )
)


def _totals(row: Sequence[Any]) -> UsageTotals:
    calls, *counts, cost, unpriced, errors = row
    return UsageTotals(
        calls=int(calls),
        **{name: int(count) for name, count in zip(COUNT_NAMES, counts, strict=True)},
        cost_usd=Decimal(cost) if cost is not None else Decimal(0),
        unpriced_calls=int(unpriced),
        errors=int(errors),
    )


class Ledger:
    """A ledger written by :class:`SQLiteSink`, opened read-only.

    Raises :class:`LedgerError` if ``path`` is missing or not a ledger, and
    :class:`SchemaVersionError` if a newer aiusage wrote it. A ledger of an older schema
    version is migrated first (that one write aside, the ledger is never modified).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        if not os.path.isfile(self.path):
            raise LedgerError(f"no ledger at {self.path}", path=self.path)
        self._conn = self._open()
        try:
            found = read_schema_version(self._conn, self.path)
            if found == 0:
                raise LedgerError(f"{self.path} is an empty database, not a ledger", path=self.path)
            check_schema(found, self.path)
            if found < current_schema_version():
                self._conn.close()
                migrator = SQLiteSink(self.path)
                migrator.check()
                migrator.close()
                self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise LedgerError(f"cannot read ledger {self.path}: {exc}", path=self.path) from exc
        except BaseException:
            self._conn.close()
            raise
        # typeshed types aggregates as int -> int; SQLite passes and returns any value.
        self._conn.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(Path(self.path).as_uri() + "?mode=ro", uri=True)
            conn.execute("PRAGMA busy_timeout = 30000")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}", path=self.path) from exc
        return conn

    @property
    def schema_version(self) -> int:
        """The ledger's schema version."""
        return read_schema_version(self._conn, self.path)

    def _where(
        self,
        since: datetime | None,
        until: datetime | None,
        where: Mapping[str, str] | None,
    ) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("timestamp >= ?")
            params.append(format_timestamp(since))
        if until is not None:
            clauses.append("timestamp < ?")
            params.append(format_timestamp(until))
        for key, value in (where or {}).items():
            expression, key_params = _key_expression(key)
            if key == "path":
                clauses.append(f"{expression} = ?")
                params.append(json.dumps(value.split("/")))
                continue
            alternatives: list[Any] = [value]
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, bool | int | float):
                alternatives.append(parsed)
            clauses.append("(" + " OR ".join(f"{expression} = ?" for _ in alternatives) + ")")
            for alternative in alternatives:
                params.extend(key_params)
                params.append(alternative)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

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
        number/boolean it spells). Naive datetimes are UTC.
        """
        by = tuple(by)
        where_sql, where_params = self._where(since, until, where)
        try:
            total_row = self._conn.execute(
                f"SELECT {_TOTALS_SQL} FROM usage_records{where_sql}", where_params
            ).fetchone()
            groups: list[GroupTotals] = []
            if by:
                expressions = [_key_expression(k) for k in by]
                select = ", ".join(f"{sql} AS k{i}" for i, (sql, _) in enumerate(expressions))
                key_params = [p for _, ps in expressions for p in ps]
                group = ", ".join(f"k{i}" for i in range(len(by)))
                sql = (
                    f"SELECT {select}, {_TOTALS_SQL} FROM usage_records{where_sql} GROUP BY {group}"
                )
                for row in self._conn.execute(sql, [*key_params, *where_params]):
                    key = tuple(_display(k, v) for k, v in zip(by, row[: len(by)], strict=True))
                    groups.append(GroupTotals(key=key, totals=_totals(row[len(by) :])))
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger {self.path}: {exc}", path=self.path) from exc
        groups.sort(key=lambda g: tuple(_order(v) for v in g.key))
        return LedgerReport(by=by, totals=_totals(total_row), groups=tuple(groups))

    def rows(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        where: Mapping[str, str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The selected records as :meth:`UsageRecord.to_dict` dicts, oldest first."""
        where_sql, params = self._where(since, until, where)
        try:
            cursor = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM usage_records{where_sql} "
                "ORDER BY timestamp, rowid",
                params,
            )
            for row in cursor:
                yield _row_dict(row)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger {self.path}: {exc}", path=self.path) from exc

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
        return int(self._conn.execute("SELECT COUNT(*) FROM usage_records").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

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


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    r = dict(zip(COLUMNS, row, strict=True))
    return {
        "record_id": r["record_id"],
        "timestamp": r["timestamp"],
        "model": r["model"],
        "provider": r["provider"],
        "api": r["api"],
        **{name: r[name] for name in COUNT_NAMES},
        "total_tokens": r["input_tokens"] + r["output_tokens"],
        "cost_usd": r["cost_usd"],
        "metadata": json.loads(r["metadata"]),
        "context_path": json.loads(r["context_path"]),
        "error": None
        if r["error_type"] is None
        else {"type": r["error_type"], "message": r["error_message"] or ""},
        "latency_ms": r["latency_ms"],
        "usage_status": r["usage_status"],
        "batch": bool(r["batch"]),
        "service_tier": r["service_tier"],
        "request_id": r["request_id"],
    }
