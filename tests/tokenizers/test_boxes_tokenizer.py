"""The boxes tokenizer: pixel corners and labels <-> rows [class, cx, cy, w, h] in fractions of the image."""

import io

import pytest
import torch

from tformer.tokenizers import BoxesTokenizer

ITEMS = [
    {"boxes": [[10, 20, 50, 60], [0, 0, 200, 100]], "labels": ["dog", "cat"], "width": 200, "height": 100},
    {"boxes": [], "labels": [], "width": 64, "height": 64},
    {"boxes": [[3, 4, 5, 8]], "labels": [10], "width": 16, "height": 8},
]


def _fitted():
    tokenizer = BoxesTokenizer()
    tokenizer.fit(ITEMS)
    return tokenizer


def test_fit_learns_the_class_names_sorted_as_the_label_tokenizer_sorts_them():
    tokenizer = _fitted()
    assert tokenizer.classes == ["10", "cat", "dog"] and tokenizer.n_classes == 3 and not tokenizer.needs_fit


def test_prepare_gives_centres_and_sizes_as_fractions_of_the_image():
    tokenizer = _fitted()
    rows = tokenizer.prepare(ITEMS[0])
    # dog: centre (30, 40) of 200 x 100, size 40 x 40; cat: the whole image
    expected = torch.tensor([[2, 30 / 200, 40 / 100, 40 / 200, 40 / 100], [1, 0.5, 0.5, 1.0, 1.0]])
    torch.testing.assert_close(rows, expected)
    assert tokenizer.prepare(ITEMS[1]).shape == (0, 5)


def test_decode_gives_back_the_pixel_boxes_and_labels():
    tokenizer = _fitted()
    for item in ITEMS:
        decoded = tokenizer.decode(tokenizer.prepare(item), item["width"], item["height"])
        assert decoded["labels"] == [str(label) for label in item["labels"]]
        torch.testing.assert_close(torch.tensor(decoded["boxes"]).reshape(-1, 4),
                                   torch.tensor(item["boxes"], dtype=torch.float32).reshape(-1, 4))


def test_collate_pads_to_the_most_boxes_and_keeps_the_counts():
    tokenizer = _fitted()
    prepared = [tokenizer.prepare(item) for item in ITEMS]
    batch = tokenizer.collate(prepared)
    assert batch.values.shape == (3, 2, 5) and batch.lengths.tolist() == [2, 0, 1]
    assert (batch.values[1] == 0).all() and (batch.values[2, 1] == 0).all()
    for i, item in enumerate(prepared):
        torch.testing.assert_close(tokenizer.batch_item(batch.values, batch.lengths, i), item)


def test_unknown_labels_and_malformed_items_are_named():
    tokenizer = _fitted()
    with pytest.raises(ValueError, match=r"unknown label\(s\) 'bird'; known labels: 10, cat, dog"):
        tokenizer.prepare({"boxes": [[0, 0, 1, 1]], "labels": ["bird"], "width": 2, "height": 2})
    with pytest.raises(ValueError, match=r"boxes reads \{'boxes': .*got \['boxes', 'labels'\]"):
        tokenizer.prepare({"boxes": [], "labels": []})
    with pytest.raises(ValueError, match="2 boxes but 1 labels"):
        tokenizer.prepare({"boxes": [[0, 0, 1, 1]] * 2, "labels": ["cat"], "width": 2, "height": 2})
    with pytest.raises(ValueError, match=r"the test split: label\(s\) 'bird' not seen in training"):
        tokenizer.check([{"boxes": [[0, 0, 1, 1]], "labels": ["bird"]}], "the test split")


def test_the_classes_travel_with_the_state_dict():
    tokenizer = _fitted()
    buffer = io.BytesIO()
    torch.save(tokenizer.state_dict(), buffer)
    buffer.seek(0)
    fresh = BoxesTokenizer()
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    assert fresh.classes == tokenizer.classes
    torch.testing.assert_close(fresh.prepare(ITEMS[0]), tokenizer.prepare(ITEMS[0]))
