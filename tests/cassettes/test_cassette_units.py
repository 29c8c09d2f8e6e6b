"""The scrubber, the matchers and the atomic write, on vcrpy's own objects."""

from __future__ import annotations

import builtins
import gzip
import json
import os
import stat
from pathlib import Path

import pytest
from vcr.request import Request

from pytest_aiusage import openai_vcr_config
from pytest_aiusage._cassettes._matchers import (
    OPENAI_MATCH_ON,
    describe_request,
    openai_body,
    openai_path,
    openai_query,
)
from pytest_aiusage._cassettes._persister import ScrubbingPersister
from pytest_aiusage._cassettes._scrub import REDACTED, Scrubber, is_secret_name
from pytest_aiusage._cassettes._state import CassetteState
from pytest_aiusage._files import write_atomically

JSON = {"content-type": "application/json"}


def post(uri: str, body: bytes | str | None = None, **headers: str) -> Request:
    return Request("POST", uri, body, {**JSON, **headers})


def response(body: bytes, **headers: list[str]) -> dict[str, object]:
    return {
        "status": {"code": 200, "message": "OK"},
        "headers": {"content-type": ["application/json"], **headers},
        "body": {"string": body},
    }


# -- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "api-key",
        "OpenAI-Organization",
        "openai-project",
        "Cookie",
        "set-cookie",
        "x-api-key",
        "access_token",
        "X-Auth-Token",
        "client_secret",
        "key",
    ],
)
def test_secret_names_are_recognised(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "api-version",
        "max_tokens",
        "x-ratelimit-remaining-tokens",
        "content-type",
        "x-request-id",
        "openai-processing-ms",
        "monkey",
    ],
)
def test_ordinary_names_are_left_alone(name: str) -> None:
    assert not is_secret_name(name)


# -- scrubbing -------------------------------------------------------------------------------


def test_a_secret_seen_in_a_header_is_replaced_everywhere_in_the_cassette() -> None:
    request = post(
        "https://example.test/v1/chat/completions?api-version=2024-10-21",
        b'{"note": "token sessionTOKEN-0123456789 inside"}',
        authorization="Bearer sessionTOKEN-0123456789",
        **{"x-stainless-os": "Linux", "user-agent": "OpenAI/Python"},
    )
    reply = response(b'{"echo": "sessionTOKEN-0123456789"}', **{"content-length": ["36"]})
    clean = Scrubber([]).cassette({"requests": [request], "responses": [reply]})
    (scrubbed,) = clean["requests"]
    assert dict(scrubbed.headers) == {
        "content-type": "application/json",
        "authorization": REDACTED,
        "user-agent": "OpenAI/Python",
    }
    assert scrubbed.body == b'{"note": "token <REDACTED> inside"}'
    assert scrubbed.uri == "https://example.test/v1/chat/completions?api-version=2024-10-21"
    (out,) = clean["responses"]
    assert out["body"]["string"] == b'{"echo": "<REDACTED>"}'
    assert out["headers"]["content-length"] == ["22"]  # the body got shorter
    # The original interaction, still in vcrpy's memory, is untouched.
    assert request.headers["authorization"] == "Bearer sessionTOKEN-0123456789"


def test_urls_lose_secret_parameters_passwords_and_key_shaped_strings() -> None:
    scrubber = Scrubber(["configured-key-0123"])
    assert scrubber.url("https://u:hunter2hunter2@h.test/v1/x?api-key=abc&b=1") == (
        "https://u:REDACTED@h.test/v1/x?api-key=%3CREDACTED%3E&b=1"
    )
    assert scrubber.url(
        "https://h.test/v1/sk-proj-ABCDEFGHIJKLMNOPQRST/x?q=configured-key-0123"
    ) == ("https://h.test/v1/<REDACTED>/x?q=<REDACTED>")


def test_short_values_are_only_replaced_where_they_stand_in_a_secret_field() -> None:
    # A 4-character key would otherwise redact every "test" of every prompt.
    request = post("https://h.test/v1/embeddings", b'{"input": "a test"}', authorization="test")
    clean = Scrubber(["test"]).cassette({"requests": [request], "responses": []})
    assert clean["requests"][0].headers["authorization"] == REDACTED
    assert clean["requests"][0].body == b'{"input": "a test"}'


def test_compressed_responses_are_decoded_so_that_they_can_be_searched() -> None:
    body = b'{"key": "sk-live-ABCDEFGHIJKLMNOPQRSTUV"}'
    reply = response(gzip.compress(body), **{"content-encoding": ["gzip"]})
    (out,) = Scrubber([]).cassette({"requests": [], "responses": [reply]})["responses"]
    assert out["body"]["string"] == b'{"key": "<REDACTED>"}'
    assert "content-encoding" not in out["headers"]


