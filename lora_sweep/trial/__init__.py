"""One training run: config, tasks, data, models, LoRA, metrics and the epoch loop. Torch only, never Ray."""
