"""tformer-export: onnxruntime and torch.export give the PyTorch outputs (skipped without onnxruntime)."""

import json

import numpy as np
import pytest
import torch

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

import tformer  # noqa: E402
from tformer.cli.export import main  # noqa: E402
from tformer.core import Decoder  # noqa: E402
from tformer.export import export_task  # noqa: E402
from tformer.tasks import Greedy  # noqa: E402
from tests.tiny_checkpoints import trained_run  # noqa: E402

TEXTS = ["ich sehe das haus", "du", "katze rot blau gut hund das"]


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_classifier_onnx_and_pt2_match_pytorch(tmp_path, tmp_path_factory):
    image = trained_run("image", tmp_path_factory)
    task = tformer.load(image.ckpt)
    assert main([str(image.ckpt), "-o", str(tmp_path / "vit.onnx")]) == 0
    meta = json.loads((tmp_path / "vit.json").read_text())
    assert meta["files"] == {"classifier": "vit.onnx"} and meta["vocabularies"]["target"]["classes"] == task.target.classes
    assert meta["input_field"] == "source" and meta["fields"]["source"]["name"] == "image_patch"
    raw = [image.sample, torch.rand(1, 20, 20), torch.rand(1, 16, 24)]  # a batch of 3, not the export's 2
    batch = task.source.collate([task.source.prepare(x) for x in raw])
    with torch.no_grad():
        expected = task.logits(batch.values, batch.lengths).numpy()
    (logits,) = _session(tmp_path / "vit.onnx").run(None, {"values": batch.values.numpy(), "lengths": batch.lengths.numpy()})
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=0)
    main([str(image.ckpt), "-o", str(tmp_path / "vit.pt2")])
    program = torch.export.load(str(tmp_path / "vit.pt2")).module()
    np.testing.assert_allclose(program(batch.values, batch.lengths).detach().numpy(), expected, atol=1e-4, rtol=0)


def _ort_greedy(encoder, decoder, batch, meta):
    # Greedy search through onnxruntime alone, as a user of the exported files would write it.
    info = meta["decoder"]
    _, mask, cross_k, cross_v = encoder.run(None, {"values": batch.values.numpy(), "lengths": batch.lengths.numpy()})
    n = len(batch.lengths)
    past = np.zeros((info["n_layers"], n, info["n_heads"], 0, info["head_dim"]), np.float32)
    past_k, past_v = past, past
    tokens = np.full((n, 1), info["bos_id"], np.int64)
    limits = (~mask).sum(1) + info["max_len_offset"]
    outputs, done = [[] for _ in range(n)], np.zeros(n, bool)
    for t in range(int(limits.max())):
        logits, past_k, past_v = decoder.run(None, {
            "tokens": tokens, "memory_pad_mask": mask, "cross_keys": cross_k, "cross_values": cross_v,
            "past_keys": past_k, "past_values": past_v})
        tokens = logits.argmax(-1)[:, None]
        for i in np.flatnonzero(~done):
            if tokens[i, 0] == info["eos_id"]:
                done[i] = True
            else:
                outputs[i].append(int(tokens[i, 0]))
                done[i] = t + 1 >= limits[i]
        if done.all():
            break
    return outputs


def test_translation_encoder_and_decoder_steps_match_pytorch(tmp_path, tmp_path_factory):
    text = trained_run("text", tmp_path_factory)
    task = tformer.load(text.ckpt)
    assert main([str(text.ckpt), "-o", str(tmp_path / "de_en.onnx")]) == 0
    meta = json.loads((tmp_path / "de_en.json").read_text())
    assert set(meta["vocabularies"]) == {"source", "target"} and meta["decoder"]["bos_id"] == task.target.bos_id
    encoder, decoder = _session(tmp_path / "de_en.encoder.onnx"), _session(tmp_path / "de_en.decoder.onnx")
    batch = task.source.collate([task.source.prepare(s) for s in TEXTS])  # 3 lengths, not the export's
    memory, mask, cross_k, _ = encoder.run(None, {"values": batch.values.numpy(), "lengths": batch.lengths.numpy()})
    with torch.no_grad():
        expected_memory, expected_mask = task.encode(batch)
        cache = task.core.decoder.init_cache(expected_memory, expected_mask)
    np.testing.assert_allclose(memory, expected_memory.numpy(), atol=1e-4, rtol=0)
    assert (mask == expected_mask.numpy()).all() and cross_k.shape[:2] == (2, 3)
    # three cached steps, token by token
    past = np.zeros((2, 3, 4, 0, 16), np.float32)
    past_k, past_v = past, past
    for t, ids in enumerate([[1, 1, 1], [5, 6, 7], [8, 9, 10]]):
        tokens = np.array(ids, np.int64)[:, None]
        logits, past_k, past_v = decoder.run(None, {"tokens": tokens, "memory_pad_mask": mask, "cross_keys": cross_k,
                                                    "cross_values": _, "past_keys": past_k, "past_values": past_v})
        with torch.no_grad():
            step = task.target.project(task.core.decoder.step(task.target.embed_step(torch.from_numpy(tokens), t), cache))
        np.testing.assert_allclose(logits, step[:, -1].numpy(), atol=1e-4, rtol=0)
        assert past_k.shape[3] == t + 1
    task.generator = Greedy()
    decoded = [task.target.decode(ids) for ids in _ort_greedy(encoder, decoder, batch, meta)]
    assert decoded == task.predict(TEXTS)


def test_unknown_format_fails_before_loading(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "model.tflite")])
    assert exit_.value.code == 2 and "unknown export format '.tflite'" in capsys.readouterr().err


class LanguageModelTask:
    """Stands in for a decoder-only task, which export does not write yet."""

    core = Decoder(16, 2, 1, 32, cross_attention=False)
    input_field = "text"

    def cpu(self):
        return self

    def eval(self):
        return self


def test_a_task_export_does_not_write_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"the LanguageModelTask task \(a Decoder core\) is not supported yet"):
        export_task(LanguageModelTask(), tmp_path / "lm.onnx")
    assert not list(tmp_path.iterdir())
