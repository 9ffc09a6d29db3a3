"""A third-party package registers a tokenizer through the ``tformer.plugins`` entry point.

The example package in ``tests/plugin_kmer`` is installed into a temporary folder (no change to
the venv) and used from a subprocess that only sees it through PYTHONPATH: once with pip (offline,
needs ``wheel`` or setuptools >= 70.1 to build), once laid out by hand from its pyproject.toml.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

PLUGIN = Path(__file__).resolve().parents[1] / "plugin_kmer"

USE_PLUGIN = textwrap.dedent(
    """
    import importlib.resources
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf
    from tformer.registry import TOKENIZERS
    from tformer.tokenizers import Tokenizer

    kmer = TOKENIZERS.build("dna_kmer", d_model=16)
    assert isinstance(kmer, Tokenizer) and "dna_kmer" in TOKENIZERS.names()
    ids = kmer.prepare("ACGTN")  # ACG, CGT, GTN -> unk
    assert ids.tolist()[2] == kmer.unk_id and len(ids) == 3
    batch = kmer.collate([ids, kmer.prepare("AC")])
    x, pad_mask = kmer(batch.values, batch.lengths)
    assert x.shape == (2, 3, 16) and pad_mask.tolist() == [[False] * 3, [False, True, True]]

    yaml = (importlib.resources.files("tformer_kmer") / "conf" / "source" / "dna_kmer.yaml").read_text()
    config = OmegaConf.create({"model": {"d_model": 8}, "source": OmegaConf.create(yaml)})
    assert instantiate(config.source).d_model == 8

    # Hydra finds the plug-in's config file: source=dna_kmer composes with no change to tformer
    from hydra import compose, initialize_config_dir
    from tformer.cli import CONFIG_DIR
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["task=classification", "source=dna_kmer", "model=tiny"])
    assert instantiate(cfg.source).d_model == cfg.model.d_model == 64
    print("plugin ok")
    """
)


IGNORE = shutil.ignore_patterns("build", "*.egg-info", "__pycache__")


def _can_build_wheels() -> bool:
    return importlib.util.find_spec("wheel") is not None or importlib.util.find_spec("setuptools.command.bdist_wheel") is not None


def _use_plugin_from(site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run([sys.executable, "-c", USE_PLUGIN], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "plugin ok" in result.stdout


@pytest.mark.skipif(not _can_build_wheels(), reason="building the plug-in offline needs wheel or setuptools>=70.1")
def test_pip_installed_plugin_registers_through_entry_point(tmp_path):
    source = shutil.copytree(PLUGIN, tmp_path / "src", ignore=IGNORE)
    site = tmp_path / "site"
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--target", str(site), str(source)]
    result = subprocess.run(install, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    _use_plugin_from(site)


def test_plugin_laid_out_from_its_pyproject_registers_through_entry_point(tmp_path):
    project = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]
    site = tmp_path / "site"
    shutil.copytree(PLUGIN / "tformer_kmer", site / "tformer_kmer", ignore=IGNORE)
    dist_info = site / f"tformer_kmer-{project['version']}.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n")
    entry_points = "".join(
        f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in points.items())
        for group, points in project["entry-points"].items()
    )
    (dist_info / "entry_points.txt").write_text(entry_points)
    _use_plugin_from(site)


def test_plugin_is_not_installed_in_the_venv():
    result = subprocess.run([sys.executable, "-c", "import tformer_kmer"], capture_output=True, cwd="/")
    assert result.returncode != 0
