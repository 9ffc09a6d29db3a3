"""Sequence packing: several right-padded sequences share one row, kept apart by the attention mask.

A stack packs the sequences it is given (already embedded, positions added per sequence, so
positions restart for each one), runs its layers on the packed rows with a block-diagonal mask,
and unpacks the result: callers see the same (B, T, d) shapes, and the layers stop computing
padding. An encoder-decoder packs its target and memory sides together, so each target sits in
the same row as its own source and cross-attends to it alone.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

__all__ = ["Packing", "check_packing", "first_fit", "plan", "right_padded_lengths", "segment_mask"]


def check_packing(packing: bool | int) -> bool | int:
    """``packing`` as a stack takes it: False, True, or a positive row length; anything else is named."""
    if isinstance(packing, bool) or (isinstance(packing, int) and packing > 0):
        return packing
    raise ValueError(f"model.packing={packing!r}: choose false, true (rows as long as the longest sequence) "
                     f"or a positive row length")


def right_padded_lengths(pad_mask: Tensor) -> Tensor:
    """(B, T) padding mask (True = padding) -> (B,) lengths; the padding must follow the content."""
    lengths = (~pad_mask).sum(1)
    positions = torch.arange(pad_mask.size(1), device=pad_mask.device)
    if not torch.equal(pad_mask, positions[None, :] >= lengths[:, None]):
        raise ValueError("packing needs right-padded sequences (content first, then padding); "
                         "this padding mask has padding before content")
    return lengths


def first_fit(sizes: Sequence[Sequence[int]], capacities: Sequence[int]) -> tuple[list[int], list[list[int]], int]:
    """Rows for items with ``sizes[side][i]`` positions on each side, at most ``capacities[side]`` a row.

    First fit in decreasing order of the first side's size: an item goes into the first row where
    every side still has room. Returns each item's row, its first position on each side, and the
    number of rows.
    """
    n_items, n_sides = len(sizes[0]), len(sizes)
    for side, capacity in zip(sizes, capacities):
        if side and max(side) > capacity:
            raise ValueError(f"an item of {max(side)} positions does not fit rows of {capacity}")
    used: list[list[int]] = []  # per row, positions used on each side
    rows, starts = [0] * n_items, [[0] * n_items for _ in sizes]
    for i in sorted(range(n_items), key=lambda i: -sizes[0][i]):
        row = next((r for r, filled in enumerate(used)
                    if all(filled[s] + sizes[s][i] <= capacities[s] for s in range(n_sides))), len(used))
        if row == len(used):
            used.append([0] * n_sides)
        rows[i] = row
        for s in range(n_sides):
            starts[s][i] = used[row][s]
            used[row][s] += sizes[s][i]
    return rows, starts, len(used)


class Packing:
    """Where each of B right-padded sequences of one side sits in ``n_rows`` rows of ``length`` positions.

    Args:
        lengths: (B,) content lengths.
        rows, starts: each sequence's row and first position there (``first_fit``).
        n_rows, length: the packed shape.
        padded_length: T, the padded length of the unpacked (B, T, ...) tensors.
    """

    def __init__(self, lengths: Tensor, rows: Sequence[int], starts: Sequence[int], n_rows: int, length: int,
                 padded_length: int):
        device = lengths.device
        self.n_rows, self.length, self.padded_length, self.batch = n_rows, length, padded_length, lengths.numel()
        item = torch.repeat_interleave(torch.arange(self.batch, device=device), lengths)  # (M,) one per content position
        offset = torch.arange(item.numel(), device=device) - (lengths.cumsum(0) - lengths)[item]
        rows_t = torch.as_tensor(rows, device=device, dtype=torch.long)
        starts_t = torch.as_tensor(starts, device=device, dtype=torch.long)
        unpacked = item * padded_length + offset  # flat (B*T) index of each content position
        packed = rows_t[item] * length + starts_t[item] + offset  # flat (R*L) index of the same position
        # gather maps: a position with no content reads the zero row appended at the end
        self.pack_index = torch.full((n_rows * length,), self.batch * padded_length, device=device, dtype=torch.long)
        self.pack_index[packed] = unpacked
        self.unpack_index = torch.full((self.batch * padded_length,), n_rows * length, device=device, dtype=torch.long)
        self.unpack_index[unpacked] = packed
        self.segments = torch.full((n_rows * length,), -1, device=device, dtype=torch.long)
        self.segments[packed] = item
        self.segments = self.segments.view(n_rows, length)  # (R, L) the sequence at each position, -1 for none

    def pack(self, x: Tensor) -> Tensor:
        """(B, T, ...) -> (R, L, ...), zero where no sequence sits."""
        flat = torch.cat([x.reshape(self.batch * self.padded_length, *x.shape[2:]), x.new_zeros(1, *x.shape[2:])])
        return flat[self.pack_index].view(self.n_rows, self.length, *x.shape[2:])

    def unpack(self, packed: Tensor) -> Tensor:
        """(R, L, ...) -> (B, T, ...), zero at the padding."""
        rest = packed.shape[2:]
        flat = torch.cat([packed.reshape(self.n_rows * self.length, *rest), packed.new_zeros(1, *rest)])
        return flat[self.unpack_index].view(self.batch, self.padded_length, *rest)

    @property
    def padding_fraction(self) -> float:
        """Share of the packed positions that hold no sequence."""
        return float((self.segments < 0).float().mean())


def plan(pad_masks: Sequence[Tensor], row_length: int | bool) -> list[Packing]:
    """One ``Packing`` per side for sequences packed together (a target and its memory share a row).

    Args:
        pad_masks: (B, T_side) right-padding masks, one per side.
        row_length: ``True``: rows as long as each side's longest sequence; an int: at least this
            many positions a row on every side.
    """
    lengths = [right_padded_lengths(mask) for mask in pad_masks]
    sizes = [n.tolist() for n in lengths]
    floor = 0 if row_length is True else int(row_length)
    capacities = [max(floor, max(side, default=1), 1) for side in sizes]
    rows, starts, n_rows = first_fit(sizes, capacities)
    return [Packing(n, rows, side_starts, n_rows, capacity, mask.size(1))
            for n, side_starts, capacity, mask in zip(lengths, starts, capacities, pad_masks)]


def segment_mask(query_segments: Tensor, key_segments: Tensor, causal: bool = False) -> Tensor:
    """(R, Tq) and (R, Tk) sequence indices (-1: none) -> (R, 1, Tq, Tk) bool, True = may attend.

    A query attends to the keys of its own sequence (and, with ``causal``, only to those at or
    before it in the row). A query with no key to attend to (a position holding no sequence)
    attends to all of them instead, so softmax stays finite; its output is never read.
    """
    allowed = (query_segments[:, :, None] == key_segments[:, None, :]) & (key_segments[:, None, :] >= 0)
    if causal:
        allowed = allowed & torch.ones(allowed.shape[1:], dtype=torch.bool, device=allowed.device).tril()
    allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
    return allowed[:, None]
