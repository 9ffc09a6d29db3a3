"""DETR's matching against every assignment, its cost and its set losses against values worked out by hand."""

import itertools
import math

import pytest
import torch

from tformer.tasks.matching import MatchCost, hungarian_match, match_cost
from tformer.tasks.set_losses import BoxGIoU, BoxL1, SetCrossEntropy
from tformer.tokenizers import Batch


def _giou(a, b):
    """Generalized IoU of two (cx, cy, w, h) boxes, from its definition (Rezatofighi et al. 2019)."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = ([c - w / 2, d - h / 2, c + w / 2, d + h / 2] for c, d, w, h in (a, b))
    inter = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    hull = (max(ax1, bx1) - min(ax0, bx0)) * (max(ay1, by1) - min(ay0, by0))
    return inter / union - (hull - union) / hull


def _target(rows_per_image):
    longest = max(len(rows) for rows in rows_per_image)
    values = torch.zeros(len(rows_per_image), max(longest, 1), 5)
    for i, rows in enumerate(rows_per_image):
        if rows:
            values[i, : len(rows)] = torch.tensor(rows, dtype=torch.float32)
    return Batch(values, torch.tensor([len(rows) for rows in rows_per_image]))


def _random_case(seed, queries, counts, classes=3):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(len(counts), queries, classes + 1, generator=g)
    boxes = 0.2 + 0.6 * torch.rand(len(counts), queries, 4, generator=g)
    rows = [[[float(torch.randint(classes, (1,), generator=g)), *(0.2 + 0.6 * torch.rand(4, generator=g)).tolist()]
             for _ in range(n)] for n in counts]
    return logits, boxes, _target(rows)


def test_the_cost_is_the_papers_formula():
    logits, boxes, target = _random_case(0, 3, [2])
    weights = MatchCost(1.5, 5.0, 2.0)
    cost = match_cost(logits[0], boxes[0], target.values[0, :, 0].long(), target.values[0, :, 1:], weights)
    probabilities = logits[0].softmax(-1)
    for q in range(3):
        for m in range(2):
            row = target.values[0, m]
            expected = (-1.5 * probabilities[q, int(row[0])] + 5.0 * (boxes[0, q] - row[1:]).abs().sum()
                        - 2.0 * _giou(boxes[0, q].tolist(), row[1:].tolist()))
            assert float(cost[q, m]) == pytest.approx(float(expected), abs=1e-5)


@pytest.mark.parametrize("seed, queries, counts", [(1, 4, [3, 0, 4]), (2, 5, [2, 5]), (3, 3, [1, 3, 2]), (4, 6, [4])])
def test_matching_finds_the_cheapest_assignment_of_all(seed, queries, counts):
    logits, boxes, target = _random_case(seed, queries, counts)
    weights = MatchCost()
    matched = hungarian_match(logits, boxes, target, weights)
    assert matched.shape == (sum(counts), 3)
    for b, n in enumerate(counts):
        mine = matched[matched[:, 0] == b]
        assert mine[:, 2].tolist() == list(range(n))  # every object once, in order
        assert len(set(mine[:, 1].tolist())) == n  # each by its own query
        cost = match_cost(logits[b], boxes[b], target.values[b, :n, 0].long(), target.values[b, :n, 1:], weights)
        found = sum(float(cost[q, m]) for _, q, m in mine.tolist())
        best = min((sum(float(cost[q, m]) for m, q in enumerate(pick)) for pick in itertools.permutations(range(queries), n)),
                   default=0.0)
        assert found == pytest.approx(best, abs=1e-5)


def test_more_objects_than_queries_is_refused_naming_the_option():
    logits, boxes, target = _random_case(5, 2, [3])
    with pytest.raises(ValueError, match=r"an image holds 3 objects, more than the 2 object queries.*task\.n_queries"):
        hungarian_match(logits, boxes, target, MatchCost())


def _outputs():
    """Two layers, one image, three queries, two real classes + "no object"; query 0 matches
    object 0 (class 1) and query 2 object 1 (class 0) in both layers."""
    logits = torch.zeros(2, 1, 3, 3)
    logits[1, 0, 0] = torch.tensor([0.0, math.log(2.0), 0.0])  # layer 1, query 0: p(class 1) = 1/2
    boxes = torch.tensor([[0.25, 0.25, 0.5, 0.5], [0.5, 0.5, 0.2, 0.2], [0.75, 0.75, 0.5, 0.5]]).expand(2, 1, 3, 4).clone()
    target = _target([[[1, 0.75, 0.75, 0.5, 0.5], [0, 0.75, 0.75, 0.5, 0.5]]])
    matches = torch.tensor([[0, 0, 0], [0, 2, 1]]).expand(2, 2, 3)
    return {"class_logits": logits, "boxes": boxes, "matches": matches, "n_boxes": torch.tensor(2.0)}, {"target": target}


def test_the_class_loss_weighs_no_object_by_a_tenth_and_sums_the_layers():
    outputs, batch = _outputs()
    # layer 0: uniform logits, -log(1/3) for each query, weights 1, 0.1 (query 1: no object), 1
    layer0 = math.log(3)
    # layer 1: query 0 has p(class 1) = 2/4; the others as before
    layer1 = (-math.log(0.5) + 0.1 * math.log(3) + math.log(3)) / 2.1
    assert float(SetCrossEntropy(no_object_weight=0.1)(outputs, batch)) == pytest.approx(layer0 + layer1, abs=1e-6)


def test_the_box_losses_are_sums_over_matched_pairs_over_the_number_of_boxes():
    outputs, batch = _outputs()
    # query 0 (0.25, 0.25, 0.5, 0.5) against (0.75, 0.75, 0.5, 0.5): L1 = 1.0; the corners [0, 0, 0.5, 0.5] and
    # [0.5, 0.5, 1, 1] touch: IoU 0, hull 1, union 0.5, GIoU -0.5, loss 1.5. Query 2 is exact: 0 and 0.
    assert float(BoxL1()(outputs, batch)) == pytest.approx(2 * 1.0 / 2)
    assert float(BoxGIoU()(outputs, batch)) == pytest.approx(2 * 1.5 / 2)


def test_a_diverged_prediction_is_still_matched_and_its_loss_is_not_finite():
    logits, boxes, target = _random_case(6, 3, [2])
    logits[0, 1] = float("nan")
    matched = hungarian_match(logits, boxes, target, MatchCost())
    assert matched[:, 2].tolist() == [0, 1] and len(set(matched[:, 1].tolist())) == 2
    outputs = {"class_logits": logits[None], "boxes": boxes[None], "matches": matched[None], "n_boxes": torch.tensor(2.0)}
    assert not torch.isfinite(SetCrossEntropy()(outputs, {"target": target}))  # the task skips such a batch
