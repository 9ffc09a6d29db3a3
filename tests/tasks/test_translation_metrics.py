import sacrebleu

from tformer.tasks.metrics import SacreBLEU


def test_bleu_is_on_sacrebleus_scale():
    hypotheses = ["the cat sat on the mat today", "a dog barked at the red house"]
    references = ["the cat sat on the mat", "a dog barked at the house"]
    metric = SacreBLEU()
    metric.update(hypotheses, references)
    expected = sacrebleu.corpus_bleu(hypotheses, [references]).score
    assert abs(float(metric.compute()) - expected) < 1e-3 and expected > 1
