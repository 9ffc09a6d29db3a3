"""label: class names <-> indices, errors, batches, checkpoints."""

from __future__ import annotations

import pytest
import torch

from tformer.registry import TOKENIZERS
from tformer.tokenizers import LabelTokenizer


def test_fit_prepare_decode():
    labels = LabelTokenizer(d_model=16)
    assert labels.needs_fit
    labels.fit(["shirt", "bag", "sneaker", "bag"])
    assert labels.classes == ["bag", "shirt", "sneaker"] and labels.n_classes == 3
    item = labels.prepare("shirt")
    assert item.shape == (1,) and item.dtype == torch.long
    assert labels.decode(item) == "shirt" and labels.decode(2) == "sneaker"


def test_numeric_labels_sort_numerically():
    labels = LabelTokenizer(classes=range(12))
    assert labels.classes[:3] == ["0", "1", "2"] and labels.classes[-1] == "11"
    assert labels.prepare(10).item() == 10 and labels.prepare("10").item() == 10


def test_unknown_label_names_known_ones():
    labels = LabelTokenizer(classes=["cat", "dog"])
    with pytest.raises(ValueError, match=r"'bird'.*cat, dog"):
        labels.prepare("bird")


def test_collate_gives_flat_values_and_unit_lengths():
    labels = LabelTokenizer(classes=["a", "b", "c"])
    batch = labels.collate([labels.prepare(x) for x in "cab"])
    assert batch.values.tolist() == [2, 0, 1] and batch.lengths.tolist() == [1, 1, 1]


def test_classes_survive_checkpoint():
    labels = TOKENIZERS.build("label", d_model=16)
    labels.fit(["x", "y"])
    fresh = TOKENIZERS.build("label", d_model=16)
    fresh.load_state_dict(labels.state_dict())
    assert fresh.classes == ["x", "y"] and not fresh.needs_fit


def test_forward_is_a_clear_error():
    with pytest.raises(TypeError, match="target-side"):
        LabelTokenizer(classes=["a"])(torch.zeros(1, dtype=torch.long), torch.ones(1, dtype=torch.long))
