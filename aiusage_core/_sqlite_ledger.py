"""Reading an SQLite ledger, for :class:`~aiusage_core.Ledger`.

Money is summed exactly: the ledger stores ``cost_usd`` as decimal text, and a ``Decimal``
aggregate (not SQLite's floating-point ``SUM``) adds it up.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ._counts import COUNT_NAMES
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
from ._models import model_matches
from ._records import MONEY, UsageTotals
from ._sqlite import (
    COLUMNS,
    SQLiteSink,
    check_schema,
    current_schema_version,
    format_timestamp,
    read_schema_version,
)

__all__ = ["SQLiteReader"]

_FIELDS: Mapping[str, str] = {
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

_TOTALS_SQL = totals_sql("TOTAL", "decimal_sum")


def _decimal(value: object) -> Decimal:
    """``value`` (a ``cost_usd`` cell) as a finite ``Decimal``; ``ValueError`` if it is not one."""
    try:
        number = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"not a decimal: {value!r:.80}") from None
    if not number.is_finite():
        raise ValueError(f"not a finite decimal: {value!r:.80}")
    return number


class _DecimalSum:
    """SQLite aggregate: the exact sum of decimal strings (``NULL`` ignored)."""

    def __init__(self) -> None:
        self.total = Decimal(0)

    def step(self, value: str | None) -> None:
        if value is not None:
            self.total = MONEY.add(self.total, _decimal(value))

    def finalize(self) -> str:
        return format(self.total, "f")


def _expression(key: Key) -> tuple[str, tuple[Any, ...]]:
    """SQL for ``key`` and its parameters."""
    if key.field is not None:
        return _FIELDS[key.field], ()
    return "json_extract(metadata, ?)", (f'$."{key.metadata}"',)


def _display(key: Key, value: Any) -> Any:
    if key.field == "path" and isinstance(value, str):
        path = json.loads(value)
        if not isinstance(path, list):
            raise ValueError(f"not a JSON list: {value!r:.80}")
        return "/".join(str(p) for p in path)
    if key.field == "batch" and value is not None:
        return bool(value)
    return value


class SQLiteReader:
    """An SQLite ledger opened read-only (migrated first if an older aiusage wrote it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.path.abspath(os.fspath(path))
        self.location = self.path
        if not os.path.isfile(self.path):
            raise LedgerError(f"no ledger at {self.path}", path=self.path)
        self._file = self.path
        """The file read: the ledger, or a private copy of it (see :meth:`_copy`)."""
        self._copy_dir: str | None = None
        try:
            wal, shm = (os.path.exists(self.path + suffix) for suffix in ("-wal", "-shm"))
            if wal and not shm and self._read_only_folder():
                self._copy()  # SQLite cannot read this WAL where it is
            self._conn = self._open()
            found = read_schema_version(self._conn, self.path)
            if found == 0:
                raise LedgerError(f"{self.path} is an empty database, not a ledger", path=self.path)
            check_schema(found, self.path)
            if found < current_schema_version():
                self._conn.close()
                if self._copy_dir is None and self._read_only_folder():
                    self._copy()  # an older ledger where it cannot be migrated
                migrator = SQLiteSink(self._file)
                migrator.check()
                migrator.close()
                self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            self.close()
            raise LedgerError(f"cannot read ledger {self.path}: {exc}", path=self.path) from exc
        except BaseException:
            self.close()
            raise
        # typeshed types aggregates as int -> int; SQLite passes and returns any value.
        self._conn.create_aggregate("decimal_sum", 1, _DecimalSum)  # type: ignore[arg-type]

    def _read_only_folder(self) -> bool:
        """Whether the ledger's folder cannot be written (a read-only filesystem, say): then
        nobody is writing the ledger, and nothing can be created beside it."""
        return not os.access(os.path.dirname(self.path), os.W_OK)

    def _copy(self) -> None:
        """Read a private copy of the ledger (and its -wal), removed by :meth:`close`.

        On a read-only filesystem SQLite reads a WAL ledger only with its -shm file beside
        it, and cannot migrate an older ledger: a copy in the temporary folder can be both
        recovered and migrated, and the ledger itself stays untouched."""
        self._copy_dir = tempfile.mkdtemp(prefix="aiusage-ledger-")
        self._file = os.path.join(self._copy_dir, os.path.basename(self.path))
        try:
            shutil.copyfile(self.path, self._file)
            if os.path.exists(self.path + "-wal"):
                shutil.copyfile(self.path + "-wal", self._file + "-wal")
        except OSError as exc:
            raise LedgerError(
                f"cannot read ledger {self.path}: its folder is read-only and a copy to read "
                f"could not be made in {self._copy_dir}: {exc}",
                path=self.path,
            ) from exc

    def _open(self) -> sqlite3.Connection:
        # Reading a WAL ledger needs its -wal and -shm files. A writer at work has them (read
        # through them, read-only). Otherwise a read-only connection would create them and
        # could not remove them; a query-only one refuses every write just the same and
        # removes them when it closes. Where they cannot be created (a read-only filesystem
        # or folder) nobody can be writing: the file is read as immutable (or, with a -wal
        # but no -shm, or an older schema, a copy is read: see _copy).
        uri = Path(self._file).as_uri()
        if os.path.exists(self._file + "-wal"):
            uri += "?mode=ro"
        elif self._copy_dir is None and self._read_only_folder():
            uri += "?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True)
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}", path=self.path) from exc
        conn.create_function("model_matches", 2, model_matches, deterministic=True)
        return conn

    def _error(self, exc: sqlite3.Error) -> LedgerError:
        return LedgerError(f"cannot read ledger {self.path}: {exc}", path=self.path)

    def schema_version(self) -> int:
        """The ledger's schema version."""
        return read_schema_version(self._conn, self.path)

    def _where(self, selection: Selection) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if selection.since is not None:
            clauses.append("timestamp >= ?")
            params.append(format_timestamp(selection.since))
        if selection.until is not None:
            clauses.append("timestamp < ?")
            params.append(format_timestamp(selection.until))
        for key, value in selection.where:
            expression, key_params = _expression(key)
            if key.field == "path":
                clauses.append(f"{expression} = ?")
                # as the sink stores it: compact JSON (a multi-context path never matched
                # while this used json.dumps' default ", " separator)
                params.append(
                    json.dumps(value.split("/"), ensure_ascii=False, separators=(",", ":"))
                )
                continue
            if key.field == "model":  # the model or one of its dated snapshots
                clauses.append(f"model_matches(?, {expression})")
                params.append(value)
                continue
            options = alternatives(value)
            clauses.append("(" + " OR ".join(f"{expression} = ?" for _ in options) + ")")
            for option in options:
                params.extend(key_params)
                params.append(option)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def totals(self, keys: Sequence[Key], selection: Selection) -> GroupRows:
        """The totals of the selected records, and of each group of ``keys``."""
        where_sql, where_params = self._where(selection)
        try:
            total_row = self._conn.execute(
                f"SELECT {_TOTALS_SQL} FROM usage_records{where_sql}", where_params
            ).fetchone()
            groups: list[tuple[tuple[Any, ...], UsageTotals]] = []
            if keys:
                expressions = [_expression(k) for k in keys]
                select = ", ".join(f"{sql} AS k{i}" for i, (sql, _) in enumerate(expressions))
                key_params = [p for _, ps in expressions for p in ps]
                group = ", ".join(f"k{i}" for i in range(len(keys)))
                sql = (
                    f"SELECT {select}, {_TOTALS_SQL} FROM usage_records{where_sql} GROUP BY {group}"
                )
                n = len(keys)
                for row in self._conn.execute(sql, [*key_params, *where_params]):
                    try:
                        value = tuple(_display(k, v) for k, v in zip(keys, row[:n], strict=True))
                    except ValueError as exc:
                        path = next(i for i, k in enumerate(keys) if k.field == "path")
                        raise self._unreadable("context_path", row[path], exc) from None
                    groups.append((value, totals_from_row(row[n:])))
        except sqlite3.Error as exc:
            bad = self._bad_cost()
            if bad is not None:
                raise self._unreadable("cost_usd", bad, None) from None
            raise self._error(exc) from exc
        return totals_from_row(total_row), groups

    def _bad_cost(self) -> str | None:
        """The first ``cost_usd`` cell that is not a finite decimal, if any."""
        for (value,) in self._conn.execute(
            "SELECT cost_usd FROM usage_records WHERE cost_usd IS NOT NULL"
        ):
            try:
                _decimal(value)
            except ValueError:
                return str(value)
        return None

    def _unreadable(self, column: str, value: object, reason: Exception | None) -> LedgerError:
        """A :class:`LedgerError` naming the first record whose ``column`` is ``value``."""
        found = self._conn.execute(
            f"SELECT record_id FROM usage_records WHERE {column} = ? LIMIT 1", (value,)
        ).fetchone()
        record = repr(found[0]) if found else "(unknown)"
        why = reason if reason is not None else "not a decimal number"
        return LedgerError(
            f"cannot read ledger {self.path}: record {record} has a {column} that cannot be "
            f"read: {value!r:.80} ({why})",
            path=self.path,
        )

    def rows(self, selection: Selection) -> Iterator[dict[str, Any]]:
        """The selected records as :meth:`UsageRecord.to_dict` dicts, oldest first."""
        where_sql, params = self._where(selection)
        try:
            cursor = self._conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM usage_records{where_sql} "
                "ORDER BY timestamp, rowid",
                params,
            )
            for row in cursor:
                try:
                    yield _row_dict(row)
                except _Unreadable as exc:
                    raise LedgerError(
                        f"cannot read ledger {self.path}: record {row[0]!r} has a "
                        f"{exc.column} that cannot be read: {exc.value!r:.80} ({exc.reason})",
                        path=self.path,
                    ) from None
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def count(self) -> int:
        """How many records the ledger holds."""
        return int(self._conn.execute("SELECT COUNT(*) FROM usage_records").fetchone()[0])

    def has_metadata_key(self, name: str) -> bool:
        """Whether some record's metadata has the key ``name`` (a JSON null counts)."""
        try:
            found = self._conn.execute(
                "SELECT 1 FROM usage_records WHERE json_type(metadata, ?) IS NOT NULL LIMIT 1",
                (f'$."{name}"',),
            ).fetchone()
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        return found is not None

    def metadata_keys(self) -> list[str]:
        """Every metadata key some record has, sorted."""
        try:
            return [
                row[0]
                for row in self._conn.execute(
                    "SELECT DISTINCT key FROM usage_records, json_each(usage_records.metadata) "
                    "ORDER BY key"
                )
            ]
        except sqlite3.Error as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        """Close the connection (and remove the private copy, if one was read)."""
        conn = getattr(self, "_conn", None)
        if conn is not None:
            conn.close()
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)
            self._copy_dir = None


class _Unreadable(Exception):
    """A ledger cell that cannot be turned into its value."""

    def __init__(self, column: str, value: object, reason: str) -> None:
        super().__init__(column, value, reason)
        self.column = column
        self.value = value
        self.reason = reason


def _json_cell(r: Mapping[str, Any], column: str, kind: type) -> Any:
    value = r[column]
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError) as exc:
        raise _Unreadable(column, value, f"not JSON: {exc}") from None
    if not isinstance(parsed, kind):
        raise _Unreadable(column, value, f"not a JSON {kind.__name__}")
    return parsed


def _row_dict(row: Sequence[Any]) -> dict[str, Any]:
    r = dict(zip(COLUMNS, row, strict=True))
    for name in COUNT_NAMES:
        if type(r[name]) is not int:
            raise _Unreadable(name, r[name], "not an integer")
    r["metadata"] = _json_cell(r, "metadata", dict)
    r["context_path"] = _json_cell(r, "context_path", list)
    return record_dict(r)
