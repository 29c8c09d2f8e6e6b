#!/usr/bin/env bash
# The main job: run the example suite from its cassettes (offline, no key), with every
# record going to a SQLite ledger, then ask the ledger what the run cost.
set -euo pipefail
cd "$(dirname "$0")"

ledger="$(mktemp -d)/ai-usage.db"
export AIUSAGE_LEDGER="$ledger"
unset OPENAI_API_KEY OPENAI_BASE_URL

python -m pytest -p no:cacheprovider --aiusage-json="$(dirname "$ledger")/ai-usage.json" "$@"

echo
echo "== aiusage report --ledger $ledger --by operation_type --by model"
aiusage report --ledger "$ledger" --by operation_type --by model
