"""FSDP on CPU: the core sharded with FSDP2 (``torch.distributed.fsdp.fully_shard``) over 2 processes
(gloo) trains exactly as DDP and as one process with the whole batch.

Lightning's ``FSDPStrategy`` (``trainer=fsdp``) refuses ``accelerator=cpu``, so ``tformer-train``
cannot run it here; this test shards the core itself, the way FSDP2 wraps it on GPUs (each layer,
then the root)."""

import json
import time
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.distributed.fsdp import fully_shard
from torch.nn.parallel import DistributedDataParallel

from tformer.core import EncoderDecoder

from ..processes import free_port

STEPS = 5
WORLD = 2


def _core() -> EncoderDecoder:
    torch.manual_seed(0)  # the same initial weights on every rank (FSDP2 does not broadcast them)
    return EncoderDecoder(32, 4, 2, 2, 64, dropout=0.0, norm_first=True)


def _batch() -> tuple[torch.Tensor, ...]:
    """8 source and target sequences with padding, and the vectors the decoder should output."""
    g = torch.Generator().manual_seed(1)
    src, tgt, goal = torch.randn(8, 9, 32, generator=g), torch.randn(8, 6, 32, generator=g), torch.randn(8, 6, 32, generator=g)
    src_pad = torch.arange(9)[None, :] >= torch.tensor([9, 4, 7, 9, 2, 9, 5, 8])[:, None]
    tgt_pad = torch.arange(6)[None, :] >= torch.tensor([6, 3, 6, 1, 6, 4, 6, 2])[:, None]
    return src, tgt, goal, src_pad, tgt_pad


def _train(model, batch, tokens: int, world: int) -> list[float]:
    """``STEPS`` AdamW updates; the loss of the whole batch after each, on every rank.

    Each rank's loss is its squared error summed over real target positions, divided by the whole
    batch's count and multiplied by the world size: DDP and FSDP average the ranks' gradients, so
    the update is the one of the whole batch's mean, whatever the padding of each rank's part.
    """
    src, tgt, goal, src_pad, tgt_pad = batch
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(STEPS):
        error = (model(src, tgt, src_pad, tgt_pad) - goal).pow(2).mean(-1).masked_fill(tgt_pad, 0.0)
        loss = error.sum() / tokens * world
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        total = loss.detach() / world
        if world > 1:
            dist.all_reduce(total)
        losses.append(total.item())
    return losses


def _rank(rank: int, port: int, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD,
                            timeout=timedelta(seconds=60))
    try:
        batch = _batch()
        tokens = int((~batch[-1]).sum())
        part = tuple(t.chunk(WORLD)[rank] for t in batch)
        ddp = DistributedDataParallel(_core())
        fsdp = _core()
        for layer in [*fsdp.encoder.layers, *fsdp.decoder.layers]:
            fully_shard(layer)
        fully_shard(fsdp)
        result = {"ddp": _train(ddp, part, tokens, WORLD), "fsdp": _train(fsdp, part, tokens, WORLD)}
        result["shard"] = sum(p.to_local().numel() for p in fsdp.parameters())
        weights = dict(ddp.module.named_parameters())
        full = {name: p.full_tensor() for name, p in fsdp.named_parameters()}  # a collective: every rank
        result["weight_difference"] = max((full[n] - weights[n]).abs().max().item() for n in full)
        if rank == 0:
            with open(out, "w") as f:
                json.dump(result, f)
    finally:
        dist.destroy_process_group()


def _spawn(out, timeout: float = 180) -> None:
    # join() names the failing rank and its traceback, and ends the other; at the deadline we end both.
    context = mp.start_processes(_rank, args=(free_port(), str(out)), nprocs=WORLD, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    try:
        while not context.join(timeout=1):
            assert time.monotonic() < deadline, f"FSDP ranks still running after {timeout} s"
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()


@pytest.mark.slow
def test_fully_sharded_core_trains_as_ddp_and_as_one_process(tmp_path):
    _spawn(tmp_path / "result.json")
    result = json.loads((tmp_path / "result.json").read_text())
    batch = _batch()
    single = _train(_core(), batch, int((~batch[-1]).sum()), world=1)
    total = sum(p.numel() for p in _core().parameters())
    assert result["shard"] < 0.6 * total  # each rank holds about half of the weights (and of Adam's states)
    assert result["fsdp"] == pytest.approx(result["ddp"], rel=1e-5)
    assert result["ddp"] == pytest.approx(single, rel=1e-5)
    assert single[-1] < 0.9 * single[0]  # it did learn
    assert result["weight_difference"] < 1e-4
