"""The PostgreSQL ledger: one ledger for many machines, with the SQLite ledger's guarantees.

Exactly once: ``record_id`` is the primary key. A write ``COPY``s its batch straight into
``usage_records`` (the fastest way in) in one transaction. If any record of the batch is
already stored (a retry from the spool, or two processes writing the same records), that
``COPY`` fails on the key and rolls back whole; the batch is then copied into a temporary
table and moved over with ``INSERT ... ON CONFLICT (record_id) DO NOTHING``, which stores
the new records and skips the rest. Retries are rare, so nearly every batch takes the fast
path (twice the throughput of always merging: ``benchmarks/bench_postgres.py``).

Durability: ``write`` returns after ``COMMIT``, which (with PostgreSQL's default
``synchronous_commit``) has flushed the server's write-ahead log. A write that fails (server
down, network gone, a lock conflict) raises, and the spool keeps the batch for a retry.

Credentials: the password may sit in the DSN, but it is never shown: ``repr``, the spool's
key and header, and every error message carry the DSN without it. Prefer leaving it out of
the DSN altogether: libpq reads ``PGPASSWORD`` and ``~/.pgpass``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ._connections import ProcessConnection
from ._counts import COUNT_NAMES
from ._errors import ConfigurationError, LedgerError
from ._records import UsageRecord, thaw
from ._sqlite import COLUMNS, SQLiteSink, format_timestamp
from ._sqlite import check_schema as _check_schema

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS",
    "PostgresSink",
    "connect",
    "current_schema_version",
    "is_postgres_dsn",
    "ledger_sink",
    "read_schema_version",
    "redact_dsn",
]

_UTC = timezone.utc


def _add_counts(*names: str) -> str:
    """A migration adding count columns (0 in the rows already stored)."""
    return "; ".join(
        f"ALTER TABLE usage_records ADD COLUMN {name} bigint NOT NULL DEFAULT 0" for name in names
    )


MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE usage_records (
            record_id text PRIMARY KEY,
            "timestamp" timestamptz NOT NULL,
            day date NOT NULL,
            model text NOT NULL,
            provider text NOT NULL,
            api text NOT NULL,
            operation_type text,
            context_path jsonb NOT NULL,
            input_tokens bigint NOT NULL,
            cached_input_tokens bigint NOT NULL,
            cache_write_tokens bigint NOT NULL,
            output_tokens bigint NOT NULL,
            reasoning_tokens bigint NOT NULL,
            input_audio_tokens bigint NOT NULL,
            output_audio_tokens bigint NOT NULL,
            cost_usd numeric,
            metadata jsonb NOT NULL,
            error_type text,
            error_message text,
            latency_ms double precision,
            usage_status text NOT NULL,
            batch boolean NOT NULL,
            service_tier text,
            request_id text
        );
        CREATE INDEX usage_records_timestamp ON usage_records ("timestamp");
    """,
    2: _add_counts("cache_write_1h_tokens", "web_search_requests"),
}
"""``MIGRATIONS[n]`` brings a PostgreSQL ledger from schema version ``n - 1`` to ``n``.

The same numbers as the SQLite ledger's migrations, so both ledgers of one aiusage version
hold the same columns. Never edit a released migration: add the next number. Each runs in
the same transaction as its version bump, under an advisory lock, so concurrent writers
migrate a ledger once and never leave it half migrated.
"""

# Any constant: the advisory lock that serialises migrations of one database.
_MIGRATION_LOCK = 0x6169_7573_6167_65  # "aiusage"

_QUOTED = ", ".join(f'"{c}"' for c in COLUMNS)
_STAGING = "aiusage_incoming"
_COPY_SQL = f"COPY usage_records ({_QUOTED}) FROM STDIN"
# Made in the transaction that needs it and dropped at its end: a temporary table that
# outlives transactions (ON COMMIT DELETE ROWS) would be emptied at every commit, which
# cost the fast path a third of its throughput.
_STAGING_SQL = f"CREATE TEMP TABLE {_STAGING} (LIKE usage_records) ON COMMIT DROP"
_COPY_STAGING_SQL = f"COPY {_STAGING} ({_QUOTED}) FROM STDIN"
# Rows already stored (a retry, another process) are skipped by the primary key.
_MERGE_SQL = (
    f"INSERT INTO usage_records ({_QUOTED}) SELECT {_QUOTED} FROM {_STAGING} "
    "ON CONFLICT (record_id) DO NOTHING"
)


