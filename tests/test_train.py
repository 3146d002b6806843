"""train_and_evaluate on a tiny local BERT and tiny GLUE files: reports, schedule, methods, divergence, resume,
saved adapters, determinism and warm starts. Seconds each."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lora_sweep.trial import lora, models, steps, train
from lora_sweep.trial.config import TrialConfig
from tests.trial_fixtures import HIDDEN, LAYERS

REQUIRED_KEYS = {
    "epoch",
    "eval_accuracy",
    "eval_loss",
    "train_loss",
    "lr",
    "lora_params",
    "head_params",
    "trainable_params",
    "total_params",
    "epoch_time_s",
    "train_samples_per_s",
    "peak_memory_mb",
    "cpu_time_s",
    "precision",
}
TIMING_KEYS = {"epoch_time_s", "cpu_time_s", "train_samples_per_s", "peak_memory_mb"}
R = 4
HEAD_PARAMS = HIDDEN * HIDDEN + HIDDEN + HIDDEN * 2 + 2  # bert.pooler (32 -> 32, tanh) + classifier (32 -> 2)
LORA_PARAMS = 2 * R * HIDDEN * 2 * LAYERS  # (A + B) * r * width * (query, value) * layers: paper Sec. 7.1 formula


@pytest.fixture
def make_cfg(tiny_model_dir, tiny_glue_dir):
    def make(**changes) -> TrialConfig:
        settings = dict(
            model=str(tiny_model_dir),
            glue_dir=str(tiny_glue_dir),
            task="sst2",
            method="lora",
            r=R,
            alpha=8.0,
            target_modules=("query", "value"),
            learning_rate=1e-3,
            epochs=1,
            batch_size=16,
            eval_batch_size=32,
            max_length=32,
            device="cpu",
        )
        settings.update(changes)
        return TrialConfig(**settings)

    return make


def run(cfg: TrialConfig, **kwargs) -> tuple[list[dict], train.TrialResult]:
    rows: list[dict] = []
    result = train.train_and_evaluate(cfg, rows.append, **kwargs)
    return rows, result


class ListHook:
    """A TrialStateHook that keeps states in memory; restore() hands back a chosen one."""

    def __init__(self, restore_state: dict | None = None):
        self.states: list[dict] = []
        self.restore_state = restore_state
        self.restores = 0

    def save(self, state: dict) -> None:
        self.states.append(state)

    def restore(self) -> dict | None:
        self.restores += 1
        return self.restore_state


@pytest.fixture
def captured_models(monkeypatch):
    """Models built by train_and_evaluate, with a snapshot of their trainable state right after building."""
    built: list[tuple[torch.nn.Module, dict]] = []
    original = steps.build_model

    def capture(cfg, num_labels):
        model, heads, note = original(cfg, num_labels)
        built.append((model, lora.trainable_state_dict(model)))
        return model, heads, note

    monkeypatch.setattr(steps, "build_model", capture)
    return built


def _fresh_named(cfg: TrialConfig) -> dict[str, torch.Tensor]:
    """The weights training starts from, keyed by un-injected parameter names."""
    model = models.load_model(cfg.model, 2, seed=cfg.seed)
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _unwrapped(name: str) -> str:
    return name.replace(".base_layer.", ".")


# --- reports ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("task", "method", "extra_keys"),
    [("sst2", "lora", set()), ("SST-2", "full", set()), ("mrpc", "lora", {"eval_f1"}), ("mrpc", "bitfit", {"eval_f1"})],
)
def test_report_once_per_epoch_with_every_key(make_cfg, task, method, extra_keys):
    cfg = make_cfg(task=task, method=method, epochs=2, max_train_samples=48)
    rows, result = run(cfg)
    assert [row["epoch"] for row in rows] == [1, 2]
    for row in rows:
        missing = (REQUIRED_KEYS | extra_keys) - set(row)
        assert not missing, missing
        assert row["diverged"] is False
        assert all(math.isfinite(row[k]) for k in REQUIRED_KEYS - {"precision"} | extra_keys)
        assert row["precision"] in ("fp32", "bf16") and 0 < row["cpu_time_s"]
        assert 0.0 <= row["eval_accuracy"] <= 1.0
        assert row["eval_loss"] > 0 and row["train_loss"] > 0
        assert row["epoch_time_s"] > 0 and row["peak_memory_mb"] > 0
        # max_train_samples is honoured: samples/s times seconds is the training set size.
        assert row["train_samples_per_s"] * row["epoch_time_s"] == pytest.approx(48)
        assert row["trainable_params"] <= row["total_params"]
    assert result.status == "completed" and result.epochs_run == 2 and result.reason == ""
    best = max(rows, key=lambda row: row["eval_accuracy"])
    assert result.best_metric == best["eval_accuracy"]
    assert rows[result.best_epoch - 1]["eval_accuracy"] == result.best_metric
    assert result.saved_bytes is None  # nothing saved unless asked


def test_rows_are_json_serialisable(make_cfg):
    rows, _ = run(make_cfg(max_train_samples=32))
    assert json.loads(json.dumps(rows[0])) == rows[0]


def test_eval_uses_whole_dev_split_unless_limited(make_cfg, monkeypatch):
    sizes = []
    original = steps.evaluate

    def spy(model, split, *args):
        sizes.append(len(split.labels))
        return original(model, split, *args)

    monkeypatch.setattr(steps, "evaluate", spy)
    run(make_cfg(max_train_samples=16))
    run(make_cfg(max_train_samples=16, max_eval_samples=10))
    assert sizes == [64, 10]


# --- learning-rate schedule ---------------------------------------------------------------------------------


def test_lr_linear_warmup_then_linear_decay_to_zero(make_cfg, monkeypatch):
    used: list[float] = []
    original = steps.make_optimizer

    def recording(model, cfg, device):
        optimizer = original(model, cfg, device)
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: used.append(opt.param_groups[0]["lr"]))
        return optimizer

    monkeypatch.setattr(steps, "make_optimizer", recording)
    lr, per_epoch, epochs, warmup = 1e-3, 5, 3, 3  # 80 samples / batch 16; warmup 0.2 * 15 steps
    rows, _ = run(make_cfg(learning_rate=lr, epochs=epochs, max_train_samples=80, warmup_ratio=0.2))
    total = per_epoch * epochs
    assert len(used) == total
    expected = [lr * i / warmup if i < warmup else lr * (total - i) / (total - warmup) for i in range(total)]
    assert used == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert max(used) == pytest.approx(lr) and used.index(max(used)) == warmup
    assert all(a < b for a, b in zip(used[:warmup], used[1 : warmup + 1], strict=True))  # rising
    assert all(a > b for a, b in zip(used[warmup:], used[warmup + 1 :], strict=False))  # then falling
    # Each row reports the rate after its epoch's last step: linear to exactly 0 after the last epoch.
    reported = [row["lr"] for row in rows]
    assert reported == pytest.approx([lr * (total - per_epoch * e) / (total - warmup) for e in (1, 2, 3)], abs=1e-15)
    assert reported[-1] == 0.0


@pytest.mark.parametrize(("ratio", "total"), [(0.06, 35), (0.1, 7), (0.2, 15), (0.0, 10)])
def test_warmup_steps_round_up_as_transformers_does(ratio, total, tmp_path):
    from transformers import TrainingArguments

    # transformers 5 takes a warmup_steps below 1 as a ratio of the total steps (get_warmup_steps).
    args = TrainingArguments(output_dir=str(tmp_path), warmup_steps=ratio, report_to=[])
    assert train.warmup_steps(ratio, total) == args.get_warmup_steps(total)


def test_warmup_steps_figures():
    assert train.warmup_steps(0.06, 35) == 3 and train.warmup_steps(0.1, 7) == 1  # int() gave 2 and 0


# --- what each method trains --------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["full", "lora", "head", "bitfit"])
def test_method_sets_trainable_parameters(make_cfg, captured_models, method):
    cfg = make_cfg(method=method, max_train_samples=32, learning_rate=1e-2)
    rows, _ = run(cfg)
    row = rows[0]
    fresh = _fresh_named(cfg)
    base_total = sum(t.numel() for t in fresh.values())
    heads = models.head_modules("bert")
    biases = sum(t.numel() for n, t in fresh.items() if n.endswith(".bias") and not lora.in_head(n, heads))
    expected_trainable = {
        "full": base_total,
        "lora": LORA_PARAMS + HEAD_PARAMS,
        "head": HEAD_PARAMS,
        "bitfit": biases + HEAD_PARAMS,
    }[method]
    assert row["head_params"] == HEAD_PARAMS
    assert row["lora_params"] == (LORA_PARAMS if method == "lora" else 0)
    assert row["total_params"] == base_total + row["lora_params"]
    assert row["trainable_params"] == expected_trainable

    # Behaviour, not just counts: frozen weights are untouched by training, trainable ones moved.
    ((model, _),) = captured_models
    params = dict(model.named_parameters())
    assert sum(p.numel() for p in params.values() if p.requires_grad) == expected_trainable
    assert not torch.equal(params["classifier.weight"], fresh["classifier.weight"])
    for name, p in params.items():
        if not p.requires_grad:
            assert torch.equal(p, fresh[_unwrapped(name)]), f"frozen {name} changed"
    if method == "bitfit":
        bias = "bert.encoder.layer.0.output.dense.bias"
        assert not torch.equal(params[bias], fresh[bias])
        assert not params["bert.encoder.layer.0.output.dense.weight"].requires_grad
    if method == "lora":
        b = params["bert.encoder.layer.0.attention.self.query.lora_B.weight"]
        assert b.abs().sum() > 0  # B starts at zero: training moved it
        assert not params["bert.encoder.layer.0.attention.self.key.weight"].requires_grad
    if method == "full":
        name = "bert.encoder.layer.0.attention.self.key.weight"
        assert params[name].requires_grad and not torch.equal(params[name], fresh[name])


# --- divergence ---------------------------------------------------------------------------------------------


def _poison_second_step(monkeypatch, value: float):
    calls = {"n": 0}
    original = steps._loss

    def poisoned(logits, labels, task):
        loss = original(logits, labels, task)
        calls["n"] += 1
        return loss * value if calls["n"] == 2 else loss

    monkeypatch.setattr(steps, "_loss", poisoned)


@pytest.mark.parametrize("how", ["huge_lr", "nan_loss", "inf_loss"])
def test_non_finite_loss_ends_trial_as_diverged_after_one_epoch(make_cfg, monkeypatch, how):
    if how == "huge_lr":
        cfg = make_cfg(method="full", learning_rate=1e12, epochs=3, max_train_samples=64)
    else:
        _poison_second_step(monkeypatch, float("nan") if how == "nan_loss" else float("inf"))
        cfg = make_cfg(epochs=3, max_train_samples=64)
    evaluated = []
    monkeypatch.setattr(steps, "evaluate", lambda *a: evaluated.append(1) or {})
    rows, result = run(cfg)
    assert len(rows) == 1 and rows[0]["epoch"] == 1
    assert not math.isfinite(rows[0]["train_loss"])  # the test really produced a non-finite loss
    assert rows[0]["diverged"] is True
    assert result.status == "diverged" and result.epochs_run == 1
    assert "diverged" in result.reason and "epoch 1" in result.reason and "loss" in result.reason
    assert str(cfg.learning_rate) in result.reason
    assert rows[0]["reason"] == result.reason
    assert evaluated == []  # no evaluation of a diverged model, no further epochs


def test_finite_run_is_not_diverged(make_cfg):
    _, result = run(make_cfg(epochs=2, max_train_samples=32))
    assert result.status == "completed"


# --- checkpoints and resume ---------------------------------------------------------------------------------


def _comparable(row: dict) -> dict:
    """The numbers of a row, without timings (text such as what the trial used is compared as text)."""
    return {k: v for k, v in row.items() if k not in TIMING_KEYS and not isinstance(v, str)}


@pytest.mark.parametrize("method", ["lora", "full"])
def test_resume_from_epoch_one_state_matches_uninterrupted_run(make_cfg, method):
    cfg = make_cfg(method=method, epochs=2, max_train_samples=64, seed=3, dropout=0.1 if method == "lora" else 0.0)
    whole_hook = ListHook()
    whole_rows, whole = run(cfg, state_hook=whole_hook)
    assert whole_hook.restores == 1 and [s["epoch"] for s in whole_hook.states] == [1, 2]

    resumed_hook = ListHook(restore_state=whole_hook.states[0])
    resumed_rows, resumed = run(cfg, state_hook=resumed_hook)
    assert [row["epoch"] for row in resumed_rows] == [2]
    assert resumed.status == "completed" and resumed.epochs_run == 2
    assert resumed_rows[0].pop("warm_start") == whole_rows[1].pop("warm_start") == ""  # text: approx cannot compare
    assert resumed_rows[0].pop("precision") == whole_rows[1].pop("precision")
    assert _comparable(resumed_rows[0]) == pytest.approx(_comparable(whole_rows[1]), rel=1e-5, abs=1e-6)
    texts = [{k: v for k, v in row.items() if isinstance(v, str)} for row in (resumed_rows[0], whole_rows[1])]
    assert texts[0] == texts[1] and texts[0]["model_revision"].startswith("sha256:"), texts
    assert (resumed.best_metric, resumed.best_epoch) == (whole.best_metric, whole.best_epoch)
    final_whole, final_resumed = whole_hook.states[1]["model"], resumed_hook.states[0]["model"]
    assert final_whole.keys() == final_resumed.keys()
    for name in final_whole:
        torch.testing.assert_close(final_resumed[name], final_whole[name], rtol=1e-5, atol=1e-6, msg=name)
    # The epoch-1 state was not changed by the training that followed it (a hook may keep it in memory).
    assert whole_hook.states[0]["epoch"] == 1


def test_resume_from_a_finished_marker_trains_nothing(make_cfg, tmp_path):
    """The last epoch's Ray checkpoint holds epoch and best only (sweep/trial_body.py): resuming it ends at once."""
    cfg = make_cfg(epochs=2, max_train_samples=32, save_adapter=str(tmp_path / "adapter"))
    hook = ListHook(restore_state={"epoch": 2, "best": 0.625, "best_epoch": 1})
    rows, result = run(cfg, state_hook=hook)
    assert rows == [] and hook.states == []
    assert (result.status, result.epochs_run, result.best_metric, result.best_epoch) == ("completed", 2, 0.625, 1)
    assert not (tmp_path / "adapter").exists()  # no untrained weights written as if they were the result


