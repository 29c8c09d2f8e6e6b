"""docs/reports.md: the JSON Schema it shows is the one shipped, and its screenshot exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pytest_aiusage import report_schema

DOCS = Path(__file__).parents[2] / "docs"


def test_the_schema_on_the_reports_page_is_the_shipped_one() -> None:
    text = (DOCS / "reports.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, re.S)
    shown = [json.loads(b) for b in blocks if '"$schema"' in b]
    assert shown == [report_schema()]


def test_the_screenshot_the_pages_show_is_committed() -> None:
    for page in ("reports.md", "../README.md"):
        text = (DOCS / page).read_text(encoding="utf-8")
        (image,) = re.findall(r"!\[[^\]]+\]\(([^)]+html-report\.png)\)", text)
        png = (DOCS / page).parent / image
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
