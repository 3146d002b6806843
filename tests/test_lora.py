"""LoRA invariants on tiny RoBERTa, BERT and DeBERTa-v2 models built from configs."""

from __future__ import annotations

import pytest
import torch

from lora_sweep.trial import lora, models
from tests.tiny_models import ARCHS, CONFIGS, tiny_batch, tiny_model


def _randomise_b(model: torch.nn.Module, seed: int = 3) -> None:
    """B starts at zero; give it values so that LoRA changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in lora.lora_layers(model):
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g) * 0.1)


def _inject_default(model, r=4, alpha=8.0, dropout=0.0):
    mtype = model.config.model_type
    return lora.inject_lora(model, r, alpha, dropout, models.default_targets(mtype), models.head_modules(mtype))


@pytest.mark.parametrize("arch", ARCHS)
def test_output_unchanged_right_after_injection(arch):
    model, batch = tiny_model(arch), tiny_batch()
    before = model(**batch).logits
    names = _inject_default(model)
    assert len(names) == 2 * 2  # two targets in each of two layers
    torch.testing.assert_close(model(**batch).logits, before, rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_merged_equals_unmerged_and_unmerge_restores(arch):
    model, batch = tiny_model(arch), tiny_batch()
    original = {n: p.clone() for n, p in model.named_parameters()}
    _inject_default(model)
    _randomise_b(model)
    unmerged = model(**batch).logits
    assert not torch.allclose(unmerged, tiny_model(arch)(**batch).logits, atol=1e-4), "LoRA must change outputs"
    assert lora.merge_lora(model) == 4
    torch.testing.assert_close(model(**batch).logits, unmerged, rtol=1e-5, atol=1e-5)
    lora.unmerge_lora(model)
    torch.testing.assert_close(model(**batch).logits, unmerged, rtol=1e-5, atol=1e-5)
    for name, layer in lora.lora_layers(model):
        torch.testing.assert_close(layer.base_layer.weight, original[name + ".weight"], rtol=0, atol=1e-6)


def test_merge_is_explicit_not_a_side_effect_of_eval():
    model = tiny_model("roberta")
    _inject_default(model)
    model.eval()
    assert all(not layer.merged for _, layer in lora.lora_layers(model))


@pytest.mark.parametrize("arch", ARCHS)
def test_only_lora_and_head_require_grad(arch):
    model = tiny_model(arch)
    _inject_default(model)
    heads = models.head_modules(arch)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable, "something must train"
    for name in trainable:
        assert ".lora_A." in name or ".lora_B." in name or lora.in_head(name, heads), name
    present = lora.present_heads(model, heads)
    assert present and all(any(name.startswith(h + ".") for name in trainable) for h in present)
    assert sum(1 for n in trainable if ".lora_" in n) == 2 * 4


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("r", [1, 4, 8])
def test_lora_count_matches_formula(arch, r):
    model = tiny_model(arch)
    names = _inject_default(model, r=r)
    d = CONFIGS[arch]["hidden_size"]
    counts = lora.count_parameters(model, models.head_modules(arch))
    assert counts.lora == 2 * r * d * len(names)
    heads = [model.get_submodule(h) for h in lora.present_heads(model, models.head_modules(arch))]
    head = sum(p.numel() for module in heads for p in module.parameters())
    assert counts.head == head
    assert counts.trainable == counts.lora + counts.head
    assert counts.total == sum(p.numel() for p in model.parameters())


def test_roberta_base_r8_query_value_is_the_papers_0_3m():
    """Paper Table 2: RoBERTa-base LoRA, 0.3M: 2 * 8 * 768 * 2 matrices * 12 layers; head 592,130."""
    model = models.load_model("random:roberta-base", num_labels=2)
    lora.inject_lora(model, 8, 16, 0.0, ("query", "value"))
    counts = lora.count_parameters(model)
    assert counts.lora == 294_912
    assert counts.head == 592_130
    assert counts.trainable == 294_912 + 592_130


def test_any_target_set_works_query_key():
    model = tiny_model("roberta")
    names = lora.inject_lora(model, 2, 4, 0.0, ["query", "key"])
    assert sorted(n.rsplit(".", 1)[-1] for n in names) == ["key", "key", "query", "query"]


def test_suffix_match_is_exact():
    model = tiny_model("roberta")
    # "dense" matches attention.output.dense, intermediate.dense, output.dense, but not classifier heads.
    names = lora.inject_lora(model, 2, 4, 0.0, ["output.dense"])
    assert len(names) == 4 and all(n.endswith(".output.dense") for n in names)
    with pytest.raises(ValueError, match="matched no linear layer"):
        lora.inject_lora(tiny_model("roberta"), 2, 4, 0.0, ["uery"])


def test_missing_target_error_lists_available_layers():
    with pytest.raises(ValueError, match=r"\['query_proj'\] matched no linear layer; available suffixes: .*query"):
        lora.inject_lora(tiny_model("bert"), 4, 8, 0.0, ["query_proj"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(r=0), "rank r must be an integer >= 1"),
        (dict(r=2.5), "rank r must be an integer >= 1"),
        (dict(alpha=0), "alpha must be > 0"),
        (dict(alpha=-1.0), "alpha must be > 0"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (dict(dropout=-0.1), r"dropout must be in \[0, 1\)"),
    ],
)
def test_bad_lora_arguments(kwargs, message):
    args = dict(r=4, alpha=8.0, dropout=0.0) | kwargs
    with pytest.raises(ValueError, match=message):
        lora.inject_lora(tiny_model("bert"), target_modules=["query"], **args)


def test_init_a_kaiming_uniform_b_zero_and_scaling():
    model = tiny_model("bert")
    lora.inject_lora(model, 4, 12.0, 0.1, ["query"])
    layer = next(layer for _, layer in lora.lora_layers(model))
    assert layer.scaling == 3.0
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    bound = 1 / CONFIGS["bert"]["hidden_size"] ** 0.5  # kaiming_uniform_(a=sqrt(5)) bound = 1/sqrt(fan_in)
    assert layer.lora_A.weight.abs().max() <= bound and layer.lora_A.weight.abs().max() > bound / 2
    assert isinstance(layer.lora_dropout, torch.nn.Dropout) and layer.lora_dropout.p == 0.1


def _no_model_dropout(arch: str) -> torch.nn.Module:
    """A tiny model whose own (hidden and attention) dropout is off: only LoRA's dropout can vary its outputs."""
    return tiny_model(arch, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


@pytest.mark.parametrize("lora_dropout, differ", [(0.5, True), (0.0, False)])
def test_lora_dropout_alone_varies_training_outputs(lora_dropout, differ):
    model = _no_model_dropout("bert")
    lora.inject_lora(model, 4, 8.0, lora_dropout, ["query"])
    _randomise_b(model)
    batch = tiny_batch()
    model.eval()
    torch.testing.assert_close(model(**batch).logits, model(**batch).logits, rtol=0, atol=0)
    model.train()
    torch.manual_seed(0)
    a = model(**batch).logits
    torch.manual_seed(1)
    b = model(**batch).logits
    assert (not torch.allclose(a, b)) == differ


def test_trainable_state_roundtrip_and_warm_start(tmp_path):
    model = tiny_model("roberta")
    _inject_default(model)
    _randomise_b(model)
    lora.save_adapter(model, tmp_path / "adapter", ["query", "value"])
    fresh = tiny_model("roberta", seed=7)
    _inject_default(fresh)
    loaded, skipped = lora.load_adapter(fresh, tmp_path / "adapter", ["query", "value"], models.head_modules("roberta"))
    assert sum(".lora_" in n for n in loaded) == 8 and any(n.startswith("classifier.") for n in loaded)
    assert skipped == []
    batch = tiny_batch()
    # Same base weights needed for equal logits: seed 0 base, warm-started LoRA and head.
    base_same = tiny_model("roberta")
    _inject_default(base_same)
    lora.load_adapter(base_same, tmp_path / "adapter", ["query", "value"])
    torch.testing.assert_close(base_same(**batch).logits, model(**batch).logits)


@pytest.mark.parametrize("arch", ["roberta", "bert"])
def test_warm_start_skips_head_of_another_label_count(tmp_path, arch):
    """Paper Sec. 5.2: MRPC starts from the MNLI adapter, whose head has 3 labels; only its output layer differs."""
    mnli = tiny_model(arch, num_labels=3)
    _inject_default(mnli)
    _randomise_b(mnli)
    targets, heads = models.default_targets(arch), models.head_modules(arch)
    lora.save_adapter(mnli, tmp_path / "mnli", targets, heads)
    mrpc = tiny_model(arch, num_labels=2)
    _inject_default(mrpc)
    loaded, skipped = lora.load_adapter(mrpc, tmp_path / "mnli", targets, heads)
    assert sum(".lora_" in n for n in loaded) == 8
    out = {"roberta": "classifier.out_proj", "bert": "classifier"}[arch]
    assert sorted(skipped) == [f"{out}.bias", f"{out}.weight"]
    if arch == "bert":
        assert "bert.pooler.dense.weight" in loaded  # the rest of the head fits and is loaded


def _saved_r4(tmp_path, arch="roberta", targets=("query", "value")):
    model = tiny_model(arch)
    lora.inject_lora(model, 4, 8.0, 0.0, targets, models.head_modules(arch))
    return lora.save_adapter(model, tmp_path / "r4", targets, models.head_modules(arch))


@pytest.mark.parametrize(
    "r, alpha, targets, message",
    [
        (8, 8.0, ("query", "value"), r"has rank r 4, this trial 8"),
        (4, 32.0, ("query", "value"), r"has alpha 8.0, this trial 32.0"),
        (4, 8.0, ("query", "key"), r"adapts query,value, this trial key,query"),
    ],
)
def test_warm_start_refuses_another_rank_alpha_or_targets(tmp_path, r, alpha, targets, message):
    saved = _saved_r4(tmp_path)
    model = tiny_model("roberta")
    lora.inject_lora(model, r, alpha, 0.0, targets, models.head_modules("roberta"))
    with pytest.raises(lora.AdapterError, match=message) as err:
        lora.load_adapter(model, saved, targets, models.head_modules("roberta"))
    assert "\n" not in str(err.value)


def test_warm_start_refuses_a_missing_or_homeless_tensor(tmp_path):
    from safetensors.torch import load_file, save_file

    saved = _saved_r4(tmp_path)
    weights = saved / lora.ADAPTER_WEIGHTS
    tensors = load_file(str(weights))
    missing = next(k for k in tensors if ".lora_B." in k)
    save_file({k: v for k, v in tensors.items() if k != missing}, str(weights))
    model = tiny_model("roberta")
    _inject_default(model)
    with pytest.raises(lora.AdapterError, match=r"lacks LoRA tensor .*lora_B\.weight \(1 missing\)"):
        lora.load_adapter(model, saved, ["query", "value"], models.head_modules("roberta"))
    save_file({**tensors, lora.PEFT_PREFIX + "roberta.extra.weight": torch.zeros(2)}, str(weights))
    with pytest.raises(lora.AdapterError, match=r"roberta\.extra\.weight .* has no place in this model"):
        lora.load_adapter(model, saved, ["query", "value"], models.head_modules("roberta"))
