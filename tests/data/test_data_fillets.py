"""The fillets_speech data set, prepared from a tiny game folder in the real formats (lua scripts, Ogg clips)."""

import json

import pytest
import soundfile

from tformer.data import DataError, fillets_speech
from tformer.data.builtin import prepared_folder
from tformer.data.fillets import UNSEEN_SPEAKERS, assign_splits
from tformer.data.fillets_script import Line, in_latin_script, normalize, read_lines
from tformer.kinds import AUDIO, LABEL, TEXT

from .fillets_fixture import LINES, make_game


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    root = tmp_path_factory.mktemp("fillets")
    game = make_game(root)
    folder = prepared_folder("fillets_speech", root / "data", game_dir=str(game))
    return {"game": str(game), "root": str(root / "data"), "folder": folder,
            "info": json.loads((folder / "info.json").read_text())}


def _all(game, language):
    return {split: fillets_speech(split, language, root=game["root"], game_dir=game["game"])
            for split in ("train", "valid", "test", "test_unseen")}


def test_the_script_reader_finds_every_line_with_its_languages(game):
    lines = read_lines(game["folder"].parent.parent / "fillets-ng" / "script")
    assert len(lines) == len(LINES)  # the same clip id in two levels is two lines
    line = lines[("reef", "ree-v-ano")]
    assert line.speaker == "font_big" and line.texts == {"en": 'Yes, "fish".', "cs": 'Ano, "ryba".', "nl": 'Ja, "vis".'}
    assert lines[("reef", "ree-v-kamen")].texts["cs"] == "Kámen. Velký kámen."  # dialogStr( on its own line
    assert "cs" not in lines[("reef", "ree-v-nic")].texts


def test_normalize_and_script_check():
    assert normalize("Co je to za divnou loď?") == "co je to za divnou loď"
    assert normalize("Hij heeft z\u2019n \"hond\" - ja.") == "hij heeft z'n hond ja"
    assert normalize("LC-10 Lemura...") == "lc-10 lemura"
    assert in_latin_script("Příliš žluťoučký kůň") and in_latin_script("Één, twee.")
    assert not in_latin_script("Привет.")


def test_every_clip_is_counted_kept_or_skipped_with_its_reason(game):
    cs, nl, en = (game["info"]["languages"][lang] for lang in ("cs", "nl", "en"))
    assert cs["skipped"] == {"undecodable": 1, "silent": 1, "wrong_script": 1, "no_transcript": 1}
    assert sum(cs["splits"].values()) == 8 and sum(nl["splits"].values()) == 9
    assert nl["skipped"] == {"no_transcript": 3}
    assert en["splits"] == {"train": 0, "valid": 0, "test": 1, "test_unseen": 0}


def test_items_hold_16khz_mono_audio_and_every_text(game):
    splits = _all(game, "nl")
    assert fillets_speech.fields == {"audio": AUDIO, "text": TEXT, "transcript": TEXT, "translation": TEXT,
                                     "speaker": LABEL, "language": LABEL}
    items = [item for raw in splits.values() for item in (raw[i] for i in range(len(raw)))]
    item = next(i for i in items if i["transcript"] == 'Ja, "vis".')
    assert item["text"] == "ja vis" and item["translation"] == 'Yes, "fish".' and item["speaker"] == "font_big"
    info = soundfile.info(item["audio"])
    assert info.samplerate == 16000 and info.channels == 1 and info.duration == pytest.approx(0.6, abs=0.01)


def test_no_test_line_is_heard_or_read_in_training(game):
    both = {lang: _all(game, lang) for lang in ("cs", "nl")}
    train_lines = {t for lang in both for name in ("text", "translation") for t in both[lang]["train"].column(name)}
    for lang in both:
        for split in ("valid", "test", "test_unseen"):
            held = set(both[lang][split].column("text")) | set(both[lang][split].column("translation"))
            assert not held & train_lines
    where = {}  # a clip id's split is the same in Czech and Dutch
    for lang in both:
        for split, raw in both[lang].items():
            for audio in raw.column("audio"):
                assert where.setdefault(audio.split("/audio/")[1].split("/", 1)[1], split) == split


def test_unseen_speakers_are_only_in_their_split(game):
    splits = _all(game, "cs")
    assert set(splits["test_unseen"].column("speaker")) == {"font_parrot"}
    for split in ("train", "valid", "test"):
        assert not set(splits[split].column("speaker")) & set(UNSEEN_SPEAKERS)


def test_equal_lines_share_a_split_and_the_split_is_fixed_by_the_texts():
    lines = [Line("a", "l", "font_small", {"en": "Hello there.", "cs": "Ahoj."}),
             Line("b", "l", "font_big", {"en": "Something else.", "cs": "Ahoj!"}),  # same Czech words as "a"
             Line("c", "l", "font_big", {"en": "hello, there", "nl": "Hallo daar."})]  # same English words as "a"
    lines += [Line(f"x{i}", "l", "font_big", {"en": f"Line number {i}."}) for i in range(200)]
    splits = assign_splits(lines)
    assert splits[("l", "a")] == splits[("l", "b")] == splits[("l", "c")]
    assert splits == assign_splits(list(reversed(lines)))
    shares = {s: list(splits.values()).count(s) / len(splits) for s in ("train", "valid", "test")}
    assert 0.75 < shares["train"] < 0.95 and 0.02 < shares["valid"] < 0.1 and 0.05 < shares["test"] < 0.17


def test_several_languages_and_bad_choices(game):
    both = fillets_speech("train", "cs+nl", root=game["root"], game_dir=game["game"])
    assert set(both.column("language")) <= {"cs", "nl"} and len(both) == sum(
        len(fillets_speech("train", lang, root=game["root"], game_dir=game["game"])) for lang in ("cs", "nl"))
    with pytest.raises(DataError, match="language='de'.*cs, nl, en"):
        fillets_speech("train", "de", root=game["root"], game_dir=game["game"])
    with pytest.raises(DataError, match="split='dev'.*test_unseen"):
        fillets_speech("dev", "cs", root=game["root"], game_dir=game["game"])


def test_a_missing_package_names_the_apt_line(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y fillets-ng-data"):
        prepared_folder("fillets_speech", tmp_path / "data", game_dir=str(tmp_path / "nowhere"))
    (tmp_path / "game" / "script").mkdir(parents=True)
    with pytest.raises(DataError, match="apt-get install -y fillets-ng-data-cs fillets-ng-data-nl fillets-ng-data"):
        prepared_folder("fillets_speech", tmp_path / "data", game_dir=str(tmp_path / "game"))
