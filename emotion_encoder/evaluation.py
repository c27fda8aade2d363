"""``emotion-encoder evaluate MODEL DATA``: accuracy, per-class recall and the confusion matrix.

Every sample becomes one clip of its face crops (``sampling="fixed"``: the paper's
fixed-interval sampling of the whole sequence; a still is a static clip) or, with
``sampling="sliding"``, 16-frame windows every 8 frames whose probabilities are averaged
(the video label of :meth:`EmotionEncoder.predict`). Clips are classified (averaged with
their mirror image by default, as :class:`EmotionEncoder` does), and the report is
written beside the model:
``metrics.json`` (numbers, options, git commit), ``confusion.csv``, ``confusion.png`` and
``predictions.csv``. Samples whose label the model does not have, or with no usable face,
are counted and listed, never silently dropped. ``backend="litert"`` or ``"litert-int8"``
scores a preset's exported graph instead of the Keras model (the same crops and clips).

>>> report = evaluate("runs/ft/model.keras", "clips/test.csv")        # doctest: +SKIP
>>> round(report.accuracy, 3), report.out                            # doctest: +SKIP
(0.812, PosixPath('runs/ft/eval/test'))
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from matplotlib.figure import Figure

from emotion_encoder.data.discover import open_dataset
from emotion_encoder.atomic import write_atomic
from emotion_encoder.calibration import apply_temperature
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.face_cache import CropSettings, cache_faces, sample_name
from emotion_encoder.faces.model_files import cache_dir
from emotion_encoder.litert_classifier import LiteRTClassifier
from emotion_encoder.models.emotion_classifier import mirror_averaged
from emotion_encoder.models.loading import load_encoder_model
from emotion_encoder.provenance import git_commit
from emotion_encoder.sampling import fixed_interval_indices, sliding_windows


@dataclass
class EvaluationReport:
    """What :func:`evaluate` measured and where it wrote it."""

    accuracy: float
    recall: dict[str, float]
    confusion: np.ndarray            # rows: true labels, columns: predicted labels
    true_labels: tuple[str, ...]
    predicted_labels: tuple[str, ...]
    n: int
    skipped: list[tuple[str, str]] = field(default_factory=list)
    out: Path | None = None
    probs: np.ndarray | None = None  # (n, predicted labels): each sample's probabilities
    y_true: np.ndarray | None = None  # (n,): each sample's true label, a predicted_labels index

    def table(self) -> str:
        """Accuracy and per-class recall as a printable table."""
        lines = [f"accuracy {self.accuracy:.2%} on {self.n} samples"
                 + (f" ({len(self.skipped)} skipped)" if self.skipped else ""),
                 f"{'label':<12} {'n':>6} {'recall':>8}"]
        for i, label in enumerate(self.true_labels):
            lines.append(f"{label:<12} {int(self.confusion[i].sum()):>6} "
                         f"{self.recall[label]:>8.2%}")
        return "\n".join(lines)


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_true: int, n_pred: int
                     ) -> np.ndarray:
    """Counts ``(n_true, n_pred)``: row = true class index, column = predicted index.

    >>> confusion_matrix(np.array([0, 0, 1]), np.array([0, 1, 1]), 2, 2).tolist()
    [[1, 1], [0, 1]]
    """
    matrix = np.zeros((n_true, n_pred), np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def sample_clips(sequence: np.ndarray, frames: int, sampling: str) -> list[np.ndarray]:
    """The clips of one face sequence: one fixed-interval clip, or sliding windows.

    >>> [len(c) for c in sample_clips(np.zeros((40, 4, 4, 1)), 16, "sliding")]
    [16, 16, 16, 16]
    """
    if sampling == "fixed":
        return [sequence[fixed_interval_indices(len(sequence), frames)]]
    if sampling == "sliding":
        return [np.stack(w) for w in sliding_windows(sequence, frames, max(1, frames // 2))]
    raise ValueError(f"sampling must be 'fixed' or 'sliding', got {sampling!r}")


class _GraphNetwork:
    """A preset's exported LiteRT graph seen as the Keras model :func:`sequence_probs`
    reads: ``labels``, ``backbone.num_frames``, ``preprocessor``, ``temperature``,
    ``calibrate`` and a call on preprocessed clips that gives raw probabilities."""

    def __init__(self, classifier: LiteRTClassifier):
        self.graph = classifier
        self.labels = classifier.labels
        self.preprocessor = classifier.preprocessor
        self.temperature = classifier.temperature
        self.backbone = SimpleNamespace(num_frames=classifier.window)

    def __call__(self, x: np.ndarray, training: bool = False) -> dict[str, np.ndarray]:
        return self.graph.run(np.asarray(x))

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        return apply_temperature(probs, self.temperature)


def _network(model: str | os.PathLike, backend: str):
    """The network to score: the Keras model, or a preset's exported LiteRT graph."""
    if backend == "keras":
        loaded = load_encoder_model(model)
        return loaded.model, loaded.preprocessor
    if backend not in ("litert", "litert-int8"):
        raise ValueError(f"backend must be keras, litert or litert-int8, got {backend!r}")
    graph = LiteRTClassifier.for_preset(str(model), cache_dir(), mirror=False,
                                        quantized=backend == "litert-int8")
    return _GraphNetwork(graph), graph.preprocessor


