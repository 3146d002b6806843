"""The sweep spec: YAML -> validated SweepSpec (with limits) -> the Ray or Optuna search space and study names."""