def test_the_persister_writes_scrubbed_text_and_loads_through_the_persister_it_wraps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vcr.persisters.filesystem import FilesystemPersister
    from vcr.serializers import jsonserializer

    monkeypatch.setenv("OPENAI_API_KEY", "environment-key-0123456789")
    state = CassetteState()
    state.add_secret("fixture-key-0123456789")
    persister = ScrubbingPersister(FilesystemPersister, state)
    request = post(
        "https://h.test/v1/chat/completions",
        b'{"a": "environment-key-0123456789 fixture-key-0123456789"}',
    )
    path = tmp_path / "deep" / "cassette.json"
    cassette = {"requests": [request], "responses": [response(b"{}")]}
    persister.save_cassette(path, cassette, serializer=jsonserializer)
    text = path.read_text()
    assert "environment-key" not in text
    assert "fixture-key" not in text
    requests, responses = persister.load_cassette(path, serializer=jsonserializer)
    assert json.loads(requests[0].body) == {"a": "<REDACTED> <REDACTED>"}
    assert responses[0]["body"]["string"] == b"{}"


def test_a_persister_of_your_own_is_handed_the_scrubbed_cassette() -> None:
    saved: dict[str, dict[str, list[object]]] = {}

    class Elsewhere:
        def save_cassette(self, path: str, cassette: dict[str, list[object]], serializer: object):
            saved[path] = cassette

    request = post("https://h.test/v1/x", b"{}", authorization="Bearer sk-abcdefghijklmnopqrstu")
    cassette = {"requests": [request], "responses": [response(b"{}")]}
    ScrubbingPersister(Elsewhere(), CassetteState()).save_cassette("c", cassette, serializer=None)
    (scrubbed,) = saved["c"]["requests"]
    assert scrubbed.headers["authorization"] == REDACTED  # type: ignore[attr-defined]


