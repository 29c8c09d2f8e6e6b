"""Under pytest-xdist the controller saves and compares; the result equals a serial run's."""

from __future__ import annotations

import pytest
from baselines_testing import read_baseline, section


def test_xdist_saves_and_compares_like_a_serial_run(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.runpytest("--aiusage-save=serial").assert_outcomes(passed=3)
    parallel = pytester.runpytest_subprocess("-n", "2", "--aiusage-save=xdist")
    parallel.assert_outcomes(passed=3)
    parallel.stdout.fnmatch_lines(["created: 2/2 workers"])

    serial_data, xdist_data = read_baseline(pytester, "serial"), read_baseline(pytester, "xdist")
    assert xdist_data["tests"] == serial_data["tests"]
    assert xdist_data["totals"] == serial_data["totals"]
    assert xdist_data["totals"]["cost_usd"] == "0.00431"
    # Only the controller wrote: one file per run, no worker's.
    baselines = pytester.path / ".aiusage" / "baselines"
    assert sorted(p.name for p in baselines.iterdir()) == ["serial.json", "xdist.json"]

    monkeypatch.setenv("AIU_SUMMARISE_IN", "1100")
    compare = ("--aiusage-compare=serial", "--aiusage-compare-fail=usd:3%")
    serial = pytester.runpytest(*compare)
    parallel = pytester.runpytest_subprocess("-n", "2", *compare)
    assert serial.ret == parallel.ret == pytest.ExitCode.TESTS_FAILED
    # Everything but the saving time, which is in the first line, is the same.
    assert section(parallel)[1:] == section(serial)[1:]
    assert (
        "  test_suite.py::test_summarise: cost $0.000450 -> $0.000465 (+$0.000015, +3.3%) > usd:3%"
        in section(parallel)
    )
