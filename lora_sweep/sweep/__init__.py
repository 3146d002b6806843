"""The sweep on Ray Tune: the driver, the trial body, fair ASHA, checkpoints, saved state and progress."""
