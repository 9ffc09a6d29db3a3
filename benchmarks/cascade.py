"""Speech translation two ways on the same test clips: the cascade (Czech ASR, then a cs->en text
model) against an end-to-end model, in sacreBLEU.

    python -m benchmarks.cascade --asr ASR.ckpt --mt MT.ckpt --st ST.ckpt [--language cs] [--split test]
    python -m benchmarks.cascade --st ST.ckpt --language nl      # end-to-end models alone

``--asr`` from ``tformer-train experiment=asr_fillets_cs``, ``--mt`` from ``experiment=mt_fillets_cs_en``,
``--st`` (optional, may be given several times) from ``experiment=st_fillets_cs_en``. Also reported:
the text model on the true transcripts (the cascade's ceiling) and the ASR's WER. The summary goes
to ``benchmarks/runs/cascade_<language>_<split>/summary.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Protocol, Sequence

from torchmetrics.functional.text import sacre_bleu_score, word_error_rate

RUNS = Path(__file__).resolve().parent / "runs"


class Predicts(Protocol):
    def predict(self, inputs: list) -> list: ...


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus sacreBLEU (13a tokenization) on the 0-100 scale, one reference per line."""
    return float(sacre_bleu_score(list(hypotheses), [[r] for r in references])) * 100


def compare(asr: Predicts | None, mt: Predicts | None, end_to_end: dict[str, Predicts], audio: list[str],
            transcripts: list[str], translations: list[str]) -> dict[str, dict]:
    """BLEU of every system on the clips, the cascade's ASR WER, and a few examples.

    Args:
        asr: speech -> transcript (``predict`` of audio paths); None: no cascade.
        mt: transcript -> English; None: no cascade.
        end_to_end: name -> speech -> English.
        audio: the clips.
        transcripts: what is said (as the ASR writes it).
        translations: the English references.
    Returns:
        System name -> ``{"bleu", "examples"}`` (and ``"wer"`` for the cascade's ASR).
    """
    results = {}
    if asr is not None and mt is not None:
        heard = asr.predict(audio)
        results["cascade"] = {"bleu": bleu(mt.predict(heard), translations), "asr_wer": float(word_error_rate(heard, transcripts))}
        results["text_model_on_true_transcripts"] = {"bleu": bleu(mt.predict(transcripts), translations)}
    for name, model in end_to_end.items():
        results[name] = {"bleu": bleu(model.predict(audio), translations)}
    return results


def system_name(checkpoint: str) -> str:
    """``RUN/checkpoints/last.ckpt`` -> ``end_to_end:RUN``; another checkpoint of the run adds its name."""
    path = Path(checkpoint)
    return f"end_to_end:{path.parent.parent.name}" + ("" if path.stem == "last" else f"/{path.stem}")


def main(argv: list[str] | None = None) -> None:
    import tformer
    from tformer.data import fillets_speech

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asr", help="the cascade's speech recognizer (with --mt)")
    parser.add_argument("--mt", help="the cascade's text model (with --asr)")
    parser.add_argument("--st", action="append", default=[], help="an end-to-end checkpoint (repeatable)")
    parser.add_argument("--language", default="cs")
    parser.add_argument("--split", default="test")
    parser.add_argument("--game-dir", default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if (args.asr is None) != (args.mt is None) or not (args.asr or args.st):
        parser.error("give --asr and --mt (the cascade), --st (end to end), or all three")
    raw = fillets_speech(args.split, args.language, **({"game_dir": args.game_dir} if args.game_dir else {}))
    st = {system_name(path): tformer.load(path) for path in args.st}
    asr, mt = (tformer.load(args.asr), tformer.load(args.mt)) if args.asr else (None, None)
    results = compare(asr, mt, st, list(raw.column("audio")),
                      list(raw.column("text")), list(raw.column("translation")))
    summary = {"args": {k: str(v) for k, v in vars(args).items()}, "clips": len(raw), "results": results}
    out = args.out or RUNS / f"cascade_{args.language}_{args.split}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    for name, result in results.items():
        print(f"| {name} | {result['bleu']:.2f} |" + (f" ASR WER {result['asr_wer']:.3f} |" if "asr_wer" in result else ""))


if __name__ == "__main__":
    main()
