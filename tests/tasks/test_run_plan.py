"""A run follows a schedule fitted to it: a time budget fixes the cosine's length from the
measured time per update (measured again a quarter of the way in; kept when the run resumes),
and a limit that cuts the run short or a run that ends inside its warm-up says so.

The budget tests time updates on a clock of their own, 20 s per update, against a 10-minute
budget: about 27 updates fit, whatever else the machine is doing.
"""

from __future__ import annotations

import logging

import pytest
import torch

import tformer.planning
from tformer.cli.train import train

from .conftest import compose_run

BUDGET = ["task=classification", "source=text_char", "target=label", "data=labeled_text", "test=false", "examples=0",
          "trainer.max_epochs=-1", "trainer.max_steps=1000000", "trainer.max_time=00:00:10:00",
          "task.scheduler.warmup_steps=0.05", "task.scheduler.min_ratio=0.1", "trainer.limit_val_batches=0",
          "callbacks.run_plan.skip_updates=1", "callbacks.run_plan.measure_updates=3"]


class _UpdateClock:
    """Stands in for the ``time`` module in tformer.planning: each reading is 20 s later."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self) -> float:
        self.now += 20.0
        return self.now


@pytest.fixture(autouse=True)
def _twenty_seconds_per_update(monkeypatch):
    monkeypatch.setattr(tformer.planning, "time", _UpdateClock())


def _budget_run(tiny, tmp_path, *extra):
    return train(compose_run(tmp_path, BUDGET + [f"data.train.path={tiny['tsv']['train']}", *extra]))


def test_a_time_budget_fixes_the_schedules_length_and_the_run_ends_with_it(tiny, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tformer.train")
    task, result = _budget_run(tiny, tmp_path)
    planned = result["time_budget"]["schedule_refitted_to"]
    assert result["time_budget"]["seconds_per_update"] == pytest.approx(20.0)
    assert 4 + 26 <= planned <= 4 + 27  # measured at update 4; 0.9 x (600 s - seconds spent) / 20 s more
    assert result["time_budget"]["updates_that_fit"] == planned
    assert task.trainer.global_step == planned  # the run stopped where the schedule ended, before max_time
    schedule = task.trainer.lr_scheduler_configs[0].scheduler
    assert schedule.lr_lambdas[0].total_steps == planned and schedule.lr_lambdas[0].warmup_steps == max(1, round(0.05 * planned))
    assert schedule.get_last_lr()[0] == pytest.approx(1e-3 * 0.1, rel=1e-3)  # the cosine reached its floor
    assert f"the schedule now ends at update {planned} instead of 1000000" in caplog.text

    saved = torch.load(result["checkpoint"], weights_only=True)
    plan_state = next(v for k, v in saved["callbacks"].items() if k.startswith("RunPlan"))
    assert plan_state["planned"] == planned
    assert saved["lr_schedulers"][0]["lr_lambdas"][0]["total_steps"] == planned


class _BusyStartClock(_UpdateClock):
    """60 s per update for the first four, as on a machine busy while the plan is measured, then 20 s."""

    def monotonic(self) -> float:
        self.now += 60.0 if self.now < 240.0 else 20.0
        return self.now


def test_a_plan_measured_on_a_busy_start_is_measured_again_and_followed(tiny, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(tformer.planning, "time", _BusyStartClock())
    caplog.set_level(logging.INFO, logger="tformer.train")
    task, result = _budget_run(tiny, tmp_path)
    # measured at update 4 over 60 s updates: 4 + 0.9 x ~598 s / 60 s = 12; a quarter of the way on
    # (update 7: 3 updates of 20 s since), 7 + 0.9 x (~598 - 60) s / 20 s = 31
    assert "the schedule now ends at update 12 instead of 1000000" in caplog.text
    planned = result["time_budget"]["schedule_refitted_to"]
    assert 30 <= planned <= 31 and "measured again: 20.000 s per update (updates 4-7)" in caplog.text
    assert task.trainer.global_step == planned and result["time_budget"]["seconds_per_update"] == pytest.approx(20.0)
    schedule = task.trainer.lr_scheduler_configs[0].scheduler
    assert schedule.lr_lambdas[0].total_steps == planned
    assert schedule.get_last_lr()[0] == pytest.approx(1e-3 * 0.1, rel=1e-3)  # the refitted cosine still reached its floor


def test_a_budget_that_holds_the_whole_run_leaves_the_schedule_alone(tiny, tmp_path):
    task, result = _budget_run(tiny, tmp_path, "trainer.max_steps=20")
    assert result["time_budget"]["schedule_refitted_to"] is None and result["time_budget"]["updates_that_fit"] > 20
    assert task.trainer.global_step == 20 and task.trainer.lr_scheduler_configs[0].scheduler.lr_lambdas[0].total_steps == 20


def test_a_resumed_run_keeps_the_plan_it_measured(tiny, tmp_path):
    # a checkpoint at update 4, where the plan was made (it always plans at least one more update)
    first, result = _budget_run(tiny, tmp_path / "first", "callbacks.checkpoint.every_n_train_steps=4",
                                "callbacks.checkpoint.save_top_k=-1")
    planned = result["time_budget"]["schedule_refitted_to"]
    early = tmp_path / "first" / "run" / "checkpoints" / "step000004.ckpt"
    resumed, again = _budget_run(tiny, tmp_path / "second", f"ckpt_path={early}")
    assert again["time_budget"]["schedule_refitted_to"] == planned and resumed.trainer.global_step == planned
    for (name, a), b in zip(first.state_dict().items(), resumed.state_dict().values()):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_max_epochs_cutting_max_steps_short_and_a_run_inside_its_warm_up_say_so(tiny, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="tformer.train")
    train(compose_run(tmp_path, [
        "task=classification", "source=text_char", "target=label", "data=labeled_text", "test=false", "examples=0",
        f"data.train.path={tiny['tsv']['train']}", "trainer.max_steps=150", "trainer.max_epochs=2",
        "task/scheduler=inverse_sqrt", "task.scheduler.warmup_steps=4000"]))
    assert "trainer.max_steps=150 will not be reached: trainer.max_epochs=2 ends training after 20 updates" in caplog.text
    assert "the run plans 20 updates, fewer than its 4000-update warm-up" in caplog.text
    assert "training ended at update 20, inside the 4000-update warm-up" in caplog.text
