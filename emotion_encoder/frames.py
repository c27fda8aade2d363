"""Per-frame features: the clips' timeline sampled at every frame of a video, at its own
frame rate or a requested one (25 fps is what dubbing models such as HPMDubbing and
StyleDubber read), for loaders that want one row per video frame.

Each frame's probabilities and embedding interpolate the face clips covering its time
(:meth:`EmotionTrack.at`): ``linear`` by default, because the sliding windows overlap by
half and a triangle weight at each clip's middle is then exactly linear interpolation
between neighbouring clips, with no steps at clip boundaries; ``nearest`` takes the clip
whose middle is nearest, ``hold`` the latest one that started. A frame that no face clip
covers has ``has_face`` False and zero rows (never interpolated across a gap). A row less
than one frame period past the video's end (``ffmpeg -r`` pads the output grid with the
last frame) reads the video's last moment.

>>> import numpy as np
>>> from emotion_encoder.timeline import EmotionTrack
>>> track = EmotionTrack([0.0, 0.8], [1.6, 2.4], np.eye(2, dtype=np.float32),
...                      probs=[[1.0, 0.0], [0.0, 1.0]], labels=("happiness", "sadness"))
>>> frames = sample_frames(track, np.arange(7) / 2.0, fps=2.0)   # 0, 0.5, ..., 3.0 s
>>> len(frames), frames.has_face.tolist(), frames.probs[2].round(2).tolist()
(7, [True, True, True, True, True, True, False], [0.75, 0.25])
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from emotion_encoder.atomic import atomic_write
from emotion_encoder.timeline import SAMPLE_MODES, EmotionTrack, SampleMode, check_mode

FRAMES_FORMAT = "emotion_encoder.frames"

V2C_LABELS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise", "others")
"""V2C-Animation's eight emotion labels, in its order."""

_TO_V2C = {"anger": "angry", "disgust": "disgust", "fear": "fear", "happiness": "happy",
           "neutral": "neutral", "sadness": "sad", "surprise": "surprise", "others": "others"}


def to_v2c(probs: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Probabilities ``(n, len(labels))`` in V2C's eight labels (:data:`V2C_LABELS`).

    A model's own ``others`` (a model fine-tuned on V2C) fills that column; a label V2C
    does not have (``contempt``) is added to ``others``; a 7-label model's ``others`` is an
    explicit zero column. Rows keep their sum.

    >>> p = np.array([[0.1, 0.0, 0.0, 0.6, 0.1, 0.0, 0.2]])
    >>> to_v2c(p, ("anger", "disgust", "fear", "happiness", "sadness", "surprise",
    ...            "neutral")).astype(float).round(3).tolist()
    [[0.1, 0.0, 0.0, 0.6, 0.2, 0.1, 0.0, 0.0]]
    """
    out = np.zeros((len(probs), len(V2C_LABELS)), np.float32)
    for k, label in enumerate(labels):
        out[:, V2C_LABELS.index(_TO_V2C.get(label, "others"))] += probs[:, k]
    return out


@dataclass(frozen=True, eq=False)
class FrameFeatures:
    """One row per video frame: ``times`` (seconds), ``has_face``, ``probs`` (n, labels),
    ``embeddings`` (n, d); zeros where ``has_face`` is False."""

    times: np.ndarray
    has_face: np.ndarray
    probs: np.ndarray
    embeddings: np.ndarray
    labels: tuple[str, ...]
    fps: float
    mode: str
    video: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.times)

    def in_v2c_labels(self) -> "FrameFeatures":
        """The same frames with probabilities in V2C-Animation's eight labels
        (:func:`to_v2c`)."""
        return FrameFeatures(self.times, self.has_face, to_v2c(self.probs, self.labels),
                             self.embeddings, V2C_LABELS, self.fps, self.mode, self.video,
                             {**self.meta, "label_space": "v2c"})

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` atomically (read back by :meth:`load`)."""
        meta = {"format": FRAMES_FORMAT, "fps": self.fps, "mode": self.mode,
                "video": self.video, **self.meta}
        with atomic_write(path, "wb") as handle:
            np.savez(handle, times=self.times, has_face=self.has_face, probs=self.probs,
                     embeddings=self.embeddings, labels=np.asarray(self.labels, dtype=str),
                     meta=np.asarray(json.dumps(meta)))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "FrameFeatures":
        with np.load(path) as data:
            meta = json.loads(str(data["meta"]))
            if meta.pop("format", None) != FRAMES_FORMAT:
                raise ValueError(f"{path}: not a frames .npz")
            return cls(data["times"], data["has_face"], data["probs"], data["embeddings"],
                       tuple(str(x) for x in data["labels"]), float(meta.pop("fps")),
                       str(meta.pop("mode")), meta.pop("video"), meta)


def sample_frames(track: EmotionTrack, times: np.ndarray, fps: float,
                  mode: SampleMode = "linear") -> FrameFeatures:
    """``track`` at each of ``times`` (the frames of a video at ``fps``)."""
    check_mode(mode, SAMPLE_MODES, "mode")
    times = np.asarray(times, np.float64).reshape(-1)
    query = times
    if len(track):  # a row less than a frame past the video's end shows its last frame
        end = float(np.max(track.ends))
        late = (times >= end) & (times < end + 1.0 / fps)
        query = np.where(late, np.nextafter(end, -np.inf), times)
    embeddings, mask = track.at(query, mode)
    probs, _ = track.at(query, mode, of="probs")
    embeddings[~mask], probs[~mask] = 0.0, 0.0
    return FrameFeatures(times, mask, probs, embeddings, track.labels, float(fps), mode,
                         track.video, {"preset": track.preset,
                                       "weights_trained": track.weights_trained})
