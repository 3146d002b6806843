"""`python -m lora_sweep.run SPEC ...`: the same as `lora-sweep run SPEC ...` (lora_sweep/cli/run.py)."""

from lora_sweep.cli.run import main  # noqa: F401  (the old import path keeps working)

if __name__ == "__main__":
    from lora_sweep.cli.exit import exit_now

    exit_now(main())
