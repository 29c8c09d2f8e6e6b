"""The inner test suite the report tests run: operations, an over-budget test, an unpriced
call, a call without reported usage, a test without AI calls.

Figures by hand (US dollars per million tokens: gpt-4o-mini 0.15 in / 0.60 out, gpt-4o 2.50
in / 10.00 out):

* test_label: label_receipt gpt-4o-mini 1,000 in / 500 out = 0.00045, twice = 0.0009;
  summarise gpt-4o 1,000 in / 100 out = 0.0035; together 0.0044 > usd=0.004: over budget
* test_cheap: 10 in / 5 out of gpt-4o-mini = 0.0000045
* test_private: my-private-model, unknown cost
* test_plain: no call
* session: 0.0044045, 1 unpriced call
"""

from __future__ import annotations

SUITE = """
import pytest
from aiusage_core import ai_usage_context, record_usage

@pytest.mark.ai_budget(usd=0.004, calls=5)
def test_label():
    with ai_usage_context("label_receipt"):
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
        record_usage(model="gpt-4o-mini", input_tokens=1000, output_tokens=500)
    with ai_usage_context("summarise"):
        record_usage(model="gpt-4o", input_tokens=1000, output_tokens=100)

def test_cheap():
    record_usage(model="gpt-4o-mini", input_tokens=10, output_tokens=5)

def test_private():
    record_usage(model="my-private-model", input_tokens=7, output_tokens=3)

def test_plain():
    pass
"""
