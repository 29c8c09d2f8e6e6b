"""Shared pieces of the plugin's tests.

Every test here drives an inner pytest run with ``pytester``; the inner run loads the plugin
from its ``pytest11`` entry point, as a user's would. Expected figures are computed by hand
from genai-prices' published prices (US dollars per million tokens):

* gpt-4o-mini: input 0.15, cached input 0.075, output 0.60
* gpt-4o: input 2.50, output 10.00

so 1,000 input + 500 output tokens of gpt-4o-mini cost 0.00015 + 0.0003 = $0.00045.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def pytester(pytester: pytest.Pytester, write_ini: Callable[[str], None]) -> pytest.Pytester:
    """``pytester`` with the inner runs' ini written."""
    write_ini()
    return pytester
