"""Parsing the reports' Markdown and HTML in tests, so checks read figures out of the
structure (tables, cells, fields) rather than matching substrings."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

__all__ = ["HtmlReport", "amount", "markdown_tables"]

_SPLIT = re.compile(r"(?<!\\)\|")


def _cells(line: str) -> list[str]:
    inner = line.strip()
    if not (inner.startswith("|") and inner.endswith("|")):
        raise AssertionError(f"not a Markdown table row: {line!r}")
    return [c.strip().replace("\\|", "|").replace("\\\\", "\\") for c in _SPLIT.split(inner)[1:-1]]


def markdown_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every GitHub-flavoured table in ``text``, by the heading above it: a list of rows,
    each a dict from column header to cell text. Checks the separator row."""
    tables: dict[str, list[dict[str, str]]] = {}
    heading = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        elif line.startswith("|"):
            header = _cells(line)
            rule = _cells(lines[i + 1])
            assert len(rule) == len(header)
            assert all(re.fullmatch(r":?-{3,}:?", r) for r in rule)
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                cells = _cells(lines[i])
                assert len(cells) == len(header), lines[i]
                rows.append(dict(zip(header, cells, strict=True)))
                i += 1
            tables[heading] = rows
            continue
        i += 1
    return tables


def amount(text: str) -> Decimal | None:
    """The amount a money text stands for: ``$0.00045000`` -> 0.00045, ``unknown`` -> None;
    ``$0.1 + unknown (1 call)`` -> 0.1."""
    text = text.strip()
    if text == "unknown":
        return None
    match = re.fullmatch(r"([+-]?)\$([0-9]+\.[0-9]+)(?: \+ unknown \(\d[\d,]* calls?\))?", text)
    if match is None:
        raise AssertionError(f"not a money text: {text!r}")
    return Decimal(match.group(1) + match.group(2))


class HtmlReport(HTMLParser):
    """The static structure of a report page: ``fields`` (``dd[data-field]`` texts),
    ``tables`` (by ``<caption>``: header texts and rows of cell texts), ``svg_rects`` (the
    ``<title>`` of each chart bar), every URL-bearing attribute (``src``, ``href``) and
    ``data``, the test table's JSON block parsed."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.text = text
        self.fields: dict[str, str] = {}
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self.svg_rects: list[str] = []
        self.urls: list[str] = []
        self.scripts_with_src = 0
        self.data: dict[str, Any] = {}
        self._json: list[str] | None = None
        self._field: str | None = None
        self._text: list[str] | None = None
        self._caption = ""
        self._headers: list[str] = []
        self._rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._in_head = False
        self._rect = False
        self.feed(text)
        self.close()

    def test_rows(self) -> dict[str, dict[str, Any]]:
        """The test table's rows from its JSON block, by node id (see ``_html._SCRIPT`` for
        the row layout)."""
        fields = (
            "calls",
            "input_tokens",
            "output_tokens",
            "cost",
            "budget",
            "over_budget",
            "flags",
            "delta",
            "regressed",
        )
        rows = {}
        name = ""
        for row in self.data["rows"]:
            name = name[: row[1]] + (row[2] if len(row) > 2 else "")
            nodeid = self.data["files"][row[0]] + ("::" + name if name else "")
            values = dict(zip(fields, row[3:], strict=False))
            budget = values.get("budget", 0)
            values["budget"] = self.data["budgets"][budget - 1] if budget else None
            rows[nodeid] = values
        return rows

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href", "data", "action"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "script" and values.get("src"):
            self.scripts_with_src += 1
        if tag == "script" and values.get("id") == "aiusage-data":
            self._json = []
        if tag == "dd" and values.get("data-field"):
            self._field, self._text = str(values["data-field"]), []
        elif tag == "table":
            self._caption, self._headers, self._rows = "", [], []
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th", "caption"):
            self._text = []
        elif tag == "rect":
            self._rect = True
        elif tag == "title" and self._rect:
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._json is not None:
            self.data = json.loads("".join(self._json))
            self._json = None
            return
        text = "".join(self._text or []).strip()
        if tag == "dd" and self._field is not None:
            self.fields[self._field] = text
            self._field, self._text = None, None
        elif tag == "caption":
            self._caption, self._text = text, None
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(text)
            self._text = None
        elif tag == "tr" and self._row is not None:
            if self._in_head:
                self._headers = self._row
            else:
                self._rows.append(self._row)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self.tables[self._caption] = (self._headers, self._rows)
        elif tag == "title" and self._rect:
            self.svg_rects.append(text)
            self._text = None
        elif tag == "rect":
            self._rect = False

    def handle_data(self, data: str) -> None:
        if self._json is not None:
            self._json.append(data)
        if self._text is not None:
            self._text.append(data)
