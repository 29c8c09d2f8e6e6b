"""A request no cassette answers fails the test with a message that says what to do."""

from __future__ import annotations

import pytest

from pytest_aiusage.fake_openai import FakeOpenAI

SUMMARY = """
import os

import pytest

PROMPT = os.environ.get("PROMPT", "Summarise this receipt for the monthly report, please")


@pytest.mark.vcr
def test_summary(openai_client):
    openai_client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}]
    )


@pytest.mark.vcr
def test_wrapped(openai_client):
    # Code under test that wraps the SDK's error in its own still gets the cassette message.
    try:
        openai_client.embeddings.create(model="text-embedding-3-small", input="receipt")
    except Exception as exc:
        raise RuntimeError("embedding the receipt failed") from exc


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_fake(openai_client):
    openai_client.responses.create(model="gpt-4o-mini", input="Hi")
"""


def test_a_missing_cassette_names_the_file_the_request_and_the_command_to_record_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_receipts=SUMMARY)
    result = pytester.runpytest("--record-mode=none")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*_ test_summary _*",
            "No OpenAI cassette for this test: the cassette does not exist (record mode 'none').",
            "  cassette: cassettes/test_receipts/test_summary.yaml",
            '  request:  POST /v1/chat/completions (model=gpt-4o-mini, "Summarise this receipt'
            ' for the monthly r...")',
            "  record it: OPENAI_API_KEY=sk-... pytest --record-mode=once "
            "test_receipts.py::test_summary",
            "*_ test_wrapped _*",
            "No OpenAI cassette for this test: the cassette does not exist (record mode 'none').",
            "  cassette: cassettes/test_receipts/test_wrapped.yaml",
            '  request:  POST /v1/embeddings (model=text-embedding-3-small, "receipt")',
            "  record it: OPENAI_API_KEY=sk-... pytest --record-mode=once "
            "test_receipts.py::test_wrapped",
            "*_ test_fake _*",
            "No OpenAI cassette for this test: the cassette does not exist (record mode 'none').",
            "  cassette: cassettes/test_receipts/test_fake.yaml",
            '  request:  POST /v1/responses (model=gpt-4o-mini, "Hi")',
            # The fake server answers the recording: no key needed.
            "  record it: pytest --record-mode=once test_receipts.py::test_fake",
        ]
    )
    output = result.stdout.str()
    assert "Connection error" not in output
    assert "Traceback" not in output
    assert "RuntimeError" not in output


def test_a_changed_request_names_what_differs_and_how_to_re_record(
    pytester: pytest.Pytester, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_receipts=SUMMARY)
    monkeypatch.setenv("OPENAI_API_KEY", "recording-key-0123456789")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    pytester.runpytest("--record-mode=once", "-k", "summary").assert_outcomes(passed=1)
    monkeypatch.delenv("OPENAI_API_KEY")

    monkeypatch.setenv("PROMPT", "Summarise that receipt")
    result = pytester.runpytest("--record-mode=none", "-k", "summary")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "No recorded OpenAI request matches this one (record mode 'none').",
            "  cassette: cassettes/test_receipts/test_summary.yaml",
            '  request:  POST /v1/chat/completions (model=gpt-4o-mini, "Summarise that receipt")',
            '  closest recorded: POST /v1/chat/completions (model=gpt-4o-mini, "Summarise this'
            ' receipt for the monthly r...")',
            '    openai_body differs: $.messages[0].content: "Summarise that receipt" != '
            '"Summarise this receipt for the monthly report, please"',
            "  re-record it (replaces the cassette): OPENAI_API_KEY=sk-... pytest "
            "--record-mode=rewrite test_receipts.py::test_summary",
        ]
    )

    # With the cassette in place, record mode "once" replays, and says so when it cannot.
    result = pytester.runpytest("--record-mode=once", "-k", "summary")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["No recorded OpenAI request matches this one (record mode 'once')."]
    )


REPEAT = """
import pytest


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_twice(openai_client):
    for _ in range(int(__import__("os").environ["TIMES"])):
        openai_client.embeddings.create(model="text-embedding-3-small", input="receipt")
"""