def test_saved_states_are_snapshots(make_cfg):
    """States handed to the hook must not alias live tensors, or a kept epoch-1 state turns into epoch 2."""
    hook = ListHook()
    run(make_cfg(epochs=2, max_train_samples=32), state_hook=hook)
    first, second = hook.states
    key = "bert.encoder.layer.0.attention.self.query.lora_B.weight"
    assert not torch.equal(first["model"][key], second["model"][key])
    opt1, opt2 = first["optimizer"]["state"], second["optimizer"]["state"]
    assert opt1.keys() == opt2.keys()
    assert int(opt1[0]["step"]) == 2 and int(opt2[0]["step"]) == 4
    assert not torch.equal(opt1[0]["exp_avg"], opt2[0]["exp_avg"])


def test_checkpoint_holds_only_trainable_tensors(make_cfg):
    states = {}
    for method in ("lora", "full"):
        hook = ListHook()
        rows, _ = run(make_cfg(method=method, max_train_samples=32), state_hook=hook)
        (state,) = hook.states
        tensors = state["model"]
        assert sum(t.numel() for t in tensors.values()) == rows[0]["trainable_params"]
        assert len(state["optimizer"]["state"]) <= len(tensors)  # moments only for what trains
        states[method] = state
    lora_keys = set(states["lora"]["model"])
    assert lora_keys == {k for k in lora_keys if ".lora_" in k or lora.in_head(k, models.head_modules("bert"))}
    assert len(lora_keys) == 2 * 2 * LAYERS + 4  # A, B per (query, value) per layer, + pooler and classifier
    size = {m: sum(t.numel() * t.element_size() for t in s["model"].values()) for m, s in states.items()}
    assert size["lora"] == (LORA_PARAMS + HEAD_PARAMS) * 4
    assert size["lora"] * 100 < size["full"]  # the frozen model is not in the checkpoint


