"""benchmarks/packing.py counts the positions each stack computes, unpacked and packed, as the plans say."""

from collections import defaultdict
from pathlib import Path

import pytest
import torch

from tformer.core import EncoderDecoder
from tformer.tasks import TranslationTask
from tformer.tokenizers import Batch, TextCharTokenizer

ROOT = Path(__file__).resolve().parents[1]


def test_the_recorded_padding_is_what_the_batch_and_the_rows_hold(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is a folder of the repository, not a package
    from benchmarks.packing import Padding, recording_plans

    torch.manual_seed(0)
    text = lambda: TextCharTokenizer(16, alphabet="abcdef", dropout=0.0)  # noqa: E731
    task = TranslationTask({"source": text(), "target": text()}, EncoderDecoder(16, 2, 1, 1, 32, packing=True))
    source, target = [6, 2, 4, 1], [3, 5, 1, 2]
    batch = {"source": Batch(torch.randint(4, 10, (4, 6)), torch.tensor(source)),
             "target": Batch(torch.randint(4, 10, (4, 5)), torch.tensor(target))}
    record = defaultdict(Padding)
    with recording_plans(task, record), torch.no_grad():
        task.loss(batch)
    encoder, decoder = record["encoder"], record["decoder"]
    assert (encoder.content, encoder.unpacked, encoder.packed) == (13, 24, 18)  # 6 | 4+2 | 1 in rows of 6
    assert (decoder.content, decoder.unpacked) == (11 + 4, 4 * 6)  # <bos> + each target
    assert decoder.packed == decoder.rows[0] * 6 and decoder.rows[0] < 4
    assert encoder.fraction(encoder.packed) == pytest.approx(5 / 18)
    assert encoder.fraction(encoder.unpacked) == pytest.approx(11 / 24)
