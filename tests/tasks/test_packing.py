"""``model.packing`` gives every task the loss (and gradients) it gives unpacked, on the same batch."""

import pytest
import torch

from tformer.core import Decoder, Encoder, EncoderDecoder
from tformer.tasks import CTC, ClassificationTask, CrossEntropy, LanguageModelTask, TextToSpeechTask, TranslationTask
from tformer.tokenizers import AudioFbankTokenizer, Batch, LabelTokenizer, MelTokenizer, TextCharTokenizer

D = 16


def _text(alphabet="abcdefghij"):
    return TextCharTokenizer(D, alphabet=alphabet, dropout=0.0)


def _ids(lengths, vocab=14, seed=0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g), torch.tensor(lengths))


def _right_padded(batch: Batch) -> Batch:
    keep = torch.arange(batch.values.size(1))[None, :] < batch.lengths[:, None]
    return Batch(batch.values * keep.view(*keep.shape, *[1] * (batch.values.dim() - 2)), batch.lengths)


def _translation():
    core = EncoderDecoder(D, 2, 2, 2, 32, dropout=0.0)
    task = TranslationTask({"source": _text(), "target": _text()}, core)
    return task, {"source": _ids([9, 2, 5, 3, 7], seed=1), "target": _ids([3, 8, 2, 6, 1], seed=2)}


def _asr():
    audio = AudioFbankTokenizer(D, n_mels=8, conv_channels=4, dropout=0.0, spec_augment=False)
    objectives = {"cross_entropy": CrossEntropy(weight=0.7), "ctc": CTC(weight=0.3)}
    task = TranslationTask({"source": audio, "target": _text()}, EncoderDecoder(D, 2, 2, 2, 32, dropout=0.0), objectives)
    frames = torch.randn(4, 60, 8, generator=torch.Generator().manual_seed(3))
    return task, {"source": _right_padded(Batch(frames, torch.tensor([60, 23, 41, 30]))),
                  "target": _ids([4, 2, 6, 3], seed=4)}


def _language_model():
    task = LanguageModelTask({"text": _text()}, Decoder(D, 2, 2, 32, dropout=0.0, cross_attention=False))
    return task, {"text": _ids([7, 2, 11, 4, 3])}


def _tts():
    mel = MelTokenizer(d_model=D, n_mels=6, reduction=2, prenet_dim=8, dropout=0.0, prenet_dropout=0.0)
    task = TextToSpeechTask({"source": _text(), "target": mel}, EncoderDecoder(D, 2, 1, 2, 32, dropout=0.0),
                            postnet_channels=8, postnet_dropout=0.0)
    frames = torch.randn(3, 12, 6, generator=torch.Generator().manual_seed(5))
    return task, {"source": _ids([5, 2, 4], seed=6), "target": _right_padded(Batch(frames, torch.tensor([12, 5, 8])))}


def _classification():
    labels = LabelTokenizer()
    labels.fit(["x", "y", "z"])
    task = ClassificationTask({"source": _text(), "target": labels}, Encoder(D, 2, 2, 32, dropout=0.0), pooling="mean")
    return task, {"source": _ids([6, 2, 9, 4], seed=7), "target": Batch(torch.tensor([0, 2, 1, 0]), torch.ones(4, dtype=torch.long))}


def _set_packing(task, packing):
    for module in task.core.modules():
        if isinstance(module, (Encoder, Decoder)):
            module.packing = packing


def _loss_and_grads(task, batch):
    task.zero_grad()
    loss = task.loss(batch)[0]
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in task.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("build", [_translation, _asr, _language_model, _tts, _classification],
                         ids=["translation", "asr_ctc", "language_model", "tts", "classification"])
@pytest.mark.parametrize("packing", [True, 16])
def test_packed_batches_give_the_unpacked_loss_and_gradients(build, packing):
    torch.manual_seed(0)
    task, batch = build()
    task.train()  # no dropout anywhere: training differs from evaluation only in what it packs and keeps
    loss, grads = _loss_and_grads(task, batch)
    _set_packing(task, packing)
    packed_loss, packed_grads = _loss_and_grads(task, batch)
    torch.testing.assert_close(packed_loss, loss, rtol=1e-5, atol=1e-6)
    assert packed_grads.keys() == grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(packed_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
