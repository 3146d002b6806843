"""Several LoRA trainings on one frozen model (PLoRA's idea, arXiv 2508.02932): one forward and backward over
their stacked batches, the frozen matmuls once for the whole stack. Imports torch and transformers, never Ray.

Each member keeps what it would have alone: its own LoRA matrices (ranks may differ), head, optimizer, schedule,
data order and dropout randomness. Every dropout in a pack (LoRA's, and the frozen model's hidden and attention
dropout) draws its mask from the member's own generator, over the member's own rows and its own sequence
length, so a member's masks do not depend on who else is in the pack; the stack is padded to its longest
member, and padded positions never reach a real position (attention masks them). Summing the members' losses
gives each member exactly its own gradient: their parameters are disjoint and the base is frozen.

A trial alone is a pack of one through the same code (pack_train.py), which is what makes packing exact.
Between forwards the model is a plain solo LoRA model of one member (`view(k)`): checkpoints, evaluation and
exported adapters use the code a trial alone uses.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from lora_sweep.trial import lora

ATTENTION = "lora_sweep_pack"  # the attention implementation a packed model runs
# Architectures whose attention goes through transformers' AttentionInterface and whose every dropout acts on
# rows of the batch (DeBERTa also drops out its relative-position embeddings, which are not rows).
PACKABLE_TYPES = ("bert", "roberta", "xlm-roberta", "electra", "distilbert")


@dataclass(frozen=True)
class Slot:
    """One member's rows [start, end) in the stacked batch and its own (unpadded) sequence length."""

    member: int
    start: int
    end: int
    length: int


@dataclass
class Member:
    layers: dict[str, lora.LoRALinear]  # qualified name -> this member's LoRA layer (sharing the base layer)
    heads: dict[str, nn.Module]  # head module name -> this member's copy
    generator: torch.Generator | None = None  # this member's dropout generator, seeded per epoch


def _member_mask(shape, p: float, generator: torch.Generator, device) -> torch.Tensor:
    # Drawn in float32 whatever the compute dtype, so bf16 and fp32 runs draw the same masks.
    return (torch.rand(shape, generator=generator, device=device) >= p).float() / (1.0 - p)


def member_dropout(x: torch.Tensor, p: float, generator: torch.Generator, length: int | None) -> torch.Tensor:
    """Dropout of one member's rows with its generator. length: its own sequence length where x is padded
    beyond it (a 3-D hidden state [B, L, H] or 4-D attention [B, heads, L, L]); the mask is drawn for the
    unpadded shape, exactly as the member alone draws it, and padded positions are left as they are."""
    unpadded = x.shape[1] == length if x.ndim == 3 else x.ndim == 4 and x.shape[2] == x.shape[3] == length
    if length is None or x.ndim < 3 or unpadded:
        return x * _member_mask(x.shape, p, generator, x.device).to(x.dtype)
    full = torch.ones(x.shape, device=x.device)
    if x.ndim == 3:
        full[:, :length] = _member_mask((x.shape[0], length, x.shape[2]), p, generator, x.device)
    else:
        full[:, :, :length, :length] = _member_mask((*x.shape[:2], length, length), p, generator, x.device)
    return x * full.to(x.dtype)


class MemberDropout(nn.Module):
    """nn.Dropout for a packed model: in the trunk (member None) each member's rows draw from its generator;
    inside a member's head copy, the whole input is that member's."""

    def __init__(self, p: float, pack: Pack, member: int | None = None):
        super().__init__()
        self.p, self.member = p, member
        self._pack = [pack]  # a list: not a submodule, and not deep-copied into a parameter walk

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        pack = self._pack[0]
        if self.member is not None:
            return member_dropout(x, self.p, pack.members[self.member].generator, None)
        pieces = [
            member_dropout(x[s.start : s.end], self.p, pack.members[s.member].generator, s.length) for s in pack.stack
        ]
        return torch.cat(pieces) if len(pieces) > 1 else pieces[0]


