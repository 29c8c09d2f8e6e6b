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


UNCAPPED = """
import pytest


def ask(client):
    # No max_tokens: the request does not bound its output.
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )


@pytest.mark.fake_openai
@pytest.mark.ai_budget(output_tokens=600, hard=True, output_cap=500)
def test_capped_by_the_marker(openai_client, fake_openai, ai_usage):
    stream = openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    budget = ai_usage.context.budget
    assert budget.reserved.output_tokens == 500  # the marker's cap, not the ini's 50
    for _ in stream:
        pass
    assert (budget.reserved.output_tokens, budget.spent.output_tokens) == (0, 3)
    ask(openai_client)  # 3 + 500 fits 600
    assert len(fake_openai.requests) == 2


@pytest.mark.fake_openai
@pytest.mark.ai_budget(output_tokens=600, hard=True, output_cap={"gpt-4o": 100, "*": 700})
def test_capped_per_model(openai_client, fake_openai):
    ask(openai_client)  # 700 for gpt-4o-mini: refused


@pytest.mark.fake_openai
@pytest.mark.ai_budget(output_tokens=60, hard=True)
def test_capped_by_the_ini(openai_client, fake_openai):
    ask(openai_client)  # reserves 50 (the ini's cap for gpt-4o-mini), uses 3
    ask(openai_client)  # 3 + 50 fits 60
    assert len(fake_openai.requests) == 2


@pytest.mark.fake_openai
@pytest.mark.ai_budget(usd=1, hard=True, refuse_unbounded=True, output_cap=None)
def test_refused_by_the_marker(openai_client, fake_openai):
    ask(openai_client)  # output_cap=None lifts the ini's cap: nothing bounds the call
"""


def test_a_marker_or_the_ini_says_how_a_hard_budget_bounds_an_uncapped_call(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INNER_INI + "aiusage_output_cap = gpt-4o-mini=50\n")
    pytester.makepyfile(test_uncapped=UNCAPPED)
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*'test_uncapped.py::test_capped_per_model' refused a call before sending it "
            "(openai chat call to gpt-4o-mini (no output cap)): its worst case ($0.00043095; "
            "input <= 73 tokens, output <= 700 tokens) does not fit the output_tokens limit 600*",
            "*'test_uncapped.py::test_refused_by_the_marker' refused a call before sending it*"
            "the request sets no output cap (refuse_unbounded=True)*",
        ]
    )
    # (The worst case's dollars are written exactly under a token limit too: $0.00043095 is
    # 73 input tokens at $0.15/M and 700 output tokens at $0.60/M.)
    result.stdout.no_fnmatch_line("*test_capped_by_the_marker*refused*")


def test_the_command_line_makes_hard_budgets_refuse_uncapped_calls(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini(INNER_INI + "aiusage_hard_budget = true\n")
    pytester.makepyfile(
        test_uncapped="""
import pytest


@pytest.mark.fake_openai
@pytest.mark.ai_budget(usd=1)
def test_uncapped(openai_client, fake_openai):
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )


@pytest.mark.fake_openai
@pytest.mark.ai_budget(usd=1, refuse_unbounded=False)
def test_lifted(openai_client, fake_openai):
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert len(fake_openai.requests) == 1
"""
    )
    result = pytester.runpytest("--aiusage-refuse-unbounded")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_uncapped*(refuse_unbounded=True)*"])


@pytest.mark.parametrize(
    ("where", "marker", "ini", "message"),
    [
        (
            "marker",
            "output_cap=0",
            "",
            "*ai_budget on test_bad.py::test_x: output_cap=0 must be at least 1*",
        ),
        (
            "marker",
            "output_cap={'gpt-4o': 'many'}",
            "",
            "*ai_budget on test_bad.py::test_x: output_cap?'gpt-4o'?='many' is not a number*",
        ),
        (
            "marker",
            "refuse_unbounded='yes'",
            "",
            "*ai_budget on test_bad.py::test_x: refuse_unbounded='yes' must be True or False*",
        ),
        (
            "ini",
            "",
            "aiusage_output_cap = gpt-4o:4000\n",
            "*ini aiusage_output_cap='gpt-4o:4000' is not a number*",
        ),
        (
            "ini",
            "",
            "aiusage_output_cap = gpt-4o=4000, =10\n",
            "*ini aiusage_output_cap: '=10' is not model=tokens*",
        ),
    ],
)
def test_a_bad_rule_names_where_it_was_given(
    pytester: pytest.Pytester, where: str, marker: str, ini: str, message: str
) -> None:
    pytester.makeini(INNER_INI + ini)
    args = f"usd=1, hard=True, {marker}" if marker else "usd=1, hard=True"
    pytester.makepyfile(
        test_bad=f"import pytest\n\n@pytest.mark.ai_budget({args})\ndef test_x():\n    pass\n"
    )
    result = pytester.runpytest()
    if where == "marker":
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([message])
    else:
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])
