"""The end-of-run report: the test metric beside a trivial baseline, and a few predictions."""

from __future__ import annotations

from collections import Counter
from typing import Any

import sacrebleu
from torchmetrics.functional.text import word_error_rate

__all__ = ["trivial_baseline", "print_summary"]


def trivial_baseline(task_name: str, data: Any) -> tuple[str, float, str] | None:
    """(metric key, value, what the baseline does) for the run's task on the test split."""
    test = data.test
    if test is None or len(test) == 0:
        return None
    targets = [str(t) for t in test.targets()]
    common, _ = Counter(str(t) for t in data.train.targets()).most_common(1)[0]
    constant = [common] * len(targets)
    if task_name == "classification":
        accuracy = sum(t == common for t in targets) / len(targets)
        return "test/acc", accuracy, f"always the most frequent training label ({common!r})"
    if task_name == "asr":
        wer = float(word_error_rate(constant, targets))
        return "test/wer", wer, f"always the most frequent training output ({common!r})"
    if task_name == "translation":
        sources = list(test.sources())
        if all(isinstance(s, str) for s in sources):
            return "test/bleu", sacrebleu.corpus_bleu(sources, [targets]).score, "copy the source sentence"
        bleu = sacrebleu.corpus_bleu(constant, [targets]).score
        return "test/bleu", bleu, f"always the most frequent training output ({common!r})"
    return None


def _show(value: Any) -> str:
    if hasattr(value, "shape"):
        return f"<array {'x'.join(map(str, value.shape))}>"
    text = str(value)
    return text if len(text) <= 70 else text[:67] + "..."


def print_summary(task: Any, data: Any, result: dict[str, Any], examples: int = 5) -> None:
    """Print the test metrics, the baseline they beat (or not) and ``examples`` predictions."""
    from tformer.registry import TASKS

    name = TASKS.name_of(task)
    print(f"\n== tformer-train: {name} ==")
    test = result.get("test", {})
    baseline = trivial_baseline(name, data)
    for key, value in sorted(test.items()):
        line = f"  {key:<14} {value:.4f}"
        if baseline and baseline[0] == key:
            line += f"   (trivial baseline {baseline[1]:.4f}: {baseline[2]})"
        print(line)
    if examples and data.test is not None and len(data.test):
        picked = [data.test[i] for i in range(0, len(data.test), max(1, len(data.test) // examples))][:examples]
        predictions = task.predict([source for source, _ in picked])
        print("  examples (input -> prediction | reference):")
        for (source, reference), prediction in zip(picked, predictions):
            print(f"    {_show(source)} -> {_show(prediction)} | {_show(reference)}")
    print(f"  checkpoint: {result.get('checkpoint')}")
    print(f"  metrics:    {result.get('run_dir')}/metrics.json\n")
