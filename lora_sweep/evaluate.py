"""`python -m lora_sweep.evaluate FOLDER`: the same as `lora-sweep evaluate FOLDER` (lora_sweep/cli/evaluate.py)."""

import sys

from lora_sweep.cli.evaluate import main  # noqa: F401

if __name__ == "__main__":
    sys.exit(main())
