"""Data sets declare what their raw items are, tokenizers what they read; a mismatch stops at composition."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.train import build
from tformer.data import IdxImageDataset, LabeledTextDataset, ManifestDataset, RawDataset, split_off, write_idx
from tformer.kinds import KINDS, Mismatch, gives, kind_of, mismatches, reads_of
from tformer.registry import DATASETS, TOKENIZERS
from tformer.tokenizers import ImagePatchTokenizer, LabelTokenizer, TextCharTokenizer, Tokenizer

# What each built-in part declares: the reference the declarations are compared with.
DATASET_KINDS = {
    "parallel_text": ("text", "text"), "labeled_text": ("text", "label"), "image_folder": ("image", "label"),
    "idx_images": ("image", "label"), "audio_manifest": ("audio", "text"), "fashion_mnist": ("image", "label"),
    "freedict_de_en": ("text", "text"), "espeak_digits": ("audio", "text"), "espeak_sentences": ("audio", "text"),
    "fortunes": ("text", "label"),
}
TOKENIZER_READS = {
    "text_bpe": {"text", "label"}, "text_char": {"text", "label"}, "label": {"label", "text"},
    "image_patch": {"image"}, "audio_fbank": {"audio"},
}


class UndeclaredDataset(RawDataset):
    """A user's own data set that says nothing about its items."""


class UndeclaredTokenizer(Tokenizer):
    """A plug-in tokenizer that says nothing about what it reads."""


def _compose(overrides: list[str]):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides + ["run_dir=/tmp/unused"])


def _builtin(registry, module_prefix="tformer."):
    return sorted(name for name in registry.names() if registry.get(name).__module__.startswith(module_prefix))


def test_every_builtin_data_set_declares_its_kinds():
    assert set(_builtin(DATASETS)) == set(DATASET_KINDS)
    for name, kinds in DATASET_KINDS.items():
        assert (kind_of(DATASETS.get(name), "source"), kind_of(DATASETS.get(name), "target")) == kinds, name


def test_every_builtin_tokenizer_declares_what_it_reads():
    assert set(_builtin(TOKENIZERS)) == set(TOKENIZER_READS)
    for name, reads in TOKENIZER_READS.items():
        assert set(reads_of(TOKENIZERS.get(name))) == reads and reads <= set(KINDS), name


def test_a_split_off_subset_says_what_its_parent_holds(tmp_path):
    write_idx(tmp_path / "images.idx", np.zeros((20, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "labels.idx", np.zeros(20, dtype=np.uint8))
    rest, held_out = split_off(IdxImageDataset(tmp_path / "images.idx", tmp_path / "labels.idx"), 0.1)
    assert (rest.source_kind, held_out.target_kind) == ("image", "label")
    undeclared_rest, _ = split_off(UndeclaredDataset([("a", "b")] * 4), 0.25)
    assert undeclared_rest.source_kind is None and undeclared_rest.target_kind is None


def test_mismatches_name_the_side_and_both_kinds():
    assert mismatches(LabeledTextDataset, ImagePatchTokenizer, LabelTokenizer) == [Mismatch("source", "text", ("image",))]
    assert mismatches(ManifestDataset, ImagePatchTokenizer, LabelTokenizer) == [Mismatch("source", "audio", ("image",))]
    assert mismatches(IdxImageDataset, ImagePatchTokenizer, TextCharTokenizer) == []  # captioning: labels as text
    assert mismatches(LabeledTextDataset, TextCharTokenizer, LabelTokenizer) == []


def test_what_declares_nothing_is_not_refused():
    assert mismatches(UndeclaredDataset, ImagePatchTokenizer, LabelTokenizer) == []
    assert mismatches(LabeledTextDataset, UndeclaredTokenizer, LabelTokenizer) == []
    assert mismatches(object(), object(), object()) == []


def test_a_builder_declares_with_gives_and_only_known_kinds():
    @gives(source="audio", target="label")
    def builder():
        return None

    assert (builder.source_kind, builder.target_kind) == ("audio", "label")
    with pytest.raises(ValueError, match="unknown kind of raw item 'video'"):
        gives(source="video", target="text")


def test_text_for_an_image_source_names_both_sides_and_what_fits():
    cfg = _compose(["data=labeled_text", "data.train.path=x.tsv"])
    expected = ("source=image_patch reads images, but data=labeled_text gives text as the source (LabeledTextDataset); "
                "sources that read text: text_bpe, text_char; data that gives images as the source: fashion_mnist, image_folder")
    with pytest.raises(ValueError) as error:
        check_composition(cfg)
    assert str(error.value) == expected


def test_a_given_test_split_is_checked_too():
    cfg = _compose(["task=classification", "source=text_char", "data=labeled_text", "data.train.path=x.tsv",
                    "+data.test={_target_: tformer.data.ManifestDataset, path: test.jsonl}"])
    with pytest.raises(ValueError, match=r"^source=text_char reads text and labels, but data\.test gives audio as the "
                                         r"source \(ManifestDataset\); sources that read audio: audio_fbank;"):
        check_composition(cfg)


def test_build_refuses_before_reading_any_data():
    # The file does not exist: reading the data first would fail with "no such file" instead.
    cfg = _compose(["data=labeled_text", "data.train.path=/no/such/train.tsv"])
    with pytest.raises(ValueError, match="source=image_patch reads images, but data=labeled_text gives text"):
        build(cfg)


def test_an_undeclared_data_set_is_skipped_with_a_debug_line(caplog):
    cfg = _compose(["source=text_char", "data=labeled_text", "data.train.path=x.tsv",
                    f"+data.test={{_target_: {__name__}.UndeclaredDataset, pairs: []}}"])
    with caplog.at_level(logging.DEBUG, logger="tformer.cli.composition"):
        check_composition(cfg)
    assert "declares no source_kind" in caplog.text


@pytest.mark.parametrize("overrides", [
    [],  # the default composition: ViT on Fashion-MNIST
    ["task=classification", "source=text_bpe", "data=labeled_text", "data.train.path=x.tsv"],
    ["task=translation", "source=image_patch", "target=text_char"],  # captioning writes labels as text
    ["task=asr", "source=audio_fbank", "target=text_bpe", "data=audio_manifest", "data.train.path=x.jsonl"],
    ["task=classification", "source=text_char", "data=parallel_text", "data.train.source_path=x.tsv",
     "data.train.target_path=null", f"+data.test={{_target_: {__name__}.UndeclaredDataset, pairs: []}}"],
])
def test_compositions_that_fit_pass(overrides):
    check_composition(_compose(overrides))
