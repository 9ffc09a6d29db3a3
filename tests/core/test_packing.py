"""Packed rows: the stacks give each sequence what they give it unpacked (same outputs and
gradients), in fewer rows, with nothing crossing from one sequence to another."""

import pytest
import torch

from tformer.core import Decoder, Encoder, EncoderDecoder
from tformer.core.packing import first_fit, plan, segment_mask

D = 32


def _pad_mask(lengths, total=None):
    total = max(lengths) if total is None else total
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


def test_first_fit_decreasing_fills_rows_in_a_known_way():
    rows, (starts,), n_rows = first_fit([[5, 1, 4, 2, 3]], [6])
    assert n_rows == 3  # 5+1, 4+2, 3: the fewest rows of 6 that hold 15 positions
    assert rows == [0, 0, 1, 1, 2] and starts == [0, 5, 0, 4, 0]


def test_first_fit_keeps_every_side_within_its_rows():
    targets, sources = [3, 3, 2, 1], [1, 6, 5, 1]
    rows, starts, n_rows = first_fit([targets, sources], [4, 6])
    for row in range(n_rows):
        members = [i for i in range(4) if rows[i] == row]
        assert sum(targets[i] for i in members) <= 4 and sum(sources[i] for i in members) <= 6
    assert rows[1] != rows[2]  # 6 + 5 source positions cannot share a row of 6


def test_an_item_longer_than_the_rows_is_named():
    with pytest.raises(ValueError, match="an item of 7 positions does not fit rows of 6"):
        first_fit([[7, 1]], [6])


def test_pack_then_unpack_gives_back_the_content_and_zero_padding():
    lengths = [5, 2, 3, 1]
    mask = _pad_mask(lengths, 6)
    x = torch.randn(4, 6, 3)
    (packing,) = plan([mask], True)
    assert packing.n_rows == 3 and packing.length == 5  # 5 | 3+2 | 1 ... first fit: 5, 3+2, 1
    packed = packing.pack(x)
    assert packed.shape == (3, 5, 3)
    assert torch.equal(packing.unpack(packed), x.masked_fill(mask[..., None], 0.0))
    # each sequence's positions are contiguous in its row and marked with its index
    assert sorted(packing.segments.flatten().tolist()) == [-1] * 4 + [0] * 5 + [1] * 2 + [2] * 3 + [3]
    assert packing.padding_fraction == pytest.approx(4 / 15)


def test_an_int_gives_rows_of_that_many_positions():
    (packing,) = plan([_pad_mask([5, 2, 3, 1])], 8)
    assert (packing.n_rows, packing.length) == (2, 8)  # 5+3 | 2+1


@pytest.mark.parametrize("packing", ["auto", 0, -4, 2.5])
def test_a_wrong_packing_choice_is_named(packing):
    with pytest.raises(ValueError, match="model.packing=.*: choose false, true .* or a positive row length"):
        Encoder(D, 4, 1, 2 * D, packing=packing)


def test_left_padding_is_refused_by_name():
    left = torch.tensor([[True, False, False], [False, False, False]])
    with pytest.raises(ValueError, match="right-padded"):
        plan([left], True)


def test_the_segment_mask_is_block_diagonal_and_causal_within_blocks():
    segments = torch.tensor([[0, 0, 1, 1, 1, -1]])
    mask = segment_mask(segments, segments, causal=True)[0, 0]
    expected = torch.tensor([[1, 0, 0, 0, 0, 0],
                             [1, 1, 0, 0, 0, 0],
                             [0, 0, 1, 0, 0, 0],
                             [0, 0, 1, 1, 0, 0],
                             [0, 0, 1, 1, 1, 0],
                             [1, 1, 1, 1, 1, 1]], dtype=torch.bool)  # the empty position sees all: finite, unread
    assert torch.equal(mask, expected)


def _build(kind, packing, norm_first=False):
    torch.manual_seed(0)
    common = dict(dropout=0.0, norm_first=norm_first, packing=packing)
    if kind == "encoder":
        return Encoder(D, 4, 2, 2 * D, **common)
    if kind == "decoder_only":
        return Decoder(D, 4, 2, 2 * D, cross_attention=False, **common)
    return EncoderDecoder(D, 4, 2, 2, 2 * D, **common)


SOURCE, TARGET = [9, 3, 6, 2, 4], [4, 7, 2, 5, 1]


def _run(kind, model, x, y):
    src_mask, tgt_mask = _pad_mask(SOURCE), _pad_mask(TARGET)
    if kind == "encoder":
        return model(x, src_mask), src_mask
    if kind == "decoder_only":
        return model(y, pad_mask=tgt_mask), tgt_mask
    memory = model.encoder(x, src_mask)
    return model.decoder(y, memory, src_mask, tgt_mask), tgt_mask


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("kind", ["encoder", "decoder_only", "encoder_decoder"])
@pytest.mark.parametrize("packing", [True, 12])
def test_packed_stacks_give_the_unpacked_outputs_and_gradients(kind, packing, norm_first):
    results = []
    for packed in (False, packing):
        model = _build(kind, packed, norm_first)
        g = torch.Generator().manual_seed(1)
        x = torch.randn(5, max(SOURCE), D, generator=g, requires_grad=True)
        y = torch.randn(5, max(TARGET), D, generator=g, requires_grad=True)
        out, mask = _run(kind, model, x, y)
        out = out.masked_fill(mask[..., None], 0.0)  # what unpacked stacks leave at the padding is never read
        (out * torch.linspace(-1, 1, D)).sum().backward()
        results.append((out.detach(), [x.grad, y.grad] + [p.grad for p in model.parameters()]))
    (reference, reference_grads), (ours, grads) = results
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    for got, want in zip(grads, reference_grads):
        if want is None:
            assert got is None or not got.any()
        else:
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_nothing_crosses_between_packed_sequences():
    model = _build("encoder_decoder", True).eval()
    x, y = torch.randn(5, max(SOURCE), D), torch.randn(5, max(TARGET), D)
    src_mask, tgt_mask = _pad_mask(SOURCE), _pad_mask(TARGET)
    before = model.decoder(y, model.encoder(x, src_mask), src_mask, tgt_mask)
    x2, y2 = x.clone(), y.clone()
    x2[1], y2[1] = torch.randn(max(SOURCE), D), torch.randn(max(TARGET), D)  # another source and target 1
    after = model.decoder(y2, model.encoder(x2, src_mask), src_mask, tgt_mask)
    keep = ~tgt_mask
    keep[1] = False
    torch.testing.assert_close(after[keep], before[keep])  # every other sequence is untouched


def test_rows_holding_several_sequences_are_fewer_than_the_batch():
    (packing,) = plan([_pad_mask(SOURCE)], True)
    assert packing.n_rows == 3  # 9 | 6+3 | 4+2
    unpacked_padding = 1 - sum(SOURCE) / (len(SOURCE) * max(SOURCE))
    assert packing.padding_fraction == pytest.approx(3 / 27)
    assert packing.padding_fraction < unpacked_padding == pytest.approx(21 / 45)


def test_weights_are_given_per_sequence_and_unpacked():
    model = _build("encoder", True).eval()
    x, mask = torch.randn(5, max(SOURCE), D), _pad_mask(SOURCE)
    out, weights = model(x, mask, need_weights=True)
    assert weights[0].shape == (5, 4, max(SOURCE), max(SOURCE))
    torch.testing.assert_close(out[~mask], model(x, mask)[~mask], rtol=1e-5, atol=1e-5)