class PackedLoRALinear(nn.Module):
    """The frozen layer once over the whole stack, plus each member's low-rank path over its own rows: one
    batched matmul when the members' row counts are equal (ranks padded with zeros: padded parts are not
    parameters, so they get no gradient), else one matmul per member."""

    def __init__(self, base_layer: nn.Linear, name: str, pack: Pack):
        super().__init__()
        self.base_layer, self.name = base_layer, name
        self._pack = [pack]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pack = self._pack[0]
        out = self.base_layer(x)
        layers = [pack.members[s.member].layers[self.name] for s in pack.stack]
        inputs = []
        for s, layer in zip(pack.stack, layers, strict=True):
            xs = x[s.start : s.end]
            p = layer.lora_dropout.p if isinstance(layer.lora_dropout, nn.Dropout) else 0.0
            if self.training and p > 0:
                xs = member_dropout(xs, p, pack.members[s.member].generator, s.length)
            inputs.append(xs)
        rows = {s.end - s.start for s in pack.stack}
        if len(rows) == 1:
            rank = max(layer.r for layer in layers)
            a = torch.stack([F.pad(la.lora_A.weight, (0, 0, 0, rank - la.r)) for la in layers])  # [K, r, in]
            b = torch.stack([F.pad(la.lora_B.weight, (0, rank - la.r)) for la in layers])  # [K, out, r]
            scale = torch.tensor([la.scaling for la in layers], device=x.device).view(-1, 1, 1)
            stacked = torch.stack(inputs).flatten(1, -2)  # [K, rows * positions, in]
            low = torch.bmm(torch.bmm(stacked, a.transpose(1, 2)), b.transpose(1, 2)) * scale.to(stacked.dtype)
            return out + low.reshape(out.shape)
        lows = [la.lora_B(la.lora_A(xs)) * la.scaling for la, xs in zip(layers, inputs, strict=True)]
        return out + torch.cat(lows)


class PackedHead(nn.Module):
    """A head module per member, each over its own rows."""

    def __init__(self, name: str, pack: Pack):
        super().__init__()
        self.name = name
        self._pack = [pack]

    def forward(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        pack = self._pack[0]
        pieces = [pack.members[s.member].heads[self.name](x[s.start : s.end], *args, **kwargs) for s in pack.stack]
        return torch.cat(pieces)


def _attention(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, **kwargs):
    """SDPA when there is no attention dropout; else eager attention whose dropout is the module's
    MemberDropout (each member's mask from its own generator)."""
    if dropout == 0.0 or not module.training:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=0.0, scaling=scaling, **kwargs)
    if not isinstance(getattr(module, "dropout", None), MemberDropout):
        raise RuntimeError(f"{type(module).__name__}: no per-member attention dropout; packing does not support it")
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attention_mask, torch.finfo(scores.dtype).min)
        else:
            scores = scores + attention_mask
    probs = module.dropout(F.softmax(scores, dim=-1))
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


AttentionInterface.register(ATTENTION, _attention)
AttentionMaskInterface.register(ATTENTION, sdpa_mask)


def packable(model: nn.Module) -> bool:
    """Whether every dropout of this architecture can draw per member: its attention goes through
    transformers' AttentionInterface (BERT, RoBERTa, DistilBERT, ELECTRA...), not model-specific code
    (DeBERTa drops out relative-position embeddings, which are not rows of a batch)."""
    return model.config.model_type in PACKABLE_TYPES and bool(getattr(model, "_supports_attention_backend", False))


