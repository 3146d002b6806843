"""Ray's status table shows a running trial's steps within its epoch (`in epoch`), read from the sweep's progress
board: a real local Ray, a real Tuner and the sweep's reporter; the trainable publishes as run_trial does."""

import time

import pytest

ray = pytest.importorskip("ray")


def _trainable(config):
    from ray import tune

    from lora_sweep.sweep import progress_board

    publish = progress_board.publisher(tune.get_context().get_trial_id())
    assert publish is not None, "no progress board in the sweep"
    publish("120/250 41/s 0:23 left")
    time.sleep(4)  # long enough for the table to be drawn while the trial runs
    tune.report({"epoch": 1, "score": 0.5})


@pytest.mark.slow  # a real Ray instance and Tuner
def test_status_table_shows_steps_within_the_epoch(capsys, monkeypatch, tmp_path):
    from ray import tune

    from lora_sweep.sweep import progress, progress_board

    monkeypatch.setenv("RAY_AIR_NEW_OUTPUT", "0")
    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False)
    try:
        board = progress_board.start()
        run_config = tune.RunConfig(
            storage_path=str(tmp_path), progress_reporter=progress.reporter(nested=False, every_s=1), verbose=1
        )
        tune.Tuner(_trainable, param_space={"r": 8}, run_config=run_config).fit()
        assert list(progress_board.read().values()) == ["120/250 41/s 0:23 left"]
        del board
    finally:
        ray.shutdown()
    out = capsys.readouterr().out
    assert "in epoch" in out, out
    assert "120/250 41/s 0:23 left" in out, out


def test_every_searched_setting_is_a_column():
    """Two trials that differ only in a searched setting (precision) must not look alike in the table."""
    from lora_sweep.sweep import progress

    columns = progress.reporter(nested=True, searched=["learning_rate", "precision", "seed"])._parameter_columns
    assert columns["trial/precision"] == "precision" and columns["trial/learning_rate"] == "lr"
    assert "trial/seed" not in columns and list(columns)[:3] == ["trial/model", "trial/task", "trial/method"]