def test_atomic_writes_leave_no_temporary_file_and_keep_the_files_mode(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    write_atomically(path, "first\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    os.chmod(path, 0o600)
    write_atomically(path, "second\n")
    assert path.read_text() == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.yaml"]


def test_an_atomic_write_to_the_longest_file_name_allowed_works(tmp_path: Path) -> None:
    # pytest-recording shortens a long parametrized cassette name to exactly this length.
    longest = os.pathconf(tmp_path, "PC_NAME_MAX")
    path = tmp_path / ("test_label[" + "x" * (longest - 17) + "].yaml")
    assert len(path.name.encode()) == longest
    write_atomically(path, "recorded\n")
    assert path.read_text() == "recorded\n"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_an_atomic_write_makes_its_rename_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[int, int]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        identity = os.fstat(fd)
        synced.append((identity.st_dev, identity.st_ino))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = tmp_path / "c.yaml"
    write_atomically(path, "first\n")
    file, folder = path.stat(), tmp_path.stat()
    # The data first, then the folder holding the new name.
    assert synced == [(file.st_dev, file.st_ino), (folder.st_dev, folder.st_ino)]


# -- finding the replay error ----------------------------------------------------------------


def test_the_replay_error_is_found_through_causes_contexts_and_exception_groups() -> None:
    from vcr.cassette import Cassette
    from vcr.errors import CannotOverwriteExistingCassetteException

    from pytest_aiusage._cassettes._replay_failure import find_replay_error

    exception_group = getattr(builtins, "ExceptionGroup", None)
    if exception_group is None:
        pytest.skip("exception groups are Python 3.11+")
    error = CannotOverwriteExistingCassetteException(
        cassette=Cassette("c.yaml", record_mode="none"), failed_request=post("https://h.test/v1/x")
    )
    assert error.reason == "cassette_not_found"

    def fail() -> None:
        try:
            raise exception_group("tasks", [ValueError("other"), error])
        except Exception:
            # "from None" hides the context from tracebacks; it is still there to follow.
            raise RuntimeError("handling it failed") from None

    with pytest.raises(RuntimeError) as outer:
        fail()
    assert find_replay_error(outer.value) is error
    assert find_replay_error(ValueError("unrelated")) is None


# -- matching --------------------------------------------------------------------------------


def test_json_bodies_match_whatever_their_key_order_and_whitespace() -> None:
    recorded = post("http://127.0.0.1:1234/v1/chat/completions", b'{"model":"m","n":[1,2]}')
    live = post("https://api.openai.com/v1/chat/completions", '{ "n": [1, 2],\n "model": "m" }')
    for matcher in (openai_path, openai_query, openai_body):
        matcher(live, recorded)


def test_a_different_json_body_says_where_it_differs() -> None:
    recorded = post("https://h.test/v1/x", b'{"messages": [{"content": "a"}], "stream": true}')
    changed = post("https://h.test/v1/x", b'{"messages": [{"content": "b"}], "stream": true}')
    with pytest.raises(AssertionError, match=r'^\$\.messages\[0\]\.content: "b" != "a"$'):
        openai_body(changed, recorded)
    as_number = post("https://h.test/v1/x", b'{"messages": [{"content": "a"}], "stream": 1}')
    with pytest.raises(AssertionError, match=r"^\$\.stream: 1 != true$"):
        openai_body(as_number, recorded)


def test_a_long_difference_is_shown_in_a_window_around_it_on_both_sides() -> None:
    prefix = "x" * 200
    recorded = post("https://h.test/v1/x", json.dumps({"input": prefix + "total 12.50 EUR"}))
    changed = post("https://h.test/v1/x", json.dumps({"input": prefix + "total 12.60 EUR"}))
    # The JSON text starts with a quote: the "6" is character 1 + 200 + 9; the window starts
    # 20 characters before it.
    with pytest.raises(AssertionError) as raised:
        openai_body(changed, recorded)
    assert str(raised.value) == (
        f'$.input: ...{"x" * 11}total 12.60 EUR" != ...{"x" * 11}total 12.50 EUR" '
        "(first difference at character 210)"
    )


def test_a_different_text_body_shows_the_first_difference_on_one_line() -> None:
    head = "line one\nline two " + "y" * 100
    plain = {"content-type": "text/plain"}
    recorded = post("https://h.test/v1/x", (head + " end").encode(), **plain)
    changed = post("https://h.test/v1/x", (head + " END").encode(), **plain)
    with pytest.raises(AssertionError) as raised:
        openai_body(changed, recorded)
    assert str(raised.value) == (
        "the bodies differ (122 bytes in this request, 122 bytes recorded): "
        f"...{'y' * 19} END != ...{'y' * 19} end (first difference at character 119)"
    )
    # Newlines near the difference are escaped, so the message stays on one line.
    near = post("https://h.test/v1/x", b"a\nb" * 40, **plain)
    with pytest.raises(AssertionError, match=r"^the bodies differ [^\n]*\\n[^\n]*$"):
        openai_body(near, recorded)


def test_queries_match_in_any_order_ignoring_secret_values() -> None:
    recorded = post("https://h.test/v1/x?api-version=1&api-key=%3CREDACTED%3E")
    live = post("https://h.test/v1/x?api-key=dummy&api-version=1")
    openai_query(live, recorded)
    other = post("https://h.test/v1/x?api-key=dummy&api-version=2")
    with pytest.raises(AssertionError):
        openai_query(other, recorded)


def test_multipart_bodies_match_despite_their_random_boundary() -> None:
    def upload(boundary: str) -> Request:
        body = f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        return Request(
            "POST",
            "https://h.test/v1/files",
            (body + f"--{boundary}--\r\n").encode(),
            {"content-type": f"multipart/form-data; boundary={boundary}"},
        )

    openai_body(upload("a1b2c3"), upload("ffee99"))


def test_a_request_is_described_by_method_path_model_and_text() -> None:
    request = post(
        "https://h.test/v1/responses?api-key=secret-value",
        json.dumps(
            {
                "model": "gpt-4o-mini",
                "stream": True,
                "input": [
                    {
                        "role": "user",
                        "content": [{"type": "input_text", "text": "Label   this\nreceipt"}],
                    }
                ],
            }
        ),
    )
    assert describe_request(request) == (
        'POST /v1/responses?api-key=<REDACTED> (model=gpt-4o-mini, stream, "Label this receipt")'
    )


def test_a_key_in_a_prompt_is_not_printed_in_a_description() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "sk-abcdefghijklmnopqrstu"}]}
    assert describe_request(post("https://h.test/v1/x", json.dumps(body))) == (
        'POST /v1/x (model=m, "<REDACTED>")'
    )


def test_the_public_defaults_are_the_openai_matching_alone() -> None:
    # No filter: a filter in vcr_config would alter what the user's own hooks see, and the
    # persister scrubs every cassette anyway.
    config = openai_vcr_config()
    assert config == {"match_on": ("method", "openai_path", "openai_query", "openai_body")}
    assert config["match_on"] == OPENAI_MATCH_ON
    assert openai_vcr_config() is not config
