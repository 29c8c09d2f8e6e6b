"""One database connection per process, shared by a sink's threads behind one lock.

The ledger sinks (SQLite, PostgreSQL) keep a connection open between writes. After
``os.fork`` the child must neither use nor close the connection it inherited: closing it
would end the parent's session on the socket they share (PostgreSQL) or checkpoint and
delete the WAL under the parent's feet (SQLite). Such connections are parked here for the
life of the process, and the child opens its own.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["ProcessConnection"]


class _Closable(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=_Closable)

_inherited: list[Any] = []


class ProcessConnection(Generic[C]):
    """This process's connection to one database, used only while holding :attr:`lock`."""

    __slots__ = ("_conn", "_pid", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._conn: C | None = None
        self._pid = 0

    def current(self) -> C | None:
        """The connection this process opened, or ``None``: one inherited through fork is
        parked (never used, never closed) and forgotten."""
        conn = self._conn
        if conn is not None and self._pid != os.getpid():
            _inherited.append(conn)
            self._conn = conn = None
        return conn

    def set(self, conn: C) -> None:
        """Keep ``conn`` as this process's connection."""
        self._conn, self._pid = conn, os.getpid()

    def forget(self) -> None:
        """Drop the connection (already closed, or left to die with the process)."""
        self._conn = None

    def close(self) -> None:
        """Close this process's connection (a later use opens another).

        A write stuck on its database (another process's lock, an unreachable server) holds
        :attr:`lock`; at interpreter exit that must not hold the process, so after a second
        the connection is left to die with it.
        """
        if not self.lock.acquire(timeout=1.0):
            return
        try:
            conn = self.current()
            if conn is not None:
                conn.close()
            self._conn = None
        finally:
            self.lock.release()
