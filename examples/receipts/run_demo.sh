#!/usr/bin/env bash
# The main job: run the example suite from its cassettes (offline, no key), with every
# record going to a SQLite ledger, write the JSON and HTML reports, show what a budget
# failure says, then ask the ledger what the run cost.
set -euo pipefail
cd "$(dirname "$0")"

out="$(mktemp -d)"
ledger="$out/ai-usage.db"
export AIUSAGE_LEDGER="$ledger"
unset OPENAI_API_KEY OPENAI_BASE_URL ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL

python -m pytest -p no:cacheprovider --aiusage-json="$out/ai-usage.json" \
    --aiusage-html="$out/ai-usage.html" --aiusage-summary="$out/ai-usage.md" "$@"

echo
echo "== a real budget failure: the over-budget test run without its xfail mark (--runxfail)"
status=0
# Its call is left out of the ledger (env -u): the ledger holds the main run only.
env -u AIUSAGE_LEDGER python -m pytest -p no:cacheprovider -q --runxfail --aiusage-top=0 \
    tests/test_budget_demo.py || status=$?
if [ "$status" -ne 1 ]; then
    echo "expected the budget failure to fail the test (exit status 1), got $status" >&2
    exit 1
fi

echo
echo "== aiusage report --ledger $ledger --by provider --by operation_type --by model"
aiusage report --ledger "$ledger" --by provider --by operation_type --by model
echo
echo "HTML report: $out/ai-usage.html (open it in a browser)"
