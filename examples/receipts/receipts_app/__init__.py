"""A small receipt-labelling application, the example that pytest-aiusage's demo suite tests.

It labels receipts with chat completions, matches merchants with embeddings, summarises a
day's spending with a streamed Responses call, checks totals with Claude (Anthropic's
Messages API), and processes batches in threads with partial-failure accounting. Every AI
call is attributed to usage contexts by aiusage_core.
"""

from .batch import BatchResult, process_batch
from .labeler import Label, label_receipt
from .merchants import KNOWN_MERCHANTS, match_merchant
from .models import Receipt
from .summary import summarise_day
from .totals import check_total

__all__ = [
    "KNOWN_MERCHANTS",
    "BatchResult",
    "Label",
    "Receipt",
    "check_total",
    "label_receipt",
    "match_merchant",
    "process_batch",
    "summarise_day",
]
