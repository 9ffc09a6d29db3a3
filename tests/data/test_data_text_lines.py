"""text_lines: lines cut and kept apart, fonts split by file and checked by cmap, images drawn, read back."""

import json

import numpy as np
import pytest
from PIL import Image

from tests.data.text_lines_fixture import DEJAVU, FONTS, box_font, line_images, toy_dictionary
from tformer.data import BUILTINS, DataError, TextLinesDataset, prepared_folder, text_lines
from tformer.data.fonts import FONTS as BUILT_IN_FONTS
from tformer.data.fonts import font_paths, missing_characters
from tformer.data.freedict import prepare_freedict
from tformer.data.line_render import HEIGHT, LineStyle, render_line
from tformer.data.text_lines import cut_line, held_out_free, prepare_text_lines

pytestmark = pytest.mark.skipif(not (DEJAVU / "DejaVuSans.ttf").is_file(), reason="fonts-dejavu-core is not installed")
SPLITS = ("train", "valid", "test", "test_clean")


def test_cut_line_makes_the_fewest_lines_of_about_equal_length():
    text = "Die Bäume blühen im Frühling, und die Vögel singen in den hohen Gärten."  # 71 characters
    lines = cut_line(text, 48)
    words = text.split()
    best = min(max(len(" ".join(words[:k])), len(" ".join(words[k:]))) for k in range(1, len(words)))  # every cut
    assert len(lines) == 2 and " ".join(lines) == text and max(map(len, lines)) == best == 37
    assert cut_line("Kurz und gut.", 48) == ["Kurz und gut."]
    assert cut_line("  ", 48) == []
    assert cut_line("a Donaudampfschifffahrt b", 10) == ["a", "Donaudampfschifffahrt", "b"]  # a long word stays whole
    for max_chars in (12, 20, 30):
        lines = cut_line(text, max_chars)
        assert " ".join(lines) == text and all(len(line) <= max_chars for line in lines)


def test_held_out_free_drops_lines_holding_a_held_out_line_as_whole_words():
    lines = ["Er sagte: Ich komme.", "Ich komme.", "Ich kommen.", "Wir kommen morgen", "Sie komme."]
    kept, dropped = held_out_free(lines, {"Ich komme.", "kommen morgen"})
    assert kept == ["Ich kommen.", "Sie komme."] and dropped == 3


def test_missing_characters_follow_the_font_cmap(tmp_path):
    boxes = box_font(tmp_path / "boxes.ttf", "abc")
    assert missing_characters("a cab, bad!", boxes) == ",d!"  # spaces need no glyph; each missing one once
    assert missing_characters("Grüße aus Köln 漢", DEJAVU / "DejaVuSans.ttf") == "漢"


def test_built_in_fonts_keep_test_and_valid_files_out_of_training():
    files = {split: set(names) for split, names in BUILT_IN_FONTS.items()}
    assert not files["train"] & files["test"] and not files["train"] & files["valid"] and not files["valid"] & files["test"]
    families = {split: {name.split("/")[1] for name in names} for split, names in BUILT_IN_FONTS.items()}
    assert not families["train"] & families["test"]  # whole families, not only files, are held out
    with pytest.raises(DataError, match=r"font .*DejaVuSans.ttf is listed for both train and test"):
        font_paths({"train": ["DejaVuSans.ttf"], "test": ["DejaVuSans.ttf"]}, DEJAVU)
    with pytest.raises(DataError, match=r"1 font file\(s\) not found, e.g. .*Nope.ttf; install them: apt-get install -y"):
        font_paths({"train": ["DejaVuSans.ttf", "Nope.ttf"]}, DEJAVU)


