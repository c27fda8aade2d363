"""Per-face clips of sliding windows, the speaker of each window, and their assembly into
:class:`~emotion_encoder.face_tracks.FaceTracks` (used by :meth:`EmotionEncoder.track`).

Each window of sampled frames gives one clip per tracked face that shows in it. The
speaker of a window is the face whose mouth moves most — :func:`mouth_motion`: the mean
absolute change between consecutive crops of their lower third, less that of their upper
half (which removes head motion, tracking jitter and lighting changes) — when some face's
motion reaches ``MOUTH_THRESHOLD`` grey levels; otherwise it is the largest face (median
box area times the share of frames it shows in). Only faces seen in at least
``min_face_ratio`` of a window's frames compete, and only they get emotions; a window
without any is a gap of the speaker track.

>>> still = [np.full((48, 48, 3), 128, np.uint8)] * 3
>>> talking = [c.copy() for c in still]
>>> talking[1][32:, :] = 40                      # the mouth opens on the middle frame
>>> mouth_motion(still), round(mouth_motion(talking), 1)
(0.0, 88.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import cv2
import numpy as np

from emotion_encoder.face_tracks import FaceTrack, FaceTracks
from emotion_encoder.faces.multi_tracking import FaceFrame
from emotion_encoder.faces.tracking import FaceCrop
from emotion_encoder.smoothing import smooth_track
from emotion_encoder.timeline import EmotionTrack

MOUTH_THRESHOLD = 1.0
"""Mouth motion (grey levels, 0-255) below which no face counts as visibly talking."""


def mouth_motion(crops: Sequence[np.ndarray | None]) -> float | None:
    """Mouth motion of a run of face crops (see the module docstring); None when no two
    consecutive crops exist."""
    diffs = []
    for a, b in zip(crops, crops[1:]):
        if a is None or b is None:
            continue
        ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY).astype(np.float32)
        gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY).astype(np.float32)
        change = np.abs(ga - gb)
        h = len(change)
        diffs.append(float(change[2 * h // 3:].mean() - change[:h // 2].mean()))
    return max(0.0, float(np.mean(diffs))) if diffs else None


@dataclass(eq=False)
class FaceClip:
    """One face in one window, before and after inference."""

    face_id: int
    start: float
    end: float
    frames: list[FaceCrop]
    face_ratio: float
    box: np.ndarray  # (4,) median box, NaN when never seen
    mouth: float | None
    probs: np.ndarray | None = None
    embedding: np.ndarray | None = None
    attention: np.ndarray | None = None

    @property
    def presence(self) -> float:
        """Median box area times the share of frames showing the face."""
        x0, y0, x1, y1 = self.box
        return float((x1 - x0) * (y1 - y0)) * self.face_ratio


@dataclass(eq=False)
class WindowFaces:
    """The clips of one window and the one chosen as the speaker (None: no face)."""

    start: float
    end: float
    clips: list[FaceClip]
    speaker: FaceClip | None


def window_faces(window: list[FaceFrame], step: float, min_face_ratio: float,
                 mouth_threshold: float = MOUTH_THRESHOLD) -> WindowFaces:
    """Cut a window of frames into per-face clips and choose its speaker."""
    start, end = window[0].t, window[-1].t + step
    clips = []
    for face_id in sorted({i for frame in window for i in frame.faces}):
        frames = [f.faces.get(face_id) or FaceCrop(f.t, None, None, None) for f in window]
        boxes = [f.box for f in frames if f.box is not None]
        clips.append(FaceClip(face_id, start, end, frames, len(boxes) / len(frames),
                              np.median(np.array(boxes, np.float64), axis=0),
                              mouth_motion([f.crop for f in frames])))
    eligible = [c for c in clips if c.face_ratio >= min_face_ratio]
    speaker = None
    if eligible:
        talking = [c for c in eligible if (c.mouth or 0.0) >= mouth_threshold]
        speaker = (max(talking, key=lambda c: c.mouth) if talking
                   else max(eligible, key=lambda c: c.presence))
    return WindowFaces(start, end, clips, speaker)


def note_cuts(frames: Iterator[FaceFrame], cuts: list[float]) -> Iterator[FaceFrame]:
    """Pass ``frames`` through, appending the time of each cut frame to ``cuts``."""
    for frame in frames:
        if frame.cut:
            cuts.append(frame.t)
        yield frame


class TrackAssembler:
    """Collect inferred windows into rows, then build :class:`FaceTracks`.

    Args:
        labels, dim, steps: the model's labels, embedding size and attention steps.
        preset, weights_trained, sampling: recorded on every track.
        keep_faces: also build one track per person (``faces="all"``).
    """

    def __init__(self, labels: tuple[str, ...], dim: int, steps: int, preset: str,
                 weights_trained: bool, keep_faces: bool, sampling: dict | None = None):
        self.labels, self.preset, self.weights_trained = labels, preset, weights_trained
        self.keep_faces, self.sampling = keep_faces, sampling
        self._zeros = (np.zeros(dim, np.float32), np.zeros(len(labels), np.float32),
                       np.zeros(steps, np.float32))
        self._speaker: list[tuple] = []
        self._faces: dict[int, list[tuple]] = {}

    def _row(self, start: float, end: float, clip: FaceClip | None, face_id: int) -> tuple:
        box = np.full(4, np.nan) if clip is None else clip.box
        ratio = 0.0 if clip is None else clip.face_ratio
        if clip is None or clip.probs is None:
            emb, probs, att = self._zeros
            return start, end, False, emb, probs, att, box, face_id, ratio
        return (start, end, True, clip.embedding, clip.probs, clip.attention, box, face_id,
                ratio)

    def add(self, window: WindowFaces) -> None:
        """Record a window whose clips to keep have been inferred."""
        speaker = window.speaker
        self._speaker.append(self._row(window.start, window.end, speaker,
                                       -1 if speaker is None else speaker.face_id))
        if self.keep_faces:
            for clip in window.clips:
                self._faces.setdefault(clip.face_id, []).append(
                    self._row(clip.start, clip.end, clip, clip.face_id))

    def _track(self, rows: list[tuple], video: str | None, duration: float) -> EmotionTrack:
        starts = np.array([r[0] for r in rows], np.float64)
        ends = np.array([r[1] for r in rows], np.float64)
        if duration > 0:
            ends = np.minimum(ends, duration)
        dim, n_labels, steps = (z.size for z in self._zeros)

        def stack(k: int, width: int) -> np.ndarray:
            return (np.stack([r[k] for r in rows]).astype(np.float32) if rows
                    else np.zeros((0, width), np.float32))

        return EmotionTrack(starts, ends, stack(3, dim), has_face=[r[2] for r in rows],
                            probs=stack(4, n_labels), attention=stack(5, steps),
                            boxes=np.array([r[6] for r in rows], np.float64).reshape(-1, 4),
                            clip_face_ratio=[r[8] for r in rows], labels=self.labels,
                            video=video, preset=self.preset,
                            weights_trained=self.weights_trained, sampling=self.sampling)

    def result(self, video: str | None, duration: float, cuts: list[float],
               smooth: bool) -> FaceTracks:
        """The :class:`FaceTracks`, smoothed per shot (and per speaker turn) if ``smooth``."""
        ids = np.array([r[7] for r in self._speaker], int)
        speaker = self._track(self._speaker, video, duration)
        faces = [FaceTrack(i, self._track(rows, video, duration))
                 for i, rows in sorted(self._faces.items())]
        if smooth:
            middles = 0.5 * (speaker.starts + speaker.ends)
            turns = [float(m) for m, a, b in zip(middles[1:], ids[:-1], ids[1:]) if a != b]
            speaker = smooth_track(speaker, cuts + turns)
            faces = [FaceTrack(f.id, smooth_track(f.track, cuts)) for f in faces]
        return FaceTracks(video, duration, speaker, ids, faces, list(cuts), smooth)
