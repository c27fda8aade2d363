"""Emotion tracks of several faces: one :class:`EmotionTrack` per person, and the speaker's.

:meth:`EmotionEncoder.track` returns a :class:`FaceTracks`; ``v2c_bridge.align`` accepts
it and aligns its ``speaker`` track (single-voice conditioning).

>>> import numpy as np
>>> from emotion_encoder.timeline import EmotionTrack
>>> speaker = EmotionTrack([0.0, 0.8], [1.6, 2.4], np.ones((2, 4)))
>>> tracks = FaceTracks("scene.mp4", 2.4, speaker, np.array([0, 1]), [], [1.2], False)
>>> tracks.speaker_ids.tolist(), tracks.speaker_boxes.shape, tracks.cuts
([0, 1], (2, 4), [1.2])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emotion_encoder.timeline import EmotionTrack


@dataclass(frozen=True, eq=False)
class FaceTrack:
    """One person (a tracked face, within one shot): its id and emotion track (whose
    ``boxes`` are the person's median face box per clip, NaN where not seen)."""

    id: int
    track: EmotionTrack

    @property
    def boxes(self) -> np.ndarray:
        """``(n_clips, 4)`` median boxes ``(x0, y0, x1, y1)`` in pixels."""
        return self.track.boxes

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
    enough: a gap), its box in ``speaker.boxes``. ``faces`` holds every person's track
    when tracking ``faces="all"`` (empty for ``faces="speaker"``). ``cuts`` are the times
    of the sampled frames that start a new shot; ``smoothed`` tells whether the
    probabilities are HMM posteriors (see :mod:`emotion_encoder.smoothing`); ``warnings``
    what a reader should know (the speaker's faces too small to read).
    """

    video: str | None
    duration: float
    speaker: EmotionTrack
    speaker_ids: np.ndarray  # (n_windows,) int
    faces: list[FaceTrack]
    cuts: list[float]
    smoothed: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def speaker_boxes(self) -> np.ndarray:
        """``(n_windows, 4)``: the speaker's box in each window (NaN in gaps)."""
        return self.speaker.boxes

    def face(self, face_id: int) -> FaceTrack:
        """The :class:`FaceTrack` with this id."""
        for face in self.faces:
            if face.id == face_id:
                return face
        raise KeyError(f"no face track with id {face_id} (ids: {[f.id for f in self.faces]})")

    def __repr__(self) -> str:
        return (f"<FaceTracks {self.video or ''}: {len(self.speaker)} windows, "
                f"{len(self.faces)} face tracks, {len(self.cuts)} cuts>")
