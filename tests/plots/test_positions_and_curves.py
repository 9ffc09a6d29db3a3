"""tformer-plot positions and curves: pictures for any size, sparse CSV columns, clear errors."""

import math

import pytest

from tformer.cli.plot import main
from tformer.plots import read_metrics
from tests.tiny_checkpoints import trained_run

from .pictures import assert_picture


@pytest.mark.parametrize("d_model, length", [(128, 100), (7, 3), (1, 1)])
def test_positions_any_width_and_length(tmp_path, d_model, length):
    out = tmp_path / "pos.png"
    assert main(["positions", "--d-model", str(d_model), "--length", str(length), "-o", str(out)]) == 0
    assert_picture(out)


def test_positions_as_svg(tmp_path):
    out = tmp_path / "pos.svg"
    main(["positions", "-o", str(out)])
    assert "<svg" in out.read_text(encoding="utf-8")[:2000]


def test_unknown_picture_format_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["positions", "-o", str(tmp_path / "pos.jpg")])
    assert exit_.value.code == 2
    assert "unknown picture format '.jpg'" in capsys.readouterr().err


def test_read_metrics_skips_empty_and_nan_cells(tmp_path):
    (tmp_path / "metrics.csv").write_text(
        "epoch,step,train/loss,val/loss,val/bleu,lr-Adam\n"
        ",0,,,,0.1\n0,0,5.0,,,\n0,1,4.0,,,\n0,1,,3.5,nan,\n0,2,3.0,,,\n1,3,,3.0,2.5,\n",
        encoding="utf-8",
    )
    series = read_metrics(tmp_path)
    assert series["train/loss"] == [(0, 5.0), (1, 4.0), (2, 3.0)]
    assert series["val/loss"] == [(1, 3.5), (3, 3.0)]
    assert series["val/bleu"] == [(3, 2.5)] and not any(math.isnan(v) for _, v in series["val/bleu"])
    assert "epoch" not in series and "step" not in series


def test_curves_of_a_trained_run(tmp_path, tmp_path_factory):
    run = trained_run("text", tmp_path_factory).run
    series = read_metrics(run)
    assert len(series["train/loss"]) == 3 and series["val/loss"]
    out = tmp_path / "curves.png"
    assert main(["curves", "--run", str(run), str(run / "metrics.csv"), "-o", str(out)]) == 0
    assert_picture(out)


def test_curves_of_a_folder_without_metrics(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["curves", "--run", str(tmp_path), "-o", str(tmp_path / "c.png")])
    assert exit_.value.code == 2 and "no metrics.csv" in capsys.readouterr().err
