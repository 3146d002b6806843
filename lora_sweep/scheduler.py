"""Fair ASHA: one AsyncHyperBandScheduler per study, so early stopping never compares across studies.

LoRA learns more slowly than full fine-tuning in early epochs: in one shared ASHA race, full fine-tuning's
early lead would stop LoRA trials for the wrong reason. A study is model/task/method(+rank), labelled in each
trial's config by lora_sweep.space.
"""

from __future__ import annotations

from ray.tune.schedulers import AsyncHyperBandScheduler, FIFOScheduler


def trial_study(config: dict) -> str:
    """Grid trials nest their values under "trial"; Optuna trials are flat."""
    return config.get("trial", config).get("study", "")


class StudyASHA(FIFOScheduler):
    """Routes every trial event to the ASHA instance of the trial's study."""

    def __init__(self, max_t: int, grace_period: int, reduction_factor: int):
        super().__init__()
        self._kwargs = dict(
            time_attr="training_iteration", max_t=max_t, grace_period=grace_period, reduction_factor=reduction_factor
        )
        self._metric = self._mode = None
        self._studies: dict[str, AsyncHyperBandScheduler] = {}

    def set_search_properties(self, metric, mode, **spec) -> bool:
        self._metric, self._mode = metric or self._metric, mode or self._mode
        return all(s.set_search_properties(metric, mode, **spec) for s in self._studies.values())

    def _asha(self, trial) -> AsyncHyperBandScheduler:
        study = trial_study(trial.config)
        if study not in self._studies:
            self._studies[study] = AsyncHyperBandScheduler(metric=self._metric, mode=self._mode, **self._kwargs)
        return self._studies[study]

    @property
    def studies(self) -> dict[str, AsyncHyperBandScheduler]:
        return dict(self._studies)

    def on_trial_add(self, tune_controller, trial):
        self._asha(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result) -> str:
        return self._asha(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        self._asha(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial):
        self._asha(trial).on_trial_remove(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial):
        self._asha(trial).on_trial_error(tune_controller, trial)

    def debug_string(self) -> str:
        return f"Fair ASHA: {len(self._studies)} studies, each its own race"
