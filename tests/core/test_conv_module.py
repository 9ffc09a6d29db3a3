"""The encoder layers' convolution module: torchaudio's Conformer module with a per-position norm,
padding that never reaches a sequence, and where it may not be used."""

import pytest
import torch
from torch import nn
from torchaudio.models.conformer import _ConvolutionModule

from tformer.core import Encoder, EncoderDecoder
from tformer.core.layers import ConvModule


class _ChannelLayerNorm(nn.Module):
    """(B, C, T) -> LayerNorm over C at each time step: our module's norm inside torchaudio's."""

    def __init__(self, norm: nn.LayerNorm):
        super().__init__()
        self.norm = norm

    def forward(self, x):
        return self.norm(x.transpose(1, 2)).transpose(1, 2)


def test_the_module_is_torchaudios_conformer_module_with_a_layer_norm():
    d, kernel = 16, 7
    ours = ConvModule(d, kernel).eval()
    for p in ours.parameters():
        nn.init.normal_(p, std=0.3)
    peer = _ConvolutionModule(d, d, kernel, bias=True).eval()
    with torch.no_grad():
        pointwise_in, _, depthwise, _, _, pointwise_out, _ = peer.sequential
        pointwise_in.weight.copy_(ours.pointwise_in.weight.unsqueeze(-1))
        pointwise_in.bias.copy_(ours.pointwise_in.bias)
        depthwise.weight.copy_(ours.depthwise.weight)
        depthwise.bias.copy_(ours.depthwise.bias)
        pointwise_out.weight.copy_(ours.pointwise_out.weight.unsqueeze(-1))
        pointwise_out.bias.copy_(ours.pointwise_out.bias)
    peer.sequential[3] = _ChannelLayerNorm(ours.norm)
    x = torch.randn(3, 20, d)
    torch.testing.assert_close(ours(peer.layer_norm(x)), peer(x))  # the layer's pre-norm is torchaudio's first step


@pytest.mark.parametrize("norm_first", [True, False])
def test_a_sequence_gives_the_same_output_alone_and_padded_in_a_batch(norm_first):
    encoder = Encoder(16, 2, 2, 32, dropout=0.0, norm_first=norm_first, conv_kernel=5).eval()
    x = torch.randn(2, 12, 16)
    pad = torch.zeros(2, 12, dtype=torch.bool)
    pad[0, 7:] = True
    x[0, 7:] = 1e3  # what the padding holds must not matter
    together = encoder(x, pad)
    torch.testing.assert_close(together[0, :7], encoder(x[:1, :7], pad[:1, :7])[0])
    torch.testing.assert_close(together[1], encoder(x[1:], pad[1:])[0])


def test_the_convolution_adds_its_parameters_and_context():
    plain, conv = Encoder(16, 2, 1, 32, dropout=0.0), Encoder(16, 2, 1, 32, dropout=0.0, conv_kernel=3)
    added = sum(p.numel() for p in conv.parameters()) - sum(p.numel() for p in plain.parameters())
    assert added == (16 * 32 + 32) + (16 * 3 + 16) + 2 * 16 + (16 * 16 + 16) + 2 * 16  # in, depthwise, norm, out, layer norm
    core = EncoderDecoder(16, 2, 1, 1, 32, conv_kernel=3)
    assert core.encoder.layers[0].conv is not None and not hasattr(core.decoder.layers[0], "conv")


@pytest.mark.parametrize("kernel", [4, -1, 2.0])
def test_an_even_or_odd_typed_kernel_is_named(kernel):
    with pytest.raises(ValueError, match=f"conv_kernel={kernel!r}: give an odd number"):
        Encoder(16, 2, 1, 32, conv_kernel=kernel)


def test_packing_with_a_convolution_is_refused():
    with pytest.raises(ValueError, match="reach across the sequences a packed row holds"):
        Encoder(16, 2, 1, 32, packing=True, conv_kernel=3)


@pytest.mark.parametrize("experiment", ["asr_fillets_cs", "punctuation_en"])
def test_model_conv_kernel_reaches_the_encoder_of_a_recipe(experiment):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from tformer.cli import CONFIG_DIR

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[f"experiment={experiment}", "model.conv_kernel=15", "run_dir=/tmp/unused"])
    core = instantiate(cfg.task.core)
    encoder = getattr(core, "encoder", core)
    assert all(layer.conv.depthwise.kernel_size == (15,) for layer in encoder.layers)
