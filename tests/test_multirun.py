"""tformer.cli.multirun: inside a sweep's job, the command Lightning's DDP launcher builds for the
job's other ranks is that job alone, in its directory; after the job, the next one launches anew.
(tests/tasks/test_multinode.py runs a real sweep over 2-process DDP; scripts/multinode.sh.)"""

import os
import sys

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from lightning.fabric.strategies.launchers import subprocess_script
from omegaconf import open_dict

from tformer.cli import CONFIG_DIR
from tformer.cli.multirun import LAUNCH_VARIABLES, multirun_job


@pytest.fixture
def sweep_job(tmp_path, monkeypatch):
    """Hydra's state in job 1 of ``tformer-train -m seed=3,4``, as Hydra's launcher sets it."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["hydra.mode=MULTIRUN", "seed=4"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(tmp_path / "multirun" / "1")
        cfg.hydra.runtime.cwd = str(tmp_path)
    hydra = HydraConfig.instance()
    previous = hydra.cfg  # HydraConfig is process-wide: other tests must not find this job in it
    hydra.set_config(cfg)
    monkeypatch.setattr(sys, "argv", ["tformer-train", "-m", "seed=3,4"])
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield cfg.hydra.runtime.output_dir
    hydra.cfg = previous


def test_the_ranks_lightning_starts_run_this_job_in_its_directory(sweep_job):
    with multirun_job():
        # What Lightning's DDP launcher runs for local rank 1 (a private function: this test is
        # here to fail when Lightning changes how it builds that command).
        command, _ = subprocess_script._hydra_subprocess_cmd(local_rank=1)
        arguments = command[3:] if command[1] == "-m" else command[2:]  # after `python -m module` or `python script`
        assert "-m" not in arguments and "seed=3,4" not in arguments
        assert command[-4:] == ["seed=4", f'hydra.run.dir="{sweep_job}"', "hydra.job.name=train_ddp_process_1",
                                "hydra.output_subdir=null"]
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", NODE_RANK="0", LOCAL_RANK="0", WORLD_SIZE="2")
    assert sys.argv == ["tformer-train", "-m", "seed=3,4"]
    assert not any(name in os.environ for name in LAUNCH_VARIABLES)  # the next job starts its own ranks


def test_a_launcher_outside_keeps_its_variables(sweep_job, monkeypatch):
    monkeypatch.setenv("LOCAL_RANK", "0")  # torchrun started this process
    monkeypatch.setenv("WORLD_SIZE", "4")
    with multirun_job():
        pass
    assert os.environ["LOCAL_RANK"] == "0" and os.environ["WORLD_SIZE"] == "4"


def test_outside_a_sweep_nothing_changes(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["tformer-train", "seed=3"])
    with multirun_job():
        assert sys.argv == ["tformer-train", "seed=3"]