def test_render_line_is_height_32_with_the_text_inside_and_clean_is_clean():
    style = LineStyle(30, (0.0, 0.0, 0.0, 0.0))
    image = np.asarray(render_line("Grüße", str(DEJAVU / "DejaVuSans.ttf"), style))
    ink = np.nonzero(image.min(axis=0) < 128)[0]
    assert image.shape[0] == HEIGHT and image.max() == 255 and image.min() < 40
    assert ink[0] <= 2 and ink[-1] >= image.shape[1] - 3  # no margins: the letters touch both ends
    faulty = LineStyle(30, (0.2, 0.1, 0.2, 0.1), angle=2.0, blur=0.8, noise=10.0, paper=200, ink=60, texture=20.0, seed=3)
    assert faulty.clean() == LineStyle(30, (0.2, 0.1, 0.2, 0.1))
    distorted = render_line("Grüße", str(DEJAVU / "DejaVuSans.ttf"), faulty)
    again = render_line("Grüße", str(DEJAVU / "DejaVuSans.ttf"), faulty)
    assert distorted.height == HEIGHT and np.array_equal(np.asarray(distorted), np.asarray(again))  # seeded


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The toy dictionary drawn with DejaVu fonts, the valid split in a font of boxes for a, b, c only."""
    root = tmp_path_factory.mktemp("text_lines")
    fonts = {**{split: [str(DEJAVU / name) for name in names] for split, names in FONTS.items()},
             "valid": [str(box_font(root / "boxes.ttf", "DieZahlstgu.0123456789"))]}
    folder = root / "out"
    folder.mkdir()
    info = prepare_text_lines(folder, train_size=40, valid_size=500, test_size=12, fonts=fonts, font_dir="/",
                              dict_path=str(toy_dictionary(root)), processes=1)
    return folder, info, fonts


def _manifest(folder, split):
    return [json.loads(line) for line in (folder / f"{split}.jsonl").read_text().splitlines()]


def test_splits_keep_test_fonts_and_sentences_out_of_training(prepared):
    folder, info, fonts = prepared
    rows = {split: _manifest(folder, split) for split in SPLITS}
    assert info["splits"]["train"] == 40 and info["splits"]["test"] == info["splits"]["test_clean"] == 12
    assert {split: len(r) for split, r in rows.items()} == info["splits"]
    for split in ("train", "test"):
        assert {"/" + row["font"] for row in rows[split]} <= set(fonts[split])
    train = {row["text"] for row in rows["train"]}
    held_out = {row["text"] for split in ("valid", "test") for row in rows[split]}
    assert held_out_free(sorted(train), held_out) == (sorted(train), 0)  # no training line holds a held-out one
    assert [(r["text"], r["font"], r["size"], r["margins"]) for r in rows["test"]] == \
           [(r["text"], r["font"], r["size"], r["margins"]) for r in rows["test_clean"]]
    assert all(r["paper"] == 255 and r["ink"] == 0 and r["angle"] == 0 for r in rows["test_clean"])


def test_a_font_lacking_a_character_is_skipped_for_that_line_and_counted(prepared, tmp_path):
    folder, info, _ = prepared
    # The valid font draws "Die Zahl N ist gut." but neither "schön" (every third German sentence)
    # nor English ("The number N is fine."): of freedict's 500 + 500 valid sentences, only the
    # German ones with "gut" are drawn; each other line tries the one font, is counted and left out.
    prepare_freedict(tmp_path, dict_path=str(toy_dictionary(tmp_path)))
    drawable = [line for line in (tmp_path / "valid.de").read_text().splitlines() if line.endswith("gut.")]
    assert sorted(row["text"] for row in _manifest(folder, "valid")) == sorted(drawable)
    assert info["skipped"]["font_lacks_character"] == info["skipped"]["no_font_for_line"] == 1000 - len(drawable)
    assert {"T", "ö", "c"} <= set(info["characters_fonts_lack"]["boxes.ttf"])


def test_images_are_grey_32_high_as_wide_as_recorded_and_read_back(prepared):
    folder, _, _ = prepared
    data = TextLinesDataset(folder / "test.jsonl")
    assert data.fields == {"source": "image", "target": "text"} and len(data) == 12
    for item, width in zip(data, data.size_hints()["source"]):
        with Image.open(item["source"]) as image:
            assert image.mode == "L" and image.size == (width, HEIGHT)
    assert data.size_hints()["target"] == [float(len(text)) for text in data.column("target")]


def test_preparation_is_repeatable(prepared, tmp_path):
    folder, _, fonts = prepared
    again = tmp_path / "again"
    again.mkdir()
    prepare_text_lines(again, train_size=40, valid_size=500, test_size=12, fonts=fonts, font_dir="/",
                       dict_path=str(toy_dictionary(tmp_path)), processes=2)
    for split in SPLITS:
        assert (again / f"{split}.jsonl").read_text() == (folder / f"{split}.jsonl").read_text()
    first = _manifest(folder, "train")[0]["image"]
    assert np.array_equal(np.asarray(Image.open(folder / first)), np.asarray(Image.open(again / first)))


def test_manifest_errors_name_the_line(tmp_path):
    path = line_images(tmp_path, ["Ja."])
    path.write_text(path.read_text() + '{"image": "1.png"}\n')
    with pytest.raises(DataError, match=r'lines\.jsonl:2: expected a JSON object with "image" and "text"'):
        TextLinesDataset(path)


def test_registered_with_its_options_and_splits(tmp_path):
    builtin = BUILTINS["text_lines"]
    assert builtin.defaults["train_size"] == 30000 and builtin.defaults["fonts"] == BUILT_IN_FONTS
    assert text_lines.fields == {"source": "image", "target": "text"}
    with pytest.raises(DataError, match="split='dev' is not one of train, valid, test, test_clean"):
        text_lines("dev", root=str(tmp_path))
    with pytest.raises(DataError, match="train_size=0; expected a whole number >= 1"):
        prepared_folder("text_lines", tmp_path, train_size=0)
