"""Shared by the robustness tests: tiny trained checkpoints and running a CLI as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from tests.tiny_checkpoints import TinyRun, trained_run


@pytest.fixture(scope="session")
def text_run(tmp_path_factory) -> TinyRun:
    """A 3-step BPE de->en translation run (shared with the plot, averaging and export tests)."""
    return trained_run("text", tmp_path_factory)


@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> TinyRun:
    """A 3-step grey-image classification run (classes 'bright', 'dark'), 16x16, patch 4."""
    return trained_run("image", tmp_path_factory)


def run_cli(program: str, *args: str, cwd=None, pythonpath=None) -> subprocess.CompletedProcess:
    """Run ``python -m tformer.cli.<program> args...`` with the user's defaults (no debug traces),
    in ``cwd`` or a scratch folder: Hydra's run folders must not land in the checkout.
    ``pythonpath``: a folder of extra installed packages (a plug-in installed with ``--target``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TFORMER_DEBUG", "HYDRA_FULL_ERROR")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    command = [sys.executable, "-m", f"tformer.cli.{program}", *args]
    with tempfile.TemporaryDirectory(prefix="tformer-cli-") as scratch:
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd or scratch, timeout=300)


def assert_clean_failure(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """A non-zero exit, no Python stack trace, and every fragment in the message on stderr."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, f"{fragment!r} not in:\n{result.stderr}"
