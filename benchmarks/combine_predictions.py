"""Late fusion and logit biases on saved predictions, without running a model again.

    emotion-encoder evaluate default ../shared/data/jaffe/labels.csv -o runs/eval/d-jaffe
    emotion-encoder evaluate fast ../shared/data/jaffe/labels.csv -o runs/eval/f-jaffe
    python benchmarks/combine_predictions.py runs/eval/d-jaffe runs/eval/f-jaffe --w 0.25 0.5 1
    python benchmarks/combine_predictions.py runs/eval/d-jaffe --bias neutral=-0.5
    python benchmarks/combine_predictions.py runs/probes-int8/jaffe --baseline neutral \
        --manifest ../shared/data/jaffe/labels.csv --people KL UY

Each folder is an ``evaluate`` report (its ``predictions.csv`` has one ``p_<label>``
column per label). Scores ``log p_A + w log p_B + bias`` on the samples both folders
hold, for each ``w``, and prints accuracy and balanced accuracy (mean per-class recall).
``--baseline`` reads each face against its person's own (``--manifest``'s ``subject``
column): minus the mean log probabilities of that person's other neutral faces
(``neutral``) or other faces (``mean``), plus the same mean over everybody else's;
``--people`` scores only those people. ``--em`` adds the log of the class prior that EM
estimates from the scored samples themselves (label-shift adaptation, Saerens et al. 2002;
labels unused), printed beside the true one:

    python benchmarks/combine_predictions.py runs/probes-keras/ferplus --em
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


def person_baseline(logits: np.ndarray, truth: list[str], people: list[str],
                    mode: str) -> np.ndarray:
    """Each face's log probabilities against its person's other (neutral) faces, plus the
    other people's mean; a face whose person has no other such face stays as it is."""
    people, usable = np.array(people), np.array([mode == "mean" or t == "neutral" for t in truth])
    out = logits.copy()
    for i, person in enumerate(people):
        own = usable & (people == person)
        own[i] = False
        others = usable & (people != person)
        if own.any() and others.any():
            out[i] = logits[i] - logits[own].mean(0) + logits[others].mean(0)
    return out


def em_prior(logits: np.ndarray, iterations: int = 1000) -> np.ndarray:
    """The class prior of a collection by EM on the model's posteriors, which are taken to
    be balanced (trained for a uniform prior, as the logit-adjusted presets are).

    >>> p = np.log(np.array([[0.9, 0.1]] * 6 + [[0.1, 0.9]] * 4))
    >>> em_prior(p).round(3).tolist()      # the likelihood's maximum
    [0.625, 0.375]
    """
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    prior = np.full(p.shape[1], 1.0 / p.shape[1])
    for _ in range(iterations):
        q = p * prior
        new = (q / q.sum(1, keepdims=True)).mean(0)
        if np.abs(new - prior).max() < 1e-7:
            return new
        prior = new
    return prior


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
    parser.add_argument("--baseline", choices=("neutral", "mean"),
                        help="read each face against its person's other neutral / all faces")
    parser.add_argument("--manifest", type=Path, help="labels.csv with a subject column")
    parser.add_argument("--people", nargs="*", help="score only these people")
    parser.add_argument("--em", action="store_true",
                        help="add the log of the class prior EM estimates on these samples")
    args = parser.parse_args()
    if (args.baseline or args.people) and not args.manifest:
        parser.error("--baseline and --people need --manifest")
    labels, a = read(args.a)
    b = read(args.b)[1] if args.b else {}
    bias = np.zeros(len(labels))
    for item in args.bias:
        name, value = item.split("=")
        bias[labels.index(name)] = float(value)
    names = [n for n in a if not args.b or n in b]
    truth = [a[n][1] for n in names]
    people = []
    if args.manifest:
        with open(args.manifest, encoding="utf-8") as handle:
            subject = {str((args.manifest.parent / r["path"]).resolve()): r["subject"]
                       for r in csv.DictReader(handle)}
        people = [subject[str(Path(n).resolve())] for n in names]
    scored = [i for i, p in enumerate(people or names) if not args.people or p in args.people]
    for w in args.w:
        logits = np.stack([a[n][0] + (w * b[n][0] if args.b else 0.0) for n in names]) + bias
        if args.baseline:
            logits = person_baseline(logits, truth, people, args.baseline)
        if args.em:
            prior = em_prior(logits[scored])
            logits = logits + np.log(np.maximum(prior, 1e-12))  # a class EM empties
            print("EM prior " + " ".join(f"{n} {v:.2f}" for n, v in zip(labels, prior))
                  + "; true " + " ".join(f"{n} {np.mean([truth[i] == n for i in scored]):.2f}"
                                         for n in labels))
        print(f"w = {w}: {score(logits[scored], [truth[i] for i in scored], labels)} "
              f"on {len(scored)} samples")


if __name__ == "__main__":
    main()
