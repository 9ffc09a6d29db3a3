"""Items that fail to prepare: flagged in any worker process, warned about once per split."""

import warnings

import pytest
from torch.utils.data import DataLoader

from tformer.data import DataWarning, PreparedDataset, RawDataset, SkippedItems

from .standins import CharIds, LabelIds

ITEMS = {"source": ["ab", "BAD", "c", "", "de", "BAD"], "target": ["x", "y", "z", "x", "y", "z"]}


def _prepared(columns) -> PreparedDataset:
    return PreparedDataset(RawDataset(columns), {"source": CharIds(), "target": LabelIds()})


def _data_warnings(caught) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


# A spawned worker imports tformer afresh (about 20 s on a busy 2-core machine).
@pytest.mark.parametrize("workers, start", [(0, None), (2, "fork"), pytest.param(1, "spawn", marks=pytest.mark.slow)])
def test_failures_in_workers_reach_the_main_process(workers, start):
    data = _prepared(ITEMS)
    loader = DataLoader(data, batch_size=2, collate_fn=data.collate, num_workers=workers,
                        multiprocessing_context=start, persistent_workers=workers > 0)
    for _ in range(2):  # two epochs: the same items fail again, still three distinct ones
        assert sum(len(batch["source"].lengths) for batch in loader) == 3
    assert data.failed_indices() == [1, 3, 5] and data.failures == 3


def test_a_split_is_warned_about_once_and_again_only_for_new_failures():
    data = _prepared(ITEMS)
    skipped = SkippedItems(shown=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert skipped.warn("train", data) == 0  # nothing failed yet
        data[1], data[3]
        assert skipped.warn("train", data) == 2
        data[1], data[3]
        assert skipped.warn("train", data) == 0  # the same items again
        data[5]
        assert skipped.warn("train", data) == 1
        assert skipped.warn("valid", data) == 3  # another split counts for itself
    first, second, valid = _data_warnings(caught)
    assert first == ("train split: skipped 2 item(s) that could not be prepared: "
                     "item 1, source (BAD): ValueError: cannot prepare 'BAD'; and 1 more")
    assert second.startswith("train split: skipped 3 item(s) that could not be prepared (1 new): item 5, source (BAD)")
    assert valid.startswith("valid split: skipped 3 item(s)")


def test_a_batch_of_failed_items_takes_the_first_good_item_and_none_is_an_error():
    data = _prepared(ITEMS)
    assert data.collate([data[1], data[3]])["source"].lengths.tolist() == [3]
    broken = _prepared({"source": ["BAD", ""], "target": ["x", "y"]})
    with pytest.raises(ValueError, match=r"no item of RawDataset could be prepared; item 0, source \(BAD\): ValueError"):
        broken.collate([broken[0]])