def test_a_request_made_more_often_than_recorded_says_so(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_repeat=REPEAT)
    monkeypatch.setenv("TIMES", "1")
    pytester.runpytest("--record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("TIMES", "2")
    result = pytester.runpytest("--record-mode=none")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "The OpenAI cassette has no more answers for this request: the test makes it more "
            "often than when the cassette was recorded (record mode 'none').",
            "  cassette: cassettes/test_repeat/test_twice.yaml",
            '  request:  POST /v1/embeddings (model=text-embedding-3-small, "receipt")',
            "  re-record it (replaces the cassette): pytest --record-mode=rewrite "
            "test_repeat.py::test_twice",
        ]
    )


LONG = """
import os

import pytest

RECEIPT = "Receipt 2026-11-03. " + "coffee 2.50; " * 40


@pytest.mark.vcr
@pytest.mark.fake_openai
def test_long(openai_client):
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": RECEIPT + os.environ["TOTAL"]}],
    )


@pytest.mark.vcr("shared/receipts.yaml")
@pytest.mark.fake_openai
def test_shared(openai_client):
    openai_client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": RECEIPT + os.environ["TOTAL"]}],
    )
"""


def test_a_long_value_is_shown_around_its_first_difference_on_both_sides(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_long=LONG)
    monkeypatch.setenv("TOTAL", "Total 100.00 EUR, paid by card.")
    pytester.runpytest("--record-mode=once", "test_long.py::test_long").assert_outcomes(passed=1)

    monkeypatch.setenv("TOTAL", "Total 100.50 EUR, paid by card.")
    result = pytester.runpytest("--record-mode=none", "test_long.py::test_long")
    result.assert_outcomes(failed=1)
    # The prompt is 20 + 40 * 13 = 540 characters before the total; its JSON text starts
    # with a quote, so the first difference (the "5" of 100.50) is at 541 + 10.
    result.stdout.fnmatch_lines(
        [
            "    openai_body differs: $.messages[0].content: ...fee 2.50; Total 100.50 EUR, paid"
            ' by card." != ...fee 2.50; Total 100.00 EUR, paid by card." (first difference at'
            " character 551)",
        ]
    )


def test_a_custom_cassette_path_names_the_file_that_holds_the_recording(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_long=LONG)
    monkeypatch.setenv("TOTAL", "Total 100.00 EUR.")
    # Recorded as the test's own cassette, then moved to the shared file the marker names.
    pytester.runpytest("--record-mode=once", "-k", "shared").assert_outcomes(passed=1)
    own = pytester.path / "cassettes" / "test_long" / "test_shared.yaml"
    # A relative path in the marker is in the test's cassette folder.
    shared = own.parent / "shared" / "receipts.yaml"
    shared.parent.mkdir()
    own.rename(shared)
    pytester.runpytest("--record-mode=none", "-k", "shared").assert_outcomes(passed=1)

    monkeypatch.setenv("TOTAL", "Total 100.50 EUR.")
    result = pytester.runpytest("--record-mode=none", "-k", "shared")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "No recorded OpenAI request matches this one (record mode 'none').",
            "  cassette: cassettes/test_long/test_shared.yaml (does not exist; new recordings"
            " are written here)",
            "  also read: cassettes/test_long/shared/receipts.yaml (@pytest.mark.vcr)",
            '  request:  POST /v1/chat/completions (model=gpt-4o-mini, "Receipt 2026-11-03.*',
            "  closest recorded (in cassettes/test_long/shared/receipts.yaml): POST"
            " /v1/chat/completions*",
            '    openai_body differs: $.messages[[]0].content: ...fee 2.50; Total 100.50 EUR." !='
            ' ...fee 2.50; Total 100.00 EUR." (first difference at character 551)',
            "  record it (into the test's own cassette; the files it also reads are left as they"
            " are): pytest --record-mode=rewrite test_long.py::test_shared",
        ]
    )

    # Neither file there: the message names both.
    shared.unlink()
    result = pytester.runpytest("--record-mode=none", "-k", "shared")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "No OpenAI cassette for this test: the cassette does not exist (record mode 'none').",
            "  cassette: cassettes/test_long/test_shared.yaml (does not exist; new recordings"
            " are written here)",
            "  also read: cassettes/test_long/shared/receipts.yaml (does not exist)"
            " (@pytest.mark.vcr)",
            "*",
            "  record it: pytest --record-mode=once test_long.py::test_shared",
        ]
    )
