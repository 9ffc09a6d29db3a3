"""Text metrics chosen by name in YAML (``task.metrics: [bleu]``), from torchmetrics: each takes
``update(hypotheses, references)`` with lists of strings and is exact across processes."""

from __future__ import annotations

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.text import CharErrorRate, SacreBLEUScore, WordErrorRate

from tformer.registry import METRICS

__all__ = ["SacreBLEU", "text_metrics"]


@METRICS.register("bleu")
class SacreBLEU(SacreBLEUScore):
    """Corpus BLEU on sacreBLEU's usual 0-100 scale (torchmetrics' own is 0-1), one reference
    per hypothesis given as a plain string."""

    def update(self, preds: list[str], target: list[str]) -> None:
        super().update(preds, [[text] for text in target])

    def compute(self) -> Tensor:
        return super().compute() * 100


METRICS.register("wer")(WordErrorRate)
METRICS.register("cer")(CharErrorRate)


def text_metrics(names: list[str], **options) -> dict[str, Metric]:
    """Fresh metric objects by name, built with torchmetrics' ``options`` (``sync_on_compute=False``
    for a score one process computes alone); an unknown name lists the known ones."""
    return {name: METRICS.get(name)(**options) for name in names}
