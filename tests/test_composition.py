"""Data sets declare what their raw items are, tokenizers what they read; a mismatch stops at composition."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from tformer.cli import CONFIG_DIR
from tformer.cli.composition import check_composition
from tformer.cli.train import build
from tformer.data import (
    FortunesDataset, IdxImageDataset, LabeledTextDataset, ManifestDataset, RawDataset, split_off, write_idx,
)
from tformer.kinds import KINDS, Mismatch, fields_of, gives, mismatches, reads_of
from tformer.registry import DATASETS, TOKENIZERS
from tformer.tokenizers import ImagePatchTokenizer, LabelTokenizer, TextCharTokenizer, Tokenizer

# What each built-in part declares: the reference the declarations are compared with.
TWO = {  # data sets of two fields, source and target
    "parallel_text": ("text", "text"), "labeled_text": ("text", "label"), "image_folder": ("image", "label"),
    "idx_images": ("image", "label"), "audio_manifest": ("audio", "text"), "fashion_mnist": ("image", "label"),
    "freedict_de_en": ("text", "text"), "espeak_digits": ("audio", "text"), "espeak_sentences": ("audio", "text"),
    "recorded_digits": ("audio", "text"),
    "text_lines": ("image", "text"),
    "fashion_canvas": ("image", "boxes"), "detection_boxes": ("image", "boxes"),
}
DATASET_FIELDS = {
    **{name: {"source": source, "target": target} for name, (source, target) in TWO.items()},
    "fortunes": {"text": "text", "topic": "label"},
    "fillets_speech": {"audio": "audio", "text": "text", "transcript": "text", "translation": "text",
                       "speaker": "label", "language": "label"},
    "punctuation_en": {"text": "text", "punctuation": "text", "case": "text"},
    "punctuation_fortunes": {"text": "text", "punctuation": "text", "case": "text"},
    "fillets_text": {"source": "text", "target": "text", "language": "label"},
}
FIELDS_BY_CONFIG = {"tagged_text"}  # its fields are the keys its config names (text_field, tag_fields)
TOKENIZER_READS = {
    "text_bpe": {"text", "label"}, "text_char": {"text", "label"}, "label": {"label", "text"},
    "image_patch": {"image"}, "image_line": {"image"}, "audio_fbank": {"audio"}, "mel": {"audio"}, "tags": {"text"},
    "boxes": {"boxes"},
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


def test_every_builtin_data_set_declares_its_fields():
    assert set(_builtin(DATASETS)) == set(DATASET_FIELDS) | FIELDS_BY_CONFIG
    for name, fields in DATASET_FIELDS.items():
        assert fields_of(DATASETS.get(name)) == fields, name


def test_tagged_text_declares_the_fields_its_config_names(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"words": "a b", "ner": "O X", "pos": "N V"}\n')
    data = DATASETS.get("tagged_text")(path, tag_fields=["ner", "pos"], text_field="words")
    assert fields_of(data) == {"words": "text", "ner": "text", "pos": "text"}


def test_every_builtin_tokenizer_declares_what_it_reads():
    assert set(_builtin(TOKENIZERS)) == set(TOKENIZER_READS)
    for name, reads in TOKENIZER_READS.items():
        assert set(reads_of(TOKENIZERS.get(name))) == reads and reads <= set(KINDS), name


def test_a_split_off_subset_says_what_its_parent_holds(tmp_path):
    write_idx(tmp_path / "images.idx", np.zeros((20, 4, 4), dtype=np.uint8))
    write_idx(tmp_path / "labels.idx", np.zeros(20, dtype=np.uint8))
    rest, held_out = split_off(IdxImageDataset(tmp_path / "images.idx", tmp_path / "labels.idx"), 0.1)
    assert fields_of(rest) == fields_of(held_out) == {"source": "image", "target": "label"}
    undeclared_rest, _ = split_off(UndeclaredDataset({"source": ["a"] * 4, "target": ["b"] * 4}), 0.25)
    assert fields_of(undeclared_rest) is None and undeclared_rest.field_names() == ["source", "target"]


def _two(source, target) -> dict:
    return {"source": source, "target": target}


def test_mismatches_name_the_field_its_column_and_both_kinds():
    labeled, manifest = fields_of(LabeledTextDataset), fields_of(ManifestDataset)
    image_label = _two(ImagePatchTokenizer, LabelTokenizer)
    assert mismatches(labeled, image_label, {}) == [Mismatch("source", "source", "text", ("image",))]
    assert mismatches(manifest, image_label, {}) == [Mismatch("source", "source", "audio", ("image",))]
    captioning = _two(ImagePatchTokenizer, TextCharTokenizer)  # labels written as text
    assert mismatches(fields_of(IdxImageDataset), captioning, {}) == []
    assert mismatches(labeled, _two(TextCharTokenizer, LabelTokenizer), {}) == []


def test_mismatches_follow_the_data_field_a_task_field_reads():
    fortunes = fields_of(FortunesDataset)
    assert mismatches(fortunes, {"text": TextCharTokenizer}, {}) == []  # a language model on the texts
    assert mismatches(fortunes, {"text": ImagePatchTokenizer}, {}) == [Mismatch("text", "text", "text", ("image",))]
    renamed = {"source": "text", "target": "topic"}
    assert mismatches(fortunes, _two(TextCharTokenizer, LabelTokenizer), renamed) == []
    assert mismatches(fortunes, _two(TextCharTokenizer, ImagePatchTokenizer), renamed) == [
        Mismatch("target", "topic", "label", ("image",))]


def test_what_declares_nothing_is_not_refused():
    assert fields_of(UndeclaredDataset) is None and fields_of(object()) is None
    labeled = fields_of(LabeledTextDataset)
    assert mismatches(labeled, _two(UndeclaredTokenizer, LabelTokenizer), {}) == []
    assert mismatches(labeled, _two(object(), object()), {}) == []
    # a field the data lacks is no mismatch: check_composition reports it on its own
    assert mismatches(labeled, {"text": ImagePatchTokenizer}, {}) == []


def test_a_builder_declares_with_gives_and_only_known_kinds():
    @gives(source="audio", target="label")
    def builder():
        return None

    assert builder.fields == fields_of(builder) == {"source": "audio", "target": "label"}
    with pytest.raises(ValueError, match="unknown kind of raw item 'video'"):
        gives(source="video", target="text")


def test_text_for_an_image_source_names_both_sides_and_what_fits():
    cfg = _compose(["data=labeled_text", "data.train.path=x.tsv"])
    expected = ("source=image_patch reads images, but data=labeled_text gives text as the source (LabeledTextDataset); "
                "sources that read text: text_bpe, text_char; data that gives images as the source: detection_boxes, "
                "fashion_canvas, fashion_mnist, image_folder, text_lines")
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


FORTUNES_BY_TOPIC = ["task=classification", "source=text_char", "target=label", "data=fortunes"]


def test_a_task_field_the_data_lacks_is_refused_with_the_fields_it_has():
    # without its data.fields (source: text, target: topic) fortunes has no "source"
    with pytest.raises(ValueError) as error:
        check_composition(_compose(FORTUNES_BY_TOPIC + ["~data.fields"]))
    assert str(error.value) == ("task=classification reads its field 'source', but data=fortunes gives 'text', 'topic' "
                                "(fortunes); say which data field it reads, e.g. +data.fields={source: text}")
    with pytest.raises(ValueError, match=r"its field 'target', .* e\.g\. \+data\.fields=\{target: topic\}$"):
        check_composition(_compose(FORTUNES_BY_TOPIC + ["~data.fields", "+data.fields={source: text}"]))
    # the suggestions, typed as they are shown, make the run
    check_composition(_compose(FORTUNES_BY_TOPIC + ["~data.fields", "+data.fields={source: text}",
                                                    "+data.fields={target: topic}"]))


def test_a_task_field_renamed_to_a_field_the_data_lacks_is_refused():
    # "label" for "topic": the suggestion is the data field no other task field reads
    with pytest.raises(ValueError) as error:
        check_composition(_compose(FORTUNES_BY_TOPIC + ["data.fields.target=label"]))
    assert str(error.value) == ("task=classification reads its field 'target' from the data field 'label', but "
                                "data=fortunes gives 'text', 'topic' (fortunes); say which data field it reads, "
                                "e.g. +data.fields={target: topic}")
    check_composition(_compose(FORTUNES_BY_TOPIC + ["data.fields.target=label", "+data.fields={target: topic}"]))


def test_a_renamed_field_of_the_wrong_kind_names_the_data_field_it_reads():
    cfg = _compose(["task=classification", "source=image_patch", "target=label", "data=fortunes"])
    with pytest.raises(ValueError, match=r"^source=image_patch reads images, but data=fortunes gives text as its field "
                                         r"'text', which task field 'source' reads \(fortunes\); sources that read text: "
                                         r"text_bpe, text_char;"):
        check_composition(cfg)


def test_build_refuses_a_missing_field_before_reading_any_data():
    # one field named "text" (a language model's) on parallel text, whose fields are source and target
    cfg = _compose(["task=translation", "source=text_char", "target=text_char", "data=parallel_text",
                    "data.train.source_path=/no/such.de", "data.train.target_path=/no/such.en",
                    "~task.fields", "+task.fields={text: ${target}}"])
    expected = (r"^task=translation reads its field 'text', but data=parallel_text gives 'source', 'target' "
                r"\(ParallelTextDataset\); say which data field it reads, e\.g\. \+data\.fields=\{text: source\}$")
    with pytest.raises(ValueError, match=expected):
        build(cfg)
    check_composition(_compose(["task=translation", "source=text_char", "target=text_char", "data=parallel_text",
                                "~task.fields", "+task.fields={text: ${target}}", "+data.fields={text: target}"]))


def test_an_undeclared_data_set_is_skipped_with_a_debug_line(caplog):
    cfg = _compose(["source=text_char", "data=labeled_text", "data.train.path=x.tsv",
                    f"+data.test={{_target_: {__name__}.UndeclaredDataset, columns: {{}}}}"])
    with caplog.at_level(logging.DEBUG, logger="tformer.cli.composition"):
        check_composition(cfg)
    assert "data.test (UndeclaredDataset) declares no fields: it is not checked" in caplog.text


@pytest.mark.parametrize("overrides", [
    [],  # the default composition: ViT on Fashion-MNIST
    ["task=classification", "source=text_bpe", "data=labeled_text", "data.train.path=x.tsv"],
    ["task=translation", "source=image_patch", "target=text_char"],  # captioning writes labels as text
    ["task=asr", "source=audio_fbank", "target=text_bpe", "data=audio_manifest", "data.train.path=x.jsonl"],
    ["task=classification", "source=text_char", "data=parallel_text", "data.train.source_path=x.tsv",
     "data.train.target_path=null", f"+data.test={{_target_: {__name__}.UndeclaredDataset, columns: {{}}}}"],
    ["task=classification", "source=text_bpe", "target=label", "data=fortunes"],  # its data.fields: source: text...
    ["task=translation", "source=text_char", "target=text_char", "data=fortunes", "data.fields.target=text"],  # both read text
])
def test_compositions_that_fit_pass(overrides):
    check_composition(_compose(overrides))


def test_a_generator_that_needs_an_objective_the_task_lacks_is_named_at_composition():
    translation = ["task=translation", "target=text_bpe", "data=parallel_text", "data.train.source_path=x",
                   "data.train.target_path=y"]
    with pytest.raises(ValueError, match=r"task.generator \(ctc_beam\) needs the objective\(s\) ctc, which the task "
                                         r"does not train \(task.objectives: cross_entropy\)"):
        check_composition(_compose(translation + ["task.generator._target_=tformer.tasks.generators.CtcRescoredBeam"]))
    check_composition(_compose(["experiment=asr_digits"]))  # asr trains its ctc objective
    with pytest.raises(ValueError, match=r"needs the objective\(s\) ctc"):
        check_composition(_compose(["experiment=asr_digits", "task.objectives.ctc=null"]))
