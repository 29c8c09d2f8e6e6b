"""The ``aiusage`` command: reports and exports of a usage ledger.

Errors a user can fix (no ledger, a newer schema, a bad date) print one line on stderr and
exit with status 2; they never show a traceback.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import IO, Any

from . import __version__
from ._errors import AIUsageError, LedgerError
from ._ledger import Ledger, LedgerReport
from ._ledger_pages import (
    SpendOverTime,
    key_cell,
    render_ledger_html,
    render_ledger_markdown,
)
from ._money import cost_of, usd_column
from ._postgres import PostgresSink, ledger_sink
from ._records import UsageRecord, UsageTotals
from ._sqlite import COLUMNS, SQLiteSink

__all__ = ["main"]

_UTC = timezone.utc
_USAGE_ERROR = 2

_EPILOG_REPORT = """\
grouping keys:
  model, provider, api, operation_type (innermost context), path (all contexts),
  day, month (UTC), service_tier, usage_status, batch, error; any other name is a
  metadata key (job_id, user_id, environment, ...); metadata.NAME forces a metadata key.
  Repeat --by (or separate keys with commas) for composite groups.

dates:
  --since 2026-11-01              from the start of that day (UTC)
  --until 2026-11-30              through the end of that day
  --since 2026-11-01T14:30+02:00  from that instant (naive times are UTC)

examples:
  aiusage report --ledger usage.db
  aiusage report --ledger usage.db --by job_id --by model --since 2026-11-01
  aiusage report --by day --where job_id=job-123 --format json
  aiusage report --by model --format html --period month > usage.html
  AIUSAGE_LEDGER=usage.db aiusage report --by operation_type --format csv
"""

_EPILOG_EXPORT = """\
examples:
  aiusage export --ledger usage.db > usage.jsonl
  aiusage export --ledger usage.db --format csv --output usage.csv --since 2026-11-01
  aiusage export --where job_id=job-123
"""

_EPILOG_COPY = """\
Copies every record of SOURCE into TARGET, creating TARGET's tables if needed. Records
TARGET already holds (same record_id) are skipped, so copying again is harmless. Each
ledger is an SQLite file or a postgresql:// DSN (the password from PGPASSWORD or
~/.pgpass, never shown).

examples:
  aiusage ledger copy usage.db postgresql://aiusage@db.internal:5432/usage
  aiusage ledger copy postgresql://aiusage@db.internal/usage backup.db
