"""GLUE data: load (hub or a local GLUE folder), subsample, tokenize once with a cache, dynamic-padding batches.

Local folders follow the standard GLUE distribution layout (`<GLUE_DIR>/<Task>/train.tsv`, `dev.tsv`).
Every problem in a file is a one-line `GlueDataError` naming the file and line; no row is skipped silently.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import os
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from lora_sweep.trial.atomic import atomic_write
from lora_sweep.trial.tasks import GlueTask

if TYPE_CHECKING:  # imported where used: a Ray worker given prepared data never needs datasets (0.9 s)
    import datasets

GLUE_DIR_ENV = "GLUE_DIR"
HUB_DATASET = "nyu-mll/glue"
_CACHE_FORMAT = "v2"  # bump when the on-disk cache layout changes (v2: offsets, int8 token types)


class GlueDataError(ValueError):
    """A GLUE file or folder that cannot be read as the task's standard layout."""


@dataclass(frozen=True)
class _Layout:
    """Where a task's TSV keeps its fields: header names, or positions when the file has no header."""

    text: tuple[tuple[str, str | int], ...]  # (output column, source column)
    label: str | int
    string_labels: bool = False  # labels written as names ("entailment") rather than ids ("0")
    n_fields: int | None = None  # only for header-less files


_LAYOUTS: dict[str, _Layout] = {
    "cola": _Layout((("sentence", 3),), 1, n_fields=4),  # source, label, original_label, sentence
    "sst2": _Layout((("sentence", "sentence"),), "label"),
    "mrpc": _Layout((("sentence1", "#1 String"), ("sentence2", "#2 String")), "Quality"),
    "qqp": _Layout((("question1", "question1"), ("question2", "question2")), "is_duplicate"),
    "stsb": _Layout((("sentence1", "sentence1"), ("sentence2", "sentence2")), "score"),
    "mnli": _Layout((("premise", "sentence1"), ("hypothesis", "sentence2")), "gold_label", True),
    "qnli": _Layout((("question", "question"), ("sentence", "sentence")), "label", True),
    "rte": _Layout((("sentence1", "sentence1"), ("sentence2", "sentence2")), "label", True),
    "wnli": _Layout((("sentence1", "sentence1"), ("sentence2", "sentence2")), "label"),
}