def sequence_probs(model, sequences: list[np.ndarray], sampling: str, mirror: bool,
                   batch_size: int, temperature: float | None = None) -> np.ndarray:
    """``(n, labels)``: per sequence of fitted crops, the mean probabilities of its clips
    (normalised by the model's preprocessor), calibrated at ``temperature`` (None: the
    model's own, :meth:`EmotionClassifier.calibrate`)."""
    forward = lambda x: model(x, training=False)  # noqa: E731
    forward = mirror_averaged(forward) if mirror else forward
    frames = model.backbone.num_frames
    owners, clips = [], []
    for i, sequence in enumerate(sequences):
        for clip in sample_clips(sequence, frames, sampling):
            owners.append(i)
            clips.append(clip)
    probs = []
    for start in range(0, len(clips), batch_size):
        x = model.preprocessor.normalize(np.stack(clips[start:start + batch_size]))
        out = np.asarray(forward(x)["probs"])
        probs.append(model.calibrate(out) if temperature is None
                     else apply_temperature(out, temperature))
    total = np.zeros((len(sequences), len(model.labels)))
    np.add.at(total, np.asarray(owners), np.concatenate(probs))
    counts = np.bincount(np.asarray(owners), minlength=len(sequences))
    return (total / np.maximum(counts, 1)[:, None]).astype(np.float32)


def default_out(model: str | os.PathLike, data_name: str) -> Path:
    """``<model folder>/eval/<data>`` for a model file, ``runs/eval/<preset>/<data>`` else."""
    path = Path(model)
    if path.suffix == ".keras":
        return path.parent / "eval" / data_name
    return Path("runs") / "eval" / str(model) / data_name


