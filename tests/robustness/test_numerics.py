"""Numerical safety: fully padded attention rows give no NaN; CTC under bf16 autocast runs in float32."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tformer.tasks.objectives
from tformer.tasks import CTC, CrossEntropy, Greedy, TranslationTask
from tformer.core import Encoder, EncoderDecoder, MultiHeadAttention
from tformer.tokenizers import AudioFbankTokenizer, Batch, TextCharTokenizer


@pytest.mark.parametrize("need_weights, training", [(False, False), (True, False), (False, True)])
def test_attention_with_every_key_padded_gives_no_nan(need_weights, training):
    attention = MultiHeadAttention(16, 4, dropout=0.1).train(training)
    x = torch.randn(3, 5, 16)
    mask = torch.zeros(3, 5, dtype=torch.bool)
    mask[1] = True  # one row is all padding
    out, weights = attention(x, key_pad_mask=mask, need_weights=need_weights)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in attention.parameters())


def test_cross_attention_over_a_fully_padded_memory_gives_no_nan():
    model = EncoderDecoder(16, 4, 1, 1, 32, dropout=0.0)
    source, target = torch.randn(2, 4, 16), torch.randn(2, 3, 16)
    mask = torch.tensor([[False, False, True, True], [True, True, True, True]])
    out = model(source, target, mask)
    assert torch.isfinite(out).all()
    cache = model.decoder.init_cache(model.encode(source, mask), mask)
    assert torch.isfinite(model.decoder.step(target[:, :1], cache)).all()


def test_an_encoder_over_an_all_padding_batch_gives_no_nan():
    encoder = Encoder(16, 4, 2, 32, dropout=0.0, norm_first=True)
    assert torch.isfinite(encoder(torch.randn(2, 3, 16), torch.ones(2, 3, dtype=torch.bool))).all()


def _asr_batch():
    torch.manual_seed(0)
    source = AudioFbankTokenizer(d_model=16, n_mels=20, dropout=0.0, spec_augment=False, conv_channels=4)
    target = TextCharTokenizer(d_model=16, alphabet="abc ", dropout=0.0)
    objectives = {"cross_entropy": CrossEntropy(weight=0.5), "ctc": CTC(weight=0.5)}
    task = TranslationTask({"source": source, "target": target}, EncoderDecoder(16, 2, 1, 1, 32, dropout=0.0),
                           objectives, Greedy(), metrics=["wer"]).eval()
    waves = [torch.sin(torch.arange(n) / (3.0 + i)) for i, n in enumerate((8000, 5600))]
    sources = source.collate([source.prepare(w) for w in waves])
    targets = target.collate([target.prepare(t) for t in ("abc ab", "cab")])
    return task, sources, targets


def test_ctc_under_bf16_autocast_is_computed_in_float32(monkeypatch):
    task, sources, targets = _asr_batch()
    seen, ctc_loss = [], F.ctc_loss

    def recording_ctc_loss(log_probs, *args, **kwargs):
        seen.append(log_probs.dtype)
        return ctc_loss(log_probs, *args, **kwargs)

    monkeypatch.setattr(tformer.tasks.objectives.F, "ctc_loss", recording_ctc_loss)
    ctc, batch = task.objectives["ctc"], {"source": sources, "target": targets}
    with torch.no_grad():
        memory, mask = task.encode(sources)
        full = ctc({"memory": memory, "memory_pad_mask": mask}, batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            memory16, mask16 = task.encode(sources)
            assert memory16.dtype == torch.bfloat16  # the model itself did run in bf16
            half = ctc({"memory": memory16, "memory_pad_mask": mask16}, batch)
            loss, _, _ = task.loss(batch)
    assert seen == [torch.float32] * 3
    assert half.dtype == torch.float32 and torch.isfinite(half) and torch.isfinite(loss)
    torch.testing.assert_close(half, full, rtol=0.03, atol=0.03)