def _read_rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, fields) for every line of a tab-separated file, read without quote handling."""
    data = path.read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise GlueDataError(f"{path}, line {line}: bytes are not valid UTF-8 ({err.reason})") from None
    if not text.strip():
        raise GlueDataError(f"{path} is empty")
    # QUOTE_NONE: GLUE texts contain bare '"' characters that are part of the sentence.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", quoting=csv.QUOTE_NONE)
    try:
        return [(reader.line_num, row) for row in reader]
    except csv.Error as err:  # a field past csv.field_size_limit() (131,072 characters): no sentence is that long
        raise GlueDataError(f"{path}, line {reader.line_num}: {err}; not a GLUE file") from None


def _parse_label(task: GlueTask, layout: _Layout, raw: str, where: str) -> int | float:
    value = raw.strip()
    if task.is_regression:
        try:
            score = float(value)
        except ValueError:
            score = float("nan")
        if not 0.0 <= score <= 5.0:  # STS-B scores are similarities from 0 to 5
            raise GlueDataError(f"{where}: label {raw!r} is not a similarity score in [0, 5]")
        return score
    allowed = task.label_names if layout.string_labels else tuple(str(i) for i in range(task.num_labels))
    if value not in allowed:
        raise GlueDataError(f"{where}: label {raw!r} is not one of {', '.join(allowed)}")
    return allowed.index(value)


def read_glue_tsv(task: GlueTask, path: str | os.PathLike) -> datasets.Dataset:
    """Read one split file of `task` in its standard GLUE layout into text columns plus "label"."""
    path, layout = Path(path), _LAYOUTS[task.name]
    rows = _read_rows(path)
    sources = [src for _, src in layout.text] + [layout.label]
    if layout.n_fields is None:
        (_, header), rows = rows[0], rows[1:]
        header = [name.strip() for name in header]
        missing = [s for s in sources if s not in header]
        if missing:
            raise GlueDataError(
                f"{path} header lacks column(s) {', '.join(map(repr, missing))}; it has: {', '.join(header)}"
            )
        positions, n_fields = [header.index(s) for s in sources], len(header)
    else:
        positions, n_fields = list(sources), layout.n_fields
    if not rows:
        raise GlueDataError(f"{path} has no data rows")
    columns: dict[str, list] = {out: [] for out, _ in layout.text}
    labels = []
    for line, row in rows:
        where = f"{path}, line {line}"
        # Unequal counts mean a missing field or an unquoted tab inside a text: both would shift columns.
        if len(row) != n_fields:
            raise GlueDataError(f"{where}: {len(row)} tab-separated fields, expected {n_fields}")
        for (out, _), pos in zip(layout.text, positions, strict=False):
            columns[out].append(row[pos])
        labels.append(_parse_label(task, layout, row[positions[-1]], where))
    import datasets

    return datasets.Dataset.from_dict({**columns, "label": labels}, features=_features(task))


def _features(task: GlueTask) -> datasets.Features:
    import datasets

    label = datasets.Value("float32") if task.is_regression else datasets.ClassLabel(names=list(task.label_names))
    return datasets.Features({**{c: datasets.Value("string") for c in task.text_columns}, "label": label})


def local_glue_dir(glue_dir: str | os.PathLike | None = None) -> tuple[str, str] | None:
    """(folder, the name it came from: "glue_dir" or "GLUE_DIR") for local GLUE data; None for the hub."""
    if glue_dir is not None:
        return str(glue_dir), "glue_dir"
    if os.environ.get(GLUE_DIR_ENV):
        return os.environ[GLUE_DIR_ENV], GLUE_DIR_ENV
    return None


def glue_files(task: GlueTask) -> tuple[tuple[str, str], ...]:
    """(split, file name inside <folder>/<task.dir_name>) of each local file a trial reads."""
    return (("train", "train.tsv"), ("validation", task.dev_file))


def load_glue(
    task: GlueTask, glue_dir: str | os.PathLike | None = None, revision: str | None = None
) -> datasets.DatasetDict:
    """Splits "train" and "validation" of `task` from `glue_dir`, else $GLUE_DIR, else the HF hub (at `revision`)."""
    local = local_glue_dir(glue_dir)
    if local is None:
        return _load_hub(task, revision)
    glue_dir, source = local
    splits = {}
    for split, file_name in glue_files(task):
        path = Path(glue_dir) / task.dir_name / file_name
        if not path.is_file():
            raise GlueDataError(f"{source}={glue_dir} has no {task.dir_name}/{file_name}")
        splits[split] = read_glue_tsv(task, path)
    import datasets

    return datasets.DatasetDict(splits)


def _load_hub(task: GlueTask, revision: str | None = None) -> datasets.DatasetDict:
    import datasets

    raw = datasets.load_dataset(HUB_DATASET, task.name, revision=revision)
    keep = [*task.text_columns, "label"]
    # MNLI's dev set is "validation_matched" on the hub; the rest of the project always says "validation".
    return datasets.DatasetDict(
        {"train": raw["train"].select_columns(keep), "validation": raw[task.dev_split].select_columns(keep)}
    )


def subsample(dataset: datasets.Dataset, n: int | None, seed: int) -> datasets.Dataset:
    """The first n rows of a seeded permutation; the dataset itself when n is None or n >= len."""
    if n is None or n >= len(dataset):
        return dataset
    if n < 1:
        raise ValueError(f"subsample size must be a positive integer or None, got {n}")
    return dataset.select(np.random.default_rng(seed).permutation(len(dataset))[:n])


@dataclass(frozen=True)
class TokenizedSplit:
    """Unpadded token ids of one split, flat: example i is input_ids[offsets[i] : offsets[i + 1]].

    One representation for memory, the on-disk cache and Ray's object store. Flat arrays travel as a few
    buffers that trials on one node map zero-copy from the store (lists of lists would become a Python int
    object per token in every trial process). The arrays may be read-only (mapped): nothing writes to them.
    """

    input_ids: np.ndarray  # int32, every example's ids end to end
    offsets: np.ndarray  # int64, n + 1 bounds from 0 to len(input_ids)
    token_type_ids: np.ndarray | None  # int8 (segment ids are tiny), aligned with input_ids; None for RoBERTa-style
    labels: np.ndarray  # int64 class ids or float32 scores, one per example

    def __post_init__(self) -> None:
        ids, offsets = self.input_ids, self.offsets
        problem = ""
        if ids.ndim != 1 or offsets.ndim != 1 or offsets.dtype != np.int64 or len(offsets) == 0:
            problem = "input_ids and offsets must be 1-D, offsets int64 with at least one bound"
        elif offsets[0] != 0 or offsets[-1] != len(ids) or (np.diff(offsets) < 0).any():
            problem = f"offsets must rise from 0 to len(input_ids)={len(ids)}"
        elif len(self.labels) != len(offsets) - 1:
            problem = f"{len(self.labels)} labels for {len(offsets) - 1} examples"
        elif self.token_type_ids is not None and self.token_type_ids.shape != ids.shape:
            problem = f"token_type_ids hold {len(self.token_type_ids)} values for {len(ids)} input ids"
        if problem:
            raise ValueError(f"tokenized split: {problem}")

    @classmethod
    def from_lists(
        cls, input_ids: list[list[int]], token_type_ids: list[list[int]] | None, labels: np.ndarray
    ) -> TokenizedSplit:
        """From per-example lists, as a tokenizer returns them."""
        lengths = np.fromiter(map(len, input_ids), dtype=np.int64, count=len(input_ids))
        offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)])
        tti = None if token_type_ids is None else _flat(token_type_ids, np.int8, "token_type_ids")
        return cls(_flat(input_ids, np.int32, "input_ids"), offsets, tti, np.asarray(labels))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def as_lists(self) -> tuple[list[list[int]], list[list[int]] | None]:
        """(input ids, token type ids or None) per example, as lists (for libraries that take them so)."""
        bounds = self.offsets[1:-1]
        ids = [a.tolist() for a in np.split(self.input_ids, bounds)] if len(self) else []
        if self.token_type_ids is None:
            return ids, None
        return ids, [a.tolist() for a in np.split(self.token_type_ids, bounds)] if len(self) else []


def _flat(seqs: list[list[int]], dtype: type, name: str) -> np.ndarray:
    try:
        return np.fromiter(itertools.chain.from_iterable(seqs), dtype=dtype)
    except OverflowError:
        raise ValueError(f"tokenized split: a value in {name} does not fit {np.dtype(dtype).name}") from None


def _columns(split: datasets.Dataset, task: GlueTask) -> tuple[list[list[str]], np.ndarray]:
    data = split.select_columns([*task.text_columns, "label"]).to_dict()  # to_dict: fast and honours select()
    dtype = np.float32 if task.is_regression else np.int64
    return [data[c] for c in task.text_columns], np.asarray(data["label"], dtype=dtype)


def split_fingerprint(split: datasets.Dataset, task: GlueTask) -> str:
    """Content hash of a split's texts and labels: equal on every node that holds the same data."""
    texts, labels = _columns(split, task)
    digest = hashlib.sha256()
    for column in texts:
        digest.update("\x1e".join(column).encode("utf-8") + b"\x1d")
    digest.update(labels.tobytes())
    return digest.hexdigest()


