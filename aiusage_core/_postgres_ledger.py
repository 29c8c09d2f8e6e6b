"""Reading a PostgreSQL ledger, for :class:`~aiusage_core.Ledger`.

The grouping runs in the server (``GROUP BY``; money is ``numeric``, summed exactly) and
returns values shaped as the SQLite reader returns them, so ``aiusage report`` prints the
same report from either ledger for the same records: a metadata value that is a JSON
``true`` comes back as ``1`` and an object as its compact JSON text, as SQLite's
``json_extract`` gives them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ._errors import LedgerError
from ._ledger_query import (
    GroupRows,
    Key,
    Selection,
    alternatives,
    record_dict,
    totals_from_row,
    totals_sql,
)
from ._models import SNAPSHOT_SUFFIX
from ._postgres import (
    PostgresSink,
    _parse,
    _psycopg,
    _secrets,
    check_schema,
    connect,
    current_schema_version,
    ledger_error,
    read_schema_version,
    redact_dsn,
)
from ._records import UsageTotals
from ._sqlite import COLUMNS, _money, format_timestamp

__all__ = ["PostgresReader"]

_UTC = timezone.utc

_FIELDS: Mapping[str, str] = {
    "model": "model",
    "provider": "provider",
    "api": "api",
    "operation_type": "operation_type",
    "path": "context_path",
    "day": "to_char(day, 'YYYY-MM-DD')",
    "month": "to_char(day, 'YYYY-MM')",
    "service_tier": "service_tier",
    "usage_status": "usage_status",
    "batch": "batch",
    "error": "error_type",
}

_TOTALS_SQL = totals_sql("SUM", "SUM")
_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)
_ROWS_PER_FETCH = 5_000


def _expression(key: Key) -> tuple[str, tuple[Any, ...]]:
    """SQL for ``key`` and its parameters."""
    if key.field is not None:
        return _FIELDS[key.field], ()
    # A JSON null groups with a missing key, as in SQLite.
    return "NULLIF(metadata -> %s, 'null'::jsonb)", (key.metadata,)


def _display(key: Key, value: Any) -> Any:
    if key.field == "path" and isinstance(value, list):
        return "/".join(value)
    if key.metadata is not None:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, dict | list):
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=_UTC)


class PostgresReader:
    """A PostgreSQL ledger opened for reading (migrated first if an older aiusage wrote it)."""

    def __init__(self, dsn: str) -> None:
        psycopg = _psycopg()
        parsed = _parse(dsn)
        self.location = redact_dsn(dsn)
        self._secrets = _secrets(dsn, parsed)
        self._conn = connect(
            dsn, where=self.location, secrets=self._secrets, autocommit=True, connect_timeout=10
        )
        try:
            found = read_schema_version(self._conn, self.location)
            if found == 0:
                raise LedgerError(
                    f"no ledger at {self.location} (the database has no aiusage tables)",
                    path=self.location,
                )
            check_schema(found, self.location)
            if found < current_schema_version():
                migrator = PostgresSink(dsn)
                try:
                    migrator.check()
                finally:
                    migrator.close()
            self._conn.read_only = True
        except psycopg.Error as exc:
            self._conn.close()
            raise self._error(exc) from None
        except BaseException:
            self._conn.close()
            raise

    def _error(self, exc: BaseException) -> LedgerError:
        return ledger_error(exc, self.location, self._secrets)

    def schema_version(self) -> int:
        """The ledger's schema version."""
        return read_schema_version(self._conn, self.location)

    def _where(self, selection: Selection) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if selection.since is not None:
            clauses.append('"timestamp" >= %s')
            params.append(_utc(selection.since))
        if selection.until is not None:
            clauses.append('"timestamp" < %s')
            params.append(_utc(selection.until))
        for key, value in selection.where:
            expression, key_params = _expression(key)
            if key.field == "path":
                clauses.append(f"{expression} = %s::jsonb")
                params.append(json.dumps(value.split("/")))
            elif key.field == "batch":
                # As SQLite compares its 0/1 column: "1", "true", "0", "false" match.
                flags = {bool(v) for v in alternatives(value)[1:] if v in (0, 1)}
                clauses.append(f"{expression} = %s" if flags else "FALSE")
                params.extend(flags)
            elif key.field == "model":  # the model or one of its dated snapshots
                clauses.append(
                    f"({expression} = %s OR (left({expression}, char_length(%s)) = %s"
                    f" AND substr({expression}, char_length(%s) + 1) ~ %s))"
                )
                params.extend((value, value, value, value, f"^{SNAPSHOT_SUFFIX}$"))
            elif key.field is not None:
                clauses.append(f"{expression} = %s")
                params.append(value)
            else:
                options = [json.dumps(v) for v in alternatives(value)]
                clauses.append(
                    "(" + " OR ".join(f"{expression} = %s::jsonb" for _ in options) + ")"
                )
                for option in options:
                    params.extend(key_params)
                    params.append(option)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def totals(self, keys: Sequence[Key], selection: Selection) -> GroupRows:
        """The totals of the selected records, and of each group of ``keys``."""
        psycopg = _psycopg()
        where_sql, where_params = self._where(selection)
        try:
            total_row = self._conn.execute(
                f"SELECT {_TOTALS_SQL} FROM usage_records{where_sql}", where_params
            ).fetchone()
            groups: list[tuple[tuple[Any, ...], UsageTotals]] = []
            if keys:
                expressions = [_expression(k) for k in keys]
                select = ", ".join(sql for sql, _ in expressions)
                key_params = [p for _, ps in expressions for p in ps]
                group = ", ".join(str(i + 1) for i in range(len(keys)))
                sql = (
                    f"SELECT {select}, {_TOTALS_SQL} FROM usage_records{where_sql} GROUP BY {group}"
                )
                n = len(keys)
                for row in self._conn.execute(sql, [*key_params, *where_params]):
                    value = tuple(_display(k, v) for k, v in zip(keys, row[:n], strict=True))
                    groups.append((value, totals_from_row(row[n:])))
        except psycopg.Error as exc:
            raise self._error(exc) from None
        return totals_from_row(total_row), groups

    def rows(self, selection: Selection) -> Iterator[dict[str, Any]]:
        """The selected records as :meth:`UsageRecord.to_dict` dicts, oldest first."""
        psycopg = _psycopg()
        where_sql, params = self._where(selection)
        sql = f'SELECT {_QUOTED} FROM usage_records{where_sql} ORDER BY "timestamp", record_id'
        try:
            # A server-side cursor: millions of rows stream in chunks, never all in memory.
            with self._conn.transaction(), self._conn.cursor(name="aiusage_rows") as cursor:
                cursor.itersize = _ROWS_PER_FETCH
                cursor.execute(sql, params)
                for row in cursor:
                    r = dict(zip(COLUMNS, row, strict=True))
                    r["timestamp"] = format_timestamp(r["timestamp"])
                    cost = r["cost_usd"]
                    r["cost_usd"] = None if cost is None else _money(cost)
                    yield record_dict(r)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def count(self) -> int:
        """How many records the ledger holds."""
        row = self._conn.execute("SELECT COUNT(*) FROM usage_records").fetchone()
        return int(row[0]) if row else 0

    def has_metadata_key(self, name: str) -> bool:
        """Whether some record's metadata has the key ``name`` (a JSON null counts)."""
        psycopg = _psycopg()
        try:
            row = self._conn.execute(
                "SELECT 1 FROM usage_records WHERE metadata ? %s LIMIT 1",
                (name,),
            ).fetchone()
        except psycopg.Error as exc:
            raise self._error(exc) from None
        return row is not None

    def metadata_keys(self) -> list[str]:
        """Every metadata key some record has, sorted."""
        psycopg = _psycopg()
        try:
            rows = self._conn.execute(
                "SELECT DISTINCT jsonb_object_keys(metadata) FROM usage_records"
            ).fetchall()
        except psycopg.Error as exc:
            raise self._error(exc) from None
        return sorted(row[0] for row in rows)  # by code point, as SQLite's ORDER BY

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()
