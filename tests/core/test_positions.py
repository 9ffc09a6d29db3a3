import math

import pytest
import torch

from tformer.core import LearnedPositions, SinusoidalPositions, sinusoidal_table


@pytest.mark.parametrize("d_model", [4, 7, 64])
def test_table_is_the_papers_formula(d_model):
    table = sinusoidal_table(50, d_model)
    for pos in (0, 1, 17, 49):
        for i in range(d_model):
            angle = pos / 10000 ** ((i - i % 2) / d_model)
            expected = math.sin(angle) if i % 2 == 0 else math.cos(angle)
            assert table[pos, i].item() == pytest.approx(expected, abs=1e-6)


def test_sinusoids_extend_past_any_training_length():
    positions = SinusoidalPositions(16)
    x = torch.zeros(1, 3000, 16)
    out = positions(x)
    assert torch.allclose(out[0], sinusoidal_table(3000, 16))
    # an offset gives the same rows as a longer table
    step = positions(torch.zeros(1, 1, 16), offset=2999)
    assert torch.allclose(step[0, 0], out[0, 2999])


def test_learned_positions_name_their_limit():
    positions = LearnedPositions(8, max_len=10)
    assert positions(torch.zeros(2, 10, 8)).shape == (2, 10, 8)
    with pytest.raises(ValueError, match="10 learned positions"):
        positions(torch.zeros(2, 11, 8))
