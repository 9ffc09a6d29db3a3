"""Text tokenizers: a BPE subword vocabulary (HF ``tokenizers``) and a character vocabulary."""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable, Sequence

import torch
import torch.nn.functional as F
from tokenizers import Tokenizer as HfTokenizer
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers
from torch import Tensor, nn

from ..core.dropout import Dropout
from ..core.positions import embedding_scale
from ..flops import flop_parameters
from ..kinds import LABEL, TEXT
from ..registry import TOKENIZERS
from .base import TextOutput, build_positions, lengths_to_pad_mask

__all__ = ["SPECIAL_TOKENS", "TextBpeTokenizer", "TextCharTokenizer"]

SPECIAL_TOKENS = ("<pad>", "<bos>", "<eos>", "<unk>")  # ids 0, 1, 2, 3 in every text vocabulary


class _TextEmbedding(TextOutput):
    """Shared text front-end: dropout(embedding * sqrt(d) + positions), tied output projection.

    Subclasses own the vocabulary; they call ``_resize`` whenever its size changes (after
    ``fit`` and in ``set_extra_state``). ``load_state_dict`` visits a module before its
    children, so the embedding is resized before its weights are copied.
    """

    pad_id, bos_id, eos_id, unk_id = 0, 1, 2, 3
    reads = (TEXT, LABEL)  # a class name is a short text (caption_fashion_mnist writes garment names)

    def __init__(self, d_model: int, positions: str, max_len: int, dropout: float, tie_output: bool,
                 embedding_std: float | None):
        super().__init__()
        self.d_model = d_model
        self.embedding_std = d_model**-0.5 if embedding_std is None else embedding_std
        self.tie_output = tie_output
        self.scale = embedding_scale(d_model)
        self.positions = build_positions(positions, d_model, max_len)
        self.max_positions = max_len if positions == "learned" else None
        self.dropout = Dropout(dropout)
        self.embedding, self.output = self._new_layers(len(SPECIAL_TOKENS))

    def _new_layers(self, n: int) -> tuple[nn.Embedding, nn.Linear | None]:
        embedding = nn.Embedding(n, self.d_model, padding_idx=self.pad_id)
        nn.init.normal_(embedding.weight, std=self.embedding_std)
        with torch.no_grad():
            embedding.weight[self.pad_id].zero_()
        return embedding, (None if self.tie_output else nn.Linear(self.d_model, n))

    def _resize(self, n: int) -> None:
        if n != self.embedding.num_embeddings:
            reference = self.embedding.weight  # keep the device and dtype the module is on
            self.embedding, self.output = self._new_layers(n)
            for layer in (self.embedding, self.output):
                if layer is not None:
                    layer.to(reference)

    @property
    def vocab_size(self) -> int:
        return self.embedding.num_embeddings

    def forward(self, values: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T) ids and (B,) lengths -> (B, T, d) vectors and (B, T) padding mask."""
        x = self.embedding(values) * self.scale  # (B, T, d)
        x = self.dropout(self.positions(x))
        return x, lengths_to_pad_mask(lengths.to(values.device), values.size(1))

    def embed_step(self, ids: Tensor, offset: int) -> Tensor:
        """(B, 1) ids at position ``offset`` -> (B, 1, d)."""
        x = self.embedding(ids) * self.scale
        return self.dropout(self.positions(x, offset=offset))

    def project(self, hidden: Tensor) -> Tensor:
        """(B, T, d) -> (B, T, vocab_size) logits."""
        if self.output is None:
            return F.linear(hidden, self.embedding.weight)
        return self.output(hidden)

    def front_end_flops(self, lengths: Tensor) -> int:
        """None: the front-end only looks up its embedding and positions."""
        return 0

    def projection_parameters(self) -> int:
        """The output layer's parameters, or the embedding's where the output is tied to it."""
        return self.embedding.weight.numel() if self.output is None else flop_parameters(self.output)

    def _content_ids(self, ids: Sequence[int] | Tensor) -> list[int]:
        ids = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return [i for i in ids if i >= len(SPECIAL_TOKENS)]


@TOKENIZERS.register("text_bpe")
class TextBpeTokenizer(_TextEmbedding):
    """Subword (BPE) vocabulary trained on the corpus with HF ``tokenizers``.

    Text is NFC-normalized and split with Metaspace ("▁" marks a space), so
    ``decode(prepare(s)) == s`` for NFC text without leading or doubled leading spaces;
    characters never seen in training become ``<unk>``; special-token names in the text
    ("<eos>") are read as plain characters.

    Args:
        d_model: embedding width.
        vocab_size: target vocabulary size for ``fit`` (the trained one may be smaller).
        min_frequency: a merge must occur this often to be learned.
        positions: ``"sinusoidal"`` or ``"learned"``.
        max_len: positions learned when ``positions="learned"``.
        dropout: dropout after embedding + positions.
        tie_output: the output projection shares the embedding weight.
        embedding_std: the embedding's initial standard deviation; ``None`` is fairseq's d^-1/2
            (unit scale after the sqrt(d) multiplier). GPT-2's 0.02 starts a tied language model
            with small logits and trains it faster (benchmarks/RESULTS.md, lm_fortunes).
        lowercase: lowercase before tokenizing.
    """

    def __init__(
        self,
        d_model: int,
        vocab_size: int = 8000,
        min_frequency: int = 2,
        positions: str = "sinusoidal",
        max_len: int = 1024,
        dropout: float = 0.1,
        tie_output: bool = True,
        lowercase: bool = False,
        embedding_std: float | None = None,
    ):
        super().__init__(d_model, positions, max_len, dropout, tie_output, embedding_std)
        self.target_vocab_size = vocab_size
        self.min_frequency = min_frequency
        self.lowercase = lowercase
        self.hf_tokenizer: HfTokenizer | None = None

    @property
    def needs_fit(self) -> bool:
        return self.hf_tokenizer is None

    def fit(self, corpus: Iterable[str]) -> None:
        """Train the BPE vocabulary on ``corpus`` and resize the embedding to it."""
        tokenizer = HfTokenizer(models.BPE(unk_token="<unk>"))
        steps = [normalizers.NFC()] + ([normalizers.Lowercase()] if self.lowercase else [])
        tokenizer.normalizer = normalizers.Sequence(steps)
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.BpeTrainer(
            vocab_size=self.target_vocab_size,
            min_frequency=self.min_frequency,
            special_tokens=list(SPECIAL_TOKENS),
            show_progress=False,
        )
        tokenizer.train_from_iterator(corpus, trainer)
        self._set_tokenizer(tokenizer)

    def _set_tokenizer(self, tokenizer: HfTokenizer) -> None:
        for index, token in enumerate(SPECIAL_TOKENS):
            if tokenizer.token_to_id(token) != index:
                raise ValueError(f"BPE vocabulary must have {token!r} at id {index}")
        tokenizer.encode_special_tokens = True  # "<eos>" typed in a text is text, not a control id (not saved by to_str)
        self.hf_tokenizer = tokenizer
        # Metaspace gives every word's first subword a leading "▁" and no other subword one.
        tokens = [tokenizer.id_to_token(i) or "" for i in range(tokenizer.get_vocab_size())]
        # A buffer (not saved: the vocabulary gives it), so it follows the module to its device.
        self.register_buffer("_starts", torch.tensor([t.startswith("▁") for t in tokens]), persistent=False)
        self._resize(tokenizer.get_vocab_size())

    def _fitted(self) -> HfTokenizer:
        if self.hf_tokenizer is None:
            raise RuntimeError("text_bpe has no vocabulary yet: call fit(corpus) or load a checkpoint")
        return self.hf_tokenizer

    def prepare(self, raw: str) -> Tensor:
        """str -> (T,) ids, without <bos>/<eos>."""
        return torch.tensor(self._fitted().encode(raw).ids, dtype=torch.long)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Ids -> text, stopping at the first <eos> and dropping special tokens."""
        return self._fitted().decode(self._content_ids(ids), skip_special_tokens=True)

    def word_starts(self, values: Tensor) -> Tensor:
        """(B, T) ids -> (B, T) bool: the subwords that begin with "▁" (a word's first)."""
        if self.hf_tokenizer is None:
            raise RuntimeError("text_bpe has no vocabulary yet: call fit(corpus) or load a checkpoint")
        return self._starts.to(values.device)[values]  # a no-op move once the module is on the ids' device

    def outside_vocabulary(self, raw: str) -> list[str]:
        """The pieces of ``raw`` that ``prepare`` reads as <unk> (characters never seen in training)."""
        encoding = self._fitted().encode(raw)
        return [raw[start:end] for i, (start, end) in zip(encoding.ids, encoding.offsets) if i == self.unk_id]

    @property
    def known_characters(self) -> str:
        """The single characters of the vocabulary (a space for "▁")."""
        tokens = (t.replace("▁", " ") for t in self._fitted().get_vocab() if t not in SPECIAL_TOKENS)
        return "".join(sorted(t for t in tokens if len(t) == 1))

    def token_labels(self, ids: Sequence[int]) -> list[str]:
        """The subword of each id ("▁" starts a word; special tokens by name)."""
        vocabulary = self._fitted()
        return [vocabulary.id_to_token(i) or str(i) for i in ids]

    def get_extra_state(self) -> dict[str, Any]:
        return {"tokenizer": None if self.hf_tokenizer is None else self.hf_tokenizer.to_str()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("tokenizer") is not None:
            self._set_tokenizer(HfTokenizer.from_str(state["tokenizer"]))


@TOKENIZERS.register("text_char")
class TextCharTokenizer(_TextEmbedding):
    """Character vocabulary, learned by ``fit`` or given as ``alphabet``.

    For CTC the blank is the padding id 0 (never a real character).

    Args:
        d_model: embedding width.
        alphabet: the characters; ``None`` learns them with ``fit``.
        lowercase: lowercase before mapping (also applied to ``alphabet``).
        positions, max_len, dropout, tie_output, embedding_std: as for ``TextBpeTokenizer``.
    """

    def __init__(
        self,
        d_model: int,
        alphabet: str | None = None,
        lowercase: bool = False,
        positions: str = "sinusoidal",
        max_len: int = 1024,
        dropout: float = 0.1,
        tie_output: bool = True,
        embedding_std: float | None = None,
    ):
        super().__init__(d_model, positions, max_len, dropout, tie_output, embedding_std)
        self.lowercase = lowercase
        self.chars: list[str] = []
        self.index: dict[str, int] = {}
        if alphabet is not None:
            self._set_chars(self._normalize(alphabet))

    @property
    def needs_fit(self) -> bool:
        return not self.chars

    def _normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return text.lower() if self.lowercase else text

    def _set_chars(self, chars: Iterable[str]) -> None:
        self.chars = sorted(set(chars))
        self.index = {c: i + len(SPECIAL_TOKENS) for i, c in enumerate(self.chars)}
        self._resize(len(SPECIAL_TOKENS) + len(self.chars))

    def fit(self, corpus: Iterable[str]) -> None:
        """Learn the characters of ``corpus``."""
        seen: set[str] = set()
        for text in corpus:
            seen.update(self._normalize(text))
        self._set_chars(seen)

    def prepare(self, raw: str) -> Tensor:
        """str -> (T,) character ids (unknown characters -> <unk>), without <bos>/<eos>."""
        if not self.chars:
            raise RuntimeError("text_char has no alphabet yet: pass alphabet=, call fit(corpus) or load a checkpoint")
        return torch.tensor([self.index.get(c, self.unk_id) for c in self._normalize(raw)], dtype=torch.long)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """Ids -> text, stopping at the first <eos> and dropping special tokens."""
        first = len(SPECIAL_TOKENS)
        return "".join(self.chars[i - first] for i in self._content_ids(ids) if i - first < len(self.chars))

    def word_starts(self, values: Tensor) -> Tensor:
        """(B, T) ids -> (B, T) bool: a character other than a space after a space or at the start."""
        real = values >= self.unk_id  # an unknown character is a character too
        space = values == self.index[" "] if " " in self.index else torch.zeros_like(real)
        after_space = torch.ones_like(real)
        after_space[:, 1:] = space[:, :-1]
        return real & ~space & after_space

    def outside_vocabulary(self, raw: str) -> list[str]:
        """The characters of ``raw`` (normalized) that are not in the alphabet."""
        return [c for c in self._normalize(raw) if c not in self.index]

    @property
    def known_characters(self) -> str:
        return "".join(self.chars)

    def get_extra_state(self) -> dict[str, Any]:
        return {"alphabet": "".join(self.chars)}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        if state.get("alphabet"):
            self._set_chars(state["alphabet"])
