"""Time on the emotion track, in the manner of ``pyannote.core``.

A :class:`SlidingWindow` maps frame indices to time spans; an :class:`EmotionTrack` holds
the encoder's clips (one row each: embedding, probabilities, attention, face flag) with
their spans, and answers questions about any time or span.

>>> w = SlidingWindow(start=0.0, duration=1.6, step=0.8)
>>> w[2], w.closest_frame(2.4)
(Segment(start=1.6, end=3.2), 2)
>>> list(w.crop(Segment(1.0, 2.0), mode="loose")), list(w.crop(Segment(0.0, 3.2), "strict"))
([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from typing import Callable, Literal, Sequence

import numpy as np

from emotion_encoder.results import ClipEmbeddings
from emotion_encoder.timing import Segment
from v2c_bridge.errors import AlignmentError

CropMode = Literal["loose", "strict", "center"]
"""``loose``: frames that intersect the span (for a zero-length span: contain it);
``strict``: frames inside the span; ``center``: frames whose middle is in the span."""

SampleMode = Literal["nearest", "linear", "hold"]
"""How :meth:`EmotionTrack.at` combines the face clips covering a time (see there)."""

CROP_MODES = ("loose", "strict", "center")
SAMPLE_MODES = ("nearest", "linear", "hold")


def check_mode(mode: str, allowed: Sequence[str], what: str) -> None:
    """Raise ``ValueError`` unless ``mode`` is one of ``allowed``."""
    if mode not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}, got {mode!r}")


def _first_true(pred: Callable[[int], bool], guess: float) -> int:
    """Smallest integer ``i`` with ``pred(i)``, for ``pred`` monotone (False..., True...)."""
    i = int(math.floor(guess))
    if pred(i):
        while pred(i - 1):
            i -= 1
        return i
    i += 1
    while not pred(i):
        i += 1
    return i


@dataclass(frozen=True)
class SlidingWindow:
    """Frames of ``duration`` seconds every ``step``: frame ``i`` covers
    ``[start + i*step, start + i*step + duration)``; indices start at 0.

    >>> SlidingWindow(start=0.0, duration=0.025, step=0.01).samples(1.0)
    98
    """

    start: float = 0.0
    duration: float = 0.025
    step: float = 0.010

    def __post_init__(self) -> None:
        for name in ("start", "duration", "step"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not (math.isfinite(self.start) and math.isfinite(self.duration)
                and math.isfinite(self.step)) or self.duration < 0 or self.step <= 0:
            raise ValueError(f"need finite start, duration >= 0 and step > 0, got {self}")

    def __getitem__(self, i: int) -> Segment:
        start = self.start + i * self.step
        return Segment(start, start + self.duration)

    def middle(self, i: int) -> float:
        """Centre time of frame ``i``."""
        return self.start + i * self.step + 0.5 * self.duration

    def closest_frame(self, t: float) -> int:
        """Index of the frame whose middle is closest to ``t`` (may be negative)."""
        return int(np.rint((t - self.start - 0.5 * self.duration) / self.step))

    def samples(self, from_duration: float, mode: CropMode = "strict") -> int:
        """How many frames the first ``from_duration`` seconds hold, in the sense of ``mode``."""
        return len(self.crop(Segment(self.start, self.start + from_duration), mode))

    def crop(self, segment: Segment, mode: CropMode = "loose") -> range:
        """Indices (>= 0) of the frames in ``segment``, in the sense of ``mode``."""
        check_mode(mode, CROP_MODES, "mode")
        a, b = segment.start, segment.end
        if not (math.isfinite(a) and math.isfinite(b)):
            raise ValueError(f"cannot crop to a segment with infinite or NaN bounds: {segment}")
        start, step, dur = self.start, self.step, self.duration

        def at(i: int) -> float:
            return start + i * step

        if mode == "loose":
            lo = _first_true(lambda i: at(i) + dur > a, (a - start - dur) / step)
            if segment.duration > 0:
                hi = _first_true(lambda i: at(i) >= b, (b - start) / step)
            else:
                hi = _first_true(lambda i: at(i) > b, (b - start) / step)
        elif mode == "strict":
            lo = _first_true(lambda i: at(i) >= a, (a - start) / step)
            hi = _first_true(lambda i: at(i) + dur > b, (b - start - dur) / step)
        else:
            lo = _first_true(lambda i: at(i) + 0.5 * dur >= a, (a - start - 0.5 * dur) / step)
            hi = _first_true(lambda i: at(i) + 0.5 * dur >= b, (b - start - 0.5 * dur) / step)
        lo = max(lo, 0)
        return range(lo, max(hi, lo))


def _select(starts: np.ndarray, ends: np.ndarray, span: Segment, mode: CropMode) -> np.ndarray:
    """Boolean mask of the spans ``[starts, ends)`` in ``span``, in the sense of ``mode``."""
    check_mode(mode, CROP_MODES, "mode")
    a, b = span.start, span.end
    if mode == "strict":
        return (starts >= a) & (ends <= b)
    if mode == "center":
        middles = 0.5 * (starts + ends)
        return (middles >= a) & (middles < b)
    if span.duration > 0:
        return (starts < b) & (ends > a)
    return (starts <= a) & (a < ends)


class EmotionTrack:
    """The encoder's clips as a feature track: one row per clip, with its time span.

    Clips may overlap (sliding windows) and are kept sorted by start. Rows whose
    ``has_face`` is False carry no emotion: time covered by no face clip is a *gap*
    (:attr:`gaps`), where :meth:`at` answers NaN with a False mask, and nothing is
    interpolated across it.

    >>> track = EmotionTrack.from_window(np.eye(4, dtype=np.float32),
    ...                                  SlidingWindow(start=0.0, duration=2.0, step=1.0),
    ...                                  has_face=[True, True, False, False])
    >>> track.extent, track.gaps
    (Segment(start=0.0, end=5.0), [Segment(start=3.0, end=5.0)])
    >>> values, mask = track.at([1.5, 4.0], mode="linear")
    >>> values[0].tolist(), mask.tolist()
    ([0.5, 0.5, 0.0, 0.0], [True, False])
    """

    def __init__(self, starts: Sequence[float] | np.ndarray, ends: Sequence[float] | np.ndarray,
                 embeddings: np.ndarray, *, has_face: Sequence[bool] | np.ndarray | None = None,
                 probs: np.ndarray | None = None, attention: np.ndarray | None = None,
                 labels: Sequence[str] = (), video: str | None = None, preset: str = "",
                 weights_trained: bool = False):
        """Arrays of ``n`` clips; ``has_face`` defaults to "row is not all zeros"."""
        source = video or "emotion track"
        emb = np.asarray(embeddings, np.float32)
        if emb.ndim != 2:
            raise AlignmentError(source, f"embeddings must be (n_clips, d), got shape {emb.shape}")
        n = len(emb)
        starts = np.asarray(starts, np.float64).reshape(-1)
        ends = np.asarray(ends, np.float64).reshape(-1)
        face = (np.any(emb != 0, axis=1) if has_face is None
                else np.asarray(has_face, bool).reshape(-1))
        probs = np.zeros((n, 0), np.float32) if probs is None else np.asarray(probs, np.float32)
        labels = tuple(str(x) for x in labels)
        att = None if attention is None else np.asarray(attention, np.float32)
        for name, arr in (("starts", starts), ("ends", ends), ("has_face", face),
                          ("probs", probs), ("attention", att)):
            if arr is not None and len(arr) != n:
                raise AlignmentError(source, f"{name} has {len(arr)} rows but embeddings has {n}")
        if probs.ndim != 2 or probs.shape[1] != len(labels):
            raise AlignmentError(source, f"probs has shape {probs.shape} but there are "
                                         f"{len(labels)} labels")
        if att is not None and att.ndim != 2:
            raise AlignmentError(source, f"attention must be (n_clips, steps), got {att.shape}")
        if not (np.all(np.isfinite(starts)) and np.all(np.isfinite(ends))):
            raise AlignmentError(source, "clip times must be finite numbers")
        if np.any(ends < starts):
            i = int(np.flatnonzero(ends < starts)[0])
            raise AlignmentError(source, f"clip {i} ends before it starts "
                                         f"({ends[i]:.3f} s < {starts[i]:.3f} s)")
        order = np.lexsort((ends, starts))
        self.starts, self.ends = starts[order], ends[order]
        self.embeddings, self.has_face, self.probs = emb[order], face[order], probs[order]
        self.attention = None if att is None else att[order]
        self.labels, self.video, self.preset = labels, video, preset
        self.weights_trained = bool(weights_trained)
        self._face = np.flatnonzero(self.has_face)

    @classmethod
    def from_embeddings(cls, emb: ClipEmbeddings) -> "EmotionTrack":
        """The track of :meth:`EmotionEncoder.embed`'s output."""
        return cls(emb.starts, emb.ends, emb.embeddings, has_face=emb.has_face, probs=emb.probs,
                   attention=emb.attention, labels=emb.labels, video=emb.video,
                   preset=emb.preset, weights_trained=emb.weights_trained)

    @classmethod
    def from_window(cls, embeddings: np.ndarray, window: SlidingWindow,
                    **kwargs) -> "EmotionTrack":
        """Rows on a regular :class:`SlidingWindow` (row ``i`` spans ``window[i]``)."""
        starts = window.start + np.arange(len(embeddings)) * window.step
        return cls(starts, starts + window.duration, embeddings, **kwargs)

    def __len__(self) -> int:
        return len(self.embeddings)

    def __repr__(self) -> str:
        return (f"<EmotionTrack {self.video or ''}: {len(self)} clips, {len(self._face)} with "
                f"a face, d={self.dim}, {self.extent}>")

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    @property
    def segments(self) -> list[Segment]:
        return [Segment(s, e) for s, e in zip(self.starts, self.ends)]

    @property
    def confidence(self) -> np.ndarray:
        """Top probability of each clip (0 where there is no face or no labels)."""
        if not self.labels:
            return np.zeros(len(self), np.float32)
        return np.where(self.has_face, self.probs.max(axis=1), 0.0).astype(np.float32)

    @property
    def clip_labels(self) -> list[str | None]:
        """Most probable label of each clip, None where there is no face or no labels."""
        if not self.labels:
            return [None] * len(self)
        best = self.probs.argmax(axis=1)
        return [self.labels[b] if f else None for b, f in zip(best, self.has_face)]

    @property
    def extent(self) -> Segment:
        """From the first clip's start to the last clip's end."""
        if not len(self):
            return Segment(0.0, 0.0)
        return Segment(self.starts.min(), self.ends.max())

    @cached_property
    def face_spans(self) -> list[Segment]:
        """The union of the face clips' spans, as disjoint sorted segments."""
        spans: list[list[float]] = []
        for s, e in zip(self.starts[self._face], self.ends[self._face]):
            if e <= s:
                continue
            if spans and s <= spans[-1][1]:
                spans[-1][1] = max(spans[-1][1], e)
            else:
                spans.append([s, e])
        return [Segment(s, e) for s, e in spans]

    @property
    def gaps(self) -> list[Segment]:
        """No-face spans: parts of :attr:`extent` that no face clip covers."""
        extent, gaps, t = self.extent, [], self.extent.start
        for span in self.face_spans:
            if span.start > t:
                gaps.append(Segment(t, span.start))
            t = span.end
        if extent.end > t:
            gaps.append(Segment(t, extent.end))
        return gaps

    def face_ratio(self, segment: Segment) -> float:
        """Share of ``segment`` covered by face clips (for a zero-length one: 1 if covered)."""
        spans = self.face_spans
        first = bisect_right([s.end for s in spans], segment.start)
        inside = [s for s in spans[first:] if s.start <= segment.end]
        if segment.duration == 0:
            return float(any(segment.start in s for s in inside))
        covered = sum((s & segment).duration for s in inside)
        return min(1.0, covered / segment.duration)

    def overlapping(self, segment: Segment) -> np.ndarray:
        """Indices of the face clips that intersect ``segment`` (or contain it, if a point)."""
        face = self._face
        return face[_select(self.starts[face], self.ends[face], segment, "loose")]

    def crop(self, span: Segment, mode: CropMode = "loose") -> "EmotionTrack":
        """The clips in ``span`` (in the sense of ``mode``), as a new track."""
        keep = _select(self.starts, self.ends, span, mode)
        return EmotionTrack(
            self.starts[keep], self.ends[keep], self.embeddings[keep],
            has_face=self.has_face[keep], probs=self.probs[keep],
            attention=None if self.attention is None else self.attention[keep],
            labels=self.labels, video=self.video, preset=self.preset,
            weights_trained=self.weights_trained)

    def at(self, times: float | Sequence[float] | np.ndarray,
           mode: SampleMode = "linear") -> tuple[np.ndarray, np.ndarray]:
        """Embeddings at ``times``: ``(values (n, d) float32, mask (n,) bool)``.

        Only the face clips covering a time ``t`` (``start <= t < end``) count:

        - ``nearest``: the one whose middle is nearest ``t``;
        - ``hold``: the one with the latest middle at or before ``t`` (else the earliest);
        - ``linear``: their mean weighted by a triangle peaking at each clip's middle — for
          50%-overlapping windows this is exactly linear interpolation between middles.

        A time no face clip covers gets NaN values and a False mask.
        """
        check_mode(mode, SAMPLE_MODES, "mode")
        t = np.asarray(times, np.float64).reshape(-1)
        values = np.full((len(t), self.dim), np.nan, np.float32)
        mask = np.zeros(len(t), bool)
        face = self._face
        if not len(face) or not len(t):
            return values, mask
        fs, fe = self.starts[face], self.ends[face]
        longest = float((fe - fs).max())
        lo = np.searchsorted(fs, t - longest - 1e-6, side="left")
        hi = np.searchsorted(fs, t, side="right")
        width = max(int((hi - lo).max()), 1)
        chunk = max(1, 2 ** 20 // width)
        for a in range(0, len(t), chunk):
            b = min(a + chunk, len(t))
            rows, w = self._weights(t[a:b], lo[a:b], hi[a:b], width, mode)
            covered = w.sum(axis=1) > 0
            acc = np.zeros((b - a, self.dim), np.float64)
            for j in range(width):
                acc += w[:, j, None] * self.embeddings[face[rows[:, j]]]
            values[a:b][covered] = acc[covered] / w[covered].sum(axis=1, keepdims=True)
            mask[a:b] = covered
        return values, mask

    def _weights(self, t: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: int,
                 mode: SampleMode) -> tuple[np.ndarray, np.ndarray]:
        """Candidate face-clip positions ``(n, width)`` and their weights for :meth:`at`."""
        face = self._face
        pos = lo[:, None] + np.arange(width)
        valid = pos < hi[:, None]
        pos = np.minimum(pos, len(face) - 1)
        s, e = self.starts[face][pos], self.ends[face][pos]
        tt = t[:, None]
        cover = valid & (s <= tt) & (tt < e)
        mid, half = 0.5 * (s + e), 0.5 * (e - s)
        if mode == "linear":
            tent = np.clip(1.0 - np.abs(tt - mid) / np.where(half > 0, half, 1.0), 0.0, None)
            w = np.where(cover, tent, 0.0)
            flat = cover.any(axis=1) & (w.sum(axis=1) == 0)  # t exactly on clip starts
            w[flat] = cover[flat]
            return pos, w
        if mode == "nearest":
            pick = np.where(cover, np.abs(tt - mid), np.inf).argmin(axis=1)
        else:
            before = np.where(cover & (mid <= tt), mid, -np.inf)
            first = np.where(cover, mid, np.inf).argmin(axis=1)
            pick = np.where(np.isfinite(before.max(axis=1)), before.argmax(axis=1), first)
        w = np.zeros(cover.shape)
        w[np.arange(len(t)), pick] = 1.0
        return pos, w * cover
