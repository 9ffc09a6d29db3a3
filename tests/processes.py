"""The processes of a distributed run, started by a test as a cluster would start them, on this
machine: a free loopback port, one deadline for all, every process ended on a failure, and the
failing rank's stderr in the assertion message, so that a hung rank never hangs the suite."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

# What a launcher (torchrun, SLURM, Lightning, MPI) leaves in the environment; a test that starts
# its own ranks must not inherit the ones of whatever started pytest.
LAUNCHER_PREFIXES = ("SLURM_", "TORCHELASTIC_", "PMI_", "OMPI_")
LAUNCHER_VARIABLES = ("MASTER_ADDR", "MASTER_PORT", "RANK", "LOCAL_RANK", "GROUP_RANK", "NODE_RANK",
                      "WORLD_SIZE", "LOCAL_WORLD_SIZE", "PL_GLOBAL_SEED")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment without any launcher's variables, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(LAUNCHER_PREFIXES) and k not in LAUNCHER_VARIABLES}
    return {**env, "PYTHONWARNINGS": "ignore", **variables}


def run_ranks(commands: list[list[str]], envs: list[dict[str, str]], logs: Path, cwd: Path | None = None,
              timeout: float = 300) -> None:
    """Start ``commands[i]`` with ``envs[i]`` (one per rank, or per node), wait for all of them.

    Each process leads its own process group (the workers torchrun or Lightning start belong to it),
    so that a failure or the deadline ends all of them. Raises AssertionError naming the failing rank
    (or the ranks still running at the deadline) and its stderr; ``logs`` keeps every rank's output.
    """
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    try:
        for rank, (command, env) in enumerate(zip(commands, envs)):
            out, err = open(logs / f"rank{rank}.out", "w"), open(logs / f"rank{rank}.err", "w")
            processes.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err, start_new_session=True))
            out.close(), err.close()
        _wait(processes, logs, time.monotonic() + timeout)
    finally:
        for process in processes:
            _end(process)


def _wait(processes: list[subprocess.Popen], logs: Path, deadline: float) -> None:
    while time.monotonic() < deadline:
        codes = [p.poll() for p in processes]
        failed = [rank for rank, code in enumerate(codes) if code not in (None, 0)]
        if failed:
            rank = failed[0]
            raise AssertionError(f"rank {rank} exited with {codes[rank]}; its stderr:\n{_tail(logs, rank)}")
        if all(code == 0 for code in codes):
            return
        time.sleep(0.2)
    running = [rank for rank, p in enumerate(processes) if p.poll() is None]
    raise AssertionError("still running at the deadline: " + "; ".join(f"rank {r}, stderr:\n{_tail(logs, r)}" for r in running))


def _tail(logs: Path, rank: int, chars: int = 3000) -> str:
    return (logs / f"rank{rank}.err").read_text(errors="replace")[-chars:]


def _end(process: subprocess.Popen) -> None:
    # The whole group: a rank that exited may have left workers (torchrun's, Lightning's) behind.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
