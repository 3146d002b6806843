"""Parity with PEFT (the yardstick): same A and B give the same logits; our saved adapter loads in PEFT."""

from __future__ import annotations

import copy
import json

import pytest
import torch

from lora_sweep.trial import lora, models
from tests.tiny_models import ARCHS, tiny_batch, tiny_model

peft = pytest.importorskip("peft", reason="PEFT is a test dependency: pip install -e '.[test]'")


def _ours_and_base(arch: str, r: int = 4, alpha: float = 8.0):
    base = tiny_model(arch)
    ours = copy.deepcopy(base)
    targets, heads = models.default_targets(arch), models.head_modules(arch)
    lora.inject_lora(ours, r, alpha, 0.0, targets, heads)
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for _, layer in lora.lora_layers(ours):
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g) * 0.2)
        # A trained head too, so the head's saving and loading is checked, not only LoRA's.
        for h in lora.present_heads(ours, heads):
            for p in ours.get_submodule(h).parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return ours.eval(), base, targets, lora.present_heads(base, heads)


@pytest.mark.parametrize("arch", ARCHS)
def test_same_a_and_b_give_same_logits_as_peft(arch):
    ours, base, targets, heads = _ours_and_base(arch)
    config = peft.LoraConfig(
        task_type="SEQ_CLS", r=4, lora_alpha=8, lora_dropout=0.0, target_modules=list(targets), modules_to_save=heads
    )
    theirs = peft.get_peft_model(copy.deepcopy(base), config).eval()
    with torch.no_grad():
        ours_params = dict(ours.named_parameters())
        for name, p in theirs.named_parameters():
            key = name.removeprefix("base_model.model.").replace(".default.", ".").replace(".modules_to_save.", ".")
            if ".lora_" in name or ".modules_to_save." in name:
                p.copy_(ours_params[key])
    batch = tiny_batch()
    expected = ours(**batch).logits
    assert not torch.allclose(expected, base(**batch).logits, atol=1e-3), "LoRA must change the output"
    torch.testing.assert_close(theirs(**batch).logits, expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_saved_adapter_loads_in_peft_with_same_logits(arch, tmp_path):
    ours, base, targets, heads = _ours_and_base(arch)
    lora.save_adapter(ours, tmp_path, targets, heads)
    assert {p.name for p in tmp_path.iterdir()} == {"adapter_config.json", "adapter_model.safetensors"}
    # The whole head (BERT: pooler too; DistilBERT: pre_classifier) is saved whole, as PEFT's modules_to_save.
    assert json.loads((tmp_path / "adapter_config.json").read_text())["modules_to_save"] == heads
    assert heads == list(models.head_modules(arch))
    theirs = peft.PeftModel.from_pretrained(copy.deepcopy(base), str(tmp_path)).eval()
    batch = tiny_batch()
    torch.testing.assert_close(theirs(**batch).logits, ours(**batch).logits, rtol=0, atol=1e-5)
