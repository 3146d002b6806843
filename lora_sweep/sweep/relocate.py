"""A results folder is relocatable: `--resume --storage NEW` on a moved or copied folder continues in NEW only.

Ray's Tuner.restore takes the new path for the experiment and for the trials it had created (Trial.set_storage).
Three things it restores from its pickles still name the old place, and would write there (seen with Ray 2.60:
the old folder re-created, or a copy's original overwritten):

- the callbacks of the first run (tuner.pkl): the results tables, resume_state.tar;
- the scheduler (tuner.pkl): Fair ASHA's rung file;
- the grid's trials not yet created (the search state): their storage is the first run's, so their checkpoints
  and results go to the old folder.

retarget() points the first two at the new folder; FollowStorage, the sweep's scheduler, gives each trial the
experiment's storage as it is added, before Ray starts it.
"""

from __future__ import annotations

import copy

from ray.tune.schedulers import FIFOScheduler


class FollowStorage(FIFOScheduler):
    """FIFO scheduling; every trial added takes the experiment's current storage (set by retarget)."""

    experiment: tuple | None = None  # (pyarrow filesystem, storage_fs_path, experiment_dir_name)

    def on_trial_add(self, tune_controller, trial) -> None:
        if self.experiment is not None:
            fs, fs_path, name = self.experiment
            if (trial.storage.storage_fs_path, trial.storage.experiment_dir_name) != (fs_path, name):
                moved = copy.copy(trial.storage)
                moved.storage_filesystem, moved.storage_fs_path, moved.experiment_dir_name = fs, fs_path, name
                trial.set_storage(moved)  # also moves the paths of checkpoints it tracks
        super().on_trial_add(tune_controller, trial)


def retarget(tuner, out, storage_path: str, name: str, scheduler_file: str | None) -> None:
    """After Tuner.restore: the restored callbacks and scheduler write to `out` (the results folder given now).

    Callbacks with an `out_dir` or `out` attribute (ResultsCallback, StateSnapshot) take the new folder; a
    scheduler with a `state_file` takes scheduler_file.
    """
    from ray.train._internal.storage import get_fs_and_path

    inner = tuner._local_tuner  # Ray keeps the restored configs here; Tuner.restore accepts no new ones
    for callback in inner._run_config.callbacks or []:
        for attribute in ("out_dir", "out"):
            if hasattr(callback, attribute):
                setattr(callback, attribute, out)
    scheduler = inner._tune_config.scheduler
    if hasattr(scheduler, "state_file") and scheduler_file:
        scheduler.state_file = scheduler_file
    if isinstance(scheduler, FollowStorage):
        fs, fs_path = get_fs_and_path(storage_path)
        scheduler.experiment = (fs, fs_path, name)
