"""Random inputs: text through the text tokenizers, random bytes as audio and image files,
random shapes and masks through the core. Nothing crashes with an undocumented error."""

from __future__ import annotations

import io
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from tformer.core import Encoder, EncoderDecoder, MultiHeadAttention
from tformer.tokenizers import AudioFbankTokenizer, ImageLineTokenizer, ImagePatchTokenizer, TextBpeTokenizer, TextCharTokenizer

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CORPUS = ["ich sehe das haus", "the house is red", "ein hund und eine katze", "a dog and a cat"]
ALPHABET = set("".join(CORPUS))


@pytest.fixture(scope="module")
def text_tokenizers():
    char = TextCharTokenizer(d_model=8)
    bpe = TextBpeTokenizer(d_model=8, vocab_size=60, min_frequency=1)
    for tokenizer in (char, bpe):
        tokenizer.fit(CORPUS)
    return {"text_char": char, "text_bpe": bpe}


# -- text ---------------------------------------------------------------------------------------
@FUZZ
@given(text=st.text(max_size=40))
def test_text_char_maps_unknown_characters_to_unk(text_tokenizers, text):
    tokenizer = text_tokenizers["text_char"]
    ids = tokenizer.prepare(text)
    normalized = unicodedata.normalize("NFC", text)
    assert ids.dtype == torch.long and ids.numel() == len(normalized)
    expected = [tokenizer.unk_id if c not in ALPHABET else tokenizer.index[c] for c in normalized]
    assert ids.tolist() == expected
    assert tokenizer.decode(ids) == "".join(c for c in normalized if c in ALPHABET)


@FUZZ
@given(text=st.text(max_size=40))
@example(text="<eos> <pad>")  # typed special-token names are text, never control ids
def test_text_bpe_prepares_any_text_within_its_vocabulary(text_tokenizers, text):
    tokenizer = text_tokenizers["text_bpe"]
    ids = tokenizer.prepare(text)
    assert ids.dtype == torch.long and ids.dim() == 1
    assert all(0 <= i < tokenizer.vocab_size for i in ids.tolist())
    unseen = {c for c in unicodedata.normalize("NFC", text) if c not in ALPHABET and not c.isspace()}
    if unseen:
        assert tokenizer.unk_id in ids.tolist()
    assert not {tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id} & set(ids.tolist())
    assert isinstance(tokenizer.decode(ids), str)


@FUZZ
@given(ids=st.lists(st.integers(min_value=-5, max_value=200), max_size=30), name=st.sampled_from(["text_char", "text_bpe"]))
def test_text_decode_takes_any_ids(text_tokenizers, ids, name):
    assert isinstance(text_tokenizers[name].decode(ids), str)
    assert isinstance(text_tokenizers[name].decode(torch.tensor(ids, dtype=torch.long)), str)


# -- files of random bytes ------------------------------------------------------------------------
def _wav_bytes(samples: np.ndarray, rate: int, subtype: str) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype=subtype)
    return buffer.getvalue()


def _png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


# Plain random bytes rarely pass a header check; valid headers followed by damage reach the decoders.
_VALID_WAV = _wav_bytes(np.sin(np.arange(1200) / 5).astype(np.float32), 16000, "FLOAT")
_VALID_PNG = _png_bytes(np.arange(24 * 20 * 3, dtype=np.uint8).reshape(24, 20, 3))
_HEADERS = [b"", b"RIFF", _VALID_WAV[:44], b"\x89PNG\r\n\x1a\n", _VALID_PNG[:33], b"GIF89a", b"BM", b"\xff\xd8\xff", b"II*\x00"]


def _damaged(valid: bytes):
    # a valid file, cut short or with a run of its bytes overwritten
    cut = st.integers(0, len(valid)).map(lambda n: valid[:n])
    patched = st.tuples(st.integers(0, len(valid) - 1), st.binary(min_size=1, max_size=16)).map(
        lambda p: valid[: p[0]] + p[1] + valid[p[0] + len(p[1]) :]
    )
    return st.one_of(cut, patched)


