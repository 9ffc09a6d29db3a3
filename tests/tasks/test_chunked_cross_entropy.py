"""Cross entropy in chunks of positions: the loss and gradients of the whole logits, fewer bytes
saved for backward, and no (tokens x vocabulary) logits in training."""

import pytest
import torch

from tformer.core import Decoder, EncoderDecoder
from tformer.saved_tensors import SavedBytes
from tformer.tasks import LanguageModelTask, TranslationTask
from tformer.tasks.objectives import CrossEntropy
from tformer.tokenizers import Batch
from tformer.tokenizers.text import TextCharTokenizer

D, VOCAB = 16, 2000
ALPHABET = "".join(chr(0x20000 + i) for i in range(VOCAB - 4))  # CJK ideographs: NFC leaves them alone


def _text(vocab_chars: str = ALPHABET, tie_output: bool = True):
    return TextCharTokenizer(D, alphabet=vocab_chars, dropout=0.0, tie_output=tie_output)


def _batch(lengths, vocab: int = VOCAB, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(torch.randint(4, vocab, (len(lengths), max(lengths)), generator=g), torch.tensor(lengths))


def _translation(chunk_size, tie_output=True, label_smoothing=0.1):
    torch.manual_seed(0)
    source, target = _text("abcdef"), _text(tie_output=tie_output)
    objective = CrossEntropy(label_smoothing=label_smoothing, chunk_size=chunk_size)
    task = TranslationTask({"source": source, "target": target}, EncoderDecoder(D, 2, 1, 1, 32, dropout=0.0),
                           objectives={"cross_entropy": objective})
    return task.train(), {"source": _batch([5, 3, 4], vocab=10, seed=1), "target": _batch([7, 2, 5], seed=2)}


def _loss_and_grads(task, batch):
    loss, _, outputs = task.loss(batch)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in task.named_parameters() if p.grad is not None}, outputs


@pytest.mark.parametrize("tie_output", [True, False], ids=["tied", "untied"])
@pytest.mark.parametrize("chunk_size", [1, 4, 5, 1000])  # 17 real positions: uneven chunks, one chunk
def test_chunked_loss_and_gradients_equal_the_whole_logits(chunk_size, tie_output):
    loss, grads, outputs = _loss_and_grads(*_translation(None, tie_output))
    loss_chunked, grads_chunked, outputs_chunked = _loss_and_grads(*_translation(chunk_size, tie_output))
    assert "logits" in outputs and "logits" not in outputs_chunked  # never made whole in training
    torch.testing.assert_close(loss_chunked, loss, rtol=1e-6, atol=1e-6)  # summed in another order
    assert grads_chunked.keys() == grads.keys()
    for name, grad in grads.items():
        # float32 sums in another order: at most 3e-7 apart here, on gradients up to 0.3
        torch.testing.assert_close(grads_chunked[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_chunks_save_fewer_bytes_for_backward():
    saved = {}
    for chunk_size in (None, 4):
        task, batch = _translation(chunk_size)
        with SavedBytes(task.parameters()) as counter:
            task.loss(batch)
        saved[chunk_size] = counter.bytes
    # whole: the log-softmax of the (3 x 8 x 2000) logits; chunked: the 17 real states of 16 and targets
    assert saved[4] < saved[None] / 3, saved


def test_without_gradients_the_chunked_loss_is_the_same():
    (task, batch), (chunked, _) = _translation(None), _translation(4)
    with torch.no_grad():
        torch.testing.assert_close(chunked.loss(batch)[0], task.loss(batch)[0], rtol=1e-6, atol=1e-6)


def test_a_language_model_trains_on_chunks_and_still_reports_perplexity():
    torch.manual_seed(0)
    objective = CrossEntropy(chunk_size=3, field="text")
    task = LanguageModelTask({"text": _text()}, Decoder(D, 2, 1, 32, dropout=0.0, cross_attention=False),
                             objectives={"cross_entropy": objective})
    batch = {"text": _batch([6, 2])}
    assert "logits" not in task.train()(batch)
    outputs = task.eval()(batch)  # validation: the perplexity metric reads the logits
    whole = torch.nn.functional.cross_entropy(outputs["logits"].flatten(0, 1), outputs["targets"].flatten())
    torch.testing.assert_close(objective(outputs, batch), whole, rtol=1e-6, atol=1e-6)


def test_a_wrong_chunk_size_or_field_names_the_key():
    with pytest.raises(ValueError, match="task.objectives.cross_entropy.chunk_size"):
        CrossEntropy(chunk_size=0)
    torch.manual_seed(0)
    with pytest.raises(ValueError, match="task.objectives.cross_entropy.field='text'"):
        TranslationTask({"source": _text("ab"), "target": _text("ab")}, EncoderDecoder(D, 2, 1, 1, 32),
                        objectives={"cross_entropy": CrossEntropy(chunk_size=8, field="text")})