# --- saved adapters and warm starts -------------------------------------------------------------------------


def test_save_adapter_writes_peft_format(make_cfg, tmp_path):
    out = tmp_path / "adapter"
    hook = ListHook()
    cfg = make_cfg(max_train_samples=32, save_adapter=str(out))
    _, result = run(cfg, state_hook=hook)
    files = {f.name: f.stat().st_size for f in out.iterdir()}
    assert set(files) == {lora.ADAPTER_CONFIG, lora.ADAPTER_WEIGHTS}
    assert result.saved_bytes == sum(files.values())
    config = json.loads((out / lora.ADAPTER_CONFIG).read_text())
    assert config["peft_type"] == "LORA" and config["r"] == R and config["lora_alpha"] == 8.0
    assert sorted(config["target_modules"]) == ["query", "value"]
    assert config["base_model_name_or_path"] == cfg.model
    saved = load_file(str(out / lora.ADAPTER_WEIGHTS))
    assert all(k.startswith(lora.PEFT_PREFIX) for k in saved)
    trained = hook.states[-1]["model"]
    assert {k.removeprefix(lora.PEFT_PREFIX) for k in saved} == set(trained)
    for key, value in saved.items():
        torch.testing.assert_close(value, trained[key.removeprefix(lora.PEFT_PREFIX)], rtol=0, atol=0)


