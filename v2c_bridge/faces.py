"""Emotion tracks of several faces: one :class:`EmotionTrack` per person, and the speaker's.

:meth:`EmotionEncoder.track` returns a :class:`FaceTracks`; :func:`~v2c_bridge.align`
accepts it and aligns its ``speaker`` track (single-voice conditioning).

>>> tracks = EmotionEncoder().track("scene.mp4", faces="all")     # doctest: +SKIP
>>> tracks.cuts, [f.id for f in tracks.faces], tracks.speaker_ids[:4]  # doctest: +SKIP
([3.6, 7.9], [0, 1, 2], array([0, 0, 1, -1]))
>>> cond = align(tracks, mel_frames_for="scene.mp4")              # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from v2c_bridge.timeline import EmotionTrack


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One person (a tracked face, within one shot): its id, emotion track and, per clip,
    its median face box ``(x0, y0, x1, y1)`` in pixels (NaN where not seen)."""

    id: int
    track: EmotionTrack
    boxes: np.ndarray  # (n_clips, 4) float64

    @property
    def span(self) -> tuple[float, float]:
        """Start of the person's first clip and end of the last."""
        extent = self.track.extent
        return extent.start, extent.end


@dataclass(frozen=True, eq=False)
class FaceTracks:
    """What :meth:`EmotionEncoder.track` found in a video.

    ``speaker`` has one row per sliding window: the clip of the face chosen as the
    speaker in that window (``speaker_ids``: its person id, -1 where no face showed long
    enough: a gap) with its box in ``speaker_boxes``. ``faces`` holds every person's
    track when tracking ``faces="all"`` (empty for ``faces="speaker"``). ``cuts`` are the
    times of the sampled frames that start a new shot; ``smoothed`` tells whether the
    probabilities are HMM posteriors (see :mod:`v2c_bridge.smoothing`).
    """

    video: str | None
    duration: float
    speaker: EmotionTrack
    speaker_ids: np.ndarray  # (n_windows,) int
    speaker_boxes: np.ndarray  # (n_windows, 4) float64
    faces: list[FaceTrack]
    cuts: list[float]
    smoothed: bool

    def face(self, face_id: int) -> FaceTrack:
        """The :class:`FaceTrack` with this id."""
        for face in self.faces:
            if face.id == face_id:
                return face
        raise KeyError(f"no face track with id {face_id} (ids: {[f.id for f in self.faces]})")

    def __repr__(self) -> str:
        return (f"<FaceTracks {self.video or ''}: {len(self.speaker)} windows, "
                f"{len(self.faces)} face tracks, {len(self.cuts)} cuts>")
