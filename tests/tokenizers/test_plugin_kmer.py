"""The modality plug-in example of docs/extend.md registers, composes and runs as written.

Its three files are read out of docs/extend.md (``tests/plugin_example.py``), installed into a folder
outside the venv and used from a subprocess that sees them only through PYTHONPATH, started in a
scratch folder (not the repository root, whose folders Python would find anyway): once installed
with pip (offline), once laid out by hand from its pyproject.toml where pip cannot build wheels;
then trained, predicted with, exported and drawn by the command-line tools, end to end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np

from tests import plugin_example
from tests.plots.pictures import assert_picture
from tests.robustness.conftest import run_cli

USE_PLUGIN = textwrap.dedent(
    """
    import importlib.resources
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from tformer.cli import CONFIG_DIR
    from tformer.registry import TOKENIZERS, distribution_of
    from tformer.tokenizers import Tokenizer

    kmer = TOKENIZERS.build("dna_kmer", d_model=16)
    assert isinstance(kmer, Tokenizer) and "dna_kmer" in TOKENIZERS.names()
    assert distribution_of(kmer) == {"name": "tformer-kmer", "version": "0.1.0"}, distribution_of(kmer)
    ids = kmer.prepare("ACGTN")  # ACG, CGT, GTN -> unk
    assert ids.tolist()[2] == kmer.unk_id and len(ids) == 3
    batch = kmer.collate([ids, kmer.prepare("AC")])
    x, pad_mask = kmer(batch.values, batch.lengths)
    assert x.shape == (2, 3, 16) and pad_mask.tolist() == [[False] * 3, [False, True, True]]
    assert (importlib.resources.files("tformer_kmer") / "conf" / "source" / "dna_kmer.yaml").is_file()

    # Hydra finds the plug-in's config file: source=dna_kmer composes with no change to tformer
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["task=classification", "source=dna_kmer", "model=tiny"])
    source = instantiate(cfg.source)
    assert type(source).__name__ == "KmerTokenizer" and source.d_model == cfg.model.d_model == 64
    print("plugin ok")
    """
)


def _use_plugin_from(site: Path, scratch: Path) -> None:
    scratch.mkdir()
    result = plugin_example.run_python(USE_PLUGIN, site, cwd=scratch)
    assert result.returncode == 0, result.stderr
    assert "plugin ok" in result.stdout


def test_the_docs_hold_the_whole_example_plugin():
    files = plugin_example.example_files()
    assert sorted(files) == sorted(plugin_example.FILES[plugin_example.KMER])
    assert '[tool.setuptools.package-data]\ntformer_kmer = ["conf/*/*.yaml"]' in files["pyproject.toml"]
    assert '[project.entry-points."tformer.plugins"]\nkmer = "tformer_kmer"' in files["pyproject.toml"]
    assert "_target_: tformer_kmer.KmerTokenizer\nd_model: ${model.d_model}" in files["tformer_kmer/conf/source/dna_kmer.yaml"]


def test_pip_installed_plugin_registers_through_entry_point(kmer_site, tmp_path):
    assert (kmer_site / "tformer_kmer" / "conf" / "source" / "dna_kmer.yaml").is_file()  # the package-data lines
    _use_plugin_from(kmer_site, tmp_path / "scratch")


def test_plugin_laid_out_from_its_pyproject_registers_through_entry_point(tmp_path):
    source = plugin_example.write_example(tmp_path / "src")
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    for relative in plugin_example.FILES[plugin_example.KMER][1:]:  # the package, configs included
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).write_text((source / relative).read_text())
    dist_info = site / f"tformer_kmer-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in project["entry-points"].items()
    )
    (dist_info / "entry_points.txt").write_text(entry_points)
    _use_plugin_from(site, tmp_path / "scratch")


def test_plugin_is_not_installed_in_the_venv():
    result = subprocess.run([sys.executable, "-c", "import tformer_kmer"], capture_output=True, cwd="/")
    assert result.returncode != 0


def test_plugin_trains_predicts_exports_and_plots(kmer_site, tmp_path):
    """source=dna_kmer through tformer-train, -predict, -export and -plot, with nothing but the
    docs/extend.md's plug-in (no method beyond prepare and forward) on PYTHONPATH."""
    rows = [("GCGCGGCCGC", "gc"), ("ATATTAATAT", "at"), ("CGGCGCCGGC", "gc"), ("TAATTATAAT", "at")] * 4
    (tmp_path / "dna.tsv").write_text("".join(f"{dna}\t{label}\n" for dna, label in rows))
    (tmp_path / "dna.txt").write_text("ACGTACGT\nGGGCCCGG\nAT\n")

    def cli(program: str, *args: str) -> None:
        result = run_cli(program, *args, cwd=tmp_path, pythonpath=kmer_site)
        assert result.returncode == 0, result.stderr

    cli("train", "task=classification", "source=dna_kmer", "target=label", "data=labeled_text", "data.train.path=dna.tsv",
        "model=tiny", "trainer.max_steps=2", "data.batch_size=4", "data.num_workers=0", "examples=0", "test=false",
        "run_dir=run")
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cli("predict", f"ckpt={ckpt}", "input=dna.txt", "output=preds.jsonl")  # DNA strings, one per line: not paths
    predictions = [json.loads(line) for line in (tmp_path / "preds.jsonl").read_text().splitlines()]
    assert [p["input"] for p in predictions] == ["ACGTACGT", "GGGCCCGG", "AT"]
    assert all(p.get("prediction") in ("at", "gc") for p in predictions), predictions
    cli("export", str(ckpt), "-o", "model.onnx")
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["fields"]["source"]["name"] == "dna_kmer" and meta["vocabularies"]["target"]["classes"] == ["at", "gc"]
    try:
        import onnxruntime
    except ImportError:
        pass
    else:  # another batch size and length than the export's made-up texts
        session = onnxruntime.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
        values = np.random.default_rng(0).integers(2, 66, (3, 7))
        (logits,) = session.run(None, {"values": values, "lengths": np.array([7, 5, 1])})
        assert logits.shape == (3, 2) and np.isfinite(logits).all()
    cli("plot", "attention", "--ckpt", str(ckpt), "--input", "ACGTACGTAC", "-o", "attention.png")
    assert_picture(tmp_path / "attention.png")