def tokenization_cache_key(tokenizer, task: GlueTask, max_length: int, split: datasets.Dataset) -> str:
    """Hex key naming one tokenized split: tokenizer identity, task, max length and split content."""
    tok = f"{type(tokenizer).__name__}|{tokenizer.name_or_path}|{tokenizer.vocab_size}|{len(tokenizer)}"
    parts = [_CACHE_FORMAT, tok, tokenizer.truncation_side, task.name, str(max_length)]
    parts.append(split_fingerprint(split, task))
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def tokenize_split(split: datasets.Dataset, tokenizer, task: GlueTask, max_length: int) -> TokenizedSplit:
    """Tokenize one split with truncation to max_length and no padding (one tokenizer call, no cache)."""
    texts, labels = _columns(split, task)
    enc = tokenizer(*texts, truncation=True, max_length=max_length, padding=False)
    token_type_ids = enc.get("token_type_ids")  # absent for RoBERTa-style tokenizers
    return TokenizedSplit.from_lists(enc["input_ids"], token_type_ids, labels)


# In-process cache, shared by trials that run in the same worker process; see clear_tokenization_cache.
_MEMORY_CACHE: dict[str, TokenizedSplit] = {}


def clear_tokenization_cache() -> None:
    """Forget every in-process tokenized split (the on-disk cache is left alone)."""
    _MEMORY_CACHE.clear()


def _save(path: Path, split: TokenizedSplit) -> None:
    arrays = {"input_ids": split.input_ids, "offsets": split.offsets, "labels": split.labels}
    if split.token_type_ids is not None:
        arrays["token_type_ids"] = split.token_type_ids
    # Temp file and rename (atomic_write): readers on other nodes never see half a file.
    atomic_write(path, lambda tmp: _savez(tmp, arrays))


def _savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as handle:  # a handle, because np.savez appends ".npz" to a bare temp name
        np.savez(handle, **arrays)
    os.chmod(path, 0o644)  # mkstemp creates 0600; other workers sharing the cache must read it


def _load(path: Path) -> TokenizedSplit:
    with np.load(path, allow_pickle=False) as arrays:
        tti = arrays["token_type_ids"] if "token_type_ids" in arrays.files else None
        return TokenizedSplit(arrays["input_ids"], arrays["offsets"], tti, arrays["labels"])


