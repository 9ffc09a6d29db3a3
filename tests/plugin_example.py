"""The plug-in examples of docs/extend.md as files, built and installed as a user would.

Each code block there whose first line is a comment naming a file (``# tformer-kmer/pyproject.toml``)
is one file of an example package, the first part of its path the project's folder; the tests
install a project into a folder of their own (no change to the venv) and use it from
subprocesses that see it only through PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "extend.md"
KMER, DENOISE = "tformer-kmer", "tformer-denoise"  # the modality and the task plug-in
FILES = {
    KMER: ("pyproject.toml", "tformer_kmer/__init__.py", "tformer_kmer/conf/source/dna_kmer.yaml"),
    DENOISE: ("pyproject.toml", "tformer_denoise/__init__.py", "tformer_denoise/conf/task/denoising.yaml"),
}
_FILE_BLOCK = re.compile(r"^```(?:python|yaml|toml)\n# (?P<project>[\w-]+)/(?P<path>[\w./-]+)\n(?P<body>.*?)^```$", re.M | re.S)
# The package-data table and the comment above it: what a user following an older README left out.
_PACKAGE_DATA = re.compile(r"^(?:#[^\n]*\n)?\[tool\.setuptools\.package-data\]\n(?:[^\[\n][^\n]*\n)*", re.M)


def example_files(project: str = KMER) -> dict[str, str]:
    """``{path within the project: text}`` of an example plug-in, read out of docs/extend.md."""
    return {m["path"]: f"# {m['project']}/{m['path']}\n{m['body']}"
            for m in _FILE_BLOCK.finditer(DOC.read_text(encoding="utf-8")) if m["project"] == project}


def write_example(folder: Path, package_data: bool = True, project: str = KMER) -> Path:
    """Write an example project into ``folder``; ``package_data=False`` drops the pyproject's
    ``[tool.setuptools.package-data]`` lines (the YAML then stays out of the installed package)."""
    for relative, text in example_files(project).items():
        if relative == "pyproject.toml" and not package_data:
            text, found = _PACKAGE_DATA.subn("", text)
            assert found == 1, "the example's pyproject.toml has no [tool.setuptools.package-data] table"
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).write_text(text, encoding="utf-8")
    return folder


def can_build_wheels() -> bool:
    """pip builds a wheel offline (no build isolation) with ``wheel`` or setuptools >= 70.1."""
    return importlib.util.find_spec("wheel") is not None or importlib.util.find_spec("setuptools.command.bdist_wheel") is not None


def pip_install(project: Path, site: Path) -> None:
    """``pip install --target site project``, offline, into a folder outside the venv."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
               "--disable-pip-version-check", "--target", str(site), str(project)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr


def run_python(code: str, site: Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -c code`` with ``site`` on PYTHONPATH (as if the plug-in were installed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("TFORMER_DEBUG", "HYDRA_FULL_ERROR")}
    env["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=cwd, timeout=300)
