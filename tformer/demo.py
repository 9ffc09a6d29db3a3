"""A one-minute demo of the core: learn to reverse digit strings, then decode them."""

from __future__ import annotations

import torch
from torch import nn

from .core import EncoderDecoder, SinusoidalPositions, beam_search, encoder_decoder_decoding, greedy_search

PAD, BOS, EOS, N_SPECIAL = 0, 1, 2, 3
DIGITS = 10


class _ReverseModel(nn.Module):
    def __init__(self, d_model: int = 64):
        super().__init__()
        self.embedding = nn.Embedding(N_SPECIAL + DIGITS, d_model)
        self.positions = SinusoidalPositions(d_model)
        self.core = EncoderDecoder(d_model, 4, 2, 2, 128, dropout=0.0)
        self.scale = d_model**0.5

    def embed(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        return self.positions(self.embedding(ids) * self.scale, offset)

    def project(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.embedding.weight.T  # tied output projection


def _batch(n: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    src = torch.randint(N_SPECIAL, N_SPECIAL + DIGITS, (n, length))
    tgt = torch.cat([torch.full((n, 1), BOS), src.flip(1), torch.full((n, 1), EOS)], 1)
    return src, tgt


def main(steps: int = 1500) -> None:
    torch.manual_seed(0)
    model = _ReverseModel()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.98), eps=1e-9)
    for step in range(1, steps + 1):
        src, tgt = _batch(64, 8)
        h = model.core(model.embed(src), model.embed(tgt[:, :-1]))
        loss = nn.functional.cross_entropy(model.project(h).flatten(0, 1), tgt[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 250 == 0:
            print(f"step {step:4d}  loss {loss.item():.3f}")
    model.eval()
    src, tgt = _batch(200, 8)
    memory = model.core.encode(model.embed(src))
    decoding = encoder_decoder_decoding(model.core.decoder, memory, None, model.embed, model.project, BOS, EOS, src.size(1) + 50)
    greedy, beam = greedy_search(decoding), beam_search(decoding, beam_size=4)
    expected = (tgt[:, 1:-1]).tolist()
    show = lambda ids: "".join(str(i - N_SPECIAL) for i in ids)
    print(f"exact reversals of 200 new strings: greedy {sum(g == e for g, e in zip(greedy, expected))}/200, "
          f"beam-4 {sum(b == e for b, e in zip(beam, expected))}/200 (a copy of the input would score 0)")
    for s, g in list(zip(src.tolist(), greedy))[:3]:
        print(f"  {show(s)} -> {show(g)}")


if __name__ == "__main__":
    main()
