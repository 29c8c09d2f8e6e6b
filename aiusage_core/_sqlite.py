"""The SQLite ledger: the embedded, durable store of usage records.

Durability: the ledger runs in WAL mode and every ``write`` is one transaction. A
transaction's pages are handed to the operating system before ``COMMIT`` returns, so once
a usage context has exited (and flushed its records) they survive the process being killed,
even with ``SIGKILL``. The default ``synchronous="NORMAL"`` skips the ``fsync`` per commit:
only an operating-system crash or power loss can then lose the last commits (never corrupt
the file). ``synchronous="FULL"`` adds that guarantee at the cost of one disk flush per write.

Concurrency: several threads share one connection behind a lock; several processes each
open their own and serialise on SQLite's write lock (``BEGIN IMMEDIATE`` with a busy
timeout), so concurrent writers lose nothing. ``record_id`` is the primary key and rows are
inserted with ``INSERT OR IGNORE``: a retried write (from the spool) never duplicates.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Literal

from ._connections import ProcessConnection
from ._counts import COUNT_NAMES
from ._errors import LedgerError, SchemaVersionError
from ._records import UsageRecord, thaw

__all__ = [
    "COLUMNS",
    "MIGRATIONS",
    "SQLiteSink",
    "check_schema",
    "current_schema_version",
    "format_timestamp",
    "read_schema_version",
]

_UTC = timezone.utc

COLUMNS = (
    "record_id",
    "timestamp",
    "day",
    "model",
    "provider",
    "api",
    "operation_type",
    "context_path",
    *COUNT_NAMES,
    "cost_usd",
    "metadata",
    "error_type",
    "error_message",
    "latency_ms",
    "usage_status",
    "batch",
    "service_tier",
    "request_id",
)
"""The columns of ``usage_records`` (one per count of the vocabulary), in the order they
are read and exported (the table's own order follows its migrations)."""


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    # Timestamps are fixed-width UTC ISO strings, so text order is time order and range
    # filters use the index. Money is a decimal string: SQLite has no exact decimal type.
    conn.execute(
        """
        CREATE TABLE usage_records (
            record_id TEXT PRIMARY KEY,
            timestamp TEXT NOT NULL,
            day TEXT NOT NULL,
            model TEXT NOT NULL,
            provider TEXT NOT NULL,
            api TEXT NOT NULL,
            operation_type TEXT,
            context_path TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            cached_input_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            input_audio_tokens INTEGER NOT NULL,
            output_audio_tokens INTEGER NOT NULL,
            cost_usd TEXT,
            metadata TEXT NOT NULL,
            error_type TEXT,
            error_message TEXT,
            latency_ms REAL,
            usage_status TEXT NOT NULL,
            batch INTEGER NOT NULL,
            service_tier TEXT,
            request_id TEXT
        )
        """
    )
    # One index, for --since/--until: grouped reports scan the table anyway, and every
    # index costs each insert (a second one, on (day, model), cost 10% of write throughput).
    conn.execute("CREATE INDEX usage_records_timestamp ON usage_records (timestamp)")


def _add_counts(*names: str) -> Callable[[sqlite3.Connection], None]:
    """A migration adding count columns (0 in the rows already stored)."""

    def migrate(conn: sqlite3.Connection) -> None:
        for name in names:
            conn.execute(f"ALTER TABLE usage_records ADD COLUMN {name} INTEGER NOT NULL DEFAULT 0")

    return migrate


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _add_counts("cache_write_1h_tokens", "web_search_requests"),
}
"""``MIGRATIONS[n]`` brings a ledger from schema version ``n - 1`` to ``n``.

To change the schema, add the next number; never edit a released migration. Each runs in the
same transaction as the version bump, so a ledger is never left half migrated.
"""


def current_schema_version() -> int:
    """The schema version this version of aiusage writes."""
    return max(MIGRATIONS)