def tokenize_splits(
    splits: Mapping[str, datasets.Dataset],
    tokenizer,
    task: GlueTask,
    max_length: int,
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, TokenizedSplit]:
    """Tokenized splits, from the in-process cache, else `cache_dir` (shared between nodes), else fresh."""
    out = {}
    for name, split in splits.items():
        key = tokenization_cache_key(tokenizer, task, max_length, split)
        if key not in _MEMORY_CACHE:
            _MEMORY_CACHE[key] = _from_disk_or_tokenize(split, tokenizer, task, max_length, key, cache_dir)
        out[name] = _MEMORY_CACHE[key]
    return out


def _from_disk_or_tokenize(split, tokenizer, task, max_length, key, cache_dir) -> TokenizedSplit:
    if cache_dir is None:
        return tokenize_split(split, tokenizer, task, max_length)
    path = Path(cache_dir) / f"{task.name}-len{max_length}-{key[:32]}.npz"
    if path.is_file():
        try:
            return _load(path)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # unreadable cache file (e.g. written by another version): tokenize again and replace it
    result = tokenize_split(split, tokenizer, task, max_length)
    _save(path, result)
    return result


def batch_indices(
    lengths: np.ndarray,
    batch_size: int,
    shuffle: bool,
    seed: int,
    sort_by_length: bool = False,
    group_batches: int | None = None,
) -> list[np.ndarray]:
    """Example indices of each batch; the same arguments always give the same batches.

    sort_by_length: similar lengths share a batch (less padding). Without shuffle the whole split is sorted,
    longest first (evaluation). With shuffle, the examples are shuffled, sorted within random groups of
    group_batches batches (None: the whole split; see length_group_batches), and the batches
    shuffled, the longest first: a batch too large for memory fails at once, not late in the epoch.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths)) if shuffle else np.arange(len(lengths))
    if sort_by_length and len(order):
        group = group_batches * batch_size if shuffle and group_batches else len(order)
        chunks = [order[i : i + group] for i in range(0, len(order), group)]
        order = np.concatenate([c[np.argsort(-lengths[c], kind="stable")] for c in chunks])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle and sort_by_length and batches:
        batches = [batches[i] for i in rng.permutation(len(batches))]
        longest = max(range(len(batches)), key=lambda i: int(lengths[batches[i]].max()))
        batches.insert(0, batches.pop(longest))
    return batches


def length_group_batches(n_examples: int, batch_size: int) -> int:
    """Batches per length group for group_by_length: 50, but at least 4 groups per epoch so that batches still
    vary between epochs (the rule of Hugging Face's get_length_grouped_indices)."""
    return max(1, min(50, n_examples // (4 * batch_size)))


def collate(
    split: TokenizedSplit, indices: np.ndarray, pad_token_id: int, pad_to: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad the chosen examples to their longest (or to pad_to) with an attention mask.

    Gathers straight from the flat arrays: one index array for the whole batch, no per-example objects.
    """
    indices = np.asarray(indices)
    starts = split.offsets[indices]
    lengths = split.offsets[indices + 1] - starts
    longest = int(lengths.max())
    width = longest if pad_to is None else pad_to
    if width < longest:
        raise ValueError(f"pad_to_max={pad_to} is shorter than a sequence of {longest} tokens")
    columns = np.arange(width)
    mask = columns < lengths[:, None]  # (batch, width): where the tokens go
    source = (starts[:, None] + columns)[mask]  # their places in the flat arrays, row by row
    input_ids = np.full(mask.shape, pad_token_id, dtype=np.int64)
    input_ids[mask] = split.input_ids[source]
    batch = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask.astype(np.int64))}
    if split.token_type_ids is not None:
        token_type_ids = np.zeros(mask.shape, dtype=np.int64)
        token_type_ids[mask] = split.token_type_ids[source]
        batch["token_type_ids"] = torch.from_numpy(token_type_ids)
    batch["labels"] = torch.from_numpy(split.labels[indices])  # fancy indexing copies: writable, unshared
    return batch


def make_batches(
    split: TokenizedSplit,
    batch_size: int,
    pad_token_id: int,
    shuffle: bool,
    seed: int,
    sort_by_length: bool = False,
    pad_to_max: int | None = None,
    group_batches: int | None = None,
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of tensors, each padded to its own longest sequence (or to pad_to_max when given)."""
    for indices in batch_indices(split.lengths, batch_size, shuffle, seed, sort_by_length, group_batches):
        yield collate(split, indices, pad_token_id, pad_to_max)
