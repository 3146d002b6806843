"""lora_sweep: Ray Tune sweeps of LoRA against full fine-tuning, with tables and a report.

Layers, each a folder; imports run one way, trial <- spec <- sweep, cluster, results <- cli:
  trial/    one training run: config, tasks, data, models, LoRA, metrics, the epoch loop (torch only, never Ray)
  spec/     the sweep spec: YAML -> validated SweepSpec -> the search space and study names
  sweep/    the driver on Ray Tune: Tuner, the trial body, fair ASHA, checkpoints, saved state, progress
  cluster/  joining a Ray cluster, per-node checks, ports, cleaning up Ray processes
  results/  what a sweep writes: table rows, provenance, exported adapters, results folders, storage
  cli/      the commands: lora-sweep run|train|evaluate|report|ls|init
"""
