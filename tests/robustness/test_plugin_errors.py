"""A plug-in installed without its config, and a checkpoint of a plug-in that is not installed:
each failure names the distribution and what to do, not only the name Hydra or the registry missed.

The plug-in is docs/extend.md's example (``tests/plugin_example.py``), installed into folders outside
the venv; only the subprocesses given that folder on PYTHONPATH have it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import textwrap

import pytest
import torch
from hydra.errors import MissingConfigException

import tformer
from tests import plugin_example
from tformer.checkpoint import CheckpointError
from tformer.cli.errors import missing_plugin_config_hint

from .conftest import assert_clean_failure, run_cli


@pytest.fixture(scope="module")
def trained_with_plugin(kmer_site, tmp_path_factory):
    """A 2-step classification run with source=dna_kmer, trained by tformer-train as docs/extend.md says."""
    root = tmp_path_factory.mktemp("kmer_run")
    rows = [("GCGCGGCCGC", "gc"), ("ATATTAATAT", "at"), ("CGGCGCCGGC", "gc"), ("TAATTATAAT", "at")] * 4
    (root / "dna.tsv").write_text("".join(f"{dna}\t{label}\n" for dna, label in rows))
    result = run_cli("train", "task=classification", "source=dna_kmer", "data=labeled_text", "data.train.path=dna.tsv",
                     "trainer.max_steps=2", "data.batch_size=4", "data.num_workers=0", "examples=0", "test=false",
                     "run_dir=run", cwd=root, pythonpath=kmer_site)
    assert result.returncode == 0, result.stderr
    return root / "run" / "checkpoints" / "last.ckpt"


def test_a_plugin_installed_without_its_config_is_named(tmp_path):
    if not plugin_example.can_build_wheels():
        pytest.skip("building the plug-in offline needs wheel or setuptools>=70.1")
    site = tmp_path / "site"
    plugin_example.pip_install(plugin_example.write_example(tmp_path / "src", package_data=False), site)
    assert (site / "tformer_kmer" / "__init__.py").is_file()
    assert not (site / "tformer_kmer" / "conf").exists()  # setuptools left the YAML out

    result = run_cli("train", "task=classification", "source=dna_kmer", pythonpath=site)
    assert_clean_failure(
        result,
        "Could not find 'source/dna_kmer'",  # Hydra's own line stays
        "tformer-train: tokenizer 'dna_kmer' is registered by the installed plug-in tformer-kmer 0.1.0, "
        "which ships no tformer_kmer/conf/source/dna_kmer.yaml",
        '[tool.setuptools.package-data] tformer_kmer = ["conf/*/*.yaml"]',
    )


@pytest.mark.parametrize("missing", ["source/dna_kmer", "source/label", "task/translatoin", "task/optimizer/adamw"])
def test_names_no_plugin_provides_get_no_plugin_hint(missing):
    # not registered here, registered by tformer itself, misspelt, a nested group: Hydra's message says it all
    error = MissingConfigException(f"Could not find '{missing}'", missing_cfg_file=missing)
    assert missing_plugin_config_hint(error) is None


def test_a_plugin_checkpoint_records_its_distribution_and_loads_where_it_is_installed(trained_with_plugin, kmer_site, tmp_path):
    spec = torch.load(trained_with_plugin, weights_only=True)["tformer"]
    assert spec["fields"]["source"]["name"] == "dna_kmer"
    assert spec["fields"]["source"]["distribution"] == {"name": "tformer-kmer", "version": "0.1.0"}
    assert "distribution" not in spec["fields"]["target"]  # tformer's own label tokenizer
    load = textwrap.dedent(f"""
        import tformer
        print(tformer.load({str(trained_with_plugin)!r}).predict(["ACGTACGT", "GGGCCC"]))
    """)
    result = plugin_example.run_python(load, kmer_site, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert all(label in ("at", "gc") for label in ast.literal_eval(result.stdout.strip().splitlines()[-1]))


def test_a_plugin_checkpoint_without_the_plugin_names_the_distribution_to_install(trained_with_plugin):
    with pytest.raises(CheckpointError, match=r"its source tokenizer 'dna_kmer' comes from the plug-in tformer-kmer 0\.1\.0, "
                       r"which is not installed here; install it \(pip install 'tformer-kmer==0\.1\.0'\)"):
        tformer.load(trained_with_plugin)


def test_an_installed_plugin_that_no_longer_registers_the_name_is_named(trained_with_plugin, monkeypatch):
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.2.0")
    with pytest.raises(CheckpointError, match=r"the installed tformer-kmer 0\.2\.0 registers no 'dna_kmer'.*"
                       r"install the one it was saved with \(pip install 'tformer-kmer==0\.1\.0'\)"):
        tformer.load(trained_with_plugin)


def test_a_plugin_checkpoint_from_before_the_record_names_the_unknown_tokenizer(trained_with_plugin, tmp_path):
    checkpoint = torch.load(trained_with_plugin, weights_only=True)
    del checkpoint["tformer"]["fields"]["source"]["distribution"]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    with pytest.raises(CheckpointError, match=r"old.ckpt: its source tokenizer: unknown tokenizer 'dna_kmer'"):
        tformer.load(tmp_path / "old.ckpt")
