"""Recording and replaying under pytest-xdist."""

from __future__ import annotations

import json

import pytest
import yaml
from cassette_testing import cassette_files

SUITE = """
import pytest

pytestmark = [pytest.mark.vcr, pytest.mark.fake_openai]


@pytest.mark.parametrize("n", range(6))
def test_calls(openai_client, n):
    for i in range(n % 3 + 1):
        openai_client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"call {i} of test {n}"}]
        )
"""


def test_recording_with_two_workers_writes_whole_cassettes_that_replay(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_parallel=SUITE)
    recorded = pytester.runpytest_subprocess(
        "-n", "2", "--record-mode=once", "--aiusage-json=record.json"
    )
    recorded.assert_outcomes(passed=6)
    recorded.stdout.fnmatch_lines(["created: 2/2 workers"])

    cassettes = cassette_files(pytester.path)
    assert [p.name for p in cassettes] == [f"test_calls[{n}].yaml" for n in range(6)]
    for n, path in enumerate(cassettes):
        interactions = yaml.safe_load(path.read_text())["interactions"]
        assert len(interactions) == n % 3 + 1, path.name
    assert list(pytester.path.rglob("*.tmp")) == []  # no temporary file left behind

    replayed = pytester.runpytest_subprocess(
        "-n", "2", "--record-mode=none", "--aiusage-json=replay.json", "--aiusage-cassette-report"
    )
    replayed.assert_outcomes(passed=6)
    # The workers' cassette use reached the controller, which reports it.
    replayed.stdout.fnmatch_lines(
        [
            "*= OpenAI cassettes =*",
            "6 cassette files loaded, 12 recorded interactions: every interaction played, "
            "no cassette missing",
        ]
    )
    live = json.loads((pytester.path / "record.json").read_text())
    offline = json.loads((pytester.path / "replay.json").read_text())
    assert offline["tests"] == live["tests"]
    assert offline["totals"]["calls"] == 12
