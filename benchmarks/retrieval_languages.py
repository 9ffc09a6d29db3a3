"""Any language -> English retrieval on the game's held-out lines (fillets_text, test split): for
each language, recall@1 and @10 of each line's English line among all that language's test
lines' English lines, and back, for a retrieval checkpoint.

    python -m benchmarks.retrieval_languages benchmarks/runs/retrieval_fillets/checkpoints/last.ckpt

Results go to ``summary.json`` beside the checkpoint's run folder (``--out``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import tformer
from tformer.data.fillets_text import TEXT_LANGUAGES, fillets_text
from tformer.tasks.ranking import ranks_of_pairs, recall_at


def scores(task, split: str = "test", languages=TEXT_LANGUAGES) -> dict[str, dict[str, float]]:
    """Language -> pairs and recall@1/@10 both ways over that language's pairs of ``split``."""
    out = {}
    for language in languages:
        data = fillets_text(split, language)
        sources, targets = task.embed(list(data.column("source"))), task.embed(list(data.column("target")), side="target")
        row = {"pairs": len(data)}
        for name, ranks in (("to_en", ranks_of_pairs(sources, targets)), ("from_en", ranks_of_pairs(targets, sources))):
            row.update({f"recall{k}_{name}": round(recall_at(ranks, k), 4) for k in (1, 10)})
        out[language] = row
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--split", default="test")
    parser.add_argument("--out", type=Path, default=None, help="where summary.json goes (default: the run folder)")
    args = parser.parse_args(argv)
    task = tformer.load(args.checkpoint).eval()
    results = scores(task, args.split)
    out = args.out or args.checkpoint.resolve().parent.parent / "languages"
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps({"checkpoint": str(args.checkpoint), "split": args.split, "languages": results}, indent=2) + "\n")
    keys = [k for k in next(iter(results.values())) if k != "pairs"]
    print("| language | pairs | " + " | ".join(keys) + " |\n|---|---|" + "---|" * len(keys))
    for language, row in results.items():
        print(f"| {language} | {row['pairs']} | " + " | ".join(f"{100 * row[k]:.1f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
