"""Token-budget batch sampler: budget, coverage across ranks, equal counts, determinism."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DistributedSampler

from tformer.data import DataWarning, TokenBudgetBatchSampler


def sizes(n=500, seed=0):
    return np.random.default_rng(seed).integers(1, 60, n).tolist()


def ranks(sizes, replicas=2, epoch=0, **kwargs):
    samplers = [TokenBudgetBatchSampler(sizes, 200, num_replicas=replicas, rank=r, **kwargs) for r in range(replicas)]
    for sampler in samplers:
        sampler.set_epoch(epoch)
    return [list(sampler) for sampler in samplers], samplers


def test_budget_respected_and_similar_lengths():
    values = sizes()
    (batches,), _ = ranks(values, replicas=1)
    for batch in batches:
        assert max(values[i] for i in batch) * len(batch) <= 200
    spread = np.mean([max(values[i] for i in b) - min(values[i] for i in b) for b in batches])
    assert spread < 10  # length-bucketed: batches hold similar sizes


def test_each_index_once_per_epoch_across_two_ranks():
    values = sizes()
    per_rank, samplers = ranks(values)
    assert len(per_rank[0]) == len(per_rank[1]) == len(samplers[0]) == len(samplers[1])
    seen = Counter(i for batches in per_rank for batch in batches for i in batch)
    assert set(seen) == set(range(len(values)))
    padded = sum(len(b) for b in samplers[0]._global_batches()) - len(values)
    assert sum(seen.values()) - len(values) == padded  # repeats come only from the padding batch


def test_padding_makes_batch_counts_equal():
    values = [10] * 21  # 20 per batch of 200 -> 2 batches; 3 ranks -> padded to 3
    per_rank, samplers = ranks(values, replicas=3)
    assert [len(b) for b in per_rank] == [1, 1, 1]
    per_rank, _ = ranks(values, replicas=3, drop_last=True)
    assert [len(b) for b in per_rank] == [0, 0, 0]
    per_rank, _ = ranks(values, replicas=2, drop_last=True)
    assert [len(b) for b in per_rank] == [1, 1]


def test_deterministic_per_seed_and_epoch_and_reshuffled_across_epochs():
    values = sizes()
    first, _ = ranks(values, epoch=3, seed=7)
    again, _ = ranks(values, epoch=3, seed=7)
    other_epoch, _ = ranks(values, epoch=4, seed=7)
    other_seed, _ = ranks(values, epoch=3, seed=8)
    assert first == again and first != other_epoch and first != other_seed


def test_same_batches_every_epoch_in_a_new_order():
    # Lightning validates at batch len(sampler) of each epoch: the count may not change.
    values = sizes(2000)
    epochs = [ranks(values, replicas=1, epoch=epoch)[0][0] for epoch in range(4)]
    assert len({len(batches) for batches in epochs}) == 1
    assert all(sorted(batches) == sorted(epochs[0]) for batches in epochs)
    assert all(batches != epochs[0] for batches in epochs[1:])


def test_no_shuffle_is_sorted_and_stable():
    values = sizes(100)
    sampler = TokenBudgetBatchSampler(values, 200, shuffle=False, num_replicas=1, rank=0)
    flat = [i for batch in sampler for i in batch]
    assert sorted(flat) == list(range(100))
    assert [values[i] for i in flat] == sorted(values)  # one bucket: sorted by size
    sampler.set_epoch(5)
    assert [i for batch in sampler for i in batch] == flat


def test_oversized_item_forms_its_own_batch():
    with pytest.warns(DataWarning, match="1 item"):
        sampler = TokenBudgetBatchSampler([5, 500, 5, 5], 100, num_replicas=1, rank=0)
    assert [1] in list(sampler) and len(sampler) == 2


def test_rank_from_injected_distributed_sampler():
    sampler = DistributedSampler(range(10), num_replicas=4, rank=3)
    budget = TokenBudgetBatchSampler([1] * 10, 2, sampler=sampler)
    assert (budget.num_replicas, budget.rank) == (4, 3) and budget.sampler is budget
    assert (TokenBudgetBatchSampler([1], 2).num_replicas, TokenBudgetBatchSampler([1], 2).rank) == (1, 0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 80), min_size=1, max_size=300), st.integers(1, 4), st.integers(0, 3),
       st.integers(1, 5))
def test_properties(values, replicas, epoch, multiplier):
    per_rank = []
    for rank in range(replicas):
        sampler = TokenBudgetBatchSampler(values, 100, seed=1, num_replicas=replicas, rank=rank,
                                          bucket_size_multiplier=multiplier)
        sampler.set_epoch(epoch)
        per_rank.append(list(sampler))
        assert len(per_rank[-1]) == len(sampler)
    assert len({len(batches) for batches in per_rank}) == 1
    seen = {i for batches in per_rank for batch in batches for i in batch}
    assert seen == set(range(len(values)))
    for batch in (b for batches in per_rank for b in batches):
        assert len(batch) == 1 or max(values[i] for i in batch) * len(batch) <= 100