def _file_bytes(valid: bytes):
    noise = st.tuples(st.sampled_from(_HEADERS), st.binary(max_size=256)).map(lambda p: p[0] + p[1])
    return st.one_of(noise, _damaged(valid))


def _prepare_file(tokenizer, data: bytes, suffix: str):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzzed{suffix}"
        path.write_bytes(data)
        try:
            return tokenizer.prepare(path)
        except ValueError as error:
            assert str(path) in str(error)
            return None


@FUZZ
@given(data=_file_bytes(_VALID_WAV), suffix=st.sampled_from([".wav", ".flac", ".bin"]))
def test_audio_prepare_of_random_bytes_is_features_or_a_value_error_naming_the_file(data, suffix):
    tokenizer = AudioFbankTokenizer(d_model=8, n_mels=16)
    features = _prepare_file(tokenizer, data, suffix)
    if features is not None:
        assert features.dim() == 2 and features.size(1) == 16
        assert torch.isfinite(features).all()


@pytest.mark.filterwarnings("ignore::UserWarning:PIL")  # PIL warns about damaged metadata it skips
@FUZZ
@given(data=_file_bytes(_VALID_PNG), suffix=st.sampled_from([".png", ".jpg", ".bmp"]), channels=st.sampled_from([1, 3]))
def test_image_prepare_of_random_bytes_is_pixels_or_a_value_error_naming_the_file(data, suffix, channels):
    tokenizer = ImagePatchTokenizer(d_model=8, image_size=8, patch_size=4, channels=channels)
    pixels = _prepare_file(tokenizer, data, suffix)
    if pixels is not None:
        assert pixels.shape == (channels, 8, 8)
        assert torch.isfinite(pixels).all()


# -- core shapes and masks ----------------------------------------------------------------------
@st.composite
def _sequences(draw):
    """(x, pad_mask, mask_ok): random batch, length and width, and a mask that may be malformed."""
    torch.manual_seed(draw(st.integers(0, 2**16)))  # the tensors below, and in the test, repeat with the example
    batch, length = draw(st.integers(0, 3)), draw(st.integers(0, 6))  # empty batches and sequences too
    width = draw(st.sampled_from([8, 8, 8, 6]))
    x = torch.randn(batch, length, width)
    kind = draw(st.sampled_from(["none", "lengths", "random", "all_padding", "wrong_shape", "wrong_dtype"]))
    if kind == "none":
        mask = None
    elif kind == "lengths":
        lengths = draw(st.lists(st.integers(min(1, length), length), min_size=batch, max_size=batch))
        lengths = torch.tensor(lengths, dtype=torch.long)
        mask = torch.arange(length)[None, :] >= lengths[:, None]
    elif kind == "random":
        flags = draw(st.lists(st.booleans(), min_size=batch * length, max_size=batch * length))
        mask = torch.tensor(flags, dtype=torch.bool).reshape(batch, length)
    elif kind == "all_padding":
        mask = torch.ones(batch, length, dtype=torch.bool)
    elif kind == "wrong_shape":
        mask = torch.zeros(batch, length + 1, dtype=torch.bool)
    else:
        mask = torch.zeros(batch, length, dtype=torch.long)
    return x, mask, kind not in ("wrong_shape", "wrong_dtype")


def _check_padding_invariance(run, x, mask):
    # Real positions must not depend on what the padding holds.
    out = run(x)
    if mask is not None and mask.any():
        noisy = x.masked_fill(mask.unsqueeze(-1), 0.0) + mask.unsqueeze(-1) * torch.randn_like(x) * 100
        keep = ~mask
        # a row that is all padding attends over its padding: only rows with real keys are checked
        rows = keep.any(1)
        assert torch.allclose(run(noisy)[rows][keep[rows]], out[rows][keep[rows]], atol=1e-4)
    return out


