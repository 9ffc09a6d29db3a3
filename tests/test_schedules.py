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


def test_a_run_shorter_than_the_cosine_warm_up_warms_up_over_a_tenth_and_says_so():
    schedule = WarmupCosine(300, 20)
    assert schedule.warmup_steps == 2 and schedule(1) == pytest.approx(1.0)
    assert "warming up over 2 updates (a tenth of the run) instead" in schedule.short_run_note()
    assert WarmupCosine(10, 20).short_run_note() is None


def test_a_run_inside_the_papers_warm_up_says_how_far_the_lr_gets():
    schedule = InverseSqrtWarmup(d_model=64, warmup_steps=4000, total_steps=30)
    assert schedule.peak() == pytest.approx(64**-0.5 * 4000**-0.5)
    assert "ends at 1% of its peak" in schedule.short_run_note()  # 30 / 4000 = 0.75%
    assert InverseSqrtWarmup(d_model=64, warmup_steps=4000, total_steps=100_000).short_run_note() is None


@pytest.mark.parametrize("total, expected", [(1000, 50), (30, 2), (10, 1)])
def test_a_fractional_warm_up_is_a_share_of_the_planned_updates(total, expected):
    assert WarmupCosine(0.05, total).warmup_steps == expected
    assert InverseSqrtWarmup(d_model=64, warmup_steps=0.05, total_steps=total).warmup_steps == expected


def test_replanning_moves_the_decay_and_a_fractional_warm_up():
    schedule = WarmupCosine(0.1, 1000, min_ratio=0.0)
    schedule.plan(200)
    assert schedule.warmup_steps == 20
    assert schedule(199) == pytest.approx(0.0, abs=1e-9) and schedule(109) == pytest.approx(0.5)


def test_the_plan_is_saved_with_the_scheduler_and_restored():
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(0.1, 1000))
    scheduler.lr_lambdas[0].plan(321)
    state = scheduler.state_dict()
    fresh = torch.optim.lr_scheduler.LambdaLR(optimizer, WarmupCosine(0.1, 1000))
    fresh.load_state_dict(state)
    assert fresh.lr_lambdas[0].total_steps == 321 and fresh.lr_lambdas[0].warmup_steps == 32


@pytest.mark.parametrize("warmup", [0, -1, 1.5, 2.5])
def test_a_warm_up_that_is_neither_updates_nor_a_fraction_is_refused(warmup):
    with pytest.raises(ValueError, match="whole number of updates"):
        WarmupCosine(warmup, 100)


def test_a_fractional_warm_up_needs_a_planned_length():
    with pytest.raises(ValueError, match="task.scheduler.warmup_steps=0.05 is a fraction of the planned updates"):
        InverseSqrtWarmup(d_model=64, warmup_steps=0.05)
