"""Every built-in tokenizer with a forward passes the same shape / padding / NaN / checkpoint tests."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import tformer.tokenizers  # noqa: F401  (registers the built-ins)
from tformer.core.transformer import Encoder
from tformer.registry import TOKENIZERS

D = 16


def _images(corpus, sine) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(3)]


CASES = {
    "text_bpe": (dict(d_model=D, vocab_size=150, min_frequency=1), True, lambda corpus, sine: corpus[:3]),
    "text_char": (dict(d_model=D), True, lambda corpus, sine: corpus[3:6]),
    "image_patch": (dict(d_model=D), False, _images),
    "audio_fbank": (
        dict(d_model=D, n_mels=40, conv_channels=8),
        False,
        lambda corpus, sine: [torch.from_numpy(sine(s, 16000)) for s in (0.5, 0.23, 0.31)],
    ),
}


def _build(name: str, corpus: list[str] | None = None):
    kwargs, needs_fit, _ = CASES[name]
    tokenizer = TOKENIZERS.build(name, **kwargs)
    if needs_fit and corpus is not None:
        tokenizer.fit(corpus)
    return tokenizer


def _batch(tokenizer, raws):
    return tokenizer.collate([tokenizer.prepare(raw) for raw in raws])


@pytest.fixture(params=list(CASES))
def case(request, corpus, sine_wave):
    name = request.param
    tokenizer = _build(name, corpus).eval()
    return name, tokenizer, CASES[name][2](corpus, sine_wave)


def test_every_built_in_front_end_is_covered():
    built_in = {n for n in TOKENIZERS.names() if TOKENIZERS.get(n).__module__.startswith("tformer.tokenizers.")}
    assert built_in - {"label"} == set(CASES)


def test_registered_and_fitted(case):
    name, tokenizer, _ = case
    assert name in TOKENIZERS.names()
    assert not tokenizer.needs_fit
    assert TOKENIZERS.build(name, **CASES[name][0]).needs_fit == CASES[name][1]


def test_shapes_and_pad_mask(case):
    _, tokenizer, raws = case
    batch = _batch(tokenizer, raws)
    x, pad_mask = tokenizer(batch.values, batch.lengths)
    assert x.dim() == 3 and x.shape[0] == len(raws) and x.shape[2] == D
    assert pad_mask.shape == x.shape[:2] and pad_mask.dtype == torch.bool
    for i, raw in enumerate(raws):
        alone = tokenizer(*_batch(tokenizer, [raw]))[0]
        valid = alone.shape[1]
        assert not pad_mask[i, :valid].any() and pad_mask[i, valid:].all()
        assert tokenizer.size(tokenizer.prepare(raw)) > 0


def test_padding_does_not_change_outputs(case):
    _, tokenizer, raws = case
    encoder = Encoder(D, 2, 1, 32, dropout=0.0).eval()
    batch = _batch(tokenizer, raws)
    with torch.no_grad():
        x, pad_mask = tokenizer(batch.values, batch.lengths)
        h = encoder(x, pad_mask)
        for i, raw in enumerate(raws):
            x_alone, mask_alone = tokenizer(*_batch(tokenizer, [raw]))
            h_alone = encoder(x_alone, mask_alone)
            n = x_alone.shape[1]
            torch.testing.assert_close(x[i, :n], x_alone[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(h[i, :n], h_alone[0], atol=1e-5, rtol=1e-5)


def test_no_nan_and_gradients_in_training(case):
    _, tokenizer, raws = case
    tokenizer.train()
    batch = _batch(tokenizer, raws)
    x, pad_mask = tokenizer(batch.values, batch.lengths)
    assert torch.isfinite(x).all()
    x.masked_fill(pad_mask[..., None], 0).sum().backward()
    grads = [p.grad for p in tokenizer.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_checkpoint_round_trip_into_fresh_instance(case):
    name, tokenizer, raws = case
    buffer = io.BytesIO()
    torch.save(tokenizer.state_dict(), buffer)
    buffer.seek(0)
    fresh = _build(name)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    fresh.eval()
    assert not fresh.needs_fit
    for raw in raws:
        torch.testing.assert_close(fresh.prepare(raw), tokenizer.prepare(raw), atol=0, rtol=0)
    batch = _batch(tokenizer, raws)
    with torch.no_grad():
        torch.testing.assert_close(fresh(*batch), tokenizer(*batch), atol=0, rtol=0)
    if hasattr(tokenizer, "decode"):
        assert [fresh.decode(tokenizer.prepare(r)) for r in raws] == [tokenizer.decode(tokenizer.prepare(r)) for r in raws]
