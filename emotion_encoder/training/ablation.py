"""Ablation of the stills stage on the probe panel: which data, labels and balance help.

Each variant is the mixture stage (:mod:`emotion_encoder.training.mixture`) with some
settings changed, trained into its own folder (resumable); its best 2D network then reads
every probe's faces (the same crops the encoder cuts, the preset's preprocessor, mirror
averaging; a still is scored as itself, so this measures the backbone without the temporal
heads) and markdown tables compare the variants: accuracy per probe, and the recall of
the rare classes (disgust, fear).

    python -m emotion_encoder.training.ablation configs/ablation.yaml

>>> merged({"a": 1, "sources": {"x": {}, "y": {}}}, {"a": 2, "sources": {"y": None}})
{'a': 2, 'sources': {'x': {}}}
"""

from __future__ import annotations

import argparse
import copy
import csv
import io
import json
from pathlib import Path

import numpy as np

from emotion_encoder.atomic import write_atomic
from emotion_encoder.data.discover import open_dataset
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.models.loading import build_model
from emotion_encoder.models.emotion_classifier import mirror_averaged
from emotion_encoder.models.preprocessor import FacePreprocessor
from emotion_encoder.face_cache import CropSettings, cache_faces, sample_name
from emotion_encoder.training.config_keys import check_stills
from emotion_encoder.training.mixture import LABELS, train_mixture
from emotion_encoder.training.recipe import read_yaml
from emotion_encoder.models.still_classifier import build_still_classifier
from emotion_encoder.training.selection import balanced_accuracy


