"""text_bpe and text_char: round trips, unknown characters, decoding rules, step embedding, checkpoints."""

from __future__ import annotations

import pytest
import torch

from tformer.tokenizers import SPECIAL_TOKENS, TextBpeTokenizer, TextCharTokenizer

UNSEEN = ["Die Vögel über Köln.", "I see the dog, oder?", "Große Bäume: 3 Äpfel!"]


@pytest.fixture
def bpe(corpus) -> TextBpeTokenizer:
    tokenizer = TextBpeTokenizer(d_model=16, vocab_size=200, min_frequency=1)
    tokenizer.fit(corpus)
    return tokenizer.eval()


@pytest.fixture
def char(corpus) -> TextCharTokenizer:
    tokenizer = TextCharTokenizer(d_model=16)
    tokenizer.fit(corpus)
    return tokenizer.eval()


@pytest.fixture(params=["bpe", "char"])
def text(request, bpe, char):
    return {"bpe": bpe, "char": char}[request.param]


def test_round_trip_with_umlauts_and_punctuation(text, corpus):
    for sentence in corpus + UNSEEN:
        ids = text.prepare(sentence)
        assert ids.dtype == torch.long and ids.dim() == 1
        assert text.decode(ids) == sentence


def test_bpe_learns_subwords_and_sizes_embedding(bpe):
    assert 4 < bpe.vocab_size <= 200
    assert bpe.embedding.num_embeddings == bpe.vocab_size == bpe.hf_tokenizer.get_vocab_size()
    assert len(bpe.prepare("Ich sehe das anders.")) < len("Ich sehe das anders.")


def test_specials_have_fixed_ids(text):
    assert (text.pad_id, text.bos_id, text.eos_id, text.unk_id) == (0, 1, 2, 3)
    assert SPECIAL_TOKENS == ("<pad>", "<bos>", "<eos>", "<unk>")


def test_unknown_characters_become_unk(text):
    ids = text.prepare("Ωmega € ✓")
    assert (ids == text.unk_id).sum() >= 3
    assert "Ω" not in text.decode(ids) and "mega" in text.decode(ids)


def test_decode_stops_at_eos_and_drops_specials(text):
    ids = text.prepare("Ich sehe").tolist()
    tail = text.prepare(" das").tolist()
    sequence = [text.bos_id] + ids + [text.eos_id] + tail + [text.pad_id]
    assert text.decode(sequence) == "Ich sehe"
    assert text.decode(torch.tensor([text.bos_id] + ids + [text.pad_id, text.pad_id])) == "Ich sehe"


def test_prepare_before_fit_is_a_clear_error():
    for tokenizer in (TextBpeTokenizer(d_model=8), TextCharTokenizer(d_model=8)):
        assert tokenizer.needs_fit
        with pytest.raises(RuntimeError, match="fit"):
            tokenizer.prepare("hallo")


def test_embed_step_matches_forward(text):
    ids = text.prepare("Über den Wolken").unsqueeze(0)  # (1, T)
    x, _ = text(ids, torch.tensor([ids.size(1)]))
    for t in range(ids.size(1)):
        torch.testing.assert_close(text.embed_step(ids[:, t : t + 1], offset=t), x[:, t : t + 1])


def test_tied_and_untied_projection(corpus):
    tied = TextCharTokenizer(d_model=16, tie_output=True)
    untied = TextCharTokenizer(d_model=16, tie_output=False)
    for tokenizer in (tied, untied):
        tokenizer.fit(corpus)
        logits = tokenizer.project(torch.randn(2, 5, 16))
        assert logits.shape == (2, 5, tokenizer.vocab_size)
    assert tied.output is None and untied.output.out_features == untied.vocab_size
    hidden = torch.randn(1, 1, 16)
    torch.testing.assert_close(tied.project(hidden), hidden @ tied.embedding.weight.T)


def test_untied_checkpoint_resizes_output_layer(corpus):
    tokenizer = TextBpeTokenizer(d_model=16, vocab_size=120, min_frequency=1, tie_output=False, positions="learned", max_len=64)
    tokenizer.fit(corpus)
    fresh = TextBpeTokenizer(d_model=16, vocab_size=120, min_frequency=1, tie_output=False, positions="learned", max_len=64)
    fresh.load_state_dict(tokenizer.state_dict())
    hidden = torch.randn(2, 3, 16)
    torch.testing.assert_close(fresh.project(hidden), tokenizer.project(hidden))


def test_char_alphabet_argument_and_lowercase():
    tokenizer = TextCharTokenizer(d_model=8, alphabet="abc ", lowercase=True)
    assert not tokenizer.needs_fit
    assert tokenizer.vocab_size == 4 + 4
    assert tokenizer.decode(tokenizer.prepare("ABC cab")) == "abc cab"
    assert 0 not in tokenizer.prepare("abc").tolist()  # CTC blank = pad id 0 is never a character


def test_learned_positions_limit_is_named():
    tokenizer = TextCharTokenizer(d_model=8, alphabet="ab", positions="learned", max_len=4)
    ids = tokenizer.prepare("ababab").unsqueeze(0)
    with pytest.raises(ValueError, match="max_len"):
        tokenizer(ids, torch.tensor([6]))


def test_the_characters_outside_the_vocabulary_are_named_as_written():
    # What a text-to-speech prompt is refused with: prepare would read these as <unk>.
    char = TextCharTokenizer(d_model=8, alphabet="abc ")
    assert char.outside_vocabulary("ab x1c") == ["x", "1"] and char.known_characters == " abc"
    assert char.prepare("ab x1c").tolist().count(char.unk_id) == 2
    bpe = TextBpeTokenizer(d_model=8, vocab_size=40, min_frequency=1, lowercase=True)
    bpe.fit(["abc cab", "bca"])
    assert bpe.outside_vocabulary("ABz c!") == ["z", "!"] and bpe.outside_vocabulary("CAB a") == []
    assert bpe.known_characters == " abc" and bpe.prepare("ABz c!").tolist().count(bpe.unk_id) == 2
