"""Every built-in tokenizer with a forward passes the same shape / padding / NaN / checkpoint tests; every
registered tokenizer answers what prediction, export and pictures ask of it."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import tformer.tokenizers  # noqa: F401  (registers the built-ins)
from tformer.core.transformer import Encoder
from tformer.kinds import AUDIO, IMAGE, TEXT
from tformer.registry import TOKENIZERS
from tformer.tokenizers import TextOutput, Tokenizer, lengths_to_pad_mask

D = 16


def _images(corpus, sine) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (28, 28), dtype=np.uint8) for _ in range(3)]


def _lines(corpus, sine) -> list[np.ndarray]:
    # grey lines of different sizes and aspect ratios; prepare scales each to 32 pixels high
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((32, 64), (20, 90), (48, 40))]


CASES = {
    "text_bpe": (dict(d_model=D, vocab_size=150, min_frequency=1), True, lambda corpus, sine: corpus[:3]),
    "text_char": (dict(d_model=D), True, lambda corpus, sine: corpus[3:6]),
    "image_patch": (dict(d_model=D), False, _images),
    "image_line": (dict(d_model=D), False, _lines),
    "audio_fbank": (
        dict(d_model=D, n_mels=40, conv_channels=8),
        False,
        lambda corpus, sine: [torch.from_numpy(sine(s, 16000)) for s in (0.5, 0.23, 0.31)],
    ),
    "mel": (
        dict(d_model=D, prenet_dim=8, prenet_dropout_at_inference=False),
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
    assert built_in - {"label", "tags", "boxes"} == set(CASES)  # target-side only: no front-end


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


# -- what prediction, export and pictures ask every registered tokenizer (label included) ------------
ASKED = {**CASES, "label": (dict(classes=["cat", "dog", "10"]), False, lambda corpus, sine: ["dog", "10", "cat"]),
         "tags": (dict(tags=["O", "COMMA", "PERIOD"]), False, lambda corpus, sine: ["O COMMA", "PERIOD", "O O PERIOD"]),
         "boxes": (dict(classes=["cat", "dog"]), False, lambda corpus, sine: [
             {"boxes": [[1, 2, 5, 9]], "labels": ["dog"], "width": 10, "height": 10},
             {"boxes": [], "labels": [], "width": 20, "height": 10},
             {"boxes": [[0, 0, 4, 4], [2, 3, 20, 10]], "labels": ["cat", "dog"], "width": 20, "height": 10}])}


@pytest.fixture(params=list(ASKED))
def asked(request, corpus, sine_wave):
    kwargs, needs_fit, raws = ASKED[request.param]
    tokenizer = TOKENIZERS.build(request.param, **kwargs)
    if needs_fit:
        tokenizer.fit(corpus)
    return request.param, tokenizer.eval(), raws(corpus, sine_wave)


def test_every_registered_tokenizer_is_asked():
    built_in = {n for n in TOKENIZERS.names() if TOKENIZERS.get(n).__module__.startswith("tformer.tokenizers.")}
    assert built_in == set(ASKED)


def test_batch_item_gives_back_each_prepared_item(asked):
    _, tokenizer, raws = asked
    prepared = [tokenizer.prepare(raw) for raw in raws]
    batch = tokenizer.collate(prepared)
    for i, item in enumerate(prepared):
        torch.testing.assert_close(tokenizer.batch_item(batch.values, batch.lengths, i), item, atol=0, rtol=0)


def test_file_suffixes_follow_what_it_reads(asked):
    _, tokenizer, _ = asked
    suffixes = tokenizer.file_suffixes
    assert bool(suffixes) == bool({IMAGE, AUDIO} & set(tokenizer.reads))
    assert all(s.startswith(".") and s == s.lower() for s in suffixes)


def test_example_inputs_are_a_batch_of_made_up_items(asked):
    name, tokenizer, raws = asked
    values, lengths = tokenizer.example_inputs(3)
    assert values.size(0) == 3 and lengths.shape == (3,) and lengths.dtype == torch.long
    if tokenizer.varies_in_length:  # the length axis is dynamic in exported graphs: the example must vary it
        assert len(set(lengths.tolist())) == 3 and values.size(1) == int(lengths.max())
    else:
        assert values.shape[1:] == tokenizer.collate([tokenizer.prepare(raws[0])]).values.shape[1:]
    if name in CASES:  # it has a forward
        x, pad_mask = tokenizer(values, lengths)
        assert x.shape[0] == 3 and torch.isfinite(x).all() and pad_mask.shape == x.shape[:2]


def test_position_labels_name_every_position(case):
    _, tokenizer, raws = case
    assert isinstance(tokenizer.position_unit, str) and tokenizer.position_unit
    for raw in raws:
        prepared = tokenizer.prepare(raw)
        with torch.no_grad():
            x, _ = tokenizer(*tokenizer.collate([prepared]))
        labels = tokenizer.position_labels(prepared, x.size(1))
        assert len(labels) == x.size(1) and all(isinstance(label, str) and label for label in labels)
        layout = tokenizer.image_layout(prepared)
        if layout is not None:
            assert layout.n_prefix + layout.grid[0] * layout.grid[1] == x.size(1)
            torch.testing.assert_close(layout.image, prepared)
        assert (layout is not None) == (IMAGE in tokenizer.reads)


def test_text_outputs_label_their_tokens(case):
    _, tokenizer, raws = case
    if not isinstance(tokenizer, TextOutput):
        pytest.skip("not an output-side tokenizer")
    ids = tokenizer.prepare(raws[0]).tolist()
    labels = tokenizer.token_labels([tokenizer.bos_id] + ids + [tokenizer.eos_id])
    assert labels[0] == "<bos>" and labels[-1] == "<eos>" and len(labels) == len(ids) + 2
    assert all(" " not in label for label in labels)  # a space is drawn as "␣" (characters) or "▁" (subwords)
    assert tokenizer.position_labels(tokenizer.prepare(raws[0]), len(ids)) == labels[1:-1]


class _Letters(Tokenizer):
    """A text plug-in with only what the README requires: prepare and forward."""

    reads = (TEXT,)

    def __init__(self, d_model: int = D):
        super().__init__()
        self.d_model, self.embedding = d_model, torch.nn.Embedding(27, d_model)

    def prepare(self, raw: str) -> torch.Tensor:
        return torch.tensor([1 + (ord(c) - ord("a")) % 26 for c in raw.lower() if c.isalpha()], dtype=torch.long)

    def forward(self, values, lengths):
        return self.embedding(values), lengths_to_pad_mask(lengths, values.size(1))


def test_a_text_plugin_needs_nothing_new():
    tokenizer = _Letters()
    assert tokenizer.file_suffixes == () and tokenizer.varies_in_length
    values, lengths = tokenizer.example_inputs(2)
    assert lengths[0] > lengths[1] > 0 and values.shape == (2, int(lengths[0]))
    prepared = tokenizer.batch_item(values, lengths, 1)
    assert prepared.tolist() == values[1, : int(lengths[1])].tolist()
    assert tokenizer.position_labels(prepared, len(prepared)) == [str(i) for i in range(len(prepared))]
    assert tokenizer.image_layout(prepared) is None and tokenizer.position_unit == "position"


def test_a_plugin_that_reads_no_text_is_asked_for_its_example_inputs():
    class Pictures(_Letters):
        reads = (IMAGE,)

    assert ".png" in Pictures().file_suffixes
    with pytest.raises(ValueError, match=r"Pictures reads images: .*give it an example_inputs\(batch\) method"):
        Pictures().example_inputs()
