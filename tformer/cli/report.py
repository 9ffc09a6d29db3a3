"""The end-of-run report: the test metric beside the task's trivial baseline, and a few predictions."""

from __future__ import annotations

from typing import Any

__all__ = ["print_summary"]


def _show(value: Any) -> str:
    if hasattr(value, "shape"):
        return f"<array {'x'.join(map(str, value.shape))}>"
    text = str(value).replace("\n", " ⏎ ")  # one line per example, whatever the text holds
    return text if len(text) <= 70 else text[:67] + "..."


def print_summary(task: Any, data: Any, result: dict[str, Any], examples: int = 5) -> None:
    """Print the test metrics, the baseline they beat (or not) and ``examples`` predictions."""
    from tformer.registry import TASKS

    name = TASKS.name_of(task)
    print(f"\n== tformer-train: {name} ==")
    test = result.get("test", {})
    baseline = task.trivial_baseline(data) if data.test is not None and len(data.test) else None
    for key, value in sorted(test.items()):
        line = f"  {key:<14} {value:.4f}"
        if baseline and baseline[0] == key:
            line += f"   (trivial baseline {baseline[1]:.4f}: {baseline[2]})"
        print(line)
    if examples and data.test is not None and len(data.test):
        picked = [data.test[i] for i in range(0, len(data.test), max(1, len(data.test) // examples))][:examples]
        inputs = [task.example_input(item[data.column_of(task.input_field)]) for item in picked]
        print("  examples (input -> prediction | reference):")
        for item, raw, prediction in zip(picked, inputs, task.predict(inputs)):
            reference = " | ".join(_show(item[data.column_of(f)]) for f in task.fields if f != task.input_field)
            print(f"    {_show(raw)} -> {_show(prediction)}" + (f" | {reference}" if reference else ""))
    print(f"  checkpoint: {result.get('checkpoint')}")
    print(f"  metrics:    {result.get('run_dir')}/metrics.json\n")
