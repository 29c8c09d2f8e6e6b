"""``--aiusage-save=NAME``: every test's exact figures and the run's metadata, in one file."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import genai_prices
import pytest
from baselines_testing import LABEL, NO_AI, SUMMARISE, read_baseline, section

import pytest_aiusage
from aiusage_core._counts import COUNT_NAMES


def _figures(
    nodeid: str, calls: int, input_tokens: int, output_tokens: int, cost: str, models: list[str]
) -> dict[str, object]:
    return {
        "nodeid": nodeid,
        "calls": calls,
        **dict.fromkeys(COUNT_NAMES, 0),  # every count of the vocabulary
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "cost_usd": cost,
        "unpriced_calls": 0,
        "errors": 0,
        "models": models,
    }


def test_save_writes_every_test_with_exact_figures_and_run_metadata(
    pytester: pytest.Pytester,
) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    result = pytester.runpytest("--aiusage-save=main")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    assert section(result) == [
        "saved baseline 'main' to .aiusage/baselines/main.json (3 tests, $0.00431)"
    ]

    data = read_baseline(pytester)
    assert data["format"] == "pytest-aiusage-baseline"
    assert data["version"] == 1
    assert data["name"] == "main"
    # Node id order; a test without AI calls is saved too, so it is not "new" when it starts
    # making calls.
    assert data["tests"] == [
        _figures(LABEL, 2, 3000, 200, "0.00386", ["gpt-4o", "gpt-4o-mini"]),
        _figures(NO_AI, 0, 0, 0, "0", []),
        _figures(SUMMARISE, 1, 1000, 500, "0.00045", ["gpt-4o-mini"]),
    ]
    assert data["totals"]["cost_usd"] == "0.00431"
    assert (data["totals"]["calls"], data["totals"]["total_tokens"]) == (3, 4700)

    run = data["run"]
    assert run["genai_prices_version"] == genai_prices.__version__
    assert run["pytest_aiusage_version"] == pytest_aiusage.__version__
    assert run["python_version"] == platform.python_version()
    saved = datetime.fromisoformat(run["timestamp"])
    assert saved.utcoffset() == timedelta(0)
    assert before <= saved <= datetime.now(timezone.utc)
    # pytester's directory is no git repository.
    assert run["git_commit"] is None


def test_save_records_the_git_commit_of_the_rootdir(pytester: pytest.Pytester) -> None:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=pytester.path,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.strip()

    git("init", "-q")
    git("commit", "-q", "--allow-empty", "-m", "baseline")
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    assert read_baseline(pytester)["run"]["git_commit"] == git("rev-parse", "HEAD")


def test_saving_again_replaces_the_file_and_leaves_no_temporary_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    monkeypatch.setenv("AIU_SUMMARISE_IN", "1100")
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    summarise = {t["nodeid"]: t for t in read_baseline(pytester)["tests"]}[SUMMARISE]
    assert (summarise["input_tokens"], summarise["cost_usd"]) == (1100, "0.000465")
    assert sorted(p.name for p in (pytester.path / ".aiusage" / "baselines").iterdir()) == [
        "main.json"
    ]


def test_ini_baseline_dir_moves_the_baselines_relative_to_the_rootdir(
    pytester: pytest.Pytester, write_ini: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_ini("aiusage_baseline_dir = ci/costs")
    # Run from a subdirectory: the file still lands under the rootdir, not the current one.
    monkeypatch.chdir(pytester.mkdir("sub"))
    result = pytester.runpytest(str(pytester.path), "--aiusage-save=nightly")
    result.assert_outcomes(passed=3)
    path = pytester.path / "ci" / "costs" / "nightly.json"
    assert json.loads(path.read_text(encoding="utf-8"))["name"] == "nightly"
    assert section(result) == [
        "saved baseline 'nightly' to ci/costs/nightly.json (3 tests, $0.00431)"
    ]
    assert not (pytester.path / ".aiusage").exists()
    assert not (pytester.path / "sub" / "ci").exists()


def test_a_baseline_that_cannot_be_written_fails_the_run_and_says_why(
    pytester: pytest.Pytester, write_ini: Callable[[str], None]
) -> None:
    pytester.makefile(".txt", blocker="a file where the directory should be")
    write_ini("aiusage_baseline_dir = blocker.txt")
    result = pytester.runpytest("--aiusage-save=main")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["could not save the baseline to blocker.txt/main.json: *"])


@pytest.mark.parametrize("name", ["a/b", "../main", ".hidden", "main.json", "a b", ""])
def test_a_name_that_is_no_plain_name_is_a_usage_error_naming_it(
    pytester: pytest.Pytester, name: str
) -> None:
    result = pytester.runpytest(f"--aiusage-save={name}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: --aiusage-save={name!r} is not a baseline name: use letters, digits*"]
    )
    assert not (pytester.path / ".aiusage").exists()


def test_a_run_without_tests_saves_nothing(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--aiusage-save=main", "-k", "no_such_test")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert section(result) == ["no test ran: baseline 'main' not saved"]
    assert not (pytester.path / ".aiusage").exists()


def test_an_interrupted_run_keeps_the_previous_baseline(pytester: pytest.Pytester) -> None:
    pytester.runpytest("--aiusage-save=main").assert_outcomes(passed=3)
    before = read_baseline(pytester)
    # test_label ($0.00386), the second test, takes the session over its budget: the run
    # stops before test_no_ai.
    result = pytester.runpytest("--aiusage-save=main", "--aiusage-max-usd=0.001")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert section(result) == ["the run was interrupted: baseline 'main' not saved"]
    assert read_baseline(pytester) == before
