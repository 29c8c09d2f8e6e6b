"""The receipts the application works on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Receipt:
    """One scanned receipt."""

    receipt_id: str
    merchant: str
    total: Decimal
    lines: tuple[str, ...]

    def as_text(self) -> str:
        """The receipt as the model sees it."""
        body = "\n".join(self.lines)
        return f"{self.merchant}\n{body}\nTOTAL {self.total}"
