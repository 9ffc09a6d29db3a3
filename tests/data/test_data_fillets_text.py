"""fillets_text: the game's lines in each language paired with English, split by the English line."""

import pytest

from tformer.data import DataError, fillets_text
from tformer.data.fillets_text import text_split
from tformer.kinds import fields_of

ENGLISH = [f"Line number {i} is here." for i in range(60)]


def _game(tmp_path, untranslated=()):
    for level in ("reef", "wreck"):
        folder = tmp_path / "script" / level
        folder.mkdir(parents=True)
        rows = range(30) if level == "reef" else range(30, 60)
        for language in ("cs", "de"):
            text = "".join(f'dialogId("c{i}", "font_small", "{ENGLISH[i]}")\n'
                           f'dialogStr("{ENGLISH[i] if i in untranslated else f"{language} věta {i}"}")\n' for i in rows)
            (folder / f"dialogs_{language}.lua").write_text(text, encoding="utf-8")
    return str(tmp_path)


def test_each_split_holds_its_english_lines_in_every_language(tmp_path):
    game = _game(tmp_path)
    splits = {s: fillets_text(s, "cs+de", game_dir=game) for s in ("train", "valid", "test")}
    assert sum(len(d) for d in splits.values()) == 120 and fields_of(splits["test"]) == {"source": "text", "target": "text", "language": "label"}
    english = {s: set(d.column("target")) for s, d in splits.items()}
    assert not english["train"] & english["test"] and not english["train"] & english["valid"]
    for split, data in splits.items():
        assert all(text_split(t) == split for t in data.column("target"))
        assert sorted(data.column("language")).count("cs") == len(data) // 2  # each line once per language
    assert splits["test"]  # 60 lines: a 10 % share is not empty
    czech = fillets_text("train", "cs", game_dir=game)
    assert set(czech.column("language")) == {"cs"} and czech[0]["source"].startswith("cs věta")


def test_untranslated_lines_are_left_out_and_bad_options_named(tmp_path):
    game = _game(tmp_path, untranslated=range(60))
    assert len(fillets_text("train", "cs", game_dir=game)) == 0
    with pytest.raises(DataError, match="languages='xx'.*one of bg, cs"):
        fillets_text("train", "xx", game_dir=game)
    with pytest.raises(DataError, match="split='dev' is not one of train, valid, test"):
        fillets_text("dev", game_dir=game)
    with pytest.raises(DataError, match="no game scripts under .*apt-get install -y fillets-ng-data"):
        fillets_text("train", game_dir=str(tmp_path / "missing"))
