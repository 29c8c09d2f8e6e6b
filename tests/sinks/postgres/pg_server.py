"""A throwaway PostgreSQL server on loopback, for the team-ledger tests and benchmark.

``initdb`` and ``postgres`` refuse to run as root: as root they run as the ``postgres``
user (Debian's package creates it), in a folder that user owns. For the tests,
durability settings are relaxed (``fsync=off``): they kill clients and stop the server
cleanly, never the machine, and a clean stop keeps every committed row either way.
``durable=True`` (the benchmark) keeps PostgreSQL's defaults.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

PASSWORD_USER = "aiusage_pw"
"""A role that must log in with a password (scram-sha-256); every other role is trusted."""

_HBA = f"""\
local all all trust
host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


class Unavailable(Exception):
    """No PostgreSQL server can be started here (the reason is the message)."""


BINDIR_VARIABLE = "AIUSAGE_TEST_POSTGRES_BINDIR"
"""Names the folder of ``initdb`` and ``postgres`` to use, instead of looking for one."""


def find_bindir() -> Path:
    """The folder of ``initdb`` and ``postgres``: ``$AIUSAGE_TEST_POSTGRES_BINDIR``, else
    Debian's newest, else the ``PATH``'s."""
    chosen = os.environ.get(BINDIR_VARIABLE)
    if chosen:
        if not (Path(chosen) / "initdb").is_file():
            raise Unavailable(
                f"PostgreSQL server binaries (initdb, postgres) not found in {chosen} "
                f"(${BINDIR_VARIABLE})"
            )
        return Path(chosen)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise Unavailable(
        "PostgreSQL server binaries (initdb, postgres) not found: install the postgresql "
        "package to run the team-ledger tests"
    )


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """``initdb`` once, then start, stop and restart a server on ``127.0.0.1:port``."""

    def __init__(self, bindir: Path | None = None, *, durable: bool = False) -> None:
        self.bindir = bindir or find_bindir()
        self.durable = durable
        self._as: list[str] = []
        owner: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise Unavailable(
                    "running as root and there is no 'postgres' user to run PostgreSQL as"
                ) from None
            self._as = ["runuser", "-u", "postgres", "--"]
        self.base = Path(tempfile.mkdtemp(prefix="aiusage-pg-"))
        if owner is not None:
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self.data = self.base / "data"
        self.log = self.base / "server.log"
        self.port = _free_port()
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        (self.data / "pg_hba.conf").write_text(_HBA)
        self.start()
        self.admin(f"CREATE ROLE {PASSWORD_USER} LOGIN SUPERUSER PASSWORD 'correct horse battery'")

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            cwd=self.base,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise Unavailable(f"{program} failed: {done.stderr.strip()} {log[-2000:]}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            "-c max_connections=60 -c shared_buffers=32MB"
        )
        if not self.durable:
            options += " -c fsync=off -c full_page_writes=off"
        # A generous wait: on a loaded CI machine a start can take far longer than usual.
        self._run(
            "pg_ctl", "start", "-w", "-t", "300", "-D", str(self.data), "-l", str(self.log),
            "-o", options,
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast shutdown: clients are disconnected, commits kept)."""
        self._run("pg_ctl", "stop", "-w", "-t", "300", "-m", "fast", "-D", str(self.data))

    def processes(self) -> list[int]:
        """The server's processes: the postmaster, then its children (Linux ``/proc``)."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in glob.glob("/proc/[0-9]*/stat"):
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(stat) as file:
                    fields = file.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == main:
                    children.append(int(stat.split("/")[2]))
        return [main, *children]

    def freeze(self) -> None:
        """Stop every server process (``SIGSTOP``): a server that no longer answers, with
        its connections open, as a hung host or a network partition looks to a client."""
        for pid in self.processes():
            os.kill(pid, signal.SIGSTOP)

    def thaw(self) -> None:
        """Let a frozen server run on (``SIGCONT``)."""
        for pid in self.processes():
            os.kill(pid, signal.SIGCONT)

    def dsn(self, dbname: str = "postgres", user: str = "postgres", password: str = "") -> str:
        """A ``postgresql://`` DSN for ``dbname`` on this server."""
        auth = f"{user}:{password}" if password else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def admin(self, sql: str) -> None:
        """Run ``sql`` as the superuser, outside any transaction."""
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_schema(self, name: str) -> str:
        """A new, empty schema; a DSN whose tables go there (its ``search_path``)."""
        self.admin(f'CREATE SCHEMA "{name}"')
        return self.dsn() + f"?options=-csearch_path%3D{name}"

    def close(self) -> None:
        """Stop the server and remove its files."""
        with contextlib.suppress(Unavailable):
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
