"""The shared Transformer core: modality-agnostic, imports only torch."""

from .attention import DecoderCache, KVCache, MultiHeadAttention
from .decoding import Decoding, decoder_only_decoding, encoder_decoder_decoding
from .layers import DecoderLayer, EncoderLayer, FeedForward
from .positions import LearnedPositions, SinusoidalPositions, sinusoidal_table
from .sampling import argmax_token, sample_token
from .search import Hypothesis, beam_search, beam_search_nbest, greedy_search, length_penalty, sample
from .transformer import Decoder, Encoder, EncoderDecoder

__all__ = [
    "MultiHeadAttention",
    "KVCache",
    "FeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "Encoder",
    "Decoder",
    "DecoderCache",
    "EncoderDecoder",
    "SinusoidalPositions",
    "LearnedPositions",
    "sinusoidal_table",
    "Decoding",
    "encoder_decoder_decoding",
    "decoder_only_decoding",
    "greedy_search",
    "sample",
    "beam_search",
    "beam_search_nbest",
    "Hypothesis",
    "length_penalty",
    "argmax_token",
    "sample_token",
]
