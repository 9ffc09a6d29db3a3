"""Multi-node runs simulated on one machine (loopback, gloo): 2 nodes × 1 process under torchrun and
under SLURM's variables, and a Hydra sweep (``-m``) over 2-process DDP. Each run's test metrics,
gathered across processes, equal a one-process evaluation of its checkpoint.

About 2 minutes on 2 cores, so ``pytest`` skips them unless TFORMER_MULTINODE=1; scripts/multinode.sh
runs them (CI calls it)."""

import json
import os
import sys

import pytest
from hydra import compose, initialize_config_dir

from tformer.cli import CONFIG_DIR
from tformer.cli.train import train

from ..processes import clean_environment, free_port, run_ranks
from .test_distributed import COMMON, _overrides

TWO_NODES = ["trainer=ddp", "trainer.devices=1", "trainer.num_nodes=2", "trainer.accelerator=cpu"]
TRAIN = [sys.executable, "-m", "tformer.cli.train"]

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.environ.get("TFORMER_MULTINODE") != "1",
                                                   reason="multi-node simulations: scripts/multinode.sh runs them")]


def _recipe(tiny, tmp_path):
    return COMMON + _overrides("classification", tiny, tmp_path)


def _assert_equals_one_process(args, metrics, run_dir):
    """``metrics`` (a distributed run's metrics.json) against this process evaluating its checkpoint."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=args + [f"ckpt_path={metrics['checkpoint']}", f"run_dir={run_dir}"])
    _, single = train(cfg)
    assert metrics["test"].keys() == single["test"].keys() and metrics["test"]
    for key, value in metrics["test"].items():
        assert value == pytest.approx(single["test"][key], rel=1e-5, abs=1e-6), key


def test_two_nodes_with_torchrun(tiny, tmp_path):
    args, port, run_dir = _recipe(tiny, tmp_path), free_port(), tmp_path / "run"
    commands = [[sys.executable, "-m", "torch.distributed.run", "--nnodes=2", f"--node-rank={node}", "--nproc-per-node=1",
                 "--master-addr=127.0.0.1", f"--master-port={port}", "-m", "tformer.cli.train",
                 *args, *TWO_NODES, f"hydra.run.dir={run_dir}"] for node in (0, 1)]
    run_ranks(commands, [clean_environment()] * 2, tmp_path / "logs")
    _assert_equals_one_process(args, json.loads((run_dir / "metrics.json").read_text()), tmp_path / "single")


def _slurm_task(rank: int, port: int) -> dict[str, str]:
    """What ``srun`` sets for task ``rank`` of ``sbatch --nodes=2 --ntasks-per-node=1`` (the ones
    Lightning's SLURMEnvironment reads; a job named "bash" or "interactive" would turn it off)."""
    return clean_environment(
        SLURM_JOB_ID="4242", SLURM_JOB_NAME="tformer-test", SLURM_NNODES="2", SLURM_NTASKS="2",
        SLURM_NTASKS_PER_NODE="1", SLURM_NODELIST="127.0.0.1", SLURM_PROCID=str(rank), SLURM_NODEID=str(rank),
        SLURM_LOCALID="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )


def test_two_nodes_under_slurm(tiny, tmp_path):
    args, port, run_dir = _recipe(tiny, tmp_path), free_port(), tmp_path / "run"
    command = [*TRAIN, *args, *TWO_NODES, f"hydra.run.dir={run_dir}"]  # srun gives every task the same command
    run_ranks([command, command], [_slurm_task(0, port), _slurm_task(1, port)], tmp_path / "logs")
    _assert_equals_one_process(args, json.loads((run_dir / "metrics.json").read_text()), tmp_path / "single")


def test_sweep_over_ddp_writes_each_job_into_its_own_directory(tiny, tmp_path):
    args, cwd = _recipe(tiny, tmp_path), tmp_path / "cwd"
    cwd.mkdir()
    command = [*TRAIN, "-m", *args, "trainer=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
               "task.optimizer.lr=0.001,0.003"]
    run_ranks([command], [clean_environment()], tmp_path / "logs", cwd=cwd, timeout=400)
    # Hydra's default sweep directory (multirun/DATE/TIME): rank 1 re-running the sweep made a second one
    assert [p.name for p in cwd.iterdir()] == ["multirun"]
    sweeps = sorted(cwd.glob("multirun/*/*"))
    assert len(sweeps) == 1, f"one sweep, one directory; found {sweeps}"
    sweep = sweeps[0]
    losses = []
    for job, lr in (("0", "0.001"), ("1", "0.003")):
        assert f"task.optimizer.lr={lr}" in (sweep / job / ".hydra" / "overrides.yaml").read_text()
        assert (sweep / job / "train_ddp_process_1.log").is_file()  # rank 1 ran this job, in this directory
        metrics = json.loads((sweep / job / "metrics.json").read_text())
        _assert_equals_one_process(args + [f"task.optimizer.lr={lr}"], metrics, tmp_path / f"single{job}")
        losses.append(metrics["test"]["test/loss"])
    assert losses[0] != losses[1]
