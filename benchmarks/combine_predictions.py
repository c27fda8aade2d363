"""Late fusion and logit biases on saved predictions, without running a model again.

    emotion-encoder evaluate default ../shared/data/jaffe/labels.csv -o runs/eval/d-jaffe
    emotion-encoder evaluate fast ../shared/data/jaffe/labels.csv -o runs/eval/f-jaffe
    python benchmarks/combine_predictions.py runs/eval/d-jaffe runs/eval/f-jaffe --w 0.25 0.5 1
    python benchmarks/combine_predictions.py runs/eval/d-jaffe --bias neutral=-0.5

Each folder is an ``evaluate`` report (its ``predictions.csv`` has one ``p_<label>``
column per label). Scores ``log p_A + w log p_B + bias`` on the samples both folders
hold, for each ``w``, and prints accuracy and balanced accuracy (mean per-class recall).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def read(folder: Path) -> tuple[tuple[str, ...], dict[str, tuple[np.ndarray, str]]]:
    """The labels and, per sample, (log probabilities, true label) of one report."""
    with open(folder / "predictions.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = tuple(name[2:] for name in rows[0] if name.startswith("p_"))
    return labels, {r["sample"]: (np.log(np.array([float(r[f"p_{n}"]) for n in labels]) + 1e-7),
                                  r["true"]) for r in rows}


def score(logits: np.ndarray, truth: list[str], labels: tuple[str, ...]) -> str:
    predicted = np.array(labels)[logits.argmax(1)]
    truth = np.array(truth)
    recall = [np.mean(predicted[truth == name] == name) for name in np.unique(truth)]
    return f"{100 * np.mean(predicted == truth):.1f}% ({100 * np.mean(recall):.1f}% balanced)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("a", type=Path, help="an evaluate report folder")
    parser.add_argument("b", type=Path, nargs="?", help="a second one, fused with weight w")
    parser.add_argument("--w", type=float, nargs="+", default=[0.0])
    parser.add_argument("--bias", nargs="*", default=[], metavar="LABEL=VALUE",
                        help="added to that label's log probability")
    args = parser.parse_args()
    labels, a = read(args.a)
    b = read(args.b)[1] if args.b else {}
    bias = np.zeros(len(labels))
    for item in args.bias:
        name, value = item.split("=")
        bias[labels.index(name)] = float(value)
    names = [n for n in a if not args.b or n in b]
    truth = [a[n][1] for n in names]
    for w in args.w:
        logits = np.stack([a[n][0] + (w * b[n][0] if args.b else 0.0) for n in names]) + bias
        print(f"w = {w}: {score(logits, truth, labels)} on {len(names)} samples")


if __name__ == "__main__":
    main()
