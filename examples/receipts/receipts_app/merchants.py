"""Matching a receipt's merchant name to a known merchant with embeddings."""

from __future__ import annotations

import math

from openai import OpenAI

from aiusage_core import ai_usage_tracked

KNOWN_MERCHANTS = ("ACME Groceries", "Globex Office Supply", "Initech Travel", "Umbrella Cafe")


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@ai_usage_tracked(operation_type="match_merchant")
def match_merchant(client: OpenAI, name: str) -> str:
    """The known merchant closest to ``name`` (one embeddings call for all names)."""
    response = client.embeddings.create(
        model="text-embedding-3-small", input=[name, *KNOWN_MERCHANTS]
    )
    query, *candidates = (item.embedding for item in response.data)
    scores = [_cosine(query, candidate) for candidate in candidates]
    return KNOWN_MERCHANTS[scores.index(max(scores))]
