"""Every method trains the same, whole task head (models.HEAD_MODULES), counted as head, never wrapped by LoRA."""

from __future__ import annotations

import pytest
import torch

from lora_sweep.trial import lora, models, steps, train
from lora_sweep.trial.config import METHODS, TrialConfig
from tests.tiny_models import ARCHS, tiny_model

EXPECTED_HEADS = {
    "bert": ("bert.pooler", "classifier"),
    "roberta": ("classifier",),
    "deberta-v2": ("pooler", "classifier"),
    "distilbert": ("pre_classifier", "classifier"),
}


def test_every_tiny_architecture_has_its_head_listed():
    assert set(ARCHS) == set(EXPECTED_HEADS)
    for arch, heads in EXPECTED_HEADS.items():
        assert models.head_modules(arch) == heads
        assert lora.present_heads(tiny_model(arch), heads) == list(heads)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("arch", ARCHS)
def test_every_method_trains_the_whole_head(arch, method):
    model = tiny_model(arch)
    heads = train.configure_method(model, TrialConfig(method=method, r=4))
    expected = EXPECTED_HEADS[arch]
    head_params = {n: p for n, p in model.named_parameters() if lora.in_head(n, expected)}
    assert all(any(n.startswith(h + ".") for n in head_params) for h in expected)
    frozen = sorted(n for n, p in head_params.items() if not p.requires_grad)
    assert not frozen, f"{method} leaves head weights frozen: {frozen}"
    assert heads == expected
    counts = lora.count_parameters(model, heads)
    assert counts.head == sum(p.numel() for p in head_params.values())
    lora_outside_head = sum(p.numel() for n, p in model.named_parameters() if ".lora_" in n)
    assert counts.lora == lora_outside_head
    if method in ("lora", "head"):
        assert counts.trainable == counts.lora + counts.head


@pytest.mark.parametrize("arch", ["bert", "distilbert"])
def test_lora_never_wraps_a_head_module(arch):
    """BERT's `classifier` is an nn.Linear: a target "classifier" must not turn the head into a LoRA layer."""
    model = tiny_model(arch)
    targets = (*models.default_targets(arch), "classifier", "pre_classifier", "dense")
    names = lora.inject_lora(model, 4, 8.0, 0.0, targets, models.head_modules(arch))
    assert names and not any(lora.in_head(n, models.head_modules(arch)) for n in names)
    assert isinstance(model.classifier, torch.nn.Linear)
    assert all(p.requires_grad for p in model.classifier.parameters())


def test_lora_epoch_changes_the_bert_pooler(tiny_model_dir, tiny_glue_dir, monkeypatch):
    """A real epoch on the tiny BERT: the pooler (the head's dense + tanh) moves under LoRA."""
    built = []
    original = steps.make_optimizer

    def keep(model, cfg, device):
        built.append(model)
        return original(model, cfg, device)

    monkeypatch.setattr(steps, "make_optimizer", keep)
    cfg = TrialConfig(
        model=str(tiny_model_dir),
        glue_dir=str(tiny_glue_dir),
        method="lora",
        r=4,
        learning_rate=1e-3,
        epochs=1,
        batch_size=16,
        max_length=32,
        max_train_samples=48,
        device="cpu",
    )
    rows: list[dict] = []
    train.train_and_evaluate(cfg, rows.append)
    (trained,) = built
    fresh = models.load_model(cfg.model, 2, seed=cfg.seed)
    before = fresh.bert.pooler.dense.weight
    after = trained.bert.pooler.dense.weight
    assert (after - before).abs().max() > 1e-5, "the pooler did not train"
    assert after.requires_grad
    frozen_before = fresh.bert.encoder.layer[0].attention.self.key.weight
    torch.testing.assert_close(trained.bert.encoder.layer[0].attention.self.key.weight, frozen_before, rtol=0, atol=0)
    assert rows[0]["head_params"] == sum(
        p.numel() for name in ("bert.pooler", "classifier") for p in fresh.get_submodule(name).parameters()
    )
