"""Typed results of :class:`~emotion_encoder.EmotionEncoder`, with ``to_dict``/``to_json``.

>>> clip = ClipPrediction(0.0, 1.6, "happiness", 0.9, {"happiness": 0.9, "neutral": 0.1},
...                       FaceBox(10, 20, 110, 120, 0.98), 1.0)
>>> clip.segment.duration
1.6
>>> clip.to_dict()["face"]["x0"]
10.0
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emotion_encoder.timing import Segment

UNTRAINED_WARNING = (
    "the model has no trained weights: outputs are random, not emotions "
    "(train one with the training recipe, or load a trained model file)"
)


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(float(x), digits)


@dataclass(frozen=True)
class FaceBox:
    """A face box in pixels of the original frame, with the detector's score.

    ``padded`` says the detector found the face only after the frame was padded: the frame
    is a tight face crop (a dataset crop, a thumbnail), and the box reaches past its edges.
    """

    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    padded: bool = False

    def to_dict(self) -> dict[str, float | bool]:
        return {**{k: _round(getattr(self, k), 2) for k in ("x0", "y0", "x1", "y1", "score")},
                "padded": self.padded}


@dataclass(frozen=True)
class ClipPrediction:
    """One clip: its time span, label, confidence, probabilities and face.

    ``label``, ``confidence`` and ``probs`` are ``None`` when no face was found in the clip;
    ``face_ratio`` is the share of the clip's frames where the face was seen.
    """

    start: float
    end: float
    label: str | None
    confidence: float | None
    probs: dict[str, float] | None
    face: FaceBox | None
    face_ratio: float

    @property
    def segment(self) -> Segment:
        return Segment(self.start, self.end)

    @property
    def has_face(self) -> bool:
        return self.label is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": _round(self.start),
            "end": _round(self.end),
            "label": self.label,
            "confidence": _round(self.confidence),
            "probs": None if self.probs is None else
            {k: _round(v) for k, v in self.probs.items()},
            "face": None if self.face is None else self.face.to_dict(),
            "face_ratio": _round(self.face_ratio, 3),
        }


@dataclass(frozen=True)
class VideoPrediction:
    """Everything :meth:`EmotionEncoder.predict` found in one video."""

    video: str | None
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    labels: tuple[str, ...]
    video_label: str | None
    video_probs: dict[str, float] | None
    clips: list[ClipPrediction]
    preset: str
    weights_trained: bool
    sampling: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def faces_found(self) -> bool:
        return any(clip.has_face for clip in self.clips)

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "duration": _round(self.duration),
            "fps": _round(self.fps),
            "n_frames": self.n_frames,
            "width": self.width,
            "height": self.height,
            "labels": list(self.labels),
            "video_label": self.video_label,
            "video_probs": None if self.video_probs is None else
            {k: _round(v) for k, v in self.video_probs.items()},
            "faces_found": self.faces_found,
            "clips": [clip.to_dict() for clip in self.clips],
            "preset": self.preset,
            "weights_trained": self.weights_trained,
            "sampling": self.sampling,
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)


@dataclass(frozen=True)
class ClipEmbeddings:
    """Fused embeddings of every clip of a video, with their times.

    Rows of clips without a face are zeros and ``has_face`` is False for them.
    ``attention`` holds each clip's weights over the backbone's time steps.
    """

    video: str | None
    embeddings: np.ndarray  # (n_clips, d) float32
    starts: np.ndarray  # (n_clips,) seconds
    ends: np.ndarray  # (n_clips,) seconds
    has_face: np.ndarray  # (n_clips,) bool
    probs: np.ndarray  # (n_clips, n_labels) float32, zeros where no face
    attention: np.ndarray  # (n_clips, steps) float32
    labels: tuple[str, ...]
    preset: str
    weights_trained: bool

    @property
    def segments(self) -> list[Segment]:
        return [Segment(s, e) for s, e in zip(self.starts, self.ends)]

    def __len__(self) -> int:
        return len(self.embeddings)

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays, as written by :meth:`save`."""
        return {
            "embeddings": self.embeddings,
            "starts": self.starts,
            "ends": self.ends,
            "has_face": self.has_face,
            "probs": self.probs,
            "attention": self.attention,
            "labels": np.asarray(self.labels),
            "video": np.asarray(self.video or ""),
            "preset": np.asarray(self.preset),
            "weights_trained": np.asarray(self.weights_trained),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` atomically (temp file in the same folder, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **self.arrays())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ClipEmbeddings":
        with np.load(path) as data:
            return cls(
                video=str(data["video"]) or None,
                embeddings=data["embeddings"],
                starts=data["starts"],
                ends=data["ends"],
                has_face=data["has_face"],
                probs=data["probs"],
                attention=data["attention"],
                labels=tuple(str(x) for x in data["labels"]),
                preset=str(data["preset"]),
                weights_trained=bool(data["weights_trained"]),
            )


@dataclass(frozen=True)
class Analysis:
    """What :meth:`EmotionEncoder.analyze` returns: both results of one pass over a video,
    and the tracked face box (or None) of every sampled frame as ``(t, box)``."""

    prediction: VideoPrediction
    embeddings: ClipEmbeddings
    frame_boxes: tuple[tuple[float, tuple[float, float, float, float] | None], ...] = ()
