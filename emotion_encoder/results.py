"""Typed results of :class:`~emotion_encoder.EmotionEncoder`, with ``to_dict``/``to_json``:
views of its :class:`~emotion_encoder.timeline.EmotionTrack` for JSON, tables and captions.

>>> clip = ClipPrediction(0.0, 1.6, "happiness", 0.9, {"happiness": 0.9, "neutral": 0.1},
...                       FaceBox(10, 20, 110, 120, 0.98), 1.0)
>>> clip.segment.duration
1.6
>>> clip.to_dict()["face"]["x0"]
10.0
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from emotion_encoder.timeline import EmotionTrack
from emotion_encoder.timing import Segment

UNTRAINED_WARNING = (
    "the model has no trained weights: outputs are random, not emotions "
    "(train one with the training recipe, or load a trained model file)"
)

NO_FACE_WARNING = "no face found in any clip"


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


def clip_predictions(track: EmotionTrack) -> list[ClipPrediction]:
    """One :class:`ClipPrediction` per row of ``track`` (a view, for JSON and tables)."""
    out = []
    for i in range(len(track)):
        box = track.boxes[i]
        face = (FaceBox(*map(float, box), float(track.box_scores[i]), bool(track.padded[i]))
                if np.all(np.isfinite(box)) else None)
        start, end, ratio = (float(track.starts[i]), float(track.ends[i]),
                             float(track.clip_face_ratio[i]))
        if not track.has_face[i] or not track.labels:
            out.append(ClipPrediction(start, end, None, None, None, face, ratio))
            continue
        probs = track.probs[i]
        best = int(np.argmax(probs))
        out.append(ClipPrediction(start, end, track.labels[best], float(probs[best]),
                                  {k: float(p) for k, p in zip(track.labels, probs)}, face,
                                  ratio))
    return out


@dataclass(frozen=True)
class VideoPrediction:
    """Everything :meth:`EmotionEncoder.predict` found in one video: the video's facts and
    its :class:`~emotion_encoder.timeline.EmotionTrack`, from which the clips, the video
    label and the probabilities are read (:attr:`EmotionTrack.video_probs` defines them)."""

    video: str | None
    duration: float
    fps: float
    n_frames: int
    width: int
    height: int
    track: EmotionTrack
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, track: EmotionTrack, info: Any, notes: Sequence[str] = ()) -> "VideoPrediction":
        """The prediction of ``track`` for a video described by ``info`` (a ``VideoInfo``:
        ``path``, ``duration``, ``fps``, ``n_frames``, ``width``, ``height``), with the
        warnings a reader needs (untrained weights, no face anywhere) and ``notes``, the
        caller's (faces too small to read)."""
        warnings = [] if track.weights_trained else [UNTRAINED_WARNING]
        if track.video_probs is None:
            warnings.append(NO_FACE_WARNING)
        warnings += notes
        return cls(info.path, info.duration, info.fps, info.n_frames, info.width, info.height,
                   track, warnings)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.track.labels

    @property
    def preset(self) -> str:
        return self.track.preset

    @property
    def weights_trained(self) -> bool:
        return self.track.weights_trained

    @property
    def sampling(self) -> dict[str, Any]:
        return self.track.sampling

    @cached_property
    def clips(self) -> list[ClipPrediction]:
        return clip_predictions(self.track)

    @property
    def video_label(self) -> str | None:
        return self.track.video_label

    @property
    def video_probs(self) -> dict[str, float] | None:
        probs = self.track.video_probs
        return None if probs is None else {k: float(p) for k, p in zip(self.labels, probs)}

    @property
    def faces_found(self) -> bool:
        return bool(self.track.has_face.any())

    def to_dict(self) -> dict[str, Any]:
        video_probs = self.video_probs
        return {
            "video": self.video,
            "duration": _round(self.duration),
            "fps": _round(self.fps),
            "n_frames": self.n_frames,
            "width": self.width,
            "height": self.height,
            "labels": list(self.labels),
            "video_label": self.video_label,
            "video_probs": None if video_probs is None else
            {k: _round(v) for k, v in video_probs.items()},
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
class Analysis:
    """What :meth:`EmotionEncoder.analyze` returns: the prediction of one pass over a video
    and the tracked face box (or None) of every sampled frame as ``(t, box)``."""

    prediction: VideoPrediction
    frame_boxes: tuple[tuple[float, tuple[float, float, float, float] | None], ...] = ()

    @property
    def track(self) -> EmotionTrack:
        """The clips' timeline (embeddings included): ``prediction.track``."""
        return self.prediction.track
