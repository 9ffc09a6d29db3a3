import pytest
import torch

from tformer.schedules import InverseSqrtWarmup, WarmupCosine, inverse_sqrt_warmup


def test_inverse_sqrt_is_the_papers_formula():
    schedule = InverseSqrtWarmup(d_model=512, warmup_steps=4000)
    for step in (1, 100, 4000, 4001, 100_000):
        expected = 512**-0.5 * min(step**-0.5, step * 4000**-1.5)
        assert schedule(step - 1) == pytest.approx(expected)
    # the peak is at the end of warm-up
    assert max(schedule(s) for s in range(8000)) == pytest.approx(schedule(3999))


def test_scheduler_drives_the_optimizer_lr():
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = inverse_sqrt_warmup(optimizer, d_model=256, warmup_steps=10, scale=2.0)
    for _ in range(4):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(2.0 * 256**-0.5 * 5 * 10**-1.5)


def test_warmup_cosine_ends_at_the_floor():
    schedule = WarmupCosine(warmup_steps=10, total_steps=110, min_ratio=0.1)
    assert schedule(0) == pytest.approx(0.1) and schedule(9) == pytest.approx(1.0)
    assert schedule(59) == pytest.approx(0.1 + 0.9 * 0.5)
    assert schedule(109) == pytest.approx(0.1) and schedule(500) == pytest.approx(0.1)
    with pytest.warns(UserWarning, match="warming up for 2 steps"):
        assert WarmupCosine(300, 20)(1) == pytest.approx(1.0)
