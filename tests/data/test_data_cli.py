"""tformer-data: listing, preparing, and one-line errors with exit status 2."""

import pytest

from tformer.cli.data import main
from tformer.data import BUILTINS, Builtin


@pytest.fixture
def toy_builtin():
    def prepare(folder, train_size=3):
        (folder / "train.txt").write_text("x\n" * train_size)
        return {"splits": {"train": train_size}}

    BUILTINS["toy_cli"] = Builtin("toy_cli", "a toy for the CLI", prepare, {"train_size": 3})
    yield
    del BUILTINS["toy_cli"]


def test_list_and_prepare(tmp_path, capsys, toy_builtin):
    assert main(["--list", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "freedict_de_en" in out and "espeak_digits" in out and "toy_cli" in out and "not prepared" in out
    assert main(["toy_cli", "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "toy_cli") in out and "train 3" in out
    assert (tmp_path / "toy_cli" / "train.txt").read_text() == "x\n" * 3
    assert main(["toy_cli", "--root", str(tmp_path), "--train-size", "5"]) == 0  # other options, own folder
    (other,) = tmp_path.glob("toy_cli-*")
    assert str(other) in capsys.readouterr().out and (other / "train.txt").read_text() == "x\n" * 5
    main(["--list", "--root", str(tmp_path)])
    out = capsys.readouterr().out
    assert "prepared, train 3" in out and f"{other} (train 5; train_size=5)" in out


@pytest.mark.parametrize("argv, message", [
    (["no_such_set"], "unknown data set 'no_such_set'"),
    (["toy_cli", "--valid-size", "3"], "toy_cli takes no --valid-size"),
    (["toy_cli", "--synthesizers", "flite"], "toy_cli takes no --synthesizers"),
    (["espeak_digits", "--synthesizers", "sam"], "synthesizers: unknown 'sam'; known: espeak, flite, festival"),
    (["toy_cli", "--stretch", "1", "2"], "toy_cli takes no --stretch"),
    (["espeak_digits", "--stretch", "2", "1"], r"stretch=[2.0, 1.0] must be [low, high] duration factors"),
])
def test_errors_are_one_line_and_exit_2(tmp_path, capsys, toy_builtin, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--root", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tformer-data: error: {message}") and "Traceback" not in err


def test_needs_a_name(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2 and "name a data set" in capsys.readouterr().err
