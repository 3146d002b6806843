"""The README's storage figure for sweeps/glue_ranks.yaml: 2 checkpoints per running trial x seeds x trainable
parameters x 12 bytes (float32 weights and AdamW's two moments), over the trials that fit on the GPUs at once."""

from __future__ import annotations

import pytest

from lora_sweep.cli import storage_bound
from lora_sweep.spec.spec import SpecError, load_spec
from tests.sweep_support import REPO


def test_glue_ranks_peak_is_the_largest_checkpoints_that_fit_at_once():
    rows = storage_bound.study_rows(load_spec(REPO / "sweeps" / "glue_ranks.yaml"))
    by_study = {r["study"]: r for r in rows}
    full = by_study["microsoft/deberta-v2-xlarge/sst2/full"]
    assert full["bytes_per_running_trial"] == 2 * 5 * full["trainable"] * 12  # glue_ranks: 5 seeds
    roberta = by_study["FacebookAI/roberta-base/rte/full"]["bytes_per_running_trial"]
    # 8 GPUs: the three DeBERTa full fine-tuning trials (one GPU each), then five RoBERTa-base full ones.
    assert storage_bound.peak_bytes(rows, None, 8) == 3 * full["bytes_per_running_trial"] + 5 * roberta
    assert storage_bound.peak_bytes(rows, 2, None) == 2 * full["bytes_per_running_trial"]
    with pytest.raises(SpecError, match="give --gpus"):
        storage_bound.peak_bytes(rows, None, None)
