"""Fair ASHA: early stopping races within a study, never across studies (real Ray Tune, scripted trials); its rungs
survive a restart of the driver."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402
from ray.tune.schedulers import AsyncHyperBandScheduler  # noqa: E402

from lora_sweep.sweep.scheduler import FairASHA, flush_all, milestones  # noqa: E402

# Full fine-tuning leads early; LoRA starts slowly and ends best (the pattern the seed study saw).
CURVES = {
    "full-a": ("m/t/full", [0.90, 0.91, 0.92, 0.93]),
    "full-b": ("m/t/full", [0.85, 0.86, 0.87, 0.88]),
    "lora-a": ("m/t/lora-r8", [0.50, 0.70, 0.85, 0.95]),
    "lora-b": ("m/t/lora-r8", [0.40, 0.45, 0.50, 0.55]),
}


def _scripted(config):
    values = config["trial"]
    for epoch, score in enumerate(CURVES[values["name"]][1], start=1):
        tune.report({"epoch": epoch, "score": score})


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    yield
    ray.shutdown()


def _epochs_run(scheduler, tmp_path) -> dict[str, int]:
    trials = [{"name": name, "study": study} for name, (study, _) in CURVES.items()]
    tuner = tune.Tuner(
        _scripted,
        param_space={"trial": tune.grid_search(trials)},
        tune_config=tune.TuneConfig(metric="score", mode="max", scheduler=scheduler, max_concurrent_trials=1),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="asha", verbose=0),
    )
    grid = tuner.fit()
    return {r.config["trial"]["name"]: int(r.metrics["training_iteration"]) for r in grid}


def test_fair_asha_races_within_studies_only(local_ray, tmp_path):
    epochs = _epochs_run(FairASHA(max_t=4, grace_period=1, reduction_factor=2), tmp_path)
    # lora-a trails both full trials at epoch 1 but is not stopped: it only races lora-b.
    assert epochs["lora-a"] == 4
    assert epochs["full-a"] == 4
    # Within each study the weaker trial is stopped at the first rung.
    assert epochs["lora-b"] == 1
    assert epochs["full-b"] == 1


def test_one_shared_asha_race_would_stop_lora_for_the_wrong_reason(local_ray, tmp_path):
    """The control: Ray's plain ASHA compares across studies and stops the eventual best trial."""
    epochs = _epochs_run(AsyncHyperBandScheduler(max_t=4, grace_period=1, reduction_factor=2), tmp_path)
    assert epochs["lora-a"] == 1


def test_rungs_are_rays_async_hyperband_milestones():
    assert milestones(max_t=4, grace_period=1, reduction_factor=2) == [1, 2, 4]
    assert milestones(max_t=60, grace_period=2, reduction_factor=3) == [2, 6, 18, 54]


def _asha(state_file):
    scheduler = FairASHA(max_t=9, grace_period=1, reduction_factor=3, state_file=state_file)
    scheduler.set_search_properties("score", "max")
    return scheduler


def test_a_restarted_driver_continues_the_race(tmp_path):
    """Ray does not save a scheduler: the rungs come back from the state file, and a stopped trial stays stopped."""
    state = tmp_path / "fair_asha.json"
    first = _asha(state)
    assert first.decide("s", "a", 1, 0.9) == "CONTINUE"  # the first at a rung is never stopped
    assert first.decide("s", "b", 1, 0.5) == "STOP"
    assert first.decide("s", "c", 1, 0.7) == "STOP"  # below 0.77, the 2/3 quantile of {0.9, 0.5}
    assert not state.exists()  # written with Ray's state saves, not after every decision
    flush_all()  # Ray saves its experiment state (ResultsCallback.get_state)
    restarted = _asha(state)  # a new driver process (the pickled scheduler is blank)
    assert restarted.decide("s", "b", 2, 0.99) == "STOP"  # stopped before the crash: stays stopped
    assert restarted.decide("s", "d", 1, 0.6) == "STOP"  # the scores recorded before the crash still count
    assert restarted.decide("other", "e", 1, 0.1) == "CONTINUE"  # another study: its own race
    assert set(restarted.stopped) == {"b", "c", "d"}


def test_a_diverged_configuration_ranks_last_without_breaking_the_cutoff(tmp_path):
    scheduler = _asha(None)
    assert scheduler.decide("s", "a", 1, float("-inf")) == "CONTINUE"
    assert scheduler.decide("s", "b", 1, 0.7) == "CONTINUE"
    assert scheduler.decide("s", "c", 1, float("-inf")) == "STOP"


def test_the_rungs_are_written_when_ray_saves_its_state(tmp_path):
    """Ray asks the results callback for its state at every save of its experiment state: Fair ASHA's rungs are
    written then, so the file holds every decision the saved trial list reflects."""
    from lora_sweep.sweep import driver as sweep

    state = tmp_path / "fair_asha.state"
    asha = _asha(state)
    asha.decide("s", "a", 1, 0.9)
    assert not state.exists()
    callback = sweep.ResultsCallback(tmp_path / "results")
    callback.setup()
    callback.get_state()
    assert json.loads(state.read_text())["rungs"]["s"]["1"] == {"a": 0.9}
