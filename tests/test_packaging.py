"""What a fresh machine installs is what was tested: the lock agrees with pyproject.toml, the
wheel ships every package and config, and an installed wheel trains and predicts on its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK = tomllib.loads((ROOT / "uv.lock").read_text())
TRIO = {"torch", "torchvision", "torchaudio"}


def _declared() -> set[tuple[str, str, str]]:
    """(name, specifier, marker) of every requirement pyproject.toml declares, extras as markers."""
    project = PYPROJECT["project"]
    found = {_key(Requirement(line)) for line in project["dependencies"]}
    for extra, lines in project.get("optional-dependencies", {}).items():
        for line in lines:
            requirement = Requirement(line)
            marker = f"({requirement.marker}) and extra == '{extra}'" if requirement.marker else f"extra == '{extra}'"
            requirement.marker = Marker(marker)
            found.add(_key(requirement))
    return found


def _key(requirement: Requirement) -> tuple[str, str, str]:
    specifier = ",".join(sorted(str(s) for s in requirement.specifier))
    return canonicalize_name(requirement.name), specifier, str(requirement.marker or "")


def _locked_project() -> dict:
    (project,) = [p for p in LOCK["package"] if p["name"] == PYPROJECT["project"]["name"]]
    return project


def _locked_versions() -> dict[str, list[str]]:
    versions: dict[str, list[str]] = {}
    for package in LOCK["package"]:
        versions.setdefault(canonicalize_name(package["name"]), []).append(package["version"])
    return versions


def test_the_lock_was_resolved_from_this_pyproject():
    # What `uv lock --check` compares first: a changed range, extra or Python bound needs `make lock`.
    locked = set()
    for entry in _locked_project()["metadata"]["requires-dist"]:
        line = entry["name"] + entry.get("specifier", "") + (f"; {entry['marker']}" if "marker" in entry else "")
        locked.add(_key(Requirement(line)))
    declared = _declared()
    assert locked == declared, (f"uv.lock is stale, run `make lock`: only in pyproject.toml {sorted(declared - locked)}, "
                                f"only in uv.lock {sorted(locked - declared)}")
    assert LOCK["requires-python"] == PYPROJECT["project"]["requires-python"], "run `make lock`"
    assert set(_locked_project()["metadata"]["provides-extras"]) == set(PYPROJECT["project"]["optional-dependencies"])


def test_every_locked_version_satisfies_pyproject():
    versions = _locked_versions()
    for name, specifier, _ in _declared():
        assert name in versions, f"{name} is declared but not locked: run `make lock`"
        for version in versions[name]:
            assert version in SpecifierSet(specifier), f"uv.lock pins {name} {version}, outside {specifier!r}"


def test_the_pytorch_trio_is_pinned_exactly_and_locked_once():
    # torchaudio declares no torch version and is compiled against one torch release: a range
    # lets a resolver pair torchaudio 2.11.1 with torch 2.11.0, which fails to load.
    pins = {_key(Requirement(line))[0]: _key(Requirement(line))[1] for line in PYPROJECT["project"]["dependencies"]}
    versions = _locked_versions()
    for name in TRIO:
        assert pins[name].startswith("==") and "*" not in pins[name], f"{name} must be pinned exactly: {pins[name]}"
        assert versions[name] == [pins[name][2:]]


def test_requires_python_has_no_upper_bound():
    assert "<" not in PYPROJECT["project"]["requires-python"]


def test_every_package_folder_is_shipped():
    settings = PYPROJECT["tool"]["setuptools"]
    mapped = {name: ROOT / folder for name, folder in settings["package-dir"].items()}
    shipped = {mapped.get(name, ROOT / name.replace(".", "/")) for name in settings["packages"]}
    folders = {init.parent for top in ("tformer", "tasks", "conf", "hydra_plugins") for init in (ROOT / top).rglob("__init__.py")}
    assert folders - shipped == set(), "add these packages to [tool.setuptools] packages in pyproject.toml"
    assert "tasks" not in settings["packages"], "a top-level `tasks` module would collide with other projects'"


def _uv() -> str | None:
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


def _run(command: list[str], cwd: Path, **kwargs) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, **kwargs)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


PREDICT = """
import sys, tformer, importlib.util
from PIL import Image
assert importlib.util.find_spec("tasks") is None, "the wheel installed a top-level `tasks`"
assert "site-packages" in tformer.__file__, tformer.__file__
Image.new("L", (28, 28), 128).save("grey.png")
task = tformer.load("run")
print("PREDICTED", task.predict(["grey.png"])[0])
"""


@pytest.mark.slow
@pytest.mark.skipif(_uv() is None, reason="needs uv (make test installs it into .tools/)")
def test_the_wheel_trains_and_predicts_outside_the_checkout(tmp_path):
    source = shutil.copytree(ROOT, tmp_path / "src", ignore=shutil.ignore_patterns(
        ".venv", ".tools", ".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", "docs"))
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(source)], tmp_path)
    (wheel,) = (tmp_path / "dist").glob("tformer-*.whl")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(_run([_uv(), "export", "--frozen", "--no-emit-project", "--no-hashes", "--quiet"], ROOT))
    venv = tmp_path / "venv"
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, str(venv)], tmp_path)
    _run([_uv(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), str(wheel), "-c", str(constraints)], tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    _run([str(venv / "bin" / "tformer-train"), "experiment=vit_fashion_mnist", "trainer.max_steps=20", "hydra.run.dir=run",
          "data.num_workers=0", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2", "trainer.enable_progress_bar=false"], work)
    out = _run([str(venv / "bin" / "python"), "-c", PREDICT], work)
    labels = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    assert out.split("PREDICTED ", 1)[1].strip() in labels, out


CHECKOUT_ONLY = """
import runpy, sys
# as a Python without this project installed: no editable-install finder, the checkout on the path
sys.meta_path = [finder for finder in sys.meta_path if "editable" not in getattr(finder, "__module__", "")]
sys.path.insert(0, sys.argv.pop(1))
import tformer.conf, tformer.tasks
print("CONF", tformer.conf.__file__)
sys.argv = ["tformer-train", "--cfg", "job", "experiment=tts_digits"]
runpy.run_module("tformer.cli.train", run_name="__main__")
"""


def test_a_checkout_on_the_path_runs_without_installing(tmp_path):
    # conf/ and tasks/ sit beside tformer/ in a checkout; an install maps them into it.
    result = subprocess.run([sys.executable, "-c", CHECKOUT_ONLY, str(ROOT)], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"CONF {ROOT / 'conf' / '__init__.py'}" in result.stdout
    assert "_target_: tformer.tasks.tts.TextToSpeechTask" in result.stdout and "reduction: 5" in result.stdout
