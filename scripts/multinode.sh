#!/usr/bin/env bash
# Multi-node training simulated on this machine (127.0.0.1, gloo, CPU; tests/tasks/test_multinode.py):
# 2 nodes x 1 process under torchrun, the same under the variables srun sets (Lightning's
# SLURMEnvironment), and a Hydra sweep (-m) over 2-process DDP; each run's test metrics must equal a
# one-process evaluation of its checkpoint. About 2 minutes on 2 cores, which is why `make test` skips
# them; CI runs this script after it. Extra arguments go to pytest (-x, -k sweep, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
TFORMER_MULTINODE=1 exec "${PYTHON:-.venv/bin/python}" -m pytest -q tests/tasks/test_multinode.py "$@"
