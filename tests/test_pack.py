"""Packed LoRA training is exact: each member of a pack trains as the same trial alone (CPU, float32), with
different ranks and learning rates, dropout on everywhere, members of different sequence lengths per step;
one member diverging leaves the others as they would be alone; resume and saved adapters per member."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from lora_sweep.trial import lora, train
from lora_sweep.trial.config import TrialConfig
from lora_sweep.trial.pack_train import train_pack
from lora_sweep.trial.seeds import BY_SEED, train_seeds

STEPS_PER_EPOCH = 10  # 80 sentences, batch 8: two epochs are 20 steps


class Hook:
    def __init__(self, restore_state: dict | None = None):
        self.states: list[dict] = []
        self.restore_state = restore_state

    def save(self, state: dict) -> None:
        self.states.append(state)

    def restore(self) -> dict | None:
        return self.restore_state


@pytest.fixture
def make_cfg(tiny_model_dir, tiny_glue_dir):
    def make(**changes) -> TrialConfig:
        settings = dict(
            model=str(tiny_model_dir),
            glue_dir=str(tiny_glue_dir),
            task="sst2",
            method="lora",
            r=4,
            alpha=8.0,
            dropout=0.1,  # LoRA dropout; the tiny BERT's hidden and attention dropout are 0.1 as well
            target_modules=("query", "value"),
            learning_rate=1e-3,
            epochs=2,
            batch_size=8,
            eval_batch_size=32,
            max_length=32,
            max_train_samples=8 * STEPS_PER_EPOCH,
            device="cpu",
            precision="fp32",
        )
        settings.update(changes)
        return TrialConfig(**settings)

    return make


def _alone(cfg: TrialConfig, prepared) -> tuple[list[dict], Hook, train.TrialResult]:
    rows, hook = [], Hook()
    result = train.train_and_evaluate(cfg, rows.append, prepared=prepared, state_hook=hook)
    return rows, hook, result


def _packed(cfgs: list[TrialConfig], prepared, hooks=None):
    hooks = hooks or [Hook() for _ in cfgs]
    rows: dict[int, list[dict]] = {i: [] for i in range(len(cfgs))}
    epochs = train_pack(cfgs, prepared, hooks)
    while True:
        try:
            for i, row in next(epochs).items():
                rows[i].append(row)
        except StopIteration as done:
            return rows, hooks, done.value


def _same_training(alone_rows, alone_hook, packed_rows, packed_hook):
    assert [r["epoch"] for r in packed_rows] == [r["epoch"] for r in alone_rows]
    for mine, theirs in zip(packed_rows, alone_rows, strict=True):
        assert mine["eval_accuracy"] == theirs["eval_accuracy"]
        assert mine["eval_loss"] == pytest.approx(theirs["eval_loss"], rel=1e-5, abs=1e-6)
        assert mine["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-5, abs=1e-6)
    final_alone, final_packed = alone_hook.states[-1]["model"], packed_hook.states[-1]["model"]
    assert final_packed.keys() == final_alone.keys()
    assert any(lora.is_lora_param(n) for n in final_packed) and "classifier.weight" in final_packed
    for name, value in final_alone.items():
        torch.testing.assert_close(final_packed[name], value, rtol=0, atol=1e-5, msg=name)


def test_each_member_trains_as_it_would_alone(make_cfg):
    cfgs = [
        make_cfg(seed=1),
        make_cfg(seed=2, r=2, learning_rate=5e-3),
        make_cfg(seed=3, r=8, alpha=4.0, learning_rate=2e-3, dropout=0.2),
    ]
    prepared = train.prepare_data(cfgs[0])
    rows, hooks, results = _packed(cfgs, prepared)
    assert all(r["pack_size"] == 3 for r in rows[0])
    # Members' batches differ in length: the stack pads, and a member's masks must not see that padding.
    assert max(r["stack_padding"] for r in rows[0]) > 0
    for i, cfg in enumerate(cfgs):
        alone_rows, alone_hook, alone = _alone(cfg, prepared)
        assert alone_rows[0]["pack_size"] == 1
        _same_training(alone_rows, alone_hook, rows[i], hooks[i])
        assert (results[i].best_metric, results[i].best_epoch) == (alone.best_metric, alone.best_epoch)
    # The members are not all alike (else the comparison above could pass by symmetry).
    first, second = hooks[0].states[-1]["model"], hooks[1].states[-1]["model"]
    assert not torch.equal(first["classifier.weight"], second["classifier.weight"])


def test_a_diverging_member_leaves_and_the_others_go_on(make_cfg):
    cfgs = [make_cfg(seed=1, epochs=3), make_cfg(seed=2, learning_rate=1e12, epochs=3)]
    prepared = train.prepare_data(cfgs[0])
    rows, hooks, results = _packed(cfgs, prepared)
    assert results[1].status == "diverged" and [r["epoch"] for r in rows[1]] == [1]
    assert rows[1][0]["diverged"] is True and not math.isfinite(rows[1][0]["train_loss"])
    assert results[0].status == "completed" and [r["pack_size"] for r in rows[0]] == [2, 1, 1]
    alone_rows, alone_hook, _ = _alone(cfgs[0], prepared)
    _same_training(alone_rows, alone_hook, rows[0], hooks[0])


def test_a_pack_resumes_each_member_from_its_own_checkpoint(make_cfg):
    cfgs = [make_cfg(seed=1), make_cfg(seed=2, r=2)]
    prepared = train.prepare_data(cfgs[0])
    _, whole, _ = _packed(cfgs, prepared)
    resumed_rows, resumed, _ = _packed(cfgs, prepared, [Hook(h.states[0]) for h in whole])
    for i in range(2):
        assert [r["epoch"] for r in resumed_rows[i]] == [2]
        for name, value in whole[i].states[-1]["model"].items():
            torch.testing.assert_close(resumed[i].states[-1]["model"][name], value, rtol=0, atol=1e-5, msg=name)


def test_each_member_saves_its_own_adapter(make_cfg, tmp_path):
    cfgs = [make_cfg(seed=s, epochs=1, save_adapter=str(tmp_path / f"seed{s}")) for s in (1, 2)]
    _, hooks, results = _packed(cfgs, train.prepare_data(cfgs[0]))
    for i, cfg in enumerate(cfgs):
        saved = load_file(f"{cfg.save_adapter}/{lora.ADAPTER_WEIGHTS}")
        trained = hooks[i].states[-1]["model"]
        assert {k.removeprefix(lora.PEFT_PREFIX) for k in saved} == set(trained)
        for key, value in saved.items():
            assert torch.equal(value, trained[key.removeprefix(lora.PEFT_PREFIX)])
        assert results[i].saved_bytes > 0


def test_seeds_train_in_packs_of_at_most_pack(make_cfg):
    cfg = make_cfg(epochs=1, pack=2)
    reports: list[dict] = []
    train_seeds(cfg, [1, 2, 3], reports.append, train.prepare_data(cfg))
    (report,) = reports
    sizes = sorted(report[BY_SEED][str(s)]["pack_size"] for s in (1, 2, 3))
    assert sizes == [1, 2, 2]
