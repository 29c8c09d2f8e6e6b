"""Model names: the snapshot rule every model filter uses, and "did you mean" for typos."""

from __future__ import annotations

import logging

import pytest

from aiusage_core import ConfigurationError, ai_usage_context, record_usage
from aiusage_core._models import is_known_model, known_models, model_matches, suggest_model


@pytest.mark.parametrize(
    ("wanted", "actual", "matches"),
    [
        ("gpt-4o-mini", "gpt-4o-mini", True),
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18", True),
        ("gpt-3.5-turbo", "gpt-3.5-turbo-0125", True),
        ("gpt-4o", "gpt-4o-mini-2024-07-18", False),
        ("gpt-4o", "gpt-4o-mini", False),
        ("gpt-4o-mini", "gpt-4o-mini-2024-07-18-ft", False),
        ("gpt-4o-mini", "gpt-4o-mini-search-preview", False),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini", False),
    ],
)
def test_a_model_matches_itself_and_its_dated_snapshots(
    wanted: str, actual: str, matches: bool
) -> None:
    assert model_matches(wanted, actual) is matches
    assert model_matches(wanted, actual, exact=True) is (wanted == actual)


def test_known_models_come_from_the_price_list() -> None:
    names = known_models("openai")
    assert {"gpt-4o-mini", "gpt-4o-mini-2024-07-18", "text-embedding-3-small"} <= set(names)
    assert list(names) == sorted(names)
    assert known_models("no-such-provider") == ()
    assert is_known_model("gpt-4o-mini-2024-07-18")
    assert not is_known_model("gpt-4o-mnii")


@pytest.mark.parametrize(
    ("typo", "suggestion"),
    [
        ("gpt-4o-mnii", "gpt-4o-mini"),
        ("gpt4o-mini", "gpt-4o-mini"),
        ("text-embeding-3-small", "text-embedding-3-small"),
        ("acme-house-model", None),
    ],
)
def test_suggest_model_finds_the_closest_known_name(typo: str, suggestion: str | None) -> None:
    assert suggest_model(typo) == suggestion


def test_an_unknown_model_warning_asks_did_you_mean(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="aiusage"), ai_usage_context("typo"):
        record_usage(model="gpt-4o-mnii", input_tokens=10)
        record_usage(model="acme-house-model", input_tokens=10)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith(
        "aiusage: no price known for model 'gpt-4o-mnii' (provider 'openai'). "
        "Did you mean 'gpt-4o-mini'? Its calls are recorded with cost_usd=None"
    )
    assert messages[1].startswith(
        "aiusage: no price known for model 'acme-house-model' (provider 'openai'). Its calls"
    )


def test_public_errors_are_named_by_their_public_module() -> None:
    error = ConfigurationError("bad", name="x", value=1)
    assert type(error).__module__ == "aiusage_core"
    assert repr(error) == "ConfigurationError('bad')"
    assert f"{type(error).__module__}.{type(error).__qualname__}" == (
        "aiusage_core.ConfigurationError"
    )