def test_saved_adapter_loads_in_peft(make_cfg, tmp_path, captured_models):
    peft = pytest.importorskip("peft")
    from transformers import AutoModelForSequenceClassification

    out = tmp_path / "adapter"
    cfg = make_cfg(max_train_samples=32, save_adapter=str(out))
    run(cfg)
    ((ours, _),) = captured_models
    base = AutoModelForSequenceClassification.from_pretrained(cfg.model, num_labels=2)
    theirs = peft.PeftModel.from_pretrained(base, str(out)).eval()
    ours.eval()
    batch = {"input_ids": torch.tensor([[101, 2204, 3185, 102, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 1, 0]])}
    with torch.no_grad():
        torch.testing.assert_close(theirs(**batch).logits, ours(**batch).logits, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["head", "bitfit", "full"])
def test_save_adapter_for_other_methods_writes_trainable_state(make_cfg, tmp_path, method):
    out = tmp_path / "state"
    hook = ListHook()
    _, result = run(make_cfg(method=method, max_train_samples=16, save_adapter=str(out)), state_hook=hook)
    files = list(out.iterdir())
    assert [f.name for f in files] == ["trainable_state.safetensors"]
    assert result.saved_bytes == files[0].stat().st_size
    saved = load_file(str(files[0]))
    assert saved.keys() == hook.states[-1]["model"].keys()


