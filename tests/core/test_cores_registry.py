"""The built-in cores are registered by name and rebuild from their recorded arguments."""

import pytest

import tformer
from tformer.core import Decoder, Encoder, EncoderDecoder


def test_built_in_cores_are_registered():
    assert tformer.CORES.get("encoder") is Encoder
    assert tformer.CORES.get("decoder") is Decoder
    assert tformer.CORES.get("encoder_decoder") is EncoderDecoder
    assert tformer.CORES.name_of(Decoder(16, 2, 1, 32, cross_attention=False)) == "decoder"


@pytest.mark.parametrize(
    "core",
    [Encoder(16, 2, 2, 32), Decoder(16, 2, 1, 32, norm_first=True, cross_attention=False), EncoderDecoder(16, 2, 1, 1, 32)],
)
def test_a_core_rebuilds_from_its_name_and_init_kwargs(core):
    rebuilt = tformer.CORES.build(tformer.CORES.name_of(core), **core.init_kwargs)
    rebuilt.load_state_dict(core.state_dict())  # strict: the same parameters
    assert rebuilt.init_kwargs == core.init_kwargs


def test_a_wrong_argument_is_named():
    with pytest.raises(TypeError, match="core 'decoder': unknown argument 'cross'"):
        tformer.CORES.build("decoder", d_model=16, n_heads=2, n_layers=1, d_ff=32, cross=False)
    with pytest.raises(KeyError, match="Did you mean 'encoder_decoder'"):
        tformer.CORES.get("encoder_decoders")
