"""Helpers for the sink tests: records with known figures and child interpreters."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiusage_core import UsageRecord
from aiusage_core._records import freeze_mapping

# Published OpenAI prices (US$ per million tokens) the expected figures are computed from.
GPT_4O_MINI_INPUT = Decimal("0.15")
GPT_4O_MINI_OUTPUT = Decimal("0.60")
GPT_4O_INPUT = Decimal("2.50")
GPT_4O_OUTPUT = Decimal("10.00")
MTOK = Decimal(1_000_000)


def make_record(
    *,
    model: str = "gpt-4o-mini",
    input_tokens: int = 1000,
    output_tokens: int = 200,
    cost_usd: Decimal | None = None,
    when: datetime | None = None,
    **fields: Any,
) -> UsageRecord:
    """A record with fixed, known values (priced from the published prices by default)."""
    if cost_usd is None and "cost_usd" not in fields and model in ("gpt-4o-mini", "gpt-4o"):
        rates = (
            (GPT_4O_MINI_INPUT, GPT_4O_MINI_OUTPUT)
            if model == "gpt-4o-mini"
            else (GPT_4O_INPUT, GPT_4O_OUTPUT)
        )
        cost_usd = (input_tokens * rates[0] + output_tokens * rates[1]) / MTOK
    if "metadata" in fields:  # frozen, as the records the core makes
        fields["metadata"] = freeze_mapping(fields["metadata"])
    return UsageRecord(
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost_usd,
        timestamp=when or datetime(2026, 11, 2, 9, 30, tzinfo=timezone.utc),
        **fields,
    )


def python_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python: this one, without a ledger unless given."""
    env = {k: v for k, v in os.environ.items() if k != "AIUSAGE_LEDGER"}
    env.update(extra)
    return env


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 60.0) -> str:
    """Run ``code`` in a fresh interpreter; return its stdout, failing on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env if env is not None else python_env(),
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_concurrently(code: str, count: int, *, timeout: float = 120.0) -> list[str]:
    """Run ``code`` in ``count`` interpreters at once (``sys.argv[1]`` is the index 0..n-1);
    return their outputs, failing if any exits non-zero."""
    children = [
        subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        for n in range(count)
    ]
    outputs = []
    for child in children:
        out, err = child.communicate(timeout=timeout)
        assert child.returncode == 0, err
        outputs.append(out)
    return outputs


def remount(disk: Path, mode: str) -> None:
    """Remount the tmpfs ``disk`` ``"ro"`` or ``"rw"``."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)
