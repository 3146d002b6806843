#!/usr/bin/env bash
# The second command: set up (scripts/setup.sh, with the test tools and a browser) and pass the tests.
#   GLUE_DIR=~/glue bash scripts/test.sh                  # every test (CI runs exactly this)
#   GLUE_DIR=~/glue bash scripts/test.sh -m "not slow"    # the quick loop
# Tests that need GLUE files read them from GLUE_DIR and say so where it is unset; the report tests need a
# Chromium (installed here with apt-get where it is missing and this user may).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "test: could not install chromium; the browser tests will say so and skip"
fi
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}"  # tests use local models and GLUE_DIR: never wait on the hub
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
