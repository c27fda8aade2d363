"""One emotion vector per interval (word, phone, subtitle line), pooled from the clips.

A clip's weight in an interval is the time it shares with the interval ("mean"), times
the clip's confidence ("confidence"), or its attention mass inside the interval
("attention": each of the clip's ``S`` attention steps spans ``1/S`` of the clip and counts
its overlap times ``S * a_step``, so uniform attention gives the same weights as "mean").
Only face clips count; an interval no face clip touches gets a zero vector and no label.

>>> import numpy as np
>>> from emotion_encoder.timeline import EmotionTrack
>>> track = EmotionTrack([0.0, 1.0], [2.0, 3.0], np.eye(2, dtype=np.float32),
...                      probs=[[0.9, 0.1], [0.2, 0.8]], labels=("happiness", "sadness"))
>>> word = pool_interval(track, Segment(0.0, 1.5), text="hi")
>>> word.vector.tolist(), word.label, word.face_ratio      # overlaps 1.5 s and 0.5 s
([0.75, 0.25], 'happiness', 1.0)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Literal

import numpy as np

from emotion_encoder.timing import Segment
from emotion_encoder.timeline import EmotionTrack, check_mode
from v2c_bridge.transcripts import Interval

Pool = Literal["mean", "confidence", "attention"]
POOLS = ("mean", "confidence", "attention")


@dataclass(frozen=True, eq=False)
class AlignedInterval:
    """An interval with its pooled embedding, probabilities, label and face coverage.

    ``probs``, ``label`` and ``confidence`` are None where no face clip touches the
    interval (``vector`` is then zeros and ``face_ratio`` 0) or the track has no labels.
    """

    segment: Segment
    text: str
    vector: np.ndarray
    probs: dict[str, float] | None
    label: str | None
    confidence: float | None
    face_ratio: float
    tier: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, at full precision (``vector`` as a list)."""
        return {"start": self.segment.start, "end": self.segment.end, "tier": self.tier,
                "text": self.text, "label": self.label, "confidence": self.confidence,
                "face_ratio": self.face_ratio, "probs": self.probs,
                "vector": self.vector.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AlignedInterval":
        return cls(Segment(d["start"], d["end"]), d["text"], np.asarray(d["vector"], np.float32),
                   d["probs"], d["label"], d["confidence"], d["face_ratio"], d.get("tier", ""))


def _measure(lo: np.ndarray, hi: np.ndarray, segment: Segment) -> np.ndarray:
    """Time ``[lo, hi)`` shares with ``segment``; for a zero-length one, 1 where it is inside."""
    if segment.duration > 0:
        return np.clip(np.minimum(hi, segment.end) - np.maximum(lo, segment.start), 0.0, None)
    return ((lo <= segment.start) & (segment.start < hi)).astype(np.float64)


def clip_weights(track: EmotionTrack, segment: Segment,
                 pool: Pool = "mean") -> tuple[np.ndarray, np.ndarray]:
    """Indices of the face clips touching ``segment`` and their (unnormalised) weights."""
    check_mode(pool, POOLS, "pool")
    idx = track.overlapping(segment)
    starts, ends = track.starts[idx], track.ends[idx]
    overlap = _measure(starts, ends, segment)
    if pool == "confidence":
        if not track.labels:
            raise ValueError("pool='confidence' needs a track with probabilities and labels")
        weights = overlap * track.confidence[idx]
    elif pool == "attention":
        if track.attention is None or not track.attention.shape[1]:
            raise ValueError("pool='attention' needs a track with attention weights")
        att = track.attention[idx].astype(np.float64)
        steps = att.shape[1]
        total = att.sum(axis=1, keepdims=True)
        att = np.where(total > 0, steps * att / np.where(total > 0, total, 1.0), 1.0)
        edges = starts[:, None] + (ends - starts)[:, None] * np.arange(steps + 1) / steps
        weights = (att * _measure(edges[:, :-1], edges[:, 1:], segment)).sum(axis=1)
    else:
        weights = overlap
    if weights.sum() <= 0:  # e.g. all attention outside the interval: fall back to overlap
        weights = overlap
    return idx, weights


def pool_interval(track: EmotionTrack, segment: Segment, text: str = "", tier: str = "",
                  pool: Pool = "mean") -> AlignedInterval:
    """The pooled :class:`AlignedInterval` of ``segment`` (see the module's docstring)."""
    idx, weights = clip_weights(track, segment, pool)
    face_ratio = track.face_ratio(segment)
    if not len(idx) or weights.sum() <= 0:
        return AlignedInterval(segment, text, np.zeros(track.dim, np.float32), None, None, None,
                               0.0, tier)
    w = weights / weights.sum()
    vector = (w @ track.embeddings[idx].astype(np.float64)).astype(np.float32)
    if not track.labels:
        return AlignedInterval(segment, text, vector, None, None, None, face_ratio, tier)
    probs = w @ track.probs[idx].astype(np.float64)
    best = int(probs.argmax())
    return AlignedInterval(segment, text, vector,
                           {k: float(p) for k, p in zip(track.labels, probs)},
                           track.labels[best], float(probs[best]), face_ratio, tier)


def pool_intervals(track: EmotionTrack, intervals: Iterable[Interval],
                   pool: Pool = "mean", shift: float = 0.0) -> list[AlignedInterval]:
    """:func:`pool_interval` for each interval, keeping its text and tier; ``shift``
    (seconds) is where the intervals' 0 lies on the track's clock (a transcript of an audio
    track that starts after the video: :func:`v2c_bridge.mel.audio_start`). The intervals
    are pooled there and keep their own times."""
    pooled = []
    for iv in intervals:
        moved = Segment(iv.segment.start + shift, iv.segment.end + shift) if shift else iv.segment
        pooled.append(replace(pool_interval(track, moved, iv.text, iv.tier, pool),
                              segment=iv.segment))
    return pooled


def emotion_runs(track: EmotionTrack, pool: Pool = "mean") -> list[AlignedInterval]:
    """The runs of one label of :meth:`EmotionTrack.label_runs` (the one definition of the
    label at a time), each pooled as a whole with ``pool`` and keeping the run's label.
    Gaps end runs and produce none."""
    pooled = []
    for span, label, _ in track.label_runs():
        iv = pool_interval(track, span, tier="emotion", pool=pool)
        pooled.append(iv if iv.label == label else replace(iv, label=label,
                                                           confidence=iv.probs[label]))
    return pooled
