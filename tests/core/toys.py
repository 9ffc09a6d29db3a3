"""Untrained models small enough to enumerate every output: a translator and a language model."""

import torch
from torch import nn

from tformer.core import Decoder, EncoderDecoder, SinusoidalPositions, decoder_only_decoding, encoder_decoder_decoding

BOS, EOS, VOCAB, D = 1, 2, 5, 16


class _Embedded(nn.Module):
    """Embedding + sinusoidal positions in, a linear layer out: what a text tokenizer offers."""

    def _add_embeddings(self):  # after the core: the order the seeded tests were written with
        self.embedding = nn.Embedding(VOCAB, D)
        self.positions = SinusoidalPositions(D)
        self.out = nn.Linear(D, VOCAB)

    def embed_step(self, ids, offset):
        return self.positions(self.embedding(ids), offset)

    def project(self, h):
        return self.out(h)

    def _log_prob(self, hidden, start, ids):
        logp = self.project(hidden).log_softmax(-1)[0]
        return sum(float(logp[start + t, i]) for t, i in enumerate(ids))


class TinyTranslator(_Embedded):
    def __init__(self):
        super().__init__()
        self.core = EncoderDecoder(D, 2, 1, 2, 32).eval()
        self._add_embeddings()

    def log_prob(self, memory, mask, ids):
        """Teacher-forced log-probability of ``ids`` (ending in EOS or not) for one source."""
        tokens = torch.tensor([[BOS] + ids[:-1]])
        return self._log_prob(self.core.decoder(self.embed_step(tokens, 0), memory, mask), 0, ids)

    def decoding(self, memory, mask, max_len):
        return encoder_decoder_decoding(self.core.decoder, memory, mask, self.embed_step, self.project, BOS, EOS, max_len)


class TinyLanguageModel(_Embedded):
    def __init__(self, norm_first=False):
        super().__init__()
        self.decoder = Decoder(D, 2, 2, 32, norm_first=norm_first, cross_attention=False).eval()
        self._add_embeddings()

    def log_prob(self, prompt, ids):
        """Teacher-forced log-probability of ``ids`` after ``prompt`` (a list starting with BOS)."""
        tokens = torch.tensor([prompt + ids[:-1]])
        return self._log_prob(self.decoder(self.embed_step(tokens, 0)), len(prompt) - 1, ids)

    def decoding(self, prefix, max_len):
        return decoder_only_decoding(self.decoder, prefix, self.embed_step, self.project, EOS, max_len)


def translator_and_sources():
    torch.manual_seed(3)
    model = TinyTranslator()
    src = torch.randn(3, 6, D)
    mask = torch.arange(6)[None, :] >= torch.tensor([6, 4, 2])[:, None]
    return model, model.core.encode(src, mask), mask


def language_model_and_prompts(norm_first=False):
    torch.manual_seed(4)
    model = TinyLanguageModel(norm_first)
    prompts = torch.cat([torch.full((3, 1), BOS), torch.randint(3, VOCAB, (3, 3))], 1)  # (3, 4)
    return model, prompts
