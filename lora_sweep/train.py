"""`python -m lora_sweep.train ...`: the same as `lora-sweep train ...` (lora_sweep/cli/train.py).

`from lora_sweep.train import train_and_evaluate` still works (lora_sweep/trial/train.py); it is looked up only when
asked for, so `--help` answers without importing torch.
"""

import sys


def __getattr__(name: str):
    from lora_sweep.trial import train

    return getattr(train, name)


if __name__ == "__main__":
    from lora_sweep.cli.train import main

    sys.exit(main())
