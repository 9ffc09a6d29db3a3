"""``task.generator.static_cache`` / ``compiled`` reach the task's decoding and change no output."""

import pytest
import torch

from tformer.core import Decoder, EncoderDecoder
from tformer.tasks import Beam, CtcRescoredBeam, Greedy, LanguageModelTask, Sampling, TranslationTask
from tformer.tokenizers import Batch, TextCharTokenizer


def _text():
    return TextCharTokenizer(16, alphabet="abcdefghij", dropout=0.0)


def test_compiled_implies_a_static_cache_and_a_beam_keeps_both():
    assert Greedy(compiled=True).decoding_options() == {"static": True, "compiled": True}
    assert Beam(3, static_cache=True).with_beam_size(5).decoding_options() == {"static": True, "compiled": False}
    assert Greedy(static_cache=True).with_beam_size(4).static_cache
    assert CtcRescoredBeam(static_cache=True).static_cache and Sampling(compiled=True).compiled
    assert Greedy().decoding_options() == {"static": False, "compiled": False}


@pytest.mark.parametrize("generator", [Greedy(), Beam(3)], ids=["greedy", "beam"])
def test_a_translation_task_decodes_alike_with_a_static_cache(generator):
    torch.manual_seed(0)
    task = TranslationTask({"source": _text(), "target": _text()}, EncoderDecoder(16, 2, 1, 2, 32)).eval()
    source = Batch(torch.randint(4, 14, (3, 6)), torch.tensor([6, 3, 4]))
    memory, mask = task.encode(source)
    outputs = {"memory": memory, "memory_pad_mask": mask}
    static = type(generator)(**{**generator.init_kwargs, "static_cache": True})
    # room for <bos> and the longest output: source length 6 + max_len_offset 50
    assert task.decoding(memory, mask, static).new_cache(1).layers[0][0].capacity == 1 + 6 + 50
    assert task.search(outputs, static) == task.search(outputs, generator)


def test_a_language_model_continues_alike_with_a_static_cache():
    torch.manual_seed(0)
    task = LanguageModelTask({"text": _text()}, Decoder(16, 2, 2, 32, cross_attention=False),
                             generator=Greedy(), max_new_tokens=6).eval()
    prompts = torch.randint(4, 14, (2, 3))
    growing = task.continue_prompts(prompts)
    task.generator = Greedy(static_cache=True)
    assert task.continue_prompts(prompts) == growing
