"""pytest-xdist support.

Each test's usage travels on its teardown report (see :mod:`._session`), which xdist already
serialises, so the controller aggregates exactly what a serial run would, and a crashed worker
loses only the test it was running. What no report carries (calls between tests) goes in the
worker's ``workeroutput`` and arrives with ``pytest_testnodedown``.
"""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["is_worker", "send_leftovers", "stop_session", "worker_leftovers"]

_KEY = "aiusage"


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is an xdist worker."""
    return hasattr(config, "workerinput")


def send_leftovers(config: pytest.Config, payload: dict[str, Any]) -> None:
    """On a worker: hand ``payload`` to the controller with the worker's output."""
    if payload.get("nodes") or payload.get("warnings"):
        config.workeroutput[_KEY] = payload  # type: ignore[attr-defined]


def stop_session(session: pytest.Session, message: str) -> None:
    """Stop the run after the running test(s), like ``-x``, with ``message``.

    A serial run checks ``session.shouldstop`` after each test; the xdist controller keeps
    its own flag (on its ``dsession`` plugin), which shuts the workers down the same way
    ``-x`` does.
    """
    session.shouldstop = message
    dsession = session.config.pluginmanager.getplugin("dsession")
    if dsession is not None and hasattr(dsession, "shouldstop") and not dsession.shouldstop:
        dsession.shouldstop = message


def worker_leftovers(node: Any) -> dict[str, Any] | None:
    """On the controller: the payload a finished worker sent with :func:`send_leftovers`."""
    output = getattr(node, "workeroutput", None) or {}
    payload: dict[str, Any] | None = output.get(_KEY)
    return payload
