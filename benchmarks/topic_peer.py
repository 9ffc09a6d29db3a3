"""The topic_fortunes recipe's peers: the majority label and a bag-of-words logistic regression.

    python -m benchmarks.topic_peer [--out benchmarks/runs/topic_peer]

The regression (scikit-learn, the bench extra) reads TF-IDF weighted words and word pairs of the
same fortunes splits the recipe trains on; its inverse regularization ``C`` is chosen on the
validation split. Test accuracy and macro-F1 come from the same torchmetrics classes the
classification task logs, over the training label set, so the figures compare one to one.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

import torch
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from tformer.data import fortunes

RUNS = Path(__file__).resolve().parent / "runs" / "topic_peer"
C_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)


def scores(predicted: list[str], truth: list[str], classes: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 (torchmetrics, as the task logs them) of ``predicted`` labels."""
    index = {name: i for i, name in enumerate(classes)}
    preds = torch.tensor([index[p] for p in predicted])
    target = torch.tensor([index.get(t, len(classes)) for t in truth])
    n = len(classes) + 1  # one class more for a test label training never had: always wrong
    accuracy = MulticlassAccuracy(n, average="micro")(preds, target)
    f1 = MulticlassF1Score(n, average="macro")(preds, target)
    return {"acc": float(accuracy), "f1": float(f1)}


def logistic_regression(train, valid, test, c_grid=C_GRID) -> tuple[dict[str, float], dict]:
    """Fit TF-IDF + logistic regression, ``C`` chosen on ``valid`` from ``c_grid``; test scores and the choice."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(train.column("topic")))
    started = time.perf_counter()
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train.column("text"))
    x_valid, x_test = vectorizer.transform(valid.column("text")), vectorizer.transform(test.column("text"))
    best = None
    for c in c_grid:
        model = LogisticRegression(C=c, max_iter=2000).fit(x_train, train.column("topic"))
        valid_scores = scores(list(model.predict(x_valid)), list(valid.column("topic")), classes)
        print(f"  C {c:g}: valid accuracy {valid_scores['acc']:.4f}, macro-F1 {valid_scores['f1']:.4f}")
        if best is None or valid_scores["acc"] > best[1]["acc"]:
            best = (c, valid_scores, model)
    c, valid_scores, model = best
    test_scores = scores(list(model.predict(x_test)), list(test.column("topic")), classes)
    return test_scores, {"C": c, "valid": valid_scores, "features": x_train.shape[1],
                         "seconds": round(time.perf_counter() - started, 1)}


def majority(train, test) -> dict[str, float]:
    """Always the most frequent training topic."""
    classes = sorted(set(train.column("topic")))
    common = Counter(train.column("topic")).most_common(1)[0][0]
    return scores([common] * len(test), list(test.column("topic")), classes) | {"label": common}


def compare(train, valid, test, c_grid=C_GRID) -> dict:
    """Both peers on data sets with ``text`` and ``topic`` columns: the summary."""
    test_scores, choice = logistic_regression(train, valid, test, c_grid)
    return {"majority": majority(train, test), "logistic_regression": test_scores | choice,
            "counts": {"train": len(train), "valid": len(valid), "test": len(test)}}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RUNS, help="folder for summary.json")
    parser.add_argument("--root", default=None, help="data root (default: tformer's data folder)")
    parser.add_argument("--c", type=float, nargs="+", default=list(C_GRID), help="values of C to choose from")
    args = parser.parse_args(argv)
    train, valid, test = (fortunes(split, root=args.root) for split in ("train", "valid", "test"))
    summary = compare(train, valid, test, args.c)
    base, regression = summary["majority"], summary["logistic_regression"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("| model | test accuracy | test macro-F1 |\n|---|---|---|")
    print(f"| majority ({base['label']}) | {100 * base['acc']:.1f} % | {100 * base['f1']:.1f} % |")
    print(f"| TF-IDF words + pairs, logistic regression (C {regression['C']:g}) | {100 * regression['acc']:.1f} % "
          f"| {100 * regression['f1']:.1f} % |")


if __name__ == "__main__":
    main()