def test_warm_start_from_init_adapter(make_cfg, tmp_path, captured_models):
    out = tmp_path / "adapter"
    run(make_cfg(max_train_samples=48, learning_rate=1e-2, save_adapter=str(out)))
    saved = {k.removeprefix(lora.PEFT_PREFIX): v for k, v in load_file(str(out / lora.ADAPTER_WEIGHTS)).items()}

    run(make_cfg(max_train_samples=16, seed=7, init_adapter=str(out)))  # another seed: another random init
    run(make_cfg(max_train_samples=16, seed=7))
    (_, warm_start), (_, cold_start) = captured_models[1:]
    lora_keys = [k for k in saved if ".lora_" in k]
    assert len(lora_keys) == 2 * 2 * LAYERS
    for key in saved:
        torch.testing.assert_close(warm_start[key], saved[key], rtol=0, atol=0)
    b_key = next(k for k in lora_keys if ".lora_B." in k)
    assert saved[b_key].abs().sum() > 0  # a trained B, so the comparison is not zeros against zeros
    assert cold_start[b_key].abs().sum() == 0
    a_key = b_key.replace("lora_B", "lora_A")
    assert not torch.equal(cold_start[a_key], saved[a_key])


# --- determinism --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["lora", "full"])
def test_same_seed_same_metrics(make_cfg, method):
    cfg = make_cfg(method=method, epochs=2, max_train_samples=48, seed=5, dropout=0.1 if method == "lora" else 0.0)
    first, _ = run(cfg)
    again, _ = run(cfg)
    assert [_comparable(r) for r in first] == [_comparable(r) for r in again]
    other, _ = run(cfg.with_changes(seed=6))
    assert [r["train_loss"] for r in other] != [r["train_loss"] for r in first]


def test_prepared_data_is_used_as_given(make_cfg, monkeypatch):
    cfg = make_cfg(max_train_samples=24)
    prepared = train.prepare_data(cfg)
    assert len(prepared.train.labels) == 24 and len(prepared.dev.labels) == 64
    monkeypatch.setattr(steps, "prepare_data", lambda cfg: pytest.fail("data prepared again"))
    rows, _ = run(cfg, prepared=prepared)
    assert rows[0]["train_samples_per_s"] * rows[0]["epoch_time_s"] == pytest.approx(24)


def test_peak_memory_starts_afresh_for_each_trial():
    """A Ray worker runs trial after trial: a trial's peak must not include an earlier, larger one."""
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("resetting the resident-set peak needs Linux /proc")
    cpu = torch.device("cpu")
    big = torch.ones(100 * 2**20)  # 400 MiB, touched
    peak_with_big = train.peak_memory_mb(cpu)
    del big
    train.reset_peak_memory(cpu)
    assert train.peak_memory_mb(cpu) < peak_with_big - 300
