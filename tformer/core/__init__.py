"""The shared Transformer core: modality-agnostic, imports only torch."""

from .attention import KVCache, MultiHeadAttention
from .layers import DecoderLayer, EncoderLayer, FeedForward
from .positions import LearnedPositions, SinusoidalPositions, sinusoidal_table
from .search import Hypothesis, beam_search, beam_search_nbest, greedy_search, length_penalty
from .transformer import Decoder, DecoderCache, Encoder, EncoderDecoder

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
    "greedy_search",
    "beam_search",
    "beam_search_nbest",
    "Hypothesis",
    "length_penalty",
]