def merged(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` applied key by key (nested mappings merge; None removes)."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def shifted(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``(n, t, h, w, c)`` frames moved down ``dy`` and right ``dx`` pixels, edges repeated.

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3, 1)
    >>> shifted(x, 0, 1)[0, 0, :, :, 0].tolist()
    [[0.0, 0.0, 1.0], [3.0, 3.0, 4.0], [6.0, 6.0, 7.0]]
    """
    pad = max(abs(dy), abs(dx))
    grown = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    h, w = x.shape[2:4]
    return grown[:, :, pad - dy:pad - dy + h, pad - dx:pad - dx + w]


def held_out_sequences(spec: dict, pre: FacePreprocessor, cache: Path
                       ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list]:
    """One probe's faces as the panel cuts them (``spec``: ``path``, ``split``, ``options``):
    the crops of each sample with a face (``(t, s, s, c)`` uint8; a still has one, a video
    its frames at 10 per second), their label indices, the label indices of the samples
    without a face, and the samples found."""
    dataset, cropped = open_dataset(spec["path"], split=spec.get("split"),
                                    **spec.get("options", {}))
    dataset = dataset.filter(lambda s: s.label in LABELS)
    faces = cache_faces(dataset, cache, CropSettings.of(pre, detect=not cropped),
                        progress=False)
    found = np.array([LABELS.index(faces.label_names[y]) for y in faces.labels], int)
    seen = set(faces.samples)
    missing = np.array([LABELS.index(s.label) for s in dataset if s not in seen], int)
    return list(faces.sequences), found, missing, faces.samples


def held_out_faces(spec: dict, pre: FacePreprocessor, cache: Path
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """:func:`held_out_sequences` with the middle crop of each sample, ``(n, s, s, c)``."""
    sequences, found, missing, samples = held_out_sequences(spec, pre, cache)
    return np.stack([sequence[len(sequence) // 2] for sequence in sequences]), found, \
        missing, samples


def write_predictions(path: Path, samples: list, probs: np.ndarray, truth: np.ndarray) -> None:
    """``sample,predicted,true,p_<label>...`` of the samples with a face, as ``evaluate``
    writes them (what ``benchmarks/head_turn.py`` and ``combine_predictions.py`` read)."""
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["sample", "predicted", "true", *(f"p_{label}" for label in LABELS)])
    writer.writerows((sample_name(s), LABELS[int(np.argmax(p))], LABELS[t],
                      *(f"{v:.5f}" for v in p)) for s, p, t in zip(samples, probs, truth))
    write_atomic(path, table.getvalue())


def probe_scores(still, preset: str, probes: dict, cache: Path,
                 image_size: int | None = None, shifts: int = 0, clahe: float = 0.0,
                 out: Path | None = None) -> dict[str, dict]:
    """Accuracy and balanced accuracy of a 2D network on each probe (no face = miss), the
    faces cut at ``image_size`` (default the preset's) and equalised by CLAHE at clip
    limit ``clahe`` when it is > 0 (as the network was trained); ``shifts`` > 0 averages the
    probabilities over the 3 x 3 grid of crops moved by up to that many pixels. A probe
    reads each sample's middle crop, or with ``frames: mean`` in its spec every crop
    (a video's frames), the sample's label the largest mean probability. With ``out``,
    each probe's readings go to ``out/<probe>/predictions.csv`` (:func:`write_predictions`)."""
    pre = build_model(preset).preprocessor
    if image_size is not None or clahe:
        pre = FacePreprocessor.from_config({**pre.get_config(), "clahe": float(clahe),
                                            "image_size": int(image_size or pre.image_size)})
    mirrored = mirror_averaged(lambda x: {"probs": still(x, training=False)})
    offsets = [(dy, dx) for dy in (-shifts, 0, shifts) for dx in (-shifts, 0, shifts)] \
        if shifts else [(0, 0)]

    def forward(x):
        return {"probs": np.mean([np.asarray(mirrored(shifted(x, dy, dx))["probs"])
                                  for dy, dx in offsets], axis=0)}

    def predict(frames):
        return np.concatenate([np.asarray(forward(pre.normalize(frames[i:i + 256])
                                                  [:, None])["probs"])
                               for i in range(0, len(frames), 256)])
    scores = {}
    for name, spec in probes.items():
        mode = spec.get("frames", "middle")
        if mode not in ("middle", "mean"):
            raise EmotionEncoderError(f"probe {name!r}: frames {mode!r} is neither 'middle' "
                                      "nor 'mean'")
        if mode == "mean":
            sequences, found, missing, samples = held_out_sequences(spec, pre, cache)
            probs = np.stack([predict(sequence).mean(axis=0) for sequence in sequences])
        else:
            frames, found, missing, samples = held_out_faces(spec, pre, cache)
            probs = predict(frames)
        if out is not None:
            write_predictions(out / name / "predictions.csv", samples, probs, found)
        truth = np.concatenate([found, missing])
        pred = np.concatenate([probs.argmax(1), np.full(len(truth) - len(found), -1)])
        scores[name] = {"accuracy": float(np.mean(pred == truth)),
                        "balanced": balanced_accuracy(truth, pred), "n": int(len(truth)),
                        "recall": {LABELS[k]: float(np.mean(pred[truth == k] == k))
                                   for k in np.unique(truth)}}
    return scores


def run_ablation(config_path: str | Path) -> str:
    """Train every variant of the config, score it on the probes, return the tables."""
    config = read_yaml(config_path)
    out = Path(config["out"])
    rows = {}
    for name, changes in config["variants"].items():
        folder = out / name
        result = folder / "probes.json"
        if not result.exists():
            stills = merged(config["stills"], changes or {})
            check_stills(stills, f"{config_path}, variant {name!r}")
            state = train_mixture(stills, folder / "stills", config["preset"])
            size = stills.get("image_size")
            still = build_still_classifier(config["preset"], len(LABELS), size)
            still.load_weights(folder / "stills" / "best.weights.h5")
            scores = probe_scores(still_as_clips(still), config["preset"],
                                  config["probes"], out / "crops", size,
                                  clahe=float(stills.get("clahe", 0.0)),
                                  out=folder / "readings")
            result.write_text(json.dumps({"stills": stills, "best_epoch": state["best_epoch"],
                                          "validation": state["best"], "probes": scores},
                                         indent=2))
        rows[name] = json.loads(result.read_text())
    return ablation_table(rows, list(config["probes"])) + "\n\n" + recall_table(
        rows, list(config["probes"]))


def still_as_clips(still):
    """The still network on one-frame clips ``(n, 1, h, w, c)`` (the shape mirroring flips)."""
    return lambda x, training=False: still(x[:, 0], training=training)


def ablation_table(rows: dict, probes: list[str]) -> str:
    """Markdown: one row per variant, accuracy (balanced) per probe and their mean. The
    validation column is over the variant's own sources, so it is no ranking across rows."""
    lines = ["| variant | own validation sets (mean balanced) | " + " | ".join(probes)
             + " | mean balanced |", "|---" * (len(probes) + 3) + "|"]
    for name, row in rows.items():
        cells = [f"{row['probes'][p]['accuracy']:.1%} ({row['probes'][p]['balanced']:.1%})"
                 for p in probes]
        mean = np.mean([row["probes"][p]["balanced"] for p in probes])
        lines.append(f"| {name} | {row['validation']:.1%} | " + " | ".join(cells)
                     + f" | **{mean:.1%}** |")
    return "\n".join(lines)


def recall_table(rows: dict, probes: list[str], classes: tuple[str, ...] = ("disgust", "fear")
                 ) -> str:
    """Markdown: each variant's recall of the rare ``classes`` on each probe that has them
    ("-": the probe has none, or the variant was scored before recall was kept).

    >>> row = {"probes": {"a": {"recall": {"disgust": 0.5, "fear": 0.25}}, "b": {}}}
    >>> print(recall_table({"v": row}, ["a", "b"]))
    | variant | a: disgust / fear | b: disgust / fear |
    |---|---|---|
    | v | 50% / 25% | - / - |
    """
    lines = ["| variant | " + " | ".join(f"{p}: {' / '.join(classes)}" for p in probes) + " |",
             "|---" * (len(probes) + 1) + "|"]
    for name, row in rows.items():
        cells = []
        for p in probes:
            recall = row["probes"][p].get("recall", {})
            cells.append(" / ".join(f"{recall[c]:.0%}" if c in recall else "-"
                                    for c in classes))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", type=Path)
    args = parser.parse_args()
    table = run_ablation(args.config)
    Path(read_yaml(args.config)["out"], "ablation.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
