"""task=detection (DETR): a tiny run trains, tests with mAP, saves, loads, predicts and draws its pictures;
mAP counts each image of a split once and agrees with COCO's values for known cases."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import tformer
from tformer.cli.plot import main as plot
from tformer.cli.train import train
from tformer.core import Encoder, EncoderDecoder
from tformer.data import INDEX, DetectionBoxesDataset
from tformer.plots.detection import plot_boxes
from tformer.tasks import DetectionTask
from tformer.tasks.detection_metrics import average_precision
from tformer.tokenizers import BoxesTokenizer, ImagePatchTokenizer, LabelTokenizer
from tests.data.boxes_fixture import write_boxes
from tests.plots.pictures import assert_picture

from .conftest import compose_run


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("detection")
    train_path = write_boxes(root, n=24, seed=0, name="train.jsonl")
    test_path = write_boxes(root, n=6, seed=1, name="test.jsonl")
    cfg = compose_run(root, ["task=detection", "source=image_patch", "target=boxes", "data=detection_boxes",
                             f"data.train.path={train_path}", "+data/test=detection_boxes", f"data.test.path={test_path}",
                             "source.image_size=32", "source.patch_size=8", "task.n_queries=4", "model.dropout=0",
                             "trainer.max_steps=150", "trainer.max_epochs=100", "task.optimizer.lr=2e-3"])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: threads only wait for each other
    try:
        task, result = train(cfg)
    finally:
        torch.set_num_threads(threads)
    return SimpleNamespace(task=task.eval(), result=result, test=DetectionBoxesDataset(test_path), root=root)


def test_a_tiny_run_tests_with_map_saves_loads_and_predicts(run):
    written = json.loads((run.root / "run" / "metrics.json").read_text())
    assert 0 <= written["test"]["test/map"] <= written["test"]["test/map_50"] <= 1
    key, baseline, _ = run.task.trivial_baseline(SimpleNamespace(train=DetectionBoxesDataset(run.root / "train.jsonl"),
                                                                 test=run.test, column_of=lambda field: field))
    assert key == "test/map" and written["test"]["test/map"] > max(baseline, 0.05)  # 150 updates find some squares
    assert {"test/loss_class", "test/loss_l1", "test/loss_giou"} <= set(written["test"])
    images = list(run.test.column("source"))
    mine = run.task.predict(images, score_threshold=0.0)
    loaded = tformer.load(written["checkpoint"])
    assert loaded.predict(images, score_threshold=0.0) == mine
    for prediction in mine:
        assert len(prediction["boxes"]) == len(prediction["labels"]) == len(prediction["scores"]) == 4  # every query
        assert prediction["scores"] == sorted(prediction["scores"], reverse=True)
        assert set(prediction["labels"]) <= {"bright", "dim"}
        assert all(0 <= v <= 32 for box in prediction["boxes"] for v in box)
    strict = loaded.predict(images[:2], score_threshold=0.9)
    assert all(score >= 0.9 for p in strict for score in p["scores"])


def test_predictions_are_in_the_pixels_of_each_input(run):
    rows = torch.tensor([[0.25, 0.5, 0.75, 1.0, 0.8, 1.0], [0.0, 0.0, 0.5, 0.5, 0.3, 0.0]])
    described = run.task._described(rows, (200, 100), threshold=0.5)
    assert described == {"boxes": [[50.0, 50.0, 150.0, 100.0]], "labels": ["dim"], "scores": [0.8]}


def test_the_pictures_of_boxes_and_queries(run, tmp_path):
    ckpt, image = str(run.result["checkpoint"]), run.test.column("source")[0]
    assert plot(["boxes", "--ckpt", ckpt, "--input", image, "--threshold", "0", "-o", str(tmp_path / "b.png")]) == 0
    assert plot(["queries", "--ckpt", ckpt, "--input", image, "--queries", "3", "-o", str(tmp_path / "q.png")]) == 0
    assert_picture(tmp_path / "b.png")
    width, _ = assert_picture(tmp_path / "q.png")
    plot(["queries", "--ckpt", ckpt, "--input", image, "--queries", "1", "--layer", "0", "-o", str(tmp_path / "q1.png")])
    assert assert_picture(tmp_path / "q1.png")[0] < width
    maps = run.task.query_attention(image)
    assert maps["attention"].shape == (2, 4, 4, 4)  # layers, queries, the 4 x 4 patch grid
    assert maps["layout"].n_prefix == 1  # [CLS] holds the rest of each query's attention
    total = maps["attention"].sum((-2, -1))
    assert ((total > 0) & (total < 1)).all()
    with pytest.raises(ValueError, match=r"draw detection checkpoints \(task=detection\); this one holds a object"):
        plot_boxes(object(), image, tmp_path / "x.png")


def test_map_counts_each_image_once_and_matches_known_values(run):
    task, data = run.task, run.test
    prepared = [{"source": task.source.prepare(data[i]["source"]), "target": task.target.prepare(data[i]["target"])}
                for i in range(4)]
    batch = {name: task.fields[name].collate([p[name] for p in prepared]) for name in ("source", "target")}
    batch[INDEX] = torch.arange(4)
    outputs = task.decode(batch["source"].values, batch["source"].lengths)
    once, twice = [], []
    for repeats, logged in ((1, once), (2, twice)):  # a DDP padding batch repeats items
        for _ in range(repeats):
            task.update_metrics("val", batch, outputs)
        task.log = lambda name, value, **kwargs: logged.append((name, value))
        task.on_validation_epoch_end()
    assert once == twice and [name for name, _ in once] == ["val/map", "val/map_50"]
    truth = [torch.tensor([[2.0, 2.0, 12.0, 12.0, 0.0]]), torch.tensor([[5.0, 5.0, 15.0, 20.0, 0.0]])]
    perfect = [torch.tensor([[2.0, 2.0, 12.0, 12.0, 0.9, 0.0]]), torch.tensor([[5.0, 5.0, 15.0, 20.0, 0.8, 0.0]])]
    assert average_precision(perfect, truth) == {"map": 1.0, "map_50": 1.0}
    missed = [perfect[0], torch.tensor([[20.0, 20.0, 30.0, 30.0, 0.8, 0.0]])]  # the lower-scored one misses
    assert average_precision(missed, truth)["map_50"] == pytest.approx(51 / 101, abs=1e-4)  # COCO's 101 recall points


def _tiny_task(n_queries=4):
    fields = {"source": ImagePatchTokenizer(32, image_size=16, patch_size=4, class_token=False, positions="sinusoidal"),
              "target": BoxesTokenizer(classes=["a", "b"])}
    return DetectionTask(fields, EncoderDecoder(32, 4, 1, 2, 64, dropout=0.0, norm_first=True), n_queries=n_queries)


@pytest.fixture
def one_thread():
    """Tiny tensors gain nothing from threads, and two crawl on a busy 2-core machine (17 ms against 350 ms a step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_the_loss_falls_on_a_batch_it_learns(one_thread):
    torch.manual_seed(0)
    task = _tiny_task()
    images = torch.zeros(4, 16, 16)
    items = []
    for i, (x, y, side) in enumerate([(1, 1, 6), (8, 2, 5), (3, 9, 7), (9, 9, 6)]):
        images[i, y : y + side, x : x + side] = 1.0 if i % 2 else 0.5
        items.append({"boxes": [[x, y, x + side, y + side]], "labels": ["ab"[i % 2]], "width": 16, "height": 16})
    batch = {"source": task.source.collate([task.source.prepare(img[None]) for img in images]),
             "target": task.target.collate([task.target.prepare(item) for item in items])}
    optimizer = torch.optim.AdamW(task.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        loss, parts, _ = task.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert set(parts) == {"class", "l1", "giou"}
    assert losses[-1] < 0.5 * losses[0]


def test_parts_that_do_not_fit_are_refused_by_name():
    task = _tiny_task()
    image_patch, boxes = task.source, task.target
    with pytest.raises(ValueError, match="its target must be target=boxes, got LabelTokenizer"):
        DetectionTask({"source": image_patch, "target": LabelTokenizer(classes=["a", "b"])}, task.core)
    with pytest.raises(ValueError, match="core must be an EncoderDecoder"):
        DetectionTask({"source": image_patch, "target": boxes}, Encoder(32, 4, 1, 64))
    crowded = _tiny_task(n_queries=1)
    batch = {"source": image_patch.collate([image_patch.prepare(torch.zeros(1, 16, 16))]),
             "target": boxes.collate([boxes.prepare({"boxes": [[0, 0, 4, 4], [5, 5, 9, 9]], "labels": ["a", "b"],
                                                      "width": 16, "height": 16})])}
    with pytest.raises(ValueError, match=r"holds 2 objects, more than the 1 object queries"):
        crowded.loss(batch)


def test_the_peer_benchmark_trains_its_peer_and_scores_our_checkpoint_as_the_test_did(run, tmp_path, monkeypatch, one_thread):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2]))  # benchmarks/ is a folder, not a package
    from benchmarks import detection_peer

    splits = {"train": DetectionBoxesDataset(run.root / "train.jsonl"), "test": run.test}
    monkeypatch.setattr(detection_peer, "_split", lambda name, limit, root: splits[name])
    summary = detection_peer.main(["--minutes", "0.005", "--batch-size", "2", "--ckpt", str(run.result["checkpoint"]),
                                   "--out", str(tmp_path)])
    assert summary["peer"]["updates"] >= 1 and 0 <= summary["peer"]["map"] <= 1
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    # the same mAP code on the same split: what tformer-train's test logged (predict rounds boxes and scores)
    assert summary["tformer"]["map"] == pytest.approx(run.result["test"]["test/map"], abs=0.01)
    assert summary["tformer"]["map_50"] == pytest.approx(run.result["test"]["test/map_50"], abs=0.01)
