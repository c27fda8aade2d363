"""The one timeline type: emotions of clips over time, in the manner of ``pyannote.core``.

A :class:`SlidingWindow` maps frame indices to time spans; an :class:`EmotionTrack` holds
a video's clips (one row each: span, face flag, probabilities, embedding, attention, face
box, share of frames with the face) and answers every question about time: the clips in
a span (:meth:`~EmotionTrack.crop`), the values at a time (:meth:`~EmotionTrack.at`), the
no-face gaps, the runs of one label, the video's label. ``EmotionEncoder.predict``,
``embed`` and ``track`` all return it (inside a ``VideoPrediction`` / ``FaceTracks``);
the demo and ``v2c_bridge`` only read it. Numpy only: no TensorFlow, no video.

>>> w = SlidingWindow(start=0.0, duration=1.6, step=0.8)
>>> w[2], w.closest_frame(2.4)
(Segment(start=1.6, end=3.2), 2)
>>> list(w.crop(Segment(1.0, 2.0), mode="loose")), list(w.crop(Segment(0.0, 3.2), "strict"))
([0, 1, 2], [0, 1, 2])
"""

from __future__ import annotations

import json
import math
import os
from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np

from emotion_encoder.atomic import atomic_write
from emotion_encoder.errors import AlignmentError
from emotion_encoder.timing import Segment

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
    """A video's clips as a feature track: one row per clip, with its time span.

    Clips may overlap (sliding windows) and are kept sorted by start. Rows whose
    ``has_face`` is False carry no emotion (zero embedding and probabilities): time
    covered by no face clip is a *gap* (:attr:`gaps`), where :meth:`at` answers NaN with a
    False mask, and nothing is interpolated across it. ``boxes`` is each clip's median face
    box ``(x0, y0, x1, y1)`` in pixels (NaN where the face was never seen), with the
    detector's median score in ``box_scores`` and ``padded`` telling that the face was
    found only after padding the frame (a tight face crop). ``clip_face_ratio`` is the
    share of a clip's frames that show the face; ``sampling`` says how the clips were cut.

    >>> track = EmotionTrack.from_window(np.eye(4, dtype=np.float32),
    ...                                  SlidingWindow(start=0.0, duration=2.0, step=1.0),
    ...                                  has_face=[True, True, False, False])
    >>> track.extent, track.gaps
    (Segment(start=0.0, end=5.0), [Segment(start=3.0, end=5.0)])
    >>> values, mask = track.at([1.5, 4.0], mode="linear")
    >>> values[0].tolist(), mask.tolist()
    ([0.5, 0.5, 0.0, 0.0], [True, False])
    """

    ROWS = ("starts", "ends", "embeddings", "has_face", "probs", "attention", "boxes",
            "box_scores", "padded", "clip_face_ratio")
    """The per-clip arrays, in the order of :meth:`arrays` (all of length ``len(track)``)."""

    def __init__(self, starts: Sequence[float] | np.ndarray, ends: Sequence[float] | np.ndarray,
                 embeddings: np.ndarray, *, has_face: Sequence[bool] | np.ndarray | None = None,
                 probs: np.ndarray | None = None, attention: np.ndarray | None = None,
                 boxes: np.ndarray | None = None, box_scores: np.ndarray | None = None,
                 padded: Sequence[bool] | np.ndarray | None = None,
                 clip_face_ratio: Sequence[float] | np.ndarray | None = None,
                 labels: Sequence[str] = (), video: str | None = None, preset: str = "",
                 weights_trained: bool = False, sampling: Mapping[str, Any] | None = None):
        """Arrays of ``n`` clips; ``has_face`` defaults to "row is not all zeros",
        ``clip_face_ratio`` to 1 for face clips and 0 for the others."""
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
        boxes = (np.full((n, 4), np.nan) if boxes is None
                 else np.asarray(boxes, np.float64).reshape(-1, 4))
        scores = (np.zeros(n) if box_scores is None
                  else np.asarray(box_scores, np.float64).reshape(-1))
        padded = (np.zeros(n, bool) if padded is None
                  else np.asarray(padded, bool).reshape(-1))
        ratio = (face.astype(np.float64) if clip_face_ratio is None
                 else np.asarray(clip_face_ratio, np.float64).reshape(-1))
        for name, arr in (("starts", starts), ("ends", ends), ("has_face", face),
                          ("probs", probs), ("attention", att), ("boxes", boxes),
                          ("box_scores", scores), ("padded", padded),
                          ("clip_face_ratio", ratio)):
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
        self.boxes, self.box_scores, self.padded = boxes[order], scores[order], padded[order]
        self.clip_face_ratio = ratio[order]
        self.labels, self.video, self.preset = labels, video, preset
        self.weights_trained = bool(weights_trained)
        self.sampling = dict(sampling or {})
        self._face = np.flatnonzero(self.has_face)

    @classmethod
    def from_window(cls, embeddings: np.ndarray, window: SlidingWindow,
                    **kwargs) -> "EmotionTrack":
        """Rows on a regular :class:`SlidingWindow` (row ``i`` spans ``window[i]``)."""
        starts = window.start + np.arange(len(embeddings)) * window.step
        return cls(starts, starts + window.duration, embeddings, **kwargs)

    def replace(self, rows: np.ndarray | slice | None = None, **changes: Any) -> "EmotionTrack":
        """A new track: the rows ``rows`` (all by default), with ``changes`` (any argument
        of the constructor) applied.

        >>> t = EmotionTrack([0, 1], [1, 2], np.ones((2, 3)), labels=(), video="a.mp4")
        >>> len(t.replace(np.array([False, True]))), t.replace(video="b.mp4").video
        (1, 'b.mp4')
        """
        keep = slice(None) if rows is None else rows
        args: dict[str, Any] = {name: None if getattr(self, name) is None
                                else getattr(self, name)[keep] for name in self.ROWS}
        args.update(labels=self.labels, video=self.video, preset=self.preset,
                    weights_trained=self.weights_trained, sampling=self.sampling)
        args.update(changes)
        return EmotionTrack(args.pop("starts"), args.pop("ends"), args.pop("embeddings"), **args)

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
    def video_probs(self) -> np.ndarray | None:
        """The video's probabilities: the mean of the face clips' probabilities, each
        weighted by the share of its frames that show the face (``clip_face_ratio``);
        None when no clip has a face (or the track has no labels). The one definition
        used by ``predict``, the demo, ``tag`` and the bridge.

        >>> t = EmotionTrack([0, 1], [1, 2], np.ones((2, 1)), probs=[[1, 0], [0, 1]],
        ...                  labels=("a", "b"), clip_face_ratio=[1.0, 0.5])
        >>> t.video_probs.round(3).tolist(), t.video_label
        ([0.667, 0.333], 'a')
        """
        weights = np.where(self.has_face, self.clip_face_ratio, 0.0)
        if not self.labels or weights.sum() <= 0:
            return None
        face = weights > 0
        return (weights[face] @ self.probs[face].astype(np.float64)) / weights.sum()

    @property
    def video_label(self) -> str | None:
        """The label of :attr:`video_probs` (None without a face)."""
        probs = self.video_probs
        return None if probs is None else self.labels[int(np.argmax(probs))]

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
        return self.replace(_select(self.starts, self.ends, span, mode))

    def label_runs(self) -> list[tuple[Segment, str, float]]:
        """The time covered by face clips cut into runs of one label:
        ``(span, label, confidence)``, sorted. The one definition of "the label at a time"
        (the demo's band and captions, the SRT, the bridge's ``emotion_runs``).

        Clip boundaries cut time into pieces; a piece takes the label of the mean
        probabilities of the face clips covering it; touching pieces with the same label
        merge. ``confidence`` is that label's probability over the whole run, the face
        clips weighted by the time they share with it. Gaps end runs.

        >>> t = EmotionTrack([0, 1, 2], [2, 3, 4], np.ones((3, 1)), labels=("a", "b"),
        ...                  probs=[[0.9, 0.1], [0.6, 0.4], [0.1, 0.9]])
        >>> [(r.start, r.end, label, round(c, 2)) for r, label, c in t.label_runs()]
        [(0.0, 2.0, 'a', 0.8), (2.0, 4.0, 'b', 0.73)]
        """
        if not self.labels:
            return []
        face = self._face
        starts, ends = self.starts[face], self.ends[face]
        bounds = np.unique(np.concatenate([starts, ends]))
        runs: list[list[Any]] = []  # [start, end, label index]
        for a, b in zip(bounds[:-1], bounds[1:]):
            rows = face[(starts < b) & (ends > a)]
            if not len(rows):
                continue
            best = int(self.probs[rows].astype(np.float64).mean(axis=0).argmax())
            if runs and runs[-1][1] == a and runs[-1][2] == best:
                runs[-1][1] = b
            else:
                runs.append([a, b, best])
        out = []
        for a, b, k in runs:
            shared = np.clip(np.minimum(ends, b) - np.maximum(starts, a), 0.0, None)
            confidence = shared @ self.probs[face, k].astype(np.float64) / shared.sum()
            out.append((Segment(a, b), self.labels[k], float(confidence)))
        return out

    def run_at(self, t: float) -> tuple[Segment, str, float] | None:
        """The run of :meth:`label_runs` holding time ``t`` (None in a gap)."""
        runs = self._runs
        i = bisect_right([r.start for r, _, _ in runs], t) - 1
        return runs[i] if i >= 0 and t in runs[i][0] else None

    def label_at(self, times: float | Sequence[float] | np.ndarray) -> list[str | None]:
        """The label of the run of :meth:`label_runs` holding each time (None in a gap).

        >>> t = EmotionTrack([0, 2], [2, 4], np.ones((2, 1)), labels=("a", "b"),
        ...                  probs=[[0.9, 0.1], [0.2, 0.8]], has_face=[True, False])
        >>> t.label_at([0.5, 3.0])
        ['a', None]
        """
        found = (self.run_at(float(t)) for t in np.asarray(times, np.float64).reshape(-1))
        return [None if run is None else run[1] for run in found]

    @cached_property
    def _runs(self) -> list[tuple[Segment, str, float]]:
        return self.label_runs()

    def clip_at(self, t: float) -> int | None:
        """Index of the clip (with a face or not) covering ``t`` whose middle is nearest it."""
        covering = np.flatnonzero((self.starts <= t) & (t < self.ends))
        if not len(covering):
            return None
        middles = 0.5 * (self.starts[covering] + self.ends[covering])
        return int(covering[np.argmin(np.abs(middles - t))])

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything as numpy arrays, as :meth:`save` writes them."""
        out = {name: getattr(self, name) for name in self.ROWS if name != "attention"}
        out["attention"] = (np.zeros((len(self), 0), np.float32) if self.attention is None
                            else self.attention)
        out.update(labels=np.asarray(self.labels, dtype=str), video=np.asarray(self.video or ""),
                   preset=np.asarray(self.preset),
                   weights_trained=np.asarray(self.weights_trained),
                   sampling=np.asarray(json.dumps(self.sampling)))
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """Write an ``.npz`` atomically (read back by :meth:`load`)."""
        with atomic_write(path, "wb") as handle:
            np.savez(handle, **self.arrays())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EmotionTrack":
        """A track from :meth:`save`'s ``.npz`` (files of version 0.1, without boxes, too).

        Raises ``FileNotFoundError``, ``KeyError`` (a missing array) or ``ValueError``.
        """
        with np.load(path) as data:
            rows = {name: data[name] for name in cls.ROWS if name in data.files}
            for name in ("starts", "ends", "embeddings", "has_face", "probs", "attention"):
                if name not in rows:
                    raise KeyError(name)
            return cls(rows.pop("starts"), rows.pop("ends"), rows.pop("embeddings"), **rows,
                       labels=tuple(str(x) for x in data["labels"]),
                       video=str(data["video"]) or None, preset=str(data["preset"]),
                       weights_trained=bool(data["weights_trained"]),
                       sampling=json.loads(str(data["sampling"])) if "sampling" in data.files
                       else None)

    def at(self, times: float | Sequence[float] | np.ndarray, mode: SampleMode = "linear",
           of: Literal["embeddings", "probs"] = "embeddings") -> tuple[np.ndarray, np.ndarray]:
        """Embeddings (or, ``of="probs"``, probabilities) at ``times``:
        ``(values (n, d) float32, mask (n,) bool)``.

        Only the face clips covering a time ``t`` (``start <= t < end``) count:

        - ``nearest``: the one whose middle is nearest ``t``;
        - ``hold``: the one with the latest middle at or before ``t`` (else the earliest);
        - ``linear``: their mean weighted by a triangle peaking at each clip's middle — for
          50%-overlapping windows this is exactly linear interpolation between middles.

        A time no face clip covers gets NaN values and a False mask.
        """
        check_mode(mode, SAMPLE_MODES, "mode")
        check_mode(of, ("embeddings", "probs"), "of")
        rows = self.embeddings if of == "embeddings" else self.probs
        t = np.asarray(times, np.float64).reshape(-1)
        values = np.full((len(t), rows.shape[1]), np.nan, np.float32)
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
            pos, w = self._weights(t[a:b], lo[a:b], hi[a:b], width, mode)
            covered = w.sum(axis=1) > 0
            acc = np.zeros((b - a, rows.shape[1]), np.float64)
            for j in range(width):
                acc += w[:, j, None] * rows[face[pos[:, j]]]
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
            with np.errstate(over="ignore"):  # a clip ~1e-308 s long: the tent is 0 anyway
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
