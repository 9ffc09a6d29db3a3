import pytest
import torch

from tformer.core.dropout import Dropout, dropout


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_drops_a_fraction_p_and_keeps_the_expected_value(p):
    out = dropout(torch.ones(1 << 20), p)
    assert (out == 0).float().mean().item() == pytest.approx(p, abs=3e-3)
    assert out.mean().item() == pytest.approx(1.0, abs=5e-3)
    kept = out.unique()[1:]
    assert len(kept) == 1 and kept.item() == pytest.approx(1 / (1 - p), rel=1e-4)


def test_gradient_is_the_same_mask():
    x = torch.randn(4, 7, 9, requires_grad=True)
    out = dropout(x, 0.2)
    out.sum().backward()
    kept = out != 0
    torch.testing.assert_close(x.grad[kept], (out / x)[kept])
    assert (x.grad[~kept] == 0).all()


def test_identity_when_not_training_or_p_zero_and_torch_for_p_one():
    x = torch.randn(5, 3)
    module = Dropout(0.5).eval()
    assert module(x) is x and dropout(x, 0.0) is x
    assert (dropout(x, 1.0) == 0).all()
    assert dropout(x, 1 - 1e-6).shape == x.shape
    torch.testing.assert_close(dropout(x, 1e-6), x)  # p below 2^-16: torch's dropout
    with pytest.raises(ValueError):
        dropout(x, 1.5)


def test_masks_follow_the_seed_and_differ_between_calls():
    torch.manual_seed(7)
    a, b = dropout(torch.ones(1000), 0.5), dropout(torch.ones(1000), 0.5)
    torch.manual_seed(7)
    assert torch.equal(dropout(torch.ones(1000), 0.5), a) and not torch.equal(a, b)
