"""Example third-party tformer plug-in: DNA strings as overlapping k-mers (``dna_kmer``).

Its Hydra config ships in ``tformer_kmer/conf/source/dna_kmer.yaml`` (``CONFIG_DIR``).
"""

from __future__ import annotations

import math
from itertools import product
from pathlib import Path

import torch
from torch import Tensor, nn

from tformer.core.positions import SinusoidalPositions
from tformer.kinds import TEXT
from tformer.registry import TOKENIZERS
from tformer.tokenizers.base import Tokenizer, lengths_to_pad_mask

__all__ = ["KmerTokenizer", "CONFIG_DIR"]

CONFIG_DIR = Path(__file__).parent / "conf"


@TOKENIZERS.register("dna_kmer")
class KmerTokenizer(Tokenizer):
    """DNA -> overlapping k-mer ids (fixed vocabulary: <pad> 0, <unk> 1, then the 4^k k-mers).

    Args:
        d_model: embedding width.
        k: k-mer length.
        dropout: dropout after embedding * sqrt(d) + sinusoidal positions.
    """

    pad_id, unk_id = 0, 1
    reads = (TEXT,)  # what prepare takes (tformer.kinds): DNA strings are text; data giving images is refused

    def __init__(self, d_model: int, k: int = 3, dropout: float = 0.1):
        super().__init__()
        self.d_model, self.k = d_model, k
        self.index = {"".join(kmer): i + 2 for i, kmer in enumerate(product("ACGT", repeat=k))}
        self.embedding = nn.Embedding(len(self.index) + 2, d_model, padding_idx=self.pad_id)
        self.positions = SinusoidalPositions(d_model)
        self.dropout = nn.Dropout(dropout)

    def prepare(self, raw: str) -> Tensor:
        """DNA string -> (max(1, len - k + 1),) ids; k-mers with other letters than ACGT -> <unk>."""
        sequence = raw.strip().upper()
        kmers = [sequence[i : i + self.k] for i in range(len(sequence) - self.k + 1)] or [sequence]
        return torch.tensor([self.index.get(kmer, self.unk_id) for kmer in kmers], dtype=torch.long)

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T) ids -> (B, T, d) vectors and (B, T) padding mask."""
        x = self.embedding(values) * math.sqrt(self.d_model)  # (B, T, d)
        return self.dropout(self.positions(x)), lengths_to_pad_mask(lengths, values.size(1))
