"""tformer-average: the mean of checkpoints' float parameters, in a checkpoint tformer.load reads."""

import shutil

import pytest
import torch

import tformer
from tformer.averaging import average_checkpoints, find_checkpoints
from tformer.cli.average import main
from tests.tiny_checkpoints import trained_run


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    return trained_run("text", tmp_path_factory)


def _state(path):
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def test_run_directory_gives_its_step_checkpoints_oldest_first(text):
    names = [p.name for p in find_checkpoints([text.run])]
    assert names == ["step000001.ckpt", "step000002.ckpt", "step000003.ckpt"]  # last.ckpt repeats step 3
    assert [p.name for p in find_checkpoints([text.run], last=2)] == ["step000002.ckpt", "step000003.ckpt"]


def test_copies_of_one_checkpoint_average_to_it_bit_for_bit(text, tmp_path):
    copies = [shutil.copy(text.ckpt, tmp_path / f"copy{i}.ckpt") for i in range(3)]
    out = tmp_path / "avg.ckpt"
    assert main([*map(str, copies), "-o", str(out)]) == 0
    original, averaged = _state(text.ckpt), _state(out)
    assert original.keys() == averaged.keys()
    for name, value in original.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(value, averaged[name]), name
        else:
            assert value == averaged[name], name  # the tokenizers' vocabularies


def test_two_checkpoints_average_to_their_mean_and_the_result_predicts(text, tmp_path):
    out = tmp_path / "avg.ckpt"
    main([str(text.run), "--last", "2", "-o", str(out)])
    a, b = (_state(text.run / "checkpoints" / f"step00000{i}.ckpt") for i in (2, 3))
    averaged = _state(out)
    changed = 0
    for name, value in averaged.items():
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            torch.testing.assert_close(value, (a[name] + b[name]) / 2, rtol=0, atol=1e-7)
            changed += not torch.equal(value, b[name])
    assert changed > 0
    checkpoint = torch.load(out, weights_only=True)
    assert checkpoint["averaged_from"][-1].endswith("step000003.ckpt") and checkpoint["global_step"] == 3
    task = tformer.load(out)
    (prediction,) = task.predict([text.sample])
    assert isinstance(prediction, str)


def test_integer_tensors_come_from_the_newest(text, tmp_path):
    paths = []
    for i, count in enumerate((5, 9)):
        checkpoint = torch.load(text.ckpt, weights_only=True)
        checkpoint["state_dict"]["core.counter"] = torch.tensor([count])
        paths.append(tmp_path / f"c{i}.ckpt")
        torch.save(checkpoint, paths[-1])
    assert average_checkpoints(paths)["state_dict"]["core.counter"].tolist() == [9]


def test_different_models_are_refused_naming_both_files(text, tmp_path_factory, tmp_path, capsys):
    image = trained_run("image", tmp_path_factory)
    with pytest.raises(SystemExit) as exit_:
        main([str(text.ckpt), str(image.ckpt), "-o", str(tmp_path / "avg.ckpt")])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert str(text.ckpt) in err and str(image.ckpt) in err and "their models differ" in err
    assert not (tmp_path / "avg.ckpt").exists()


def test_different_shapes_are_refused(text, tmp_path):
    checkpoint = torch.load(text.ckpt, weights_only=True)
    name = next(k for k, v in checkpoint["state_dict"].items() if isinstance(v, torch.Tensor))
    checkpoint["state_dict"][name] = torch.zeros(3)
    torch.save(checkpoint, tmp_path / "odd.ckpt")
    with pytest.raises(ValueError, match=f"{name} is .* vs"):
        average_checkpoints([tmp_path / "odd.ckpt", text.ckpt])


@pytest.mark.parametrize("argv, message", [
    (["--last", "0"], "--last must be at least 1"),
    (["-o", "{ckpt}"], "is one of the checkpoints being averaged"),
])
def test_user_errors_are_one_line(text, argv, message, capsys):
    argv = [a.format(ckpt=text.run / "checkpoints" / "step000003.ckpt") for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main([str(text.run), *argv] + ([] if "-o" in argv else ["-o", "unused.ckpt"]))
    assert exit_.value.code == 2 and message in capsys.readouterr().err