def read_schema_version(conn: sqlite3.Connection, path: str) -> int:
    """The ledger's schema version; ``0`` for an empty database.

    Raises :class:`LedgerError` for a database that holds other tables but is no ledger.
    """
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
    ).fetchone()
    if has_table is None:
        if conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
            raise LedgerError(
                f"{path} is an SQLite database but not an aiusage ledger "
                "(it has no schema_version table)",
                path=path,
            )
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def check_schema(found: int, path: str, supported: int | None = None) -> None:
    """Raise :class:`SchemaVersionError` if ``found`` is newer than this aiusage understands
    (``supported``, by default the SQLite ledger's current version)."""
    if supported is None:
        supported = current_schema_version()
    if found > supported:
        raise SchemaVersionError(
            f"ledger {path} has schema version {found}, but this aiusage understands versions "
            f"up to {supported}: upgrade pytest-aiusage to read or write it",
            path=path,
            found=found,
            supported=supported,
        )


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    target = current_schema_version()
    found = read_schema_version(conn, path)
    check_schema(found, path)
    if found == target:
        return
    # Take the write lock, then look again: another process may have migrated meanwhile.
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = read_schema_version(conn, path)
        check_schema(found, path)
        if found == 0:
            conn.execute(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)"
            )
        for version in range(found + 1, target + 1):
            MIGRATIONS[version](conn)
            conn.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                (version, format_timestamp(datetime.now(_UTC))),
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def format_timestamp(ts: datetime) -> str:
    """``ts`` as the ledger stores it: fixed-width ISO 8601 in UTC (naive means UTC)."""
    if ts.tzinfo is not _UTC:  # records made by aiusage are already UTC: skip the work
        offset = ts.utcoffset()
        ts = ts.replace(tzinfo=_UTC) if offset is None else (ts - offset).replace(tzinfo=_UTC)
    # isoformat() is twice as fast as isoformat(timespec=...); it only drops a zero fraction.
    text = ts.isoformat()
    return text if len(text) == 32 else f"{text[:19]}.000000{text[19:]}"


