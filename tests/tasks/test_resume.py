"""A run killed with SIGKILL resumes from its last checkpoint and ends exactly where an
uninterrupted run ends: same steps, same optimizer/scheduler state, same data order and
random state, hence the same weights."""

import csv
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest
import torch

from tformer.cli.train import train

from .conftest import FAST, compose_run

STEPS = 30


def _overrides(tiny):
    t = tiny["tsv"]
    return ["task=classification", "source=text_char", "target=label", "data=labeled_text", f"data.train.path={t['train']}",
            "test=false", "examples=0", f"trainer.max_steps={STEPS}", "callbacks.checkpoint.every_n_train_steps=1",
            "trainer.limit_val_batches=0", "logger.csv.flush_logs_every_n_steps=1"]


def _kill_after_a_few_checkpoints(overrides, run_dir):
    command = [sys.executable, "-m", "tformer.cli.train", *FAST, *overrides, f"hydra.run.dir={run_dir}", f"trainer.max_steps={STEPS}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (run_dir / "checkpoints" / "step000004.ckpt").exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_weights(tiny, tmp_path):
    overrides = _overrides(tiny)
    uninterrupted, _ = train(compose_run(tmp_path / "straight", overrides))

    killed_dir = tmp_path / "killed" / "run"
    _kill_after_a_few_checkpoints(overrides, killed_dir)
    saved = torch.load(killed_dir / "checkpoints" / "last.ckpt", weights_only=True)
    assert 0 < saved["global_step"] < STEPS, "the run finished before it was killed"

    resumed, _ = train(compose_run(tmp_path / "killed", overrides + [f"ckpt_path={killed_dir}"]))
    assert resumed.trainer.global_step == STEPS
    for (name, a), b in zip(uninterrupted.state_dict().items(), resumed.state_dict().values()):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    # the loss curve continues in the same metrics.csv: steps from before the kill and after it
    with open(killed_dir / "metrics.csv") as handle:
        rows = list(csv.DictReader(handle))
    logged = sorted({int(row["step"]) for row in rows if row.get("train/loss")})
    assert logged[0] < saved["global_step"] and logged[-1] >= STEPS - 1
    assert len(logged) >= STEPS - 2


@pytest.mark.slow
@pytest.mark.parametrize("sent, exit_code, reason", [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_an_interrupted_run_saves_says_how_to_resume_and_exits_non_zero(tiny, tmp_path, sent, exit_code, reason):
    # no epoch or step limit the tiny run could reach before the signal: it trains until interrupted
    overrides = _overrides(tiny) + ["callbacks.checkpoint.every_n_train_steps=1000", "trainer.max_epochs=-1",
                                    f"trainer.max_steps={10**9}"]
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "tformer.cli.train", *FAST, *overrides, f"hydra.run.dir={run_dir}"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_sigint_as_in_a_terminal)
    deadline = time.time() + 120
    while _logged_steps(run_dir) < 2 and process.poll() is None and time.time() < deadline:  # a few updates done
        time.sleep(0.05)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(sent)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"training went on for a minute after {reason}: {process.communicate()[1][-3000:]}")
    interrupted = run_dir / "checkpoints" / "interrupted.ckpt"
    assert interrupted.is_file() and not (run_dir / "checkpoints" / "last.ckpt").exists(), stderr[-3000:]
    step = torch.load(interrupted, weights_only=True)["global_step"]
    assert step > 0 and process.returncode == exit_code, stderr[-3000:]
    assert f"tformer-train: interrupted by {reason} at update {step}; saved {interrupted}" in stderr, stderr[-3000:]
    resume = shlex.split(stderr.split("tformer-train: resume with: ", 1)[1].splitlines()[0])
    assert resume == ["tformer-train", *FAST, *overrides, f"ckpt_path={run_dir}"]
    resumed, _ = train(compose_run(tmp_path, overrides[:-1] + [f"trainer.max_steps={step + 2}", f"ckpt_path={run_dir}"]))
    assert resumed.trainer.global_step == step + 2


def _sigint_as_in_a_terminal():
    # A child inherits an ignored SIGINT. Started as `(nohup bash .ci/run &)`, the suite's
    # training went on for 21,000 steps after the signal; a user's Ctrl-C reaches a training
    # started from a terminal, which is what this test is about.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _logged_steps(run_dir):
    try:
        return len((run_dir / "metrics.csv").read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0
