#!/usr/bin/env bash
# The first command: set up (scripts/setup.sh) and run the shipped smoke sweep end to end on this machine.
#   bash scripts/try.sh                       # GLUE from the Hugging Face hub
#   GLUE_DIR=~/glue bash scripts/try.sh       # or a GLUE folder (SST-2/, MRPC/, ... as GLUE distributes them)
# Extra arguments go to `lora-sweep run smoke` (e.g. --set train.epochs=1). Results: results/smoke/ and its
# report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh offline
exec .venv/bin/lora-sweep run smoke "$@"
