"""Fair ASHA: asynchronous successive halving per study, over configurations, with rungs that survive a resume.

A Tune trial is one configuration whose score is the median over its seeds (lora_sweep.trial.seeds), so the race
compares configurations, never seeds. Each study (model/task/method(+rank), labelled by lora_sweep.spec.space) has
its own race: LoRA learns more slowly than full fine-tuning in early epochs, and in one shared race full
fine-tuning's early lead would stop LoRA trials for the wrong reason.

The rule is Ray's AsyncHyperBandScheduler (one bracket), written out so its state can be kept: rungs at
grace_period * reduction_factor**k epochs; a configuration reaching a rung is stopped if its score is below the
(1 - 1/reduction_factor) quantile of the scores recorded there before it, and its score is recorded. The first
configuration at a rung is never stopped, so a study with one configuration is never pruned. The rungs and the
set of stopped trials are written to a JSON file whenever Ray Tune saves its experiment state (flush_all, from
the results callback's get_state) and at the end; after --resume the race continues from them (Ray does not save
a scheduler's state), so a trial stopped before a crash stays stopped and scores recorded before it still count.
Written with Ray's saves, not after every decision: the file holds every decision Ray's saved state reflects
(a resumed trial restarts from that state's checkpoint and reports its later epochs again, and the rule decides
them again), and writing the whole race after each decision cost O(trials) per report, 13.6 s of driver time at
1,000 stand-in trials.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from ray.tune.schedulers import TrialScheduler

from lora_sweep.results import storage
from lora_sweep.sweep.relocate import FollowStorage

FLOOR = -1e30  # a diverged configuration's -inf, kept finite so quantiles stay defined
_LIVE: list[FairASHA] = []  # the schedulers of this driver process (a resumed one is unpickled, not constructed)


def flush_all() -> None:
    """Write every live scheduler's changed state (Ray is saving its experiment state, or the sweep ends)."""
    for scheduler in _LIVE:
        scheduler.flush()


def trial_study(config: dict) -> str:
    """Grid trials nest their values under "trial"; Optuna trials are flat."""
    return config.get("trial", config).get("study", "")


def milestones(max_t: int, grace_period: int, reduction_factor: float) -> list[int]:
    """Ray's rung epochs for one bracket: grace_period * rf**k up to max_t."""
    count = int(math.log(max_t / grace_period) / math.log(reduction_factor) + 1)
    return [int(grace_period * reduction_factor**k) for k in range(count)]


class FairASHA(FollowStorage):
    def __init__(self, max_t: int, grace_period: int, reduction_factor: float, state_file: str | Path | None = None):
        super().__init__()
        self.max_t, self.reduction_factor = max_t, reduction_factor
        self.milestones = milestones(max_t, grace_period, reduction_factor)
        self.state_file = str(state_file) if state_file else None
        self._metric = self._mode = None
        self.rungs: dict[str, dict[str, dict[str, float]]] = {}  # study -> milestone -> trial_id -> score
        self.stopped: set[str] = set()
        self._loaded = False

    def set_search_properties(self, metric, mode, **spec) -> bool:
        self._metric, self._mode = metric or self._metric, mode or self._mode
        return True

    def _load(self) -> None:
        """Once per driver process: a resumed sweep continues the race it had (the pickled scheduler is blank)."""
        if self._loaded:
            return
        self._loaded = True
        _LIVE.append(self)
        if self.state_file and storage.is_file(self.state_file):  # beside the tables: a folder or a storage URI
            state = json.loads(storage.read_text(self.state_file))
            self.rungs, self.stopped = state["rungs"], set(state["stopped"])

    def flush(self) -> None:
        if getattr(self, "_changed", False):
            self._changed = False
            self._save()

    def _save(self) -> None:
        if self.state_file:
            state = {"milestones": self.milestones, "rungs": self.rungs, "stopped": sorted(self.stopped)}
            storage.write_text(self.state_file, json.dumps(state, indent=1, sort_keys=True))

    def decide(self, study: str, trial_id: str, epoch: int, score: float) -> str:
        """Ray's async successive-halving rule at the highest rung this epoch reaches."""
        self._load()
        if trial_id in self.stopped:
            return TrialScheduler.STOP
        sign = 1.0 if self._mode != "min" else -1.0
        value = max(sign * score, FLOOR) if not math.isnan(score) else FLOOR
        action = TrialScheduler.CONTINUE
        rungs = self.rungs.setdefault(study, {})
        for milestone in reversed(self.milestones):
            recorded = rungs.setdefault(str(milestone), {})
            if epoch < milestone or trial_id in recorded:
                continue
            if recorded:
                cutoff = np.percentile(list(recorded.values()), (1 - 1 / self.reduction_factor) * 100)
                if value < cutoff:
                    action = TrialScheduler.STOP
            recorded[trial_id] = value
            if action == TrialScheduler.STOP:
                self.stopped.add(trial_id)
            self._changed = True
            break
        return action

    def on_trial_result(self, tune_controller, trial, result) -> str:
        if self._metric not in result or "epoch" not in result:
            return TrialScheduler.CONTINUE
        return self.decide(trial_study(trial.config), trial.trial_id, int(result["epoch"]), result[self._metric])

    def debug_string(self) -> str:
        return f"Fair ASHA: {len(self.rungs)} studies, each its own race over configurations"
