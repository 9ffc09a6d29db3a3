"""Hydra sweeps (``tformer-train -m``) over DDP: each job's processes train that job, in its directory.

Lightning's DDP launcher starts a job's other processes by running the command line again
(``sys.argv``) with ``hydra.run.dir=<HydraConfig run.dir>`` appended. In a sweep that command line
is the whole sweep (``-m task.optimizer.lr=1e-3,3e-3``) and ``run.dir`` is not the job's directory:
the other ranks ran the sweep once more, into a second sweep directory, and the processes of the
next job found the launch variables of the first (ashleve/lightning-hydra-template#393). Lightning
has no hook for that command line, so ``multirun_job`` sets what it reads, for the job's duration.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import read_write

# What Lightning's launcher exports for the processes it starts (LightningEnvironment then reads
# LOCAL_RANK as "processes are created externally", and the next job would start none).
LAUNCH_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "NODE_RANK", "LOCAL_RANK", "WORLD_SIZE")


@contextmanager
def multirun_job() -> Iterator[None]:
    """Around one job of a Hydra multirun; nothing outside one.

    Inside, ``sys.argv`` is this job's own overrides (no ``-m``, no sweep) and Hydra's ``run.dir``
    is the job's output directory, so that ranks Lightning starts train this job into its directory.
    After it, if this process started the job's other ranks, their process group is closed and the
    launch variables are dropped, so that the next job starts its own ranks on a fresh port.
    """
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        yield
        return
    hydra_cfg = HydraConfig.get()
    argv = sys.argv
    before = {name: os.environ.get(name) for name in LAUNCH_VARIABLES}
    hydra_overrides = [o for o in hydra_cfg.overrides.hydra if not o.startswith("hydra.mode=")]
    sys.argv = [argv[0], *hydra_overrides, *hydra_cfg.overrides.task]
    with read_write(hydra_cfg):
        hydra_cfg.run.dir = hydra_cfg.runtime.output_dir
    try:
        yield
    finally:
        sys.argv = argv
        if before["LOCAL_RANK"] is None and "LOCAL_RANK" in os.environ:  # Lightning started ranks from here
            _end_job_processes(before)


def _end_job_processes(before: dict[str, str | None]) -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
