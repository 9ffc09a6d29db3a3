"""Every command example in README.md and in the config comments is one a user can type.

tformer-train and tformer-predict examples compose with Hydra against the installed configs
(files they name need not exist; nothing trains), and a tformer-train composition also passes
the data/tokenizer check and names only arguments its optimizer and schedule take. Examples
that need GPUs or many nodes compose the same way. The argparse programs parse their
examples. The data of examples on built-in data sets is read, and the tokenizers fitted and
attached, where it is already prepared (preparing can take minutes; ``tformer-data NAME``).
"""

from __future__ import annotations

import functools
import os
import importlib
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from tests import plugin_example
from tests.examples import PROGRAMS, Example, comment_examples, readme_examples
from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.errors import USER_ERRORS, user_message
from tformer.cli.fields import build_fields
from tformer.data import BUILTINS, builtin
from tformer.registry import DATASETS
from tformer.tasks.base import _checked

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ALL_EXAMPLES = readme_examples(README.read_text()) + readme_examples(plugin_example.DOC.read_text(), "docs/extend.md") + [
    example for path in sorted(Path(CONFIG_DIR).rglob("*.yaml")) for example in comment_examples(path, Path(CONFIG_DIR).parent)
]
# Options only the example plug-ins of docs/extend.md provide ("source=dna_kmer", "task=denoising"):
# their examples run where the plug-ins are installed.
PLUGIN_OPTIONS = {"=".join(Path(path).parts[-2:])[: -len(".yaml")] for project in plugin_example.FILES
                  for path in plugin_example.example_files(project) if path.endswith(".yaml")}
PLUGIN_EXAMPLES = [e for e in ALL_EXAMPLES if PLUGIN_OPTIONS & set(e.args)]
EXAMPLES = [e for e in ALL_EXAMPLES if e not in PLUGIN_EXAMPLES]
HYDRA_APPS = {"tformer-train", "tformer-predict"}  # the others are argparse programs with build_parser()


def _compose(config_name: str, args: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name, overrides=args)


@functools.lru_cache(maxsize=None)
def _composed_run(args: tuple[str, ...]) -> DictConfig:
    return _compose("train", list(args))


def composed_run(args: list[str]) -> DictConfig:
    """A tformer-train example's config, checked as far as nothing is read or trained."""
    cfg = _composed_run(tuple(args))  # composed once per session: the data test below reuses it
    check_composition(cfg)  # every key of every _target_ node an argument of what it names, too
    for key in ("optimizer", "scheduler"):  # a switched schedule keeps no stray argument
        _checked(instantiate(cfg.task[key]), f"task.{key}")
    return cfg


def run_example(example: Example) -> None:
    """Compose or parse ``example`` as its program would; raise one of ``USER_ERRORS`` (what the
    programs report as one line) if the program would refuse it."""
    if example.program not in PROGRAMS:
        raise ValueError(f"{example.where}: {example.program} is not a tformer program ({', '.join(PROGRAMS)})")
    if example.program == "tformer-train":
        composed_run(example.args)
    elif example.program in HYDRA_APPS:
        _compose(PROGRAMS[example.program].rpartition(".")[2], example.args)
    else:
        _parse(example)


def _parse(example: Example) -> None:
    module = importlib.import_module(PROGRAMS[example.program])
    try:
        args = module.build_parser().parse_args(example.args)
    except SystemExit:  # argparse printed why
        raise ValueError(f"{example.where}: {example.program} refuses {' '.join(example.args)}") from None
    if example.program == "tformer-data" and args.name is not None:  # what its _prepare checks first
        given = {key for key in ("train_size", "valid_size", "test_size", "seed") if getattr(args, key) is not None}
        if args.name not in BUILTINS or not given <= set(BUILTINS[args.name].defaults):
            raise ValueError(f"{example.where}: no built-in data set {args.name!r} with options {given or '{}'}")


def test_the_examples_are_found():
    programs = {example.program for example in EXAMPLES}
    assert programs == set(PROGRAMS)  # every program has an example; no example names another
    wheres = {example.where.partition(":")[0] for example in EXAMPLES}
    assert {"README.md", "conf/train.yaml", "conf/data/labeled_text.yaml", "conf/predict.yaml"} <= wheres
    torchrun = [e for e in EXAMPLES if "trainer.num_nodes=2" in e.args]
    assert len(torchrun) >= 3  # torchrun -m tformer.cli.train, srun, conf/trainer/ddp.yaml
    continued = [e for e in EXAMPLES if e.where.startswith("README") and "data.train.label_key=n_digits" in e.args]
    assert continued and "trainer.max_epochs=5" in continued[0].args  # the line after a backslash


