"""Cost of one asr_digits training step against the subsampling convolution's width.

    python -m benchmarks.asr_step [--threads 1] [--channels 144 64 32]

The recipe's model (d 144, 4 + 2 pre-norm layers, word-sized BPE targets) on one batch of
40 utterances of 200 filter-bank frames (about 2 seconds each, 8,000 frames: the recipe's
budget): forward, joint CTC + attention loss, backward and Adam. Prints the median of 5 steps
after one warm-up for each ``conv_channels``, and the multiply-accumulates of the second
convolution against the encoder layers per utterance.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from tformer.core import EncoderDecoder
from tformer.tasks import CTC, CrossEntropy, CtcRescoredBeam, TranslationTask
from tformer.tokenizers import AudioFbankTokenizer, Batch, TextBpeTokenizer

D, FRAMES, UTTERANCES = 144, 200, 40
WORDS = "zero one two three four five six seven eight nine"


def asr_task(channels: int) -> TranslationTask:
    """The recipe's task (``conf/task/asr.yaml``): the encoder-decoder trained with cross entropy
    (0.7, label smoothing 0.1) and CTC (0.3) on the transcript, decoded by a CTC-rescored beam."""
    target = TextBpeTokenizer(d_model=D, vocab_size=64)
    target.fit([WORDS] * 10)
    return TranslationTask(
        fields={"source": AudioFbankTokenizer(d_model=D, conv_channels=channels), "target": target},
        core=EncoderDecoder(D, 4, 4, 2, 576, dropout=0.1, norm_first=True),
        objectives={"cross_entropy": CrossEntropy(weight=0.7, label_smoothing=0.1), "ctc": CTC(weight=0.3)},
        generator=CtcRescoredBeam(beam_size=4, length_penalty=0.6), metrics=["wer", "cer"],
    )


def step_seconds(channels: int, steps: int = 5) -> float:
    torch.manual_seed(0)
    task = asr_task(channels).train()
    optimizer = torch.optim.Adam(task.parameters())
    batch = {
        "source": Batch(torch.randn(UTTERANCES, FRAMES, 80), torch.full((UTTERANCES,), FRAMES)),
        "target": Batch(torch.randint(4, task.target.vocab_size, (UTTERANCES, 5)), torch.full((UTTERANCES,), 5)),
    }
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss, _, _ = task.loss(batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def macs_per_utterance(channels: int) -> tuple[float, float]:
    """(second convolution, four encoder layers) multiply-accumulates for one utterance."""
    height, width = (FRAMES - 1) // 2, (80 - 1) // 2  # after the first 3x3 stride-2 convolution
    out = ((height - 1) // 2) * ((width - 1) // 2)
    conv = out * channels * channels * 9
    frames = ((FRAMES - 1) // 2 - 1) // 2
    layers = 4 * frames * (4 * D * D + 2 * D * 576 + 2 * frames * D)
    return conv, layers


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--channels", type=int, nargs="+", default=[144, 64, 32])
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"threads {torch.get_num_threads()}, {UTTERANCES} utterances x {FRAMES} frames")
    for channels in args.channels:
        conv, layers = macs_per_utterance(channels)
        print(f"conv_channels {channels:4d}: {step_seconds(channels):.3f} s/step; per utterance "
              f"2nd convolution {conv / 1e9:.3f} GMAC, encoder layers {layers / 1e9:.3f} GMAC")


if __name__ == "__main__":
    main()
