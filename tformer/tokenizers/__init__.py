"""Modality plug-ins. Importing this package registers the built-in tokenizers."""

from .audio import AudioFbankTokenizer
from .base import Batch, ImageLayout, TextOutput, Tokenizer, build_positions, lengths_to_pad_mask, pad_sequences
from .boxes import BoxesTokenizer
from .image import ImagePatchTokenizer
from .image_line import ImageLineTokenizer
from .label import LabelTokenizer
from .mel import MelTokenizer
from .tags import TagTokenizer
from .text import SPECIAL_TOKENS, TextBpeTokenizer, TextCharTokenizer

__all__ = [
    "Batch",
    "ImageLayout",
    "Tokenizer",
    "TextOutput",
    "pad_sequences",
    "lengths_to_pad_mask",
    "build_positions",
    "SPECIAL_TOKENS",
    "TextBpeTokenizer",
    "TextCharTokenizer",
    "LabelTokenizer",
    "ImagePatchTokenizer",
    "ImageLineTokenizer",
    "AudioFbankTokenizer",
    "MelTokenizer",
    "TagTokenizer",
    "BoxesTokenizer",
]
