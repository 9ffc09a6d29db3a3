"""Checkpoints of format 1 (tformer before named fields): one ``source``, one ``target``, a core
class name and task options that named their loss and search. ``upgrade`` rewrites one into
format 2 as the same model; its tests keep checkpoints of format 1 (tests/fixtures/v1)."""

from __future__ import annotations

from typing import Any

__all__ = ["upgrade"]

CORE_NAMES = {"Encoder": "encoder", "EncoderDecoder": "encoder_decoder"}
STATE_PREFIXES = {"source.": "fields.source.", "target.": "fields.target.", "ctc_head.": "objectives.ctc.head."}


def upgrade(spec: dict[str, Any], state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Format 1's ``tformer`` entry and weights -> format 2's.

    Args:
        spec: the checkpoint's ``tformer`` entry (``format_version`` 1).
        state: its ``state_dict``.
    Returns:
        The entry and the weights as format 2 names them.
    """
    options = dict(spec["options"])
    task, objectives, generator = _parts(spec["task"], options)
    fields = {"source": spec["source"], "target": {"same_as": "source"} if spec.get("shared_vocabulary") else spec["target"]}
    core = {"name": CORE_NAMES.get(spec["core"]["class"], spec["core"]["class"]), "kwargs": spec["core"]["kwargs"]}
    upgraded = {**spec, "format_version": 2, "task": task, "options": options, "core": core, "fields": fields,
                "objectives": objectives, "generator": generator}
    for key in ("source", "target", "shared_vocabulary"):
        upgraded.pop(key, None)
    return upgraded, {_renamed(key): value for key, value in state.items()}


def _parts(task: str, options: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    # Format 1 kept the loss and the search in the task's options; format 2 names them as parts.
    smoothing = options.pop("label_smoothing", 0.0 if task == "classification" else 0.1)
    if task == "classification":
        return task, {"cross_entropy": _objective("cross_entropy", weight=1.0, label_smoothing=smoothing)}, None
    beam = {"beam_size": options.pop("beam_size", 4), "length_penalty": options.pop("length_penalty", 0.6)}
    if task != "asr":
        options["metrics"] = ["bleu"]
        return task, {"cross_entropy": _objective("cross_entropy", weight=1.0, label_smoothing=smoothing)}, \
            {"name": "beam", "kwargs": beam}
    weight, rescoring = options.pop("ctc_weight", 0.3), options.pop("decode_ctc_weight", None)
    options["metrics"] = ["wer", "cer"]
    objectives = {"cross_entropy": _objective("cross_entropy", weight=1.0 - weight, label_smoothing=smoothing),
                  "ctc": _objective("ctc", weight=weight, field="target")}
    generator = {"name": "ctc_beam", "kwargs": {**beam, "ctc_weight": rescoring, "objective": "ctc"}}
    return "translation", objectives, generator  # ASR is translation's model with a CTC objective now


def _objective(name: str, **kwargs: Any) -> dict[str, Any]:
    return {"name": name, "kwargs": kwargs}


def _renamed(key: str) -> str:
    for old, new in STATE_PREFIXES.items():
        if key.startswith(old):
            return new + key[len(old):]
    return key
