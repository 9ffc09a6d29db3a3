"""Model FLOPs per training update (6 N D) against hand counts and benchmarks/speed_mfu.py; token counts."""

from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from tformer.tasks import ClassificationTask, LanguageModelTask, TextToSpeechTask, TranslationTask
from tformer.core import Decoder, Encoder, EncoderDecoder
from tformer.flops import flop_parameters, token_counts, training_flops
from tformer.tokenizers import Batch
from tformer.tokenizers.audio import AudioFbankTokenizer
from tformer.tokenizers.image import ImagePatchTokenizer
from tformer.tokenizers.image_line import ImageLineTokenizer
from tformer.tokenizers.label import LabelTokenizer
from tformer.tokenizers.mel import MelTokenizer
from tformer.tokenizers.text import TextCharTokenizer

ROOT = Path(__file__).resolve().parents[1]
LETTERS = "abcdefghijklmnopqrstuvwxyz"  # 26 characters + 4 special tokens: a vocabulary of 30
D, F, V = 8, 16, 30


def _attention(d):  # fused qkv (or q + kv) and the output projection, with biases
    return 4 * d * d + 4 * d


def _feed_forward(d, f):
    return 2 * d * f + f + d


def _batch(values_lengths):
    return {name: Batch(torch.zeros(len(lengths), max(lengths), dtype=torch.long), torch.tensor(lengths))
            for name, lengths in values_lengths.items()}


def _text(tie_output=True, d=D):
    return TextCharTokenizer(d, alphabet=LETTERS, tie_output=tie_output)


def test_translation_counts_encoder_for_source_and_decoder_for_bos_and_target():
    task = TranslationTask({"source": _text(), "target": _text()}, EncoderDecoder(D, 2, 1, 1, F))
    batch = _batch({"source": [3, 5], "target": [2, 4]})
    encoder = _attention(D) + _feed_forward(D, F) + 2 * 2 * D  # two LayerNorms (post-norm: none after the stack)
    decoder = 2 * _attention(D) + _feed_forward(D, F) + 3 * 2 * D + V * D  # + the tied output layer
    by_hand = 6 * (encoder * (3 + 5) + decoder * ((2 + 1) + (4 + 1)))  # <bos> y on the decoder side
    assert int(task.flops(batch)) == by_hand


def test_classification_counts_every_parameter_but_the_lookups_for_the_source_tokens():
    task = ClassificationTask({"source": _text(), "target": LabelTokenizer(classes=["a", "b", "c"])}, Encoder(D, 2, 2, F))
    batch = _batch({"source": [4, 1, 6], "target": [1, 1, 1]})
    layers = 2 * (_attention(D) + _feed_forward(D, F) + 2 * 2 * D)
    head = D * 3 + 3
    assert int(task.flops(batch)) == 6 * (layers + head) * (4 + 1 + 6)


def test_language_model_counts_the_decoder_and_output_layer():
    task = LanguageModelTask({"text": _text(tie_output=False)}, Decoder(D, 2, 1, F, cross_attention=False))
    batch = _batch({"text": [5, 2]})
    decoder = _attention(D) + _feed_forward(D, F) + 2 * 2 * D + (V * D + V)  # untied output layer with a bias
    assert int(task.flops(batch)) == 6 * decoder * (6 + 3)


def test_tts_counts_decoder_steps_and_postnet_frames():
    n, h, c, k, r = 6, 5, 4, 3, 2  # mels, pre-net width, post-net channels and kernel, frames per step
    target = MelTokenizer(D, n_mels=n, prenet_dim=h, reduction=r)
    task = TextToSpeechTask({"source": _text(), "target": target}, EncoderDecoder(D, 2, 1, 1, F),
                            postnet_channels=c, postnet_kernel=k, postnet_layers=2)
    batch = {"source": Batch(torch.zeros(2, 4, dtype=torch.long), torch.tensor([3, 4])),
             "target": Batch(torch.zeros(2, 8, n), torch.tensor([5, 8]))}
    encoder = _attention(D) + _feed_forward(D, F) + 2 * 2 * D
    decoder = 2 * _attention(D) + _feed_forward(D, F) + 3 * 2 * D + (D * r * n + r * n) + (D + 1)  # frame and stop heads
    front_end = (n * h + h) + (h * h + h) + (h * D + D) + 1  # pre-net, projection, the positions' scale
    postnet = (n * c * k + c) + 2 * c + (c * n * k + n) + 2 * n  # two convolutions with batch norms
    steps, frames = 3 + 4, 5 + 8  # ceil(frames / r) decoder steps
    by_hand = 6 * (encoder * (3 + 4) + (decoder + front_end) * steps + postnet * frames)
    assert int(task.flops(batch)) == by_hand


def test_audio_front_end_counts_each_convolution_per_output_cell():
    tokenizer = AudioFbankTokenizer(D, n_mels=20, conv_channels=4)
    lengths = torch.tensor([41, 21])  # frames -> 20, 10 after the first convolution; 9, 4 after the second
    first, second = (4 * 9 + 4) * (20 + 10) * 9, (4 * 4 * 9 + 4) * (9 + 4) * 4  # features: 20 -> 9 -> 4
    linear = (4 * 4 * D + D) * (9 + 4)
    assert int(tokenizer.front_end_flops(lengths)) == 6 * (first + second + linear)
    assert tokenizer.output_lengths(lengths).tolist() == [9, 4]


