"""Fixtures of the example suite: the receipts the application works on."""

from __future__ import annotations

from decimal import Decimal

import pytest
from receipts_app import Receipt


@pytest.fixture
def receipts() -> dict[str, Receipt]:
    """Four scanned receipts, and one with no lines (the batch counts it as a failure)."""
    return {
        "acme": Receipt("r-1", "ACME Groceries", Decimal("23.40"), ("bananas 1.20", "milk 2.20")),
        "globex": Receipt(
            "r-2", "Globex Office Supply", Decimal("12.99"), ("printer paper 12.99",)
        ),
        "initech": Receipt("r-3", "Initech Travel", Decimal("310.00"), ("train ticket 310.00",)),
        "umbrella": Receipt("r-4", "Umbrella Cafe", Decimal("8.50"), ("restaurant lunch 8.50",)),
        "empty": Receipt("r-5", "Unknown", Decimal("0"), ()),
    }