def evaluate(model: str | os.PathLike, data: str | os.PathLike,
             out: str | os.PathLike | None = None, *, split: str | None = None,
             sampling: str = "fixed", mirror: bool = True, restrict: bool = False,
             detect: bool | None = None, batch_size: int = 16,
             cache: str | os.PathLike | None = None, zoom: float | None = None,
             temperature: float | None = None, backend: str = "keras",
             **label_options) -> EvaluationReport:
    """Evaluate ``model`` (a preset or ``.keras`` file) on the dataset at ``data`` (any
    layout :func:`open_dataset` knows) and write the report to ``out``.

    ``restrict=True`` predicts among the data's labels only (e.g. the 6-class view of a
    7-label model on Oulu-CASIA). ``zoom`` overrides the model's preprocessor zoom
    (:mod:`emotion_encoder.training.zoom` chooses one on a validation split);
    ``temperature`` the model's calibration (``benchmarks/calibration.py`` fits one at 1).
    ``backend``: ``"keras"``, or a preset's exported graph (``"litert"``, ``"litert-int8"``).
    """
    if sampling not in ("fixed", "sliding"):
        raise ValueError(f"sampling must be 'fixed' or 'sliding', got {sampling!r}")
    dataset, cropped = open_dataset(data, split=split, **label_options)
    network, pre = _network(model, backend)
    labels = tuple(network.labels)
    unknown = [s for s in dataset if s.label not in labels]
    skipped = [(sample_name(s), f"label {s.label!r} is not one of the model's labels")
               for s in unknown]
    known = dataset.map_labels({label: None for label in dataset.labels if label not in labels})
    if not len(known):
        raise EmotionEncoderError(f"{data}: no sample has a label the model knows "
                                  f"({', '.join(labels)})")
    settings = CropSettings.of(pre if zoom is None else pre.with_zoom(zoom),
                               detect=(not cropped) if detect is None else detect)
    faces = cache_faces(known, Path(cache) if cache else cache_dir() / "faces", settings)
    skipped += faces.skipped
    true_names = tuple(label for label in labels if label in known.labels)
    y_true = np.array([true_names.index(known.labels[i]) for i in faces.labels])
    allowed = np.array([label in true_names or not restrict for label in labels])
    probs = sequence_probs(network, faces.sequences, sampling, mirror, batch_size, temperature)
    y_pred = np.argmax(np.where(allowed[None], probs, -np.inf), axis=-1)
    matrix = confusion_matrix(y_true, y_pred, len(true_names), len(labels))
    correct = np.array([labels[p] == true_names[t] for t, p in zip(y_true, y_pred)])
    recall = {name: float(np.mean(correct[y_true == i])) if np.any(y_true == i) else 0.0
              for i, name in enumerate(true_names)}
    report = EvaluationReport(float(correct.mean()), recall, matrix, true_names, labels,
                              len(correct), skipped, probs=probs,
                              y_true=np.array([labels.index(true_names[t]) for t in y_true]))
    options = {"model": str(model), "data": str(data), "split": split, "sampling": sampling,
               "mirror": mirror, "restrict": restrict, "detect": settings.detect,
               "zoom": settings.zoom,
               "temperature": network.temperature if temperature is None else temperature,
               "backend": backend, **label_options}
    report.out = Path(out) if out else default_out(model, _data_name(data, split))
    _write_report(report, options, git_commit(),
                  [(sample_name(s), labels[p], true_names[t], *(f"{v:.5f}" for v in row))
                   for s, t, p, row in zip(faces.samples, y_true, y_pred, probs)])
    return report


def _data_name(data: str | os.PathLike, split: str | None) -> str:
    path = Path(data)
    name = path.parent.name if path.name == "sequences.csv" else path.stem
    return f"{name}-{split}" if split else name


def _write_report(report: EvaluationReport, options: dict, commit: str,
                  rows: list[tuple[str, ...]]) -> None:
    """``metrics.json``, ``confusion.csv``, ``confusion.png``, ``predictions.csv``, each
    written to a temporary name first and then renamed."""
    out = report.out
    out.mkdir(parents=True, exist_ok=True)
    metrics = {"accuracy": report.accuracy, "n": report.n, "recall": report.recall,
               "true_labels": list(report.true_labels),
               "predicted_labels": list(report.predicted_labels),
               "confusion": report.confusion.tolist(), "skipped": report.skipped,
               "options": options, "git_commit": commit}
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2))
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["true \\ predicted", *report.predicted_labels])
    for label, row in zip(report.true_labels, report.confusion):
        writer.writerow([label, *row.tolist()])
    write_atomic(out / "confusion.csv", table.getvalue())
    table = io.StringIO()
    writer = csv.writer(table)
    writer.writerow(["sample", "predicted", "true",
                     *(f"p_{label}" for label in report.predicted_labels)])
    writer.writerows(rows)
    write_atomic(out / "predictions.csv", table.getvalue())
    write_atomic(out / "confusion.png", confusion_png(report))


def confusion_png(report: EvaluationReport) -> bytes:
    """The confusion matrix as a PNG heat map (rows normalised to recall), counts written in."""
    counts = report.confusion
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure = Figure(figsize=(1.0 + 0.8 * counts.shape[1], 1.2 + 0.6 * counts.shape[0]), dpi=110)
    axes = figure.add_subplot()
    axes.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(counts.shape[1]), report.predicted_labels, rotation=45, ha="right")
    axes.set_yticks(range(counts.shape[0]), report.true_labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"accuracy {report.accuracy:.1%} (n={report.n})")
    for (i, j), value in np.ndenumerate(counts):
        axes.text(j, i, str(value), ha="center", va="center", fontsize=8,
                  color="white" if rates[i, j] > 0.5 else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()

