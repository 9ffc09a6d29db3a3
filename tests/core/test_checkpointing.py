"""Activation checkpointing of the core's layers: the same gradients, fewer bytes saved for backward,
and only in teacher-forced training (never in evaluation or the cached decoding)."""

import pytest
import torch

import tformer.core.transformer as transformer
from tformer.core import Decoder, Encoder, EncoderDecoder
from tformer.saved_tensors import SavedBytes

B, S, T, D = 3, 12, 9, 32


def _pad_mask(lengths, total):
    return torch.arange(total)[None, :] >= torch.tensor(lengths)[:, None]


def _build(kind: str, checkpointed: bool, n_layers: int = 2, d: int = D, norm_first: bool = False):
    torch.manual_seed(0)
    common = dict(dropout=0.1, norm_first=norm_first, checkpoint_activations=checkpointed)
    if kind == "encoder":
        return Encoder(d, 4, n_layers, 2 * d, **common).train()
    if kind == "decoder_only":
        return Decoder(d, 4, n_layers, 2 * d, cross_attention=False, **common).train()
    return EncoderDecoder(d, 4, n_layers, n_layers, 2 * d, **common).train()


def _loss(kind: str, model, x, y):
    s = x.size(1)
    src_mask = _pad_mask([s, s // 2, s // 3, s - 1][: x.size(0)], s)
    torch.manual_seed(1)  # the same dropout masks for both models
    if kind == "encoder":
        out = model(x, src_mask)
    elif kind == "decoder_only":
        out = model(y)
    else:
        out = model(x, y, src_mask)
    return (out * torch.linspace(-1, 1, out.size(-1))).sum()


def _inputs(d: int = D, batch: int = B, s: int = S, t: int = T):
    g = torch.Generator().manual_seed(2)
    return (torch.randn(batch, s, d, generator=g, requires_grad=True),
            torch.randn(batch, t, d, generator=g, requires_grad=True))


@pytest.mark.parametrize("norm_first", [False, True], ids=["post_norm", "pre_norm"])
@pytest.mark.parametrize("kind", ["encoder", "decoder_only", "encoder_decoder"])
def test_checkpointed_layers_give_the_same_loss_and_gradients(kind, norm_first):
    results = []
    for checkpointed in (False, True):
        model, (x, y) = _build(kind, checkpointed, norm_first=norm_first), _inputs()
        loss = _loss(kind, model, x, y)
        loss.backward()
        grads = [x.grad, y.grad] + [p.grad for p in model.parameters()]
        results.append((loss.detach(), [g if g is not None else torch.zeros(()) for g in grads]))
    (loss, grads), (loss_ck, grads_ck) = results
    # the layers run again in backward with the same random state (dropout masks): equal up to rounding
    torch.testing.assert_close(loss_ck, loss, rtol=1e-6, atol=1e-6)
    for ours, reference in zip(grads_ck, grads):
        torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["encoder", "decoder_only", "encoder_decoder"])
def test_checkpointing_saves_fewer_bytes_for_backward(kind):
    saved = {}
    for checkpointed in (False, True):
        model, (x, y) = _build(kind, checkpointed, n_layers=4, d=64), _inputs(d=64, batch=4, s=48, t=48)
        with SavedBytes(model.parameters()) as counter:
            _loss(kind, model, x, y)
        saved[checkpointed] = counter.bytes
    # only each layer's inputs stay (and the encoder memory the decoder layers read)
    assert saved[True] < saved[False] / 10, saved  # 25-30x fewer at this size


def _count_checkpoints(monkeypatch) -> list:
    calls = []
    real = transformer.checkpoint

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(transformer, "checkpoint", counting)
    return calls


def test_only_training_with_gradients_checkpoints(monkeypatch):
    calls = _count_checkpoints(monkeypatch)
    model, (x, y) = _build("encoder_decoder", True), _inputs()
    _loss("encoder_decoder", model, x, y)
    assert len(calls) == 4  # 2 encoder + 2 decoder layers
    calls.clear()
    with torch.no_grad():
        _loss("encoder_decoder", model, x, y)
    _loss("encoder_decoder", model.eval(), x, y)
    assert not calls


def test_cached_decoding_never_checkpoints(monkeypatch):
    calls = _count_checkpoints(monkeypatch)
    model, (x, y) = _build("encoder_decoder", True), _inputs()  # training mode, gradients on
    with torch.no_grad():
        memory = model.encode(x)
    cache = model.decoder.init_cache(memory)
    steps = torch.cat([model.decoder.step(y[:, t : t + 1], cache) for t in range(T)], 1)
    assert steps.shape == (B, T, D) and steps.requires_grad and not calls


def test_the_option_is_recorded_for_checkpoints():
    model = EncoderDecoder(D, 4, 1, 1, 2 * D, checkpoint_activations=True)
    assert model.init_kwargs["checkpoint_activations"] is True
    assert model.encoder.checkpoint_activations and model.decoder.checkpoint_activations
    assert not Encoder(D, 4, 1, 2 * D).checkpoint_activations