@pytest.mark.parametrize("example", [e for e in EXAMPLES if not e.shown_error], ids=lambda e: e.where)
def test_the_example_is_accepted(example):
    run_example(example)


@pytest.mark.parametrize("example", [e for e in EXAMPLES if e.shown_error], ids=lambda e: e.where)
def test_the_example_fails_as_shown(example):
    with pytest.raises(USER_ERRORS) as error:
        run_example(example)
    for line in example.shown_error:  # as the program prints it (user_message), else as raised
        shown = line.removeprefix(f"{example.program}: error: ")
        assert shown in user_message(error.value) or shown in str(error.value)


@pytest.mark.parametrize("written, why", [
    ("tformer-train experiment=vit_fashion_mnist data.batch_sise=8", "misspelt key"),
    ("tformer-train task=classification source=text_bep target=label", "no such option"),
    ("tformer-train data=labeled_text data.train.path=x.tsv \\\n    data.test.path=test.tsv", "test is null"),
    ("tformer-train task=classification source=audio_fbank data=espeak_digits \\\n    +data.train.label_keys=n_digits",
     "no such argument"),
    ("tformer-train data=labeled_text data.train.path=x.tsv", "image_patch cannot read text"),
    ("tformer-plot positions --d-modle 128 -o positions.png", "misspelt flag"),
    ("tformer-predict ckpt=last.ckpt inputs=lines.txt", "misspelt key"),
    ("tformer-data espeak_digit", "no such data set"),
    ("tformer-trian experiment=asr_digits", "no such program"),
])
def test_a_wrong_example_fails(written, why):
    (example,) = readme_examples(f"```bash\n{written}\n```\n")
    with pytest.raises(USER_ERRORS):
        run_example(example)


def test_the_data_of_examples_on_builtin_data_reads(monkeypatch):
    # Preparing a built-in data set can take minutes: read only those already prepared.
    monkeypatch.setattr(builtin, "_prepare_atomically", _not_prepared)
    runs: dict[str, Example] = {}
    for example in EXAMPLES:
        if example.program == "tformer-train" and not example.shown_error:
            cfg = composed_run(example.args)
            if _builtin_name(cfg) is not None:
                fields = {name: spec._target_ for name, spec in cfg.task.fields.items()}
                key = OmegaConf.to_yaml({"data": cfg.data, "fields": fields}, resolve=True)
                runs.setdefault(key, example)
    read = [example.where for example in runs.values() if _read_and_attach(example)]
    if not read:
        pytest.skip("no built-in data set the examples use is prepared yet (tformer-data fashion_mnist)")


class _NotPrepared(Exception):
    pass


def _not_prepared(*args, **kwargs):
    raise _NotPrepared


def _builtin_name(cfg: DictConfig) -> str | None:
    target = OmegaConf.select(cfg, "data.train._target_")
    name = target.rpartition(".")[2] if isinstance(target, str) else None
    return name if name in BUILTINS and name in DATASETS else None


def _read_and_attach(example: Example) -> bool:
    """Read the example's data, fit its fields' tokenizers on the training split's columns they
    read and attach them (which checks given test labels), as tformer-train does; False when the
    data set is not prepared."""
    cfg = composed_run(example.args)
    try:
        data = instantiate(cfg.data, _convert_="all")
    except InstantiationException as error:
        if isinstance(error.__cause__, _NotPrepared):
            return False
        raise
    data.attach(build_fields(cfg, data))
    return True


def test_the_plugin_examples_are_accepted_where_the_plugins_are_installed(kmer_site, denoise_site):
    assert {"source=dna_kmer", "task=denoising"} <= {a for e in PLUGIN_EXAMPLES for a in e.args}, PLUGIN_OPTIONS
    for example in PLUGIN_EXAMPLES:
        code = ("from tests.test_examples import PLUGIN_EXAMPLES, run_example\n"
                f"run_example(next(e for e in PLUGIN_EXAMPLES if e.where == {example.where!r}))\n")
        result = plugin_example.run_python(code, f"{kmer_site}{os.pathsep}{denoise_site}", cwd=ROOT)
        assert result.returncode == 0, f"{example.where}: {result.stderr[-3000:]}"