@FUZZ
@given(sequence=_sequences(), norm_first=st.booleans())
def test_encoder_gives_a_correct_output_or_a_value_error(sequence, norm_first):
    x, mask, mask_ok = sequence
    valid = mask_ok and x.size(-1) == 8
    encoder = Encoder(d_model=8, n_heads=2, n_layers=2, d_ff=16, dropout=0.0, norm_first=norm_first).eval()
    if not valid:
        with pytest.raises(ValueError, match="must be"):
            encoder(x, mask)
        return
    with torch.no_grad():
        out = _check_padding_invariance(lambda inp: encoder(inp, mask), x, mask)
    assert out.shape == x.shape and torch.isfinite(out).all()


@FUZZ
@given(source=_sequences(), target_length=st.integers(1, 5))
def test_encoder_decoder_gives_a_correct_output_or_a_value_error(source, target_length):
    x, mask, mask_ok = source
    valid = mask_ok and x.size(-1) == 8
    model = EncoderDecoder(d_model=8, n_heads=2, n_encoder_layers=1, n_decoder_layers=1, d_ff=16, dropout=0.0).eval()
    target = torch.randn(x.size(0), target_length, 8)
    if not valid:
        with pytest.raises(ValueError, match="must be"):
            model(x, target, mask)
        return
    with torch.no_grad():
        out = model(x, target, mask)
        if mask is not None and mask.any() and (~mask).any(1).all():
            noisy = x + mask.unsqueeze(-1) * torch.randn_like(x) * 100
            assert torch.allclose(model(noisy, target, mask), out, atol=1e-4)
    assert out.shape == target.shape and torch.isfinite(out).all()


@FUZZ
@given(
    d_model=st.sampled_from([4, 6, 8]), n_heads=st.sampled_from([1, 2, 3, 4]), cross=st.booleans(),
    sequence=_sequences(), causal=st.booleans(), training=st.booleans(),
)
def test_attention_gives_a_correct_output_or_a_value_error(d_model, n_heads, cross, sequence, causal, training):
    x, mask, mask_ok = sequence
    if d_model % n_heads:
        with pytest.raises(ValueError, match="divisible"):
            MultiHeadAttention(d_model, n_heads, cross=cross)
        return
    attention = MultiHeadAttention(d_model, n_heads, dropout=0.1, cross=cross).train(training)
    query = torch.randn(x.size(0), 3, d_model) if cross else x
    if not mask_ok or x.size(-1) != d_model:
        with pytest.raises(ValueError, match="must be"):
            attention(query, x if cross else None, key_pad_mask=mask, causal=causal and not cross)
        return
    causal = causal and not cross
    out, weights = attention(query, x if cross else None, key_pad_mask=mask, causal=causal, need_weights=True)
    assert out.shape == query.shape and torch.isfinite(out).all() and torch.isfinite(weights).all()
    # keys a query may not see get no weight, unless it may see none at all (then it attends over them)
    allowed = torch.ones_like(weights, dtype=torch.bool)
    if mask is not None:
        allowed &= ~mask[:, None, None, :]
    if causal:
        allowed &= torch.ones(x.size(1), x.size(1), dtype=torch.bool).tril()
    assert (weights.masked_fill(allowed | ~allowed.any(-1, keepdim=True), 0) == 0).all()


def test_an_image_whose_header_claims_too_many_pixels_is_a_value_error_naming_it(tmp_path):
    # Found by the fuzz test above: a GIF header of 179 M pixels trips PIL's decompression-bomb guard.
    path = tmp_path / "bomb.png"
    path.write_bytes(b"GIF89a\x00\x00\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x00\x0c\x00\xe4")
    for tokenizer in (ImagePatchTokenizer(d_model=8, image_size=8, patch_size=4), ImageLineTokenizer(d_model=8)):
        with pytest.raises(ValueError, match="bomb.png: not a readable image"):
            tokenizer.prepare(path)