class Pack:
    """One frozen model and its members. At rest the model is member `current`'s solo model (view)."""

    def __init__(self, model: nn.Module, heads: tuple[str, ...]):
        self.model = model
        self.layer_names = [n for n, _ in lora.lora_layers(model)]
        self.head_names = lora.present_heads(model, heads)
        self.members = [Member({n: model.get_submodule(n) for n in self.layer_names}, self._heads_of(model))]
        self.stack: list[Slot] = []
        self.current = 0
        self.packed_modules = {
            n: PackedLoRALinear(self.members[0].layers[n].base_layer, n, self) for n in self.layer_names
        }
        self.packed_modules.update({h: PackedHead(h, self) for h in self.head_names})

    def _heads_of(self, model) -> dict[str, nn.Module]:
        return {h: model.get_submodule(h) for h in self.head_names}

    def add_member(self, r: int, alpha: float, dropout: float) -> int:
        """A new member with fresh LoRA layers on the shared base layers and a copy of member 0's heads (to be
        initialised by the caller, through its view); returns its index."""
        first = self.members[0]
        layers = {n: lora.LoRALinear(first.layers[n].base_layer, r, alpha, dropout) for n in self.layer_names}
        heads = {h: copy.deepcopy(first.heads[h]) for h in self.head_names}
        self.members.append(Member(layers, heads))
        return len(self.members) - 1

    def member_dropouts(self) -> None:
        """Replace every nn.Dropout (trunk and heads) with a MemberDropout; call once all members exist."""
        for index, member in enumerate(self.members):
            for head in member.heads.values():
                _swap_dropouts(head, lambda p, i=index: MemberDropout(p, self, i))
        head_or_lora = set(self.head_names) | set(self.layer_names)
        _swap_dropouts(self.model, lambda p: MemberDropout(p, self, None), skip=head_or_lora)
        self.model.set_attn_implementation(ATTENTION)

    def _place(self, modules: dict[str, nn.Module]) -> None:
        for name, module in modules.items():
            parent, _, child = name.rpartition(".")
            setattr(self.model.get_submodule(parent) if parent else self.model, child, module)
            module.train(self.model.training)

    @contextmanager
    def view(self, index: int) -> Iterator[nn.Module]:
        """The model as member `index`'s solo LoRA model (its LoRA layers and heads in place)."""
        previous = self.current
        self._show(index)
        try:
            yield self.model
        finally:
            self._show(previous)

    def _show(self, index: int) -> None:
        member = self.members[index]
        self._place(member.layers)
        self._place(member.heads)
        self.current = index

    @contextmanager
    def packed(self, stack: list[Slot]) -> Iterator[nn.Module]:
        """The packed model over `stack` (the forward only: backward needs no modules in place)."""
        self.stack = stack
        self._place(self.packed_modules)
        for member in self.members:  # modules out of the tree miss model.train()/eval(): set their mode here
            for module in (*member.layers.values(), *member.heads.values()):
                module.train(self.model.training)
        try:
            yield self.model
        finally:
            self._show(self.current)
            self.stack = []

    def to(self, device: torch.device) -> Pack:
        self.model.to(device)
        for member in self.members[1:]:
            for module in (*member.layers.values(), *member.heads.values()):
                module.to(device)
        return self


def _swap_dropouts(root: nn.Module, make, skip: set[str] = frozenset(), prefix: str = "") -> None:
    for name, child in list(root.named_children()):
        qualified = f"{prefix}.{name}" if prefix else name
        if qualified in skip:
            continue
        if type(child) is nn.Dropout:
            setattr(root, name, make(child.p))
        else:
            _swap_dropouts(child, make, skip, qualified)


def stack_batches(batches: list[dict], pad_id: int) -> tuple[dict, list[tuple[int, int, int]]]:
    """Concatenate members' collated batches, right-padded to the longest; return the stacked batch (no labels)
    and each member's (start, end, length)."""
    longest = max(b["input_ids"].shape[1] for b in batches)
    out: dict[str, list] = {}
    spans, start = [], 0
    for batch in batches:
        length = batch["input_ids"].shape[1]
        for key, value in batch.items():
            if key == "labels":
                continue
            fill = pad_id if key == "input_ids" else 0
            out.setdefault(key, []).append(F.pad(value, (0, longest - length), value=fill))
        rows = batch["input_ids"].shape[0]
        spans.append((start, start + rows, length))
        start += rows
    return {k: torch.cat(v) for k, v in out.items()}, spans


def padding_share(spans: list[tuple[int, int, int]]) -> float:
    """Share of the stack's positions that are padding added by stacking (0: all members equally long)."""
    longest = max(length for _, _, length in spans)
    total = sum((end - start) * longest for start, end, _ in spans)
    own = sum((end - start) * length for start, end, length in spans)
    return 0.0 if total == 0 else (total - own) / total