def is_postgres_dsn(location: str | os.PathLike[str]) -> bool:
    """Whether ``location`` is a PostgreSQL DSN (``postgresql://...``) rather than a path."""
    return isinstance(location, str) and location.lower().startswith(
        ("postgresql://", "postgres://")
    )


def ledger_sink(location: str | os.PathLike[str]) -> SQLiteSink | PostgresSink:
    """The sink that writes the ledger at ``location``: a :class:`PostgresSink` for a
    ``postgresql://`` DSN, else an :class:`~aiusage_core.SQLiteSink` for a file path."""
    if is_postgres_dsn(location):
        return PostgresSink(str(location))
    return SQLiteSink(location)


_URL_PASSWORD = re.compile(r"^[a-z]+://[^:@/?#]*:([^@/?#]*)@", re.IGNORECASE)


def _secrets(dsn: str, parsed: dict[str, Any] | None) -> tuple[str, ...]:
    """Texts of ``dsn`` that must never be shown: its password, raw and decoded."""
    found = []
    match = _URL_PASSWORD.match(dsn)
    if match and match.group(1):
        found.append(match.group(1))
    if parsed and parsed.get("password"):
        found.append(str(parsed["password"]))
    # Longest first, so a password containing another one is replaced whole.
    return tuple(sorted(set(found), key=len, reverse=True))


def _parse(dsn: str) -> dict[str, Any]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return conninfo_to_dict(dsn)
    except Exception:
        # libpq's message may quote the malformed part, which can be the password.
        raise ConfigurationError(
            f"not a valid PostgreSQL DSN: {_display(dsn, {})} "
            "(expected postgresql://user@host:port/dbname)",
            name="dsn",
            value=_display(dsn, {}),
        ) from None


def _display(dsn: str, parsed: dict[str, Any]) -> str:
    """``dsn`` without its password: ``postgresql://user@host:port/dbname``."""
    if not parsed:
        return _URL_PASSWORD.sub(lambda m: m.group(0).replace(m.group(1), "***"), dsn)
    user = parsed.get("user")
    host = parsed.get("host") or ""
    port = parsed.get("port")
    text = "postgresql://"
    if user:
        text += f"{user}@"
    text += host + (f":{port}" if port else "")
    return text + f"/{parsed.get('dbname') or ''}"


def redact_dsn(dsn: str) -> str:
    """``dsn`` as it may be shown and logged: without its password."""
    try:
        return _display(dsn, _parse(dsn))
    except ConfigurationError:
        return _display(dsn, {})


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise ConfigurationError(
            "a PostgreSQL ledger needs psycopg 3: pip install 'pytest-aiusage[postgres]'",
            name="dsn",
        ) from None
    return psycopg


def current_schema_version() -> int:
    """The schema version this version of aiusage writes to PostgreSQL."""
    return max(MIGRATIONS)


def read_schema_version(conn: psycopg.Connection[Any], where: str) -> int:
    """The ledger's schema version; ``0`` for a database without a ledger.

    Raises :class:`LedgerError` if the database has a ``usage_records`` table but no
    ``schema_version`` (a table of the same name that is not ours).
    """
    row = conn.execute(
        "SELECT to_regclass('schema_version') IS NOT NULL, to_regclass('usage_records') IS NOT NULL"
    ).fetchone()
    assert row is not None
    has_version, has_records = row
    if not has_version:
        if has_records:
            raise LedgerError(
                f"{where} has a usage_records table but no schema_version table: "
                "it is not an aiusage ledger",
                path=where,
            )
        return 0
    found = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(found[0] or 0) if found else 0


