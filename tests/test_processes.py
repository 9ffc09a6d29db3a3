"""tests/processes.py: a failing or hung rank fails the test quickly, names itself, and leaves no process."""

import os
import sys
import time

import pytest

from .processes import clean_environment, free_port, run_ranks

SLEEP = [sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_failing_rank_is_named_with_its_stderr_and_the_others_are_ended(tmp_path):
    rank0_out = str(tmp_path / "rank0.out")  # rank 1 fails once rank 0 has written its pid
    fail = [sys.executable, "-c", f"import pathlib, sys, time\nwhile not pathlib.Path({rank0_out!r}).read_text():\n"
                                  "    time.sleep(0.05)\nsys.exit('rank one broke')"]
    start = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)rank 1 exited with 1.*rank one broke"):
        run_ranks([SLEEP, fail], [clean_environment()] * 2, tmp_path, timeout=30)
    assert time.monotonic() - start < 20
    assert _gone(int((tmp_path / "rank0.out").read_text()))


def test_a_hung_rank_is_ended_at_the_deadline(tmp_path):
    with pytest.raises(AssertionError, match="still running at the deadline: rank 0"):
        run_ranks([SLEEP], [clean_environment()], tmp_path, timeout=3)
    assert _gone(int((tmp_path / "rank0.out").read_text()))


def test_launcher_variables_are_not_inherited(monkeypatch):
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    env = clean_environment(MASTER_PORT=str(free_port()))
    assert "SLURM_PROCID" not in env and "LOCAL_RANK" not in env and env["MASTER_PORT"].isdigit()
