"""The modality plug-in contract shared by every tokenizer."""

from __future__ import annotations

from typing import Any, Iterable, Iterator, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from ..core.config import RecordsArguments
from ..core.positions import LearnedPositions, SinusoidalPositions
from ..flops import flop_parameters, training_flops
from ..kinds import AUDIO, IMAGE, TEXT, describe

__all__ = ["Batch", "ImageLayout", "Tokenizer", "TextOutput", "MEDIA_SUFFIXES", "pad_sequences",
           "lengths_to_pad_mask", "build_positions"]

# The files a tokenizer that reads these kinds opens (``Tokenizer.file_suffixes``).
MEDIA_SUFFIXES = {
    IMAGE: (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"),
    AUDIO: (".wav", ".flac", ".ogg", ".mp3"),
}
_EXAMPLE_TEXT = "the quick brown fox jumps over the lazy dog"


class Batch(NamedTuple):
    """Items padded to the longest in the batch, with their true lengths."""

    values: Tensor  # (B, T, ...) padded
    lengths: Tensor  # (B,) int64

    def to(self, device: torch.device | str, non_blocking: bool | None = None) -> "Batch":
        """Both tensors on ``device``; ``non_blocking=None``: without waiting where that is safe and
        pays, from pinned memory to a GPU (the copy overlaps the step, ordered before its kernels)."""
        if non_blocking is None:
            non_blocking = torch.device(device).type == "cuda" and self.values.is_pinned()
        return Batch(self.values.to(device, non_blocking=non_blocking), self.lengths.to(device, non_blocking=non_blocking))


class ImageLayout(NamedTuple):
    """How the positions of one image lie on it, for pictures drawn over the image."""

    image: Tensor  # (C, H, W) as prepared
    grid: tuple[int, int]  # patch rows and columns
    n_prefix: int  # positions before the patches ([CLS])


def pad_sequences(items: Sequence[Tensor], pad_value: float | int = 0) -> Batch:
    """Pad tensors of shape (T_i, ...) along the first dimension to (B, T_max, ...)."""
    lengths = torch.tensor([item.size(0) for item in items], dtype=torch.long)
    values = nn.utils.rnn.pad_sequence(list(items), batch_first=True, padding_value=pad_value)
    return Batch(values, lengths)


def lengths_to_pad_mask(lengths: Tensor, max_len: int | None = None) -> Tensor:
    """(B,) lengths -> (B, T) boolean mask, True at padding."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def build_positions(kind: str, d_model: int, max_len: int = 1024) -> nn.Module:
    """``"sinusoidal"`` (any length) or ``"learned"`` (up to ``max_len``) 1-D positions."""
    if kind == "sinusoidal":
        return SinusoidalPositions(d_model)
    if kind == "learned":
        return LearnedPositions(d_model, max_len)
    raise ValueError(f"unknown positions {kind!r}; choose 'sinusoidal' or 'learned'")


class Tokenizer(RecordsArguments, nn.Module):
    """A modality plug-in: raw input -> tensor -> padded batch -> (x, pad_mask).

    ``prepare`` has no learnable state and runs in DataLoader workers; ``forward`` is the
    learnable front-end producing ``(x (B, T, d_model), pad_mask (B, T), True = padding)``.
    """

    d_model: int
    # The kinds of raw item ``prepare`` takes (``tformer.kinds``); None: undeclared, not checked.
    reads: tuple[str, ...] | None = None

    def prepare(self, raw: Any) -> Tensor:
        raise NotImplementedError

    def collate(self, items: Sequence[Tensor]) -> Batch:
        return pad_sequences(items)

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def size(self, item: Tensor) -> int:
        """Cost of one prepared item for token-budget batching (tokens, frames or patches)."""
        return int(item.size(0))

    def output_lengths(self, lengths: Tensor) -> Tensor:
        """(B,) lengths of a collated batch -> (B,) positions ``forward`` makes of each item (the same
        unless overridden: audio subsamples its frames)."""
        return lengths

    def front_end_flops(self, lengths: Tensor) -> Tensor | int:
        """Model FLOPs (forward and backward) of ``forward`` on items of ``lengths``: by default 6 x its
        parameters x the positions it makes (``tformer.flops``; lookups such as embeddings count none)."""
        return training_flops((flop_parameters(self), self.output_lengths(lengths).sum()))

    # -- long inputs -----------------------------------------------------------------------------------
    max_positions: int | None = None  # the most positions ``forward`` makes for one item; None: any

    def positions_of(self, item: Tensor) -> int:
        """How many positions ``forward`` makes of one prepared item (checked against ``max_positions``)."""
        return self.size(item)

    can_chunk: bool = False  # ``prepare_chunks`` cuts long inputs (audio)
    chunk_seconds: float | None = None  # the chunk length ``predict`` cuts inputs into by default; None: whole inputs

    def prepare_chunks(self, raw: Any, chunk_seconds: float) -> Iterator[tuple[Tensor, str]]:
        """Prepare a long raw input in pieces of at most ``chunk_seconds``, reading it a piece at a
        time; yields ``(prepared piece, where it lies in the input)``. Only tokenizers whose
        ``chunk_seconds`` is set cut their inputs (audio)."""
        raise ValueError(f"{type(self).__name__} cannot cut its inputs into chunks; set chunk_seconds=null")

    def fit(self, corpus: Iterable[Any]) -> None:
        """Learn from the training split before the model is built (no-op unless overridden)."""

    def check(self, corpus: Iterable[Any], where: str) -> None:
        """Raise ``ValueError`` naming ``where`` if ``corpus`` holds values outside what was learned
        (no-op unless overridden: text tokenizers map unknown characters to <unk>)."""

    @property
    def needs_fit(self) -> bool:
        return False

    def outside_vocabulary(self, raw: Any) -> list[str]:
        """The characters of ``raw`` a learned vocabulary lacks (``prepare`` reads them as <unk>),
        in order; none unless overridden."""
        return []

    known_characters: str = ""  # the characters a text vocabulary holds, for messages; "" where it does not say

    # -- what prediction, export and pictures ask ----------------------------------------------------
    @property
    def file_suffixes(self) -> tuple[str, ...]:
        """Suffixes of the media files ``prepare`` opens, from ``reads`` (image and audio files).

        Empty for a tokenizer of text (the default): ``tformer-predict`` then reads a file of
        inputs one per line, each line a raw item; otherwise each line is a file path.
        """
        return tuple(suffix for kind in (self.reads or ()) for suffix in MEDIA_SUFFIXES.get(kind, ()))

    varies_in_length: bool = True  # values (B, T, ...) of any T; False: a fixed shape past the batch (images)

    def example_inputs(self, batch: int = 2) -> Batch:
        """Made-up collated inputs of ``batch`` items, of lengths that differ (for export tracing).

        The default prepares texts of different lengths; a tokenizer that reads no text overrides it.
        """
        if self.reads is not None and TEXT not in self.reads:
            raise ValueError(f"{type(self).__name__} reads {describe(self.reads)}: it has no made-up inputs to "
                             "export with; give it an example_inputs(batch) method")
        texts = [_EXAMPLE_TEXT[: len(_EXAMPLE_TEXT) - 9 * i] or _EXAMPLE_TEXT[:3] for i in range(batch)]
        return self.collate([self.prepare(text) for text in texts])

    position_unit: str = "position"  # what one position of ``forward``'s output is, for axis labels

    def position_labels(self, prepared: Tensor, n_positions: int) -> list[str]:
        """A label for each of the ``n_positions`` positions ``forward`` makes of ``prepared``
        (one prepared item); the default numbers them."""
        return [str(i) for i in range(n_positions)]

    def image_layout(self, prepared: Tensor) -> ImageLayout | None:
        """Where the positions of ``prepared`` lie on an image; None (the default): not an image."""
        return None

    def batch_item(self, values: Tensor, lengths: Tensor, index: int) -> Tensor:
        """Item ``index`` of a collated batch, as ``prepare`` gave it (padding cut off)."""
        return values[index, : int(lengths[index])]


class TextOutput(Tokenizer):
    """An output-side (text) tokenizer: vocabulary, step-wise embedding and output projection."""

    vocab_size: int
    pad_id: int
    bos_id: int
    eos_id: int
    unk_id: int

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        raise NotImplementedError

    def embed_step(self, ids: Tensor, offset: int) -> Tensor:
        """Embed (B, 1) ids at position ``offset`` -> (B, 1, d_model), for cached decoding."""
        raise NotImplementedError

    def project(self, hidden: Tensor) -> Tensor:
        """(B, T, d_model) decoder states -> (B, T, vocab_size) logits."""
        raise NotImplementedError

    def projection_parameters(self) -> int:
        """Parameters of ``project`` (a tied embedding's weight too), for FLOP counts; by default
        ``vocab_size x d_model``."""
        return self.vocab_size * self.d_model

    def word_starts(self, values: Tensor) -> Tensor:
        """(B, T) ids of single-spaced text -> (B, T) bool, True at the first token of each word, so
        that word-level tags (sequence labelling) align with the tokens."""
        raise NotImplementedError(f"{type(self).__name__} does not say where its words start; "
                                  "use text_bpe or text_char")

    position_unit = "token"

    def token_labels(self, ids: Sequence[int]) -> list[str]:
        """A readable string per id: the special tokens by name, others as ``decode`` writes them
        (a space as "␣")."""
        special = {self.pad_id: "<pad>", self.bos_id: "<bos>", self.eos_id: "<eos>", self.unk_id: "<unk>"}
        return [special.get(i) or self.decode([i]).replace(" ", "␣") or str(i) for i in ids]

    def position_labels(self, prepared: Tensor, n_positions: int) -> list[str]:
        """The tokens of ``prepared`` (one position each)."""
        return self.token_labels(prepared.tolist())