"""

_EPILOG_MAIN = """\
Reads a ledger written by SQLiteSink or PostgresSink (configure(sinks=[...]) or the
environment variable AIUSAGE_LEDGER=usage.db or AIUSAGE_LEDGER=postgresql://...).
--ledger defaults to $AIUSAGE_LEDGER.

examples:
  aiusage report --ledger usage.db --by model --by day
  aiusage report --by job_id --since 2026-11-01 --until 2026-11-30 --format json
  aiusage report --ledger postgresql://aiusage@db.internal/usage --by job_id
  aiusage export --format csv --output usage.csv
  aiusage ledger copy usage.db postgresql://aiusage@db.internal/usage
  aiusage fake-server --port 8000
Run 'aiusage COMMAND --help' (report, export, ledger copy, fake-server) for more.
"""

# The report's columns are UsageTotals.to_dict()'s keys; the export's are the ledger's
# columns with total_tokens after the token counts.
_TOTAL_FIELDS = tuple(UsageTotals().to_dict())
_EXPORT_CSV_FIELDS = (
    *COLUMNS[: COLUMNS.index("cost_usd")],
    "total_tokens",
    *COLUMNS[COLUMNS.index("cost_usd") :],
)


class _UsageError(Exception):
    """A mistake in the command line, reported on one line."""


def _moment(text: str, option: str, *, end: bool) -> datetime:
    """Parse a ``--since``/``--until`` value into an instant in UTC.

    A date means the start of that day, or for ``--until`` the start of the next day (so
    the day is included); a date and time is exact (``--until`` includes it).
    """
    value = text.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=_UTC)
            return start + timedelta(days=1) if end else start
        if value.endswith(("Z", "z")):  # fromisoformat accepts "Z" only from Python 3.11
            value = value[:-1] + "+00:00"
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _UsageError(
            f"{option}: {text!r} is not a date (2026-11-01) or a date and time "
            "(2026-11-01T14:30, 2026-11-01T14:30:00+02:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_UTC)
    return moment + timedelta(microseconds=1) if end else moment


def _keys(values: Sequence[str] | None) -> list[str]:
    keys = [k.strip() for v in values or ["model"] for k in v.split(",")]
    if not all(keys):
        raise _UsageError(f"--by: empty grouping key in {values!r}")
    return keys


def _where(values: Sequence[str] | None) -> dict[str, str]:
    where: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _UsageError(f"--where: expected KEY=VALUE, got {item!r}")
        where[key.strip()] = value
    return where


def _ledger_path(given: str | None) -> str:
    path = given or os.environ.get("AIUSAGE_LEDGER", "").strip()
    if not path:
        raise _UsageError("no ledger given: use --ledger PATH or set AIUSAGE_LEDGER")
    return path


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger",
        metavar="PATH",
        help="the ledger to read: an SQLite file or a postgresql:// DSN (default: $AIUSAGE_LEDGER)",
    )
    parser.add_argument(
        "--since", metavar="DATE", help="only records at or after DATE (ISO date or date-time)"
    )
    parser.add_argument(
        "--until", metavar="DATE", help="only records up to DATE (a date includes the whole day)"
    )
    parser.add_argument(
        "--where",
        metavar="KEY=VALUE",
        action="append",
        help="only records whose KEY equals VALUE (keys as for --by); repeatable",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aiusage",
        description="Report and export the AI usage (tokens and exact USD cost) in a ledger.",
        epilog=_EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"aiusage (pytest-aiusage) {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    report = commands.add_parser(
        "report",
        help="totals grouped by model, day, operation, metadata key, ...",
        description="Print calls, tokens and exact cost, grouped by one or more keys.",
        epilog=_EPILOG_REPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(report)
    report.add_argument(
        "--by",
        metavar="KEY",
        action="append",
        help="group by KEY (default: model); repeat for composite groups",
    )
    report.add_argument(
        "--format",
        choices=("table", "json", "csv", "markdown", "html"),
        default="table",
        help="output format (default: table); markdown and html add the spend over time",
    )
    report.add_argument(
        "--period",
        choices=("day", "month"),
        default="day",
        help="markdown and html: the spend over time per day or per month (default: day), "
        "one series per value of the first --by key that is not day or month (default model)",
    )

    export = commands.add_parser(
        "export",
        help="every record, as JSON Lines or CSV",
        description="Write the ledger's records (one per line/row), oldest first.",
        epilog=_EPILOG_EXPORT,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common_options(export)
    export.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        default="jsonl",
        help="output format (default: jsonl)",
    )
    export.add_argument(
        "--output", "-o", metavar="FILE", help="write to FILE instead of standard output"
    )

    ledger = commands.add_parser(
        "ledger",
        help="manage ledgers (copy one into another)",
        description="Manage ledgers.",
    )
    ledger.set_defaults(print_help=ledger.print_help)
    ledger_commands = ledger.add_subparsers(dest="ledger_command", metavar="COMMAND")
    copy = ledger_commands.add_parser(
        "copy",
        help="copy every record of one ledger into another (SQLite <-> PostgreSQL)",
        description="Copy every record of SOURCE into TARGET.",
        epilog=_EPILOG_COPY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    copy.add_argument("source", metavar="SOURCE", help="the ledger to read")
    copy.add_argument("target", metavar="TARGET", help="the ledger to write (created if missing)")

    fake_server = commands.add_parser(
        "fake-server",
        help="serve the fake OpenAI API on a local port (for recording cassettes, demos)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_fake_server_arguments(fake_server)
    return parser


def _add_fake_server_arguments(parser: argparse.ArgumentParser) -> None:
    # The server lives in pytest_aiusage (it needs werkzeug); it is imported only when asked.
    try:
        from pytest_aiusage._serve import add_arguments
    except ImportError:
        return  # main() says what to install if the command is run
    add_arguments(parser)


def _fake_server(args: argparse.Namespace) -> int:
    try:
        from pytest_aiusage._serve import serve
    except ImportError as exc:
        raise _UsageError(
            f"the fake server needs {exc.name or 'a missing module'}: "
            'pip install "pytest-aiusage[cassettes]"'
        ) from None
    return serve(args)


# -- report ------------------------------------------------------------------------------


def _money(value: Any) -> str:
    return format(value, "f")


def _totals_dict(totals: UsageTotals) -> dict[str, Any]:
    data = totals.to_dict()
    data["cost_usd"] = _money(totals.cost_usd)
    return data


def _render_table(report: LedgerReport) -> str:
    unpriced = report.totals.unpriced_calls > 0
    header = [*report.by, "calls", "input_tokens", "output_tokens", "cost_usd"]
    if unpriced:
        header.append("unpriced_calls")

    # One money column: the same decimals in every row, aligned on the point.
    every = [*(g.totals for g in report.groups), report.totals]
    costs = iter(usd_column([cost_of(t) for t in every]))

    def figures(t: UsageTotals) -> list[str]:
        row = [f"{t.calls:,}", f"{t.input_tokens:,}", f"{t.output_tokens:,}", next(costs)]
        if unpriced:
            row.append(f"{t.unpriced_calls:,}")
        return row

    body = [[*(key_cell(v) for v in g.key), *figures(g.totals)] for g in report.groups]
    total = ["TOTAL", *([""] * (len(report.by) - 1)), *figures(report.totals)]
    if not report.by:
        total = figures(report.totals)
    widths = [max(len(row[i]) for row in [header, *body, total]) for i in range(len(header))]
    keys = len(report.by)

    def line(row: list[str]) -> str:
        cells = [
            cell.ljust(width) if i < keys else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    lines = [line(header), rule, *(line(r) for r in body), rule, line(total)]
    if unpriced:
        lines.append(
            f"note: {report.totals.unpriced_calls} call(s) could not be priced; "
            "cost_usd is a lower bound"
        )
    if report.totals.calls == 0:
        lines.append("note: no records match")
    return "\n".join(lines) + "\n"


def _render_json(report: LedgerReport, extra: dict[str, Any]) -> str:
    groups = []
    for group in report.groups:
        key: Any = (
            group.key[0] if len(report.by) == 1 else dict(zip(report.by, group.key, strict=True))
        )
        groups.append({"key": key, **_totals_dict(group.totals)})
    document = {**extra, "by": list(report.by), "totals": _totals_dict(report.totals)}
    document["groups"] = groups
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _render_csv(report: LedgerReport) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*report.by, *_TOTAL_FIELDS])
    for group in report.groups:
        totals = _totals_dict(group.totals)
        keys = ["" if v is None else key_cell(v) for v in group.key]
        writer.writerow([*keys, *(totals[f] for f in _TOTAL_FIELDS)])
    return out.getvalue()


def _report(args: argparse.Namespace, out: IO[str]) -> None:
    by = _keys(args.by)
    since = _moment(args.since, "--since", end=False) if args.since else None
    until = _moment(args.until, "--until", end=True) if args.until else None
    if since is not None and until is not None and since >= until:
        raise _UsageError(f"--since {args.since} is not before --until {args.until}")
    where = _where(args.where)
    with Ledger(_ledger_path(args.ledger)) as ledger:
        report = ledger.report(by, since=since, until=until, where=where)
        if args.format == "json":
            extra = {
                "ledger": ledger.path,
                "since": since.isoformat() if since else None,
                "until": until.isoformat() if until else None,
            }
            out.write(_render_json(report, extra))
        elif args.format == "csv":
            out.write(_render_csv(report))
        elif args.format in ("markdown", "html"):
            series_key = next((k for k in by if k not in ("day", "month")), "model")
            over_time = SpendOverTime(
                ledger.report([args.period, series_key], since=since, until=until, where=where),
                args.period,
                series_key,
            )
            if args.format == "markdown":
                out.write(render_ledger_markdown(report, over_time))
            else:
                scope = [f"Ledger: {ledger.path}"]
                if since or until:
                    scope.append(
                        f"From {since.isoformat() if since else 'the start'} to "
                        f"{until.isoformat() if until else 'now'}"
                    )
                out.write(render_ledger_html(report, over_time, subtitle=scope))
        else:
            out.write(_render_table(report))


# -- export ------------------------------------------------------------------------------


def _csv_rows(rows: Iterator[dict[str, Any]]) -> Iterator[list[Any]]:
    for r in rows:
        path = r["context_path"]
        error = r["error"]
        flat = {
            **r,
            "day": r["timestamp"][:10],
            "operation_type": path[-1] if path else "",
            "context_path": "/".join(path),
            "metadata": json.dumps(r["metadata"], ensure_ascii=False, sort_keys=True),
            "error_type": error["type"] if error else "",
            "error_message": error["message"] if error else "",
            "batch": "true" if r["batch"] else "false",
        }
        yield ["" if flat[f] is None else flat[f] for f in _EXPORT_CSV_FIELDS]


def _export(args: argparse.Namespace, out: IO[str]) -> None:
    since = _moment(args.since, "--since", end=False) if args.since else None
    until = _moment(args.until, "--until", end=True) if args.until else None
    where = _where(args.where)
    with Ledger(_ledger_path(args.ledger)) as ledger:
        rows = ledger.rows(since=since, until=until, where=where)
        target: IO[str] = out
        file: IO[str] | None = None
        if args.output:
            try:
                file = open(args.output, "w", encoding="utf-8", newline="")  # noqa: SIM115
            except OSError as exc:
                raise _UsageError(f"--output: cannot write {args.output}: {exc.strerror}") from None
            target = file
        try:
            if args.format == "csv":
                writer = csv.writer(target, lineterminator="\n")
                writer.writerow(_EXPORT_CSV_FIELDS)
                writer.writerows(_csv_rows(rows))
            else:
                for row in rows:
                    target.write(json.dumps(row, ensure_ascii=False) + "\n")
        finally:
            if file is not None:
                file.close()


# -- ledger copy -------------------------------------------------------------------------

_COPY_BATCH = 5_000


def _copy(args: argparse.Namespace, out: IO[str]) -> None:
    with Ledger(args.source) as source:
        target = ledger_sink(args.target)
        try:
            target.check()
            with Ledger(args.target) as book:
                before = book.count()
            copied = 0
            batch: list[UsageRecord] = []
            for record in source.records():
                batch.append(record)
                if len(batch) == _COPY_BATCH:
                    _write(target, batch)
                    copied += len(batch)
                    batch = []
            _write(target, batch)
            copied += len(batch)
        finally:
            target.close()
        with Ledger(args.target) as book:
            added = book.count() - before
            shown = book.path
    out.write(
        f"copied {copied:,} record(s) from {source.path} to {shown}: {added:,} new, "
        f"{copied - added:,} already there\n"
    )


def _write(target: SQLiteSink | PostgresSink, records: list[UsageRecord]) -> None:
    try:
        target.write(records)
    except sqlite3.Error as exc:  # PostgresSink raises LedgerError itself
        raise LedgerError(f"cannot write ledger {target!r}: {exc}", path=repr(target)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aiusage`` command with ``argv`` (default: ``sys.argv[1:]``); return the
    exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return _USAGE_ERROR
    if args.command == "ledger" and args.ledger_command is None:
        args.print_help(sys.stderr)
        return _USAGE_ERROR
    try:
        if args.command == "fake-server":
            return _fake_server(args)
        if args.command == "report":
            _report(args, sys.stdout)
        elif args.command == "export":
            _export(args, sys.stdout)
        else:
            _copy(args, sys.stdout)
        sys.stdout.flush()
    except (_UsageError, AIUsageError) as exc:
        print(f"aiusage: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    except BrokenPipeError:
        # The reader went away (``aiusage export | head``): stop quietly.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return 0
