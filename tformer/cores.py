"""The built-in cores, registered by name (``CORES``); ``tformer/core`` itself imports only torch."""

from __future__ import annotations

from .core import Decoder, Encoder, EncoderDecoder
from .registry import CORES

__all__ = ["Encoder", "Decoder", "EncoderDecoder"]

CORES.register("encoder")(Encoder)
CORES.register("decoder")(Decoder)  # cross_attention=False: a decoder-only (GPT-style) stack
CORES.register("encoder_decoder")(EncoderDecoder)
