"""Reading the plugin's JSON report in tests: every report a test reads is first validated
against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from pytest_aiusage import report_schema

_VALIDATOR = jsonschema.Draft202012Validator(report_schema())


def read_report(path: Path) -> dict[str, Any]:
    """The JSON report at ``path``, checked against ``report.schema.json``."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    _VALIDATOR.validate(data)
    return data
