"""Bad command lines and registry names: Hydra refuses them before anything runs, naming what is allowed."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException, MissingConfigException

from tformer import TOKENIZERS
from tformer.cli import CONFIG_DIR

from .conftest import assert_clean_failure, run_cli


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides + ["run_dir=/tmp/unused"])


@pytest.mark.parametrize(
    "override, allowed",
    [
        ("source=text_bpee", ["text_bpe", "text_char", "image_patch", "audio_fbank"]),
        ("model=tyni", ["tiny", "small", "base", "big"]),
        ("data=parallel_txt", ["parallel_text", "labeled_text", "image_folder", "audio_manifest"]),
        ("trainer=gpus", ["cpu", "gpu", "ddp"]),
    ],
)
def test_an_unknown_option_of_a_group_lists_the_options(override, allowed):
    group, _, value = override.partition("=")
    with pytest.raises(MissingConfigException) as error:
        _compose([override])
    message = str(error.value)
    assert f"{group}/{value}" in message and f"Available options in '{group}'" in message
    assert all(option in message for option in allowed)


def test_the_cli_refuses_an_unknown_task_listing_the_tasks():
    result = run_cli("train", "task=translatoin")
    assert_clean_failure(result, "Could not find 'task/translatoin'", "asr", "classification", "translation")


def test_the_cli_refuses_a_misspelt_key_naming_the_right_one():
    result = run_cli("train", "data.batch_sze=8")
    assert_clean_failure(result, "data.batch_sze", "Did you mean 'batch_size'?", "num_workers")


def test_a_misspelt_group_name_is_refused():
    with pytest.raises(ConfigCompositionException, match="modle"):
        _compose(["modle=tiny"])


def test_the_cli_names_a_missing_data_file_before_training():
    result = run_cli("train", "task=translation", "source=text_char", "target=text_char", "data=parallel_text",
                     "data.train.source_path=/no/such/train.de", "data.train.target_path=/no/such/train.en",
                     "run_dir=/tmp/tformer-robustness-unused")
    assert_clean_failure(result, "/no/such/train.de: no such file", "expected a text file")


def test_the_cli_refuses_text_for_an_image_source_before_preparing_anything(tmp_path):
    # The default source is image_patch: without the check every line became a "not a readable
    # image" warning and the run stopped with "no item could be prepared".
    (tmp_path / "x.tsv").write_text("".join(f"sentence number {i}\t{'ab'[i % 2]}\n" for i in range(700)))
    result = run_cli("train", "data=labeled_text", "data.train.path=x.tsv", cwd=tmp_path)
    assert_clean_failure(result, "source=image_patch reads images, but data=labeled_text gives text as the source "
                         "(LabeledTextDataset); sources that read text: text_bpe, text_char")
    output = result.stdout + result.stderr
    assert "not a readable image" not in output and "skipping item" not in output and "fitting" not in output


def test_an_unknown_registry_name_suggests_the_closest():
    with pytest.raises(KeyError, match=r"unknown tokenizer 'text_bpee'\. Did you mean 'text_bpe'\?.*text_char"):
        TOKENIZERS.build("text_bpee", d_model=8)


def test_an_unknown_constructor_argument_lists_the_accepted_ones():
    with pytest.raises(TypeError, match=r"unknown argument 'vocab_sise'\. Did you mean 'vocab_size'\?"):
        TOKENIZERS.build("text_bpe", d_model=8, vocab_sise=100)


@pytest.mark.parametrize(
    "key, overrides, message",
    [
        ("scheduler", ["task/scheduler=cosine", "+task.scheduler.scale=0.5"],
         r"task\.scheduler\.scale is not an argument of warmup_cosine\. Its arguments: warmup_steps, total_steps, min_ratio"),
        ("optimizer", ["+task.optimizer.betass=[0.9,0.98]"],
         r"task\.optimizer\.betass is not an argument of AdamW\. Did you mean 'betas'\?"),
        ("optimizer", ["+task.optimizer.betass=[0.9,0.98]", "+task.optimizer.eps2=1e-9"],
         r"task\.optimizer\.betass, task\.optimizer\.eps2 are not arguments of AdamW\. Did you mean 'betas' for betass\? "
         r"Did you mean 'eps' for eps2\? .* \(remove them with ~task\.optimizer\.betass ~task\.optimizer\.eps2\)"),
    ],
)
def test_a_stray_optimizer_or_scheduler_argument_is_named(key, overrides, message):
    # Switching task/scheduler=cosine keeps a recipe's inverse_sqrt keys (scale): name the key.
    from hydra.utils import instantiate

    from tformer.tasks.base import _checked

    task = _compose(["task=translation"] + overrides).task
    with pytest.raises(ValueError, match=message):
        _checked(instantiate(task[key]), f"task.{key}")
    other = instantiate(task["scheduler" if key == "optimizer" else "optimizer"])
    assert _checked(other, "task.other") is other


@pytest.mark.parametrize("override, message", [
    ("task.objectives.ctc=null", "task.generator (ctc_joint) needs the objective(s) ctc, which the task does not train "
                                 "(task.objectives: cross_entropy)"),
    ("task.generator.ctc_weight=1.5", "building tformer.tasks.generators.CtcJointBeam: task.generator.ctc_weight"),
    # The recipe's beam_size and pre_beam, both named at once: one removal, not two failed runs.
    ("task/generator=ctc_greedy", "building tformer.tasks.generators.CtcGreedy: task.generator.beam_size, "
                                  "task.generator.pre_beam are not arguments of CtcGreedy. Its arguments: objective "
                                  "(remove them with ~task.generator.beam_size ~task.generator.pre_beam)"),
])
def test_a_generator_the_task_cannot_use_is_refused_before_any_data_is_read(override, message, tmp_path):
    result = run_cli("train", "experiment=asr_digits", override, cwd=tmp_path)
    assert_clean_failure(result, message)
    output = result.stdout + result.stderr
    assert "preparing" not in output and "fitting" not in output and "Error in call to target" not in output
