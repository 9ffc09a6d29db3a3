"""``compile=``: which modules of a core torch.compile wraps (a compiled decoding step is checked
against the eager one in tests/core/test_static_decoding.py)."""

import pytest
import torch

from tformer.compiling import compile_core
from tformer.core import Decoder, Encoder, EncoderDecoder


def _compiled(module: torch.nn.Module) -> bool:
    return module._compiled_call_impl is not None


@pytest.mark.parametrize("how", [False, None, "false"])
def test_off_compiles_nothing(how):
    core = EncoderDecoder(16, 2, 2, 1, 32)
    assert compile_core(core, how) == 0
    assert not any(_compiled(m) for m in core.modules())


@pytest.mark.parametrize("how", [True, "regional"])
def test_regional_compiles_every_layer_of_every_stack_and_nothing_else(how):
    core = EncoderDecoder(16, 2, 2, 1, 32)
    assert compile_core(core, how) == 3
    layers = [*core.encoder.layers, *core.decoder.layers]
    assert all(_compiled(layer) for layer in layers)
    assert not any(_compiled(m) for m in core.modules() if all(m is not layer for layer in layers))


def test_whole_compiles_the_stacks_a_task_calls():
    core = EncoderDecoder(16, 2, 2, 1, 32)
    assert compile_core(core, "whole") == 2  # tasks call core.encoder and core.decoder, not core.forward
    assert _compiled(core.encoder) and _compiled(core.decoder) and not _compiled(core)
    single = Encoder(16, 2, 2, 32)
    assert compile_core(single, "whole") == 1 and _compiled(single)


def test_a_wrong_choice_is_named():
    with pytest.raises(ValueError, match="compile='fast': choose one of false, regional, whole"):
        compile_core(Decoder(16, 2, 1, 32, cross_attention=False), "fast")
