"""Cassettes: pytest-recording and vcrpy extended through their hooks (private).

``_plugin`` is the pytest plugin module (hooks, fixtures, the cassette report); ``_persister``
scrubs and writes cassette files; ``_scrub`` finds secrets; ``_matchers`` compares requests;
``_replay_failure`` explains a request that no recording matches; ``_providers`` tells which
provider a recorded request went to (for messages and the report); ``_state`` holds what one
test's cassette knows; ``_fixtures`` makes the provider client fixtures; ``_report`` is the
end-of-run cassette report.
"""
