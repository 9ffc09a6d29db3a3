"""Every config composes, and every composed tokenizer, core and task instantiates."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.train import build_trainer

CONF = Path(CONFIG_DIR)
GROUPS = ["task", "source", "target", "model", "data", "trainer", "logger", "callbacks"]
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))
CORPUS = ["das haus ist rot", "the house is red", "ein hund", "a dog", "three one four"]
BOX_ITEMS = [{"boxes": [[2, 3, 20, 30]], "labels": ["a"], "width": 64, "height": 64},
             {"boxes": [[0, 0, 9, 9], [5, 5, 60, 40]], "labels": ["b", "c"], "width": 64, "height": 64}]


def _compose(overrides):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides + ["run_dir=/tmp/unused"])


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _fitted(cfg_node, labels=("a", "b", "c")):
    tokenizer = instantiate(cfg_node, _convert_="all")
    if tokenizer.needs_fit:
        corpus = BOX_ITEMS if "boxes" in (tokenizer.reads or ()) else CORPUS
        tokenizer.fit(list(labels) if "Label" in type(tokenizer).__name__ else corpus)
    return tokenizer


def _built_task(cfg):
    """The task of ``cfg`` with its fields' tokenizers fitted on a toy corpus (as tformer-train builds it)."""
    fields = {name: _fitted(spec) for name, spec in cfg.task.fields.items()}
    spec = {k: v for k, v in OmegaConf.to_container(cfg.task, resolve=True).items() if k != "fields"}
    return instantiate(spec, fields=fields, _convert_="all")


def test_the_expected_recipes_exist():
    assert {"translation_de_en", "vit_fashion_mnist", "asr_digits"} <= set(EXPERIMENTS)
    assert len(EXPERIMENTS) >= 5  # plus cross-modal compositions


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_option_composes(group):
    for option in _options(group):
        cfg = _compose([f"{group}={option}"])
        assert cfg[group] is not None or group == "logger"


@pytest.mark.parametrize("split", ["test", "valid"])
def test_every_split_option_adds_a_split_like_the_training_one(split):
    # +data/test=labeled_text data.test.path=test.tsv: a test split of your own data
    assert _options(f"data/{split}") == ["audio_manifest", "detection_boxes", "image_folder", "labeled_text", "parallel_text",
                                        "tagged_text"]
    for option in _options(f"data/{split}"):
        cfg = _compose([f"data={option}", f"+data/{split}={option}"])
        assert cfg.data[split]._target_ == cfg.data.train._target_ and set(cfg.data[split]) == set(cfg.data.train)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_every_recipe_builds_its_task(experiment):
    cfg = _compose([f"experiment={experiment}"])
    check_composition(cfg)  # its data gives what its tokenizers read
    task = _built_task(cfg)
    assert task.core.d_model == cfg.model.d_model and set(task.fields) == set(cfg.task.fields)
    optimizer = task.optimizer_factory(task.parameters())
    scheduler = task.scheduler_factory(optimizer, **({"total_steps": 1000} if "total_steps" in task.scheduler_factory.keywords else {}))
    assert scheduler.get_last_lr()[0] >= 0
    for node in (cfg.data.train, cfg.data.get("valid"), cfg.data.get("test")):
        if node is not None:
            assert callable(get_object(node._target_))
    build_trainer(cfg.trainer, logger=False)


@pytest.mark.parametrize("task", _options("task"))
@pytest.mark.parametrize("model", _options("model"))
def test_every_model_size_builds_every_task(task, model):
    if model in ("base", "big"):
        pytest.skip("the paper's sizes are built in test_paper_sizes")
    target = {"classification": "label", "tts": "mel", "tts_parallel": "mel", "detection": "boxes"}.get(task, "text_char")
    source = "image_patch" if task in ("classification", "detection") else "text_char"
    if task == "asr":
        source = "audio_fbank"
    extra = ["+task.fields.tags._target_=tformer.tokenizers.TagTokenizer"] if task == "tagging" else []  # its data names the tag fields
    extra += ["target.prenet_dim=0"] if task == "tts_parallel" else []
    cfg = _compose([f"task={task}", f"model={model}", f"source={source}", f"target={target}", *extra])
    built = _built_task(cfg)
    assert built.core.d_model == cfg.model.d_model


def test_paper_sizes_have_the_papers_parameter_count():
    from tformer.core import EncoderDecoder

    cfg = _compose(["task=translation", "model=base"])
    core = instantiate(cfg.task.core)
    # Vaswani et al. table 3: 65M for base including 37000-token shared embeddings (~19M)
    n = sum(p.numel() for p in core.parameters())
    assert isinstance(core, EncoderDecoder) and 44e6 < n < 45e6


def test_unknown_options_list_the_allowed_ones():
    with pytest.raises(ConfigCompositionException, match="(?s)source/audio_fbnk.*audio_fbank"):
        _compose(["source=audio_fbnk"])
    with pytest.raises(ConfigCompositionException, match="model.d_modle"):
        _compose(["model.d_modle=3"])


def test_the_readmes_asr_config_is_the_file():
    readme = (CONF.parent / "README.md").read_text()
    block = readme.split("```yaml\n# conf/task/asr.yaml\n", 1)[1].split("```", 1)[0]
    assert OmegaConf.create(block) == OmegaConf.load(CONF / "task" / "asr.yaml")
