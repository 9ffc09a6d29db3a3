"""The plug-in example of README.md's "Extend" section as files, built and installed as a user would.

Each code block of that section whose first line is a comment naming a file (``# pyproject.toml``)
is one file of the example package; the tests install it into a folder of their own (no change to
the venv) and use it from subprocesses that see it only through PYTHONPATH.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
FILES = ("pyproject.toml", "tformer_kmer/__init__.py", "tformer_kmer/conf/source/dna_kmer.yaml")
_FILE_BLOCK = re.compile(r"^```(?:python|yaml|toml)\n# (?P<path>[\w./-]+)\n(?P<body>.*?)^```$", re.M | re.S)
# The package-data table and the comment above it: what a user following an older README left out.
_PACKAGE_DATA = re.compile(r"^(?:#[^\n]*\n)?\[tool\.setuptools\.package-data\]\n(?:[^\[\n][^\n]*\n)*", re.M)


def example_files() -> dict[str, str]:
    """``{relative path: text}`` of the example plug-in, read out of README.md."""
    section = README.read_text(encoding="utf-8").partition("\n## Extend\n")[2].partition("\n## ")[0]
    return {m["path"]: f"# {m['path']}\n{m['body']}" for m in _FILE_BLOCK.finditer(section)}


def write_example(folder: Path, package_data: bool = True) -> Path:
    """Write the example project into ``folder``; ``package_data=False`` drops the pyproject's
    ``[tool.setuptools.package-data]`` lines (the YAML then stays out of the installed package)."""
    for relative, text in example_files().items():
        if relative == "pyproject.toml" and not package_data:
            text, found = _PACKAGE_DATA.subn("", text)
            assert found == 1, "README's pyproject.toml has no [tool.setuptools.package-data] table"
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
