"""A hard test budget refuses the call that would cross it before it is sent: recording
against a live server and replaying the cassette offline stop at the same call."""

from __future__ import annotations

import json

import pytest
from cassette_testing import INNER_INI

from pytest_aiusage.fake_openai import FakeOpenAI

LOOP = """
import pytest

from aiusage_core import BudgetExceededError


@pytest.mark.vcr
@pytest.mark.ai_budget(usd="0.00005", hard=True)
def test_loop(openai_client, ai_usage):
    for i in range(10):
        openai_client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": f"item {i}"}],
            max_tokens=20,
        )


@pytest.mark.vcr
@pytest.mark.ai_budget(calls=1, hard=True)
def test_swallowed(openai_client):
    for i in range(2):
        try:
            openai_client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
            )
        except BudgetExceededError:
            pass
"""

REFUSAL = (
    "*AI budget of context 'test_loop.py::test_loop' refused a call before sending it "
    "(openai chat call to gpt-4o-mini (output cap 20)): its worst case*does not fit the usd "
    "limit $0.00005000; spent $0.00002520, reserved by calls in flight $0.00000000"
)


def test_recording_and_replay_stop_at_the_same_call(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(test_loop=LOOP)
    monkeypatch.setenv("OPENAI_API_KEY", "recording-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)

    recorded = pytester.runpytest("--record-mode=once", "--aiusage-json=record.json")
    recorded.assert_outcomes(failed=2)
    # Each call is 8 tokens in, 4 out ($0.0000036); a worst case is about $0.000025, so
    # the eighth call would cross $0.00005. Seven calls and the one of test_swallowed left.
    assert len(server.requests) == 8
    recorded.stdout.fnmatch_lines([REFUSAL])
    recorded.stdout.fnmatch_lines(["*test_swallowed*refused a call*one more call does not fit*"])
    server.stop()

    monkeypatch.delenv("OPENAI_API_KEY")
    replayed = pytester.runpytest("--record-mode=none", "--aiusage-json=replay.json")
    replayed.assert_outcomes(failed=2)
    replayed.stdout.fnmatch_lines([REFUSAL])
    record = json.loads((pytester.path / "record.json").read_text())
    replay = json.loads((pytester.path / "replay.json").read_text())
    assert replay["tests"] == record["tests"]
    assert [t["calls"] for t in replay["tests"]] == [7, 1]


SOFT = """
import pytest


@pytest.mark.fake_openai
@pytest.mark.ai_budget(calls=1)
def test_default(openai_client):
    for _ in range(2):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )


@pytest.mark.fake_openai
@pytest.mark.ai_budget(calls=1, hard=False)
def test_soft(openai_client, fake_openai):
    for _ in range(2):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=5
        )
    assert len(fake_openai.requests) == 2
"""


def test_the_ini_default_makes_budgets_hard_and_a_marker_can_lift_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INNER_INI + "aiusage_hard_budget = true\n")
    pytester.makepyfile(test_soft=SOFT)
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*BudgetExceededError: AI budget of context "
            "'test_soft.py::test_default' refused a call*one more call does not fit the calls "
            "limit 1*",
            "*test_soft*AI budget exceeded: calls 2 > limit 1*",
        ]
    )


def test_a_bad_hard_argument_fails_the_setup(pytester: pytest.Pytester) -> None:
    pytester.makeini(INNER_INI)
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.ai_budget(usd=1, hard='yes')\ndef test_x():\n    pass\n"
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*hard='yes' must be True or False*"])