def check_schema(found: int, where: str) -> None:
    """Raise :class:`SchemaVersionError` if ``found`` is newer than this aiusage writes."""
    _check_schema(found, where, current_schema_version())


def migrate(conn: psycopg.Connection[Any], where: str) -> None:
    """Bring the ledger behind ``conn`` (not in autocommit) to the current schema."""
    found = read_schema_version(conn, where)
    conn.rollback()
    check_schema(found, where)
    if found == current_schema_version():
        return
    # Another process may be migrating: wait for it, then look again. The lock is taken
    # before the migration's transaction begins, so that transaction sees the tables the
    # other one committed (a transaction that waited for the lock could miss them).
    conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
    conn.commit()
    try:
        with conn.transaction():
            found = read_schema_version(conn, where)
            check_schema(found, where)
            if found == 0:
                conn.execute(
                    "CREATE TABLE schema_version "
                    "(version integer PRIMARY KEY, applied_at timestamptz)"
                )
            for version in range(found + 1, current_schema_version() + 1):
                conn.execute(MIGRATIONS[version])
                conn.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
                    (version, datetime.now(_UTC)),
                )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
        conn.commit()


def connect(dsn: str, *, where: str, secrets: Sequence[str], **options: Any) -> Any:
    """A new psycopg connection to ``dsn`` (``where`` names it in errors, without secrets)."""
    psycopg = _psycopg()
    try:
        return psycopg.connect(dsn, **options)
    except psycopg.Error as exc:
        raise ledger_error(exc, where, secrets) from None