def _money(value: Decimal) -> str:
    # str() is 4x faster than format(value, "f") but uses an exponent below 1e-6.
    text = str(value)
    return format(value, "f") if "E" in text else text


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Columns often NULL, and the rest: the ones every record fills, in table order (the order
# _rows puts them in). A NULL is not bound but left out of the INSERT: the sqlite3 module
# binds None through its slow adapter lookup, which cost about a sixth of a write. Rows are
# grouped by which optional columns they fill.
_OPTIONAL = (  # (mask bit, columns)
    (1, ("operation_type",)),
    (2, ("cost_usd",)),
    (4, ("error_type", "error_message")),
    (8, ("latency_ms",)),
    (16, ("service_tier",)),
    (32, ("request_id",)),
)
_ALWAYS = tuple(c for c in COLUMNS if all(c not in cs for _, cs in _OPTIONAL))
_inserts: dict[int, str] = {}


def _insert_sql(mask: int) -> str:
    sql = _inserts.get(mask)
    if sql is None:
        columns = [*_ALWAYS, *(c for bit, cs in _OPTIONAL if mask & bit for c in cs)]
        sql = _inserts[mask] = (
            f"INSERT OR IGNORE INTO usage_records ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})"
        )
    return sql


def _rows(records: Sequence[UsageRecord]) -> dict[int, list[list[Any]]]:
    """The INSERT parameters of ``records``, grouped by the mask of optional columns."""
    # Records of one context share their metadata mapping and path tuple: serialise each
    # distinct object once per batch (the records keep them alive, so ids stay unique).
    metadata_json: dict[int, str] = {}
    path_json: dict[int, str] = {}
    groups: dict[int, list[list[Any]]] = {}
    for r in records:
        meta = r.metadata
        meta_text = metadata_json.get(id(meta))
        if meta_text is None:
            meta_text = metadata_json[id(meta)] = _dumps(thaw(meta))
        path = r.context_path
        path_text = path_json.get(id(path))
        if path_text is None:
            path_text = path_json[id(path)] = _dumps(list(path))
        ts = format_timestamp(r.timestamp)
        fields = r.__dict__
        row = [
            r.record_id,
            ts,
            ts[:10],
            r.model,
            r.provider,
            r.api,
            path_text,
            *[fields[name] for name in COUNT_NAMES],
            meta_text,
            r.usage_status,
            1 if r.batch else 0,
        ]
        mask = 0
        if path:
            row.append(path[-1])
            mask = 1
        if r.cost_usd is not None:
            row.append(_money(r.cost_usd))
            mask |= 2
        if r.error is not None:
            row.append(r.error.type)
            row.append(r.error.message)
            mask |= 4
        if r.latency_ms is not None:
            row.append(r.latency_ms)
            mask |= 8
        if r.service_tier is not None:
            row.append(r.service_tier)
            mask |= 16
        if r.request_id is not None:
            row.append(r.request_id)
            mask |= 32
        group = groups.get(mask)
        if group is None:
            groups[mask] = [row]
        else:
            group.append(row)
    return groups


class SQLiteSink:
    """Stores records in an SQLite ledger at ``path`` (created with its folder if missing).

    The default ledger: ``configure(sinks=[SQLiteSink("usage.db")])`` or the environment
    variable ``AIUSAGE_LEDGER=usage.db``. Read it with the ``aiusage`` command::

        aiusage report --ledger usage.db --by model --by day

    Nothing is opened until the first write, so a bad path or a ledger written by a newer
    aiusage shows up then (logged, records spooled), never while configuring. Call
    :meth:`check` to open and verify it now.

    ``synchronous`` is SQLite's setting: ``"NORMAL"`` (default) keeps committed records
    through a process kill; ``"FULL"`` also through an operating-system crash.
    ``busy_timeout`` is how many seconds a write waits for another process's write lock.
    """

    dedupes_by_record_id = True
    """Writing a record twice stores it once (``record_id`` is the primary key)."""

    transient_errors: tuple[type[BaseException], ...] = (
        OSError,
        sqlite3.OperationalError,
        LedgerError,
    )
    """Errors that mean the ledger cannot be written now (locked, full, missing, newer):
    the records wait in the spool. Any other error may come from one record, which is then
    found and set aside in the dead-letter file."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        busy_timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            from ._errors import ConfigurationError

            raise ConfigurationError(
                f"SQLiteSink(synchronous=...) must be 'NORMAL' or 'FULL', not {synchronous!r}",
                name="synchronous",
                value=synchronous,
            )
        self.path = os.path.abspath(os.fspath(path))
        self.synchronous = synchronous
        self.busy_timeout = float(busy_timeout)
        self._db: ProcessConnection[sqlite3.Connection] = ProcessConnection()

    @property
    def spool_key(self) -> str:
        """Identifies the destination, so a spool can be resumed by a later process."""
        return f"sqlite:{self.path}"

    def _connection(self) -> sqlite3.Connection:
        conn = self._db.current()
        if conn is not None:
            return conn
        folder = os.path.dirname(self.path)
        try:
            if folder:
                os.makedirs(folder, exist_ok=True)
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_timeout,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # shared across threads behind self._db.lock
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}", path=self.path) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        self._db.set(conn)
        return conn

    def check(self) -> None:
        """Open the ledger now (creating or migrating it); raise :class:`LedgerError` or
        :class:`SchemaVersionError` if it cannot be used."""
        with self._db.lock:
            self._connection()

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` in one transaction; records already stored are skipped."""
        if not records:
            return
        rows = _rows(records)
        with self._db.lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for mask, group in rows.items():
                    conn.executemany(_insert_sql(mask), group)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the connection (a later ``write`` reopens it)."""
        # A write stuck on another process's lock holds ours for up to busy_timeout.
        self._db.close()

    def __repr__(self) -> str:
        return f"SQLiteSink({self.path!r})"
