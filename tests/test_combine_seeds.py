"""benchmarks.combine_seeds: the mean and sample standard deviation of each figure over runs."""

import json
import statistics
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def combine_seeds(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks import combine_seeds

    return combine_seeds


def _summary(comma: float, macro: float) -> dict:
    return {"args": {"seed": 0, "quick": True}, "test_f1": {"ours": {"punctuation": {"COMMA": comma, "macro": macro}}}}


def test_each_figure_gets_its_mean_and_sample_sd(combine_seeds):
    runs = [_summary(0.2, 0.5), _summary(0.3, 0.6), _summary(0.1, 0.55)]
    combined = combine_seeds.combine(runs, "test_f1")
    assert set(combined) == {"ours.punctuation.COMMA", "ours.punctuation.macro"}
    comma = combined["ours.punctuation.COMMA"]
    assert comma["values"] == [0.2, 0.3, 0.1]
    assert comma["mean"] == pytest.approx(0.2) and comma["sd"] == pytest.approx(statistics.stdev([0.2, 0.3, 0.1]))
    assert comma["sd"] == pytest.approx(0.1)  # sqrt(((0)^2 + 0.1^2 + 0.1^2) / 2)
    assert combine_seeds.combine(runs[:1], "test_f1")["ours.punctuation.macro"]["sd"] == 0.0
    assert "args.seed" in combine_seeds.combine(runs)  # no key: every number; flags are not figures
    assert "args.quick" not in combine_seeds.combine(runs)


def test_runs_that_differ_are_named(combine_seeds):
    other = {"test_f1": {"ours": {"punctuation": {"COMMA": 0.2}}}}
    with pytest.raises(ValueError, match="run 2 does not hold the same figures.*ours.punctuation.macro"):
        combine_seeds.combine([_summary(0.2, 0.5), other], "test_f1")
    with pytest.raises(ValueError, match="run 1 has no 'valid_f1'.*args, test_f1"):
        combine_seeds.combine([_summary(0.2, 0.5)], "valid_f1")


def test_the_command_prints_a_row_per_figure(combine_seeds, tmp_path, capsys):
    for seed, (comma, macro) in enumerate([(0.2, 0.5), (0.3, 0.6)]):
        (tmp_path / f"seed{seed}").mkdir()
        (tmp_path / f"seed{seed}" / "summary.json").write_text(json.dumps(_summary(comma, macro)))
    combine_seeds.main([str(tmp_path / "seed0"), str(tmp_path / "seed1" / "summary.json"), "--key", "test_f1"])
    assert "| ours.punctuation.COMMA | 25.0 ± 7.1 | 20.0, 30.0 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        combine_seeds.main([str(tmp_path / "absent")])
