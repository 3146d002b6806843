"""Prepared data travels as a few flat buffers: what Ray needs to hand it to trials zero-copy.

Ray serialises objects with pickle protocol 5 and keeps each out-of-band buffer in its shared-memory store; a
trial on the same node gets numpy arrays that point into that memory (read-only) instead of copies. Lists of
lists would be pickled in-band and rebuilt as one Python int object per token in every trial process.
"""

from __future__ import annotations

import pickle

import numpy as np

from lora_sweep.trial import data, train
from lora_sweep.trial.tasks import get_task


def _split(n: int, seed: int, pairs: bool) -> data.TokenizedSplit:
    rng = np.random.default_rng(seed)
    ids = [rng.integers(0, 30_522, k).tolist() for k in rng.integers(5, 60, n)]
    tti = [[0] * (len(s) // 2) + [1] * (len(s) - len(s) // 2) for s in ids] if pairs else None
    return data.TokenizedSplit.from_lists(ids, tti, rng.integers(0, 3, n))


def test_prepared_data_pickles_as_out_of_band_buffers_read_in_place():
    prepared = train.TrialData(get_task("mnli"), _split(20_000, 0, True), _split(500, 1, True), 0)
    buffers: list[pickle.PickleBuffer] = []
    payload = pickle.dumps(prepared, protocol=5, buffer_callback=buffers.append)
    arrays = [getattr(s, f) for s in (prepared.train, prepared.dev) for f in ("input_ids", "offsets", "token_type_ids")]
    arrays += [prepared.train.labels, prepared.dev.labels]
    # Every token travels in a buffer; what is pickled in-band stays small, whatever the data's size.
    assert sum(b.raw().nbytes for b in buffers) == sum(a.nbytes for a in arrays) > 20_000 * 5 * 5
    assert len(payload) < 2_000, len(payload)
    # Read back from read-only memory, as from Ray's store: the arrays point into it rather than copy it.
    loaded = pickle.loads(payload, buffers=[b.raw().toreadonly() for b in buffers])
    assert not loaded.train.input_ids.flags.writeable and not loaded.train.offsets.flags.writeable
    np.testing.assert_array_equal(loaded.train.input_ids, prepared.train.input_ids)
    batch = next(data.make_batches(loaded.train, 8, 0, shuffle=True, seed=1))
    assert batch["input_ids"].shape[0] == 8