def ledger_error(exc: BaseException, where: str, secrets: Sequence[str]) -> LedgerError:
    """A :class:`LedgerError` for ``exc`` whose message shows none of ``secrets``."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    for secret in secrets:
        message = message.replace(secret, "***")
    return LedgerError(f"PostgreSQL ledger {where}: {message}", path=where)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _rows(records: Sequence[UsageRecord]) -> list[tuple[Any, ...]]:
    """The ``COPY`` rows of ``records``, in :data:`COLUMNS` order."""
    # Records of one context share their metadata mapping and path tuple: serialise each
    # distinct object once per batch (the records keep them alive, so ids stay unique).
    metadata_json: dict[int, str] = {}
    path_json: dict[int, str] = {}
    rows = []
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
        error = r.error
        fields = r.__dict__
        rows.append(
            (
                r.record_id,
                ts,
                ts[:10],
                r.model,
                r.provider,
                r.api,
                path[-1] if path else None,
                path_text,
                *[fields[name] for name in COUNT_NAMES],
                r.cost_usd,
                meta_text,
                None if error is None else error.type,
                None if error is None else error.message,
                r.latency_ms,
                r.usage_status,
                r.batch,
                r.service_tier,
                r.request_id,
            )
        )
    return rows


def _copy(conn: Any, sql: str, rows: Sequence[tuple[Any, ...]], then: str | None = None) -> None:
    """``COPY`` ``rows`` with ``sql``, then run ``then``, in the open transaction."""
    with conn.cursor() as cursor:
        with cursor.copy(sql) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
        if then is not None:
            cursor.execute(then)


class PostgresSink:
    """Stores records in a PostgreSQL ledger: one ledger for many processes and machines.

    ``configure(sinks=[PostgresSink("postgresql://aiusage@db.internal/usage")])`` or the
    environment variable ``AIUSAGE_LEDGER=postgresql://...``. The tables are created on the
    first write (or :meth:`check`); the ``aiusage`` command reads them::

        aiusage report --ledger postgresql://aiusage@db.internal/usage --by job_id

    Keep the password out of the DSN (libpq reads ``PGPASSWORD`` and ``~/.pgpass``); one in
    the DSN is used but never shown. ``connect_timeout`` (seconds) bounds how long a write
    waits for an unreachable server, unless the DSN sets its own. Needs the ``postgres``
    extra (psycopg 3).
    """

    dedupes_by_record_id = True
    """Writing a record twice stores it once (``record_id`` is the primary key)."""

    transient_errors: tuple[type[BaseException], ...] = (OSError, LedgerError)
    """Errors that mean the ledger cannot be written now (server down or unreachable, login
    refused, a lock conflict, a newer schema): :class:`LedgerError`, and the records wait in
    the spool. Any other error (PostgreSQL refusing a value) may come from one record, which
    the spool then finds and sets aside in the dead-letter file."""

    def __init__(self, dsn: str, *, connect_timeout: float = 10.0) -> None:
        if not isinstance(dsn, str) or not dsn.strip():
            raise ConfigurationError(
                "PostgresSink(dsn) needs a DSN such as postgresql://user@host/dbname",
                name="dsn",
                value=None,
            )
        _psycopg()
        parsed = _parse(dsn)
        self._dsn = dsn
        self._secrets = _secrets(dsn, parsed)
        self.location = _display(dsn, parsed)
        """The ledger, shown without its password: ``postgresql://user@host:port/dbname``."""
        # Every connection parameter but the password: two DSNs that differ only in, say,
        # their search_path are two ledgers, and must not adopt each other's spools.
        self._key = "postgresql: " + " ".join(
            f"{name}={value}" for name, value in sorted(parsed.items()) if name != "password"
        )
        self._options: dict[str, Any] = {"autocommit": False}
        if "connect_timeout" not in parsed:
            self._options["connect_timeout"] = max(1, round(connect_timeout))
        if "application_name" not in parsed:
            self._options["application_name"] = "aiusage"
        self._db: ProcessConnection[Any] = ProcessConnection()

    @property
    def spool_key(self) -> str:
        """Identifies the destination, so a spool can be resumed by a later process."""
        return self._key

    def _connection(self) -> Any:
        conn = self._db.current()
        if conn is not None:
            if not conn.closed:
                return conn
            self._db.forget()
        conn = connect(self._dsn, where=self.location, secrets=self._secrets, **self._options)
        try:
            migrate(conn, self.location)
        except BaseException:
            conn.close()
            raise
        self._db.set(conn)
        return conn

    def _fail(self, exc: BaseException | None) -> LedgerError:
        """Roll back, or drop a connection left unusable; the error to raise for ``exc``."""
        conn = self._db.current()
        if conn is not None:
            try:
                if conn.broken:
                    conn.close()
                else:
                    conn.rollback()
            except Exception:
                conn.close()
            if conn.closed:
                self._db.forget()
        if isinstance(exc, LedgerError):
            return exc
        return ledger_error(exc or Exception(), self.location, self._secrets)

    def check(self) -> None:
        """Connect now (creating or migrating the ledger); raise :class:`LedgerError` or
        :class:`SchemaVersionError` if it cannot be used."""
        psycopg = _psycopg()
        with self._db.lock:
            try:
                self._connection()
            except (psycopg.Error, LedgerError) as exc:
                raise self._fail(exc) from None

    def write(self, records: Sequence[UsageRecord]) -> None:
        """Insert ``records`` in one transaction; records already stored are skipped."""
        if not records:
            return
        psycopg = _psycopg()
        rows = _rows(records)
        with self._db.lock:
            try:
                conn = self._connection()
                try:
                    _copy(conn, _COPY_SQL, rows)
                except psycopg.errors.UniqueViolation:
                    conn.rollback()
                    conn.execute(_STAGING_SQL)
                    _copy(conn, _COPY_STAGING_SQL, rows, then=_MERGE_SQL)
                conn.commit()
            except (psycopg.OperationalError, psycopg.InterfaceError, LedgerError) as exc:
                raise self._fail(exc) from None
            except psycopg.Error:
                # A value PostgreSQL refuses (a NUL character, say): the server's message
                # names the value, never the DSN. Raised as is, so the spool can find the
                # record at fault.
                self._fail(None)
                raise

    def close(self) -> None:
        """Close the connection (a later ``write`` reopens it)."""
        # A write stuck on an unreachable server holds the connection's lock.
        self._db.close()

    def __repr__(self) -> str:
        return f"PostgresSink({self.location!r})"