def test_agrees_with_the_mfu_benchmark_on_the_same_shapes(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    from benchmarks import speed_mfu
    from benchmarks.speed_train import TranslationShape

    shape = TranslationShape(d_model=16, n_heads=2, n_layers=2, d_ff=32, vocab=V, batch=3, src_len=7, tgt_len=5)
    expected = speed_mfu.model_flops(speed_mfu.base_model(shape), shape.batch * shape.src_len, shape.batch * shape.tgt_len)
    # The benchmark's model: shared target embedding and output layer, with a bias (an untied output layer here).
    core = EncoderDecoder(16, 2, 2, 2, 32)
    task = TranslationTask({"source": _text(d=16), "target": _text(tie_output=False, d=16)}, core)
    batch = _batch({"source": [shape.src_len] * shape.batch, "target": [shape.tgt_len - 1] * shape.batch})  # + <bos>
    assert float(task.flops(batch)) == expected


def test_shared_weights_and_lookup_tables_count_once_or_not_at_all():
    linear = torch.nn.Linear(4, 3)
    embedding = torch.nn.Embedding(3, 4)
    linear.weight = embedding.weight
    assert flop_parameters(linear, embedding, linear) == 4 * 3 + 3
    frozen = torch.nn.Linear(4, 4).requires_grad_(False)
    assert flop_parameters(frozen, embedding) == 0
    assert training_flops((10, 2), (5, torch.tensor(3))).item() == 6 * (20 + 15)


def test_token_counts_count_real_tokens_and_padding_to_the_longest():
    batch = _batch({"source": [5, 2, 3], "target": [4, 4, 1], "label": [1, 1, 1]})
    real, padded = token_counts(batch, ("source", "target"))
    assert (int(real), int(padded)) == (5 + 2 + 3 + 4 + 4 + 1, 3 * 5 + 3 * 4)
    task = TranslationTask({"source": _text(), "target": _text()}, EncoderDecoder(D, 2, 1, 1, F))
    assert [int(n) for n in task.token_counts(batch)] == [int(real), int(padded)]


@pytest.mark.parametrize("fields", [("source",), ("source", "target")])
def test_token_counts_of_images_hold_no_padding(fields):
    batch = {name: Batch(torch.zeros(2, 1, 8, 8), torch.tensor([17, 17])) for name in fields}
    real, padded = token_counts(batch, fields)
    assert int(real) == int(padded) == 34 * len(fields)


def _forward_flops(module, *inputs) -> int:
    with FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops()


def test_image_patch_stem_counts_each_convolution_per_pixel():
    tokenizer = ImagePatchTokenizer(D, image_size=8, patch_size=4, stem_channels=[3, 5])
    lengths = torch.tensor([1 + 4, 1 + 4])  # [CLS] and 2 x 2 patches of 4 x 4 pixels, two images
    stem = (1 * 3 * 9 + 2 * 3) + (3 * 5 * 9 + 2 * 5)  # two bias-free convolutions with batch norms
    assert int(tokenizer.front_end_flops(lengths)) == 6 * (stem * 2 * 64 + (5 * 16 * D + D) * 2 * 4)
    # torch's count of the same products (forward: 2 per multiply-add; 6 N D is 3 times that)
    products = _forward_flops(lambda x: tokenizer.patch_embed(tokenizer.stem(x)), tokenizer.example_inputs(2).values)
    additions = (2 * 3 + 2 * 5) * 2 * 64 + D * 2 * 4  # batch norms per pixel, the embedding's bias per patch
    assert int(tokenizer.front_end_flops(lengths)) == 3 * products + 6 * additions


def test_image_line_stem_counts_each_stage_at_its_resolution():
    tokenizer = ImageLineTokenizer(D, height=8, patch_width=4, stem_channels=[3, 5, 6])
    lengths = torch.tensor([12, 8])  # pixel columns: 3 and 2 strips
    # stages read 8 x W, 4 x W/2, 2 x W/4 (a strip's 4 columns: 4 -> 2 -> 1, then no more halving)
    first, second, third = (1 * 3 * 9 + 6) * 8 * 20, (3 * 5 * 9 + 10) * 4 * 10, (5 * 6 * 9 + 12) * 2 * 5
    embed = (6 * 1 * 1 * D + D) * 5  # the strip embedding reads 1 x 1 of the map, once per strip
    assert int(tokenizer.front_end_flops(lengths)) == 6 * (first + second + third + embed)
    lines = torch.zeros(2, 1, 8, 12)  # two lines of 12 columns: no padding for torch to count
    products = _forward_flops(lambda x: tokenizer.patch_embed(tokenizer.stem(x)), lines)
    additions = 2 * 3 * 8 * 24 + 2 * 5 * 4 * 12 + 2 * 6 * 2 * 6 + D * 6  # batch norms per cell, bias per strip
    assert int(tokenizer.front_end_flops(torch.tensor([12, 12]))) == 3 * products + 6 * additions
