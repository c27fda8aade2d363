"""Writers for aligned emotions — JSON, CSV, SRT / WebVTT emotion subtitles, Praat TextGrid,
npz — and readers for the JSON, npz and TextGrid round trips. Every file is written
atomically (a temp file in the same folder, then ``os.replace``).

The subtitle and TextGrid writers take aligned intervals or a whole track; a track is
cut by :func:`~v2c_bridge.pooling.emotion_runs` into one cue / interval per run of the
same label. Intervals without a label (no face) produce no cue and an empty interval.

>>> runs = emotion_runs(track)                                  # doctest: +SKIP
>>> write_vtt("clip.emotions.vtt", runs)                        # doctest: +SKIP
>>> write_textgrid("clip.TextGrid", {"hero": runs, "villain": other_track})  # doctest: +SKIP
>>> write_npz("clip.mel.npz", align(track, mel_frames_for="clip.mp4"))      # doctest: +SKIP
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from emotion_encoder import __version__
from emotion_encoder.atomic import atomic_write
from emotion_encoder.timeline import EmotionTrack
from emotion_encoder.timing import Segment
from v2c_bridge.errors import AlignmentError
from v2c_bridge.mel import MelConditioning
from v2c_bridge.pooling import AlignedInterval, emotion_runs
from v2c_bridge.transcripts import read_text, read_textgrid

__all__ = ["read_json", "read_npz", "read_textgrid", "write_csv", "write_intervals_npz",
           "write_json", "write_npz", "write_srt", "write_textgrid", "write_vtt"]

Items = Sequence[AlignedInterval] | EmotionTrack

INTERVALS_FORMAT = "v2c_bridge.aligned_intervals"
MEL_FORMAT = "v2c_bridge.mel_conditioning"


def _runs(items: Items) -> Sequence[AlignedInterval]:
    return emotion_runs(items) if isinstance(items, EmotionTrack) else items


# ---------------------------------------------------------------- JSON and CSV

def write_json(path: str | os.PathLike, intervals: Sequence[AlignedInterval]) -> Path:
    """Aligned intervals at full precision, vectors included (read back with :func:`read_json`)."""
    doc = {"format": INTERVALS_FORMAT, "version": __version__,
           "intervals": [iv.to_dict() for iv in intervals]}
    with atomic_write(path, encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)
    return Path(path)


def read_json(path: str | os.PathLike) -> list[AlignedInterval]:
    """The intervals of a :func:`write_json` file."""
    try:
        doc = json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise AlignmentError(path, f"not valid JSON ({e.msg} at line {e.lineno})") from None
    if not isinstance(doc, dict) or doc.get("format") != INTERVALS_FORMAT:
        raise AlignmentError(path, f"not a {INTERVALS_FORMAT} JSON file")
    try:
        return [AlignedInterval.from_dict(d) for d in doc["intervals"]]
    except (KeyError, TypeError, ValueError) as e:
        raise AlignmentError(path, f"malformed interval ({type(e).__name__}: {e})") from None


def write_csv(path: str | os.PathLike, intervals: Sequence[AlignedInterval]) -> Path:
    """One row per interval: times, tier, text, label, confidence, face ratio and one
    ``prob_<label>`` column per label (no vectors: those go to JSON or npz)."""
    labels = next((list(iv.probs) for iv in intervals if iv.probs), [])
    with atomic_write(path, encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["start", "end", "tier", "text", "label", "confidence", "face_ratio"]
                        + [f"prob_{k}" for k in labels])
        for iv in intervals:
            probs = iv.probs or {}
            writer.writerow([repr(iv.segment.start), repr(iv.segment.end), iv.tier, iv.text,
                             iv.label or "", "" if iv.confidence is None else repr(iv.confidence),
                             repr(iv.face_ratio)]
                            + ["" if k not in probs else repr(probs[k]) for k in labels])
    return Path(path)


# ---------------------------------------------------------------- SRT and WebVTT

def _timestamp(t: float, sep: str) -> str:
    ms = max(0, int(round(t * 1000)))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _cue_lines(iv: AlignedInterval) -> list[str]:
    head = iv.label if iv.confidence is None else f"{iv.label} {iv.confidence:.2f}"
    return [head] + [line for line in iv.text.splitlines() if line.strip()]


def write_srt(path: str | os.PathLike, items: Items) -> Path:
    """Emotion subtitles: one numbered cue per labelled interval, ``"<label> <confidence>"``
    then the interval's text, if any (a track: one cue per run of the same label)."""
    cues = [iv for iv in _runs(items) if iv.label is not None]
    with atomic_write(path, encoding="utf-8", newline="\n") as f:
        for n, iv in enumerate(cues, 1):
            f.write(f"{n}\n{_timestamp(iv.segment.start, ',')} --> "
                    f"{_timestamp(iv.segment.end, ',')}\n" + "\n".join(_cue_lines(iv)) + "\n\n")
    return Path(path)


def write_vtt(path: str | os.PathLike, items: Items) -> Path:
    """Like :func:`write_srt`, as WebVTT (text escaped for ``&``, ``<``, ``>``)."""
    cues = [iv for iv in _runs(items) if iv.label is not None]
    with atomic_write(path, encoding="utf-8", newline="\n") as f:
        f.write("WEBVTT\n\n")
        for iv in cues:
            text = "\n".join(_cue_lines(iv)).replace("&", "&amp;").replace("<", "&lt;") \
                .replace(">", "&gt;")
            f.write(f"{_timestamp(iv.segment.start, '.')} --> "
                    f"{_timestamp(iv.segment.end, '.')}\n{text}\n\n")
    return Path(path)


# ---------------------------------------------------------------- Praat TextGrid

def _tier_intervals(path: str | os.PathLike, name: str,
                    items: Items) -> list[tuple[float, float, str]]:
    """Disjoint, sorted ``(start, end, label)`` of one tier (zero-length intervals dropped)."""
    spans = sorted((iv.segment.start, iv.segment.end, iv.label) for iv in _runs(items)
                   if iv.label is not None and iv.segment.duration > 0)
    for (_, end, _), (start, _, _) in zip(spans, spans[1:]):
        if start < end:
            raise AlignmentError(path, f"tier {name!r}: intervals overlap at {start:.3f} s; "
                                       "an IntervalTier needs disjoint intervals")
    return spans


def _praat_text(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def write_textgrid(path: str | os.PathLike, tiers: Items | Mapping[str, Items], *,
                   xmin: float = 0.0, xmax: float | None = None) -> Path:
    """A Praat TextGrid (long text format) with one IntervalTier of labels per track / face:
    a single tier named "speaker" unless ``tiers`` maps several names to their items.
    Unlabelled time is an empty interval; read it back with :func:`read_textgrid`."""
    named = dict(tiers) if isinstance(tiers, Mapping) else {"speaker": tiers}
    spans = {name: _tier_intervals(path, name, items) for name, items in named.items()}
    starts = [s[0][0] for s in spans.values() if s]
    ends = [s[-1][1] for s in spans.values() if s]
    xmin = min([xmin, *starts])
    xmax = max([xmin if xmax is None else xmax, *ends])
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', "",
           f"xmin = {xmin!r}", f"xmax = {xmax!r}", "tiers? <exists>", f"size = {len(spans)}",
           "item []:"]
    for k, (name, items) in enumerate(spans.items(), 1):
        filled, t = [], xmin
        for start, end, label in items:
            if start > t:
                filled.append((t, start, ""))
            filled.append((start, end, label))
            t = end
        if xmax > t or not filled:
            filled.append((t, xmax, ""))
        out += [f"    item [{k}]:", '        class = "IntervalTier"',
                f"        name = {_praat_text(name)}", f"        xmin = {xmin!r}",
                f"        xmax = {xmax!r}", f"        intervals: size = {len(filled)}"]
        for j, (start, end, label) in enumerate(filled, 1):
            out += [f"        intervals [{j}]:", f"            xmin = {start!r}",
                    f"            xmax = {end!r}", f"            text = {_praat_text(label)}"]
    with atomic_write(path, encoding="utf-8", newline="\n") as f:
        f.write("\n".join(out) + "\n")
    return Path(path)


# ---------------------------------------------------------------- npz

def write_npz(path: str | os.PathLike, cond: MelConditioning) -> Path:
    """Mel conditioning arrays and metadata (sr, hop_length, n_fft, center, fps, labels,
    preset, mode, video, version, audio_start) as ``.npz``; read back with :func:`read_npz`."""
    arrays = {
        "format": np.asarray(MEL_FORMAT), "values": cond.values, "mask": cond.mask,
        "times": cond.times, "sr": np.asarray(cond.sr), "hop_length": np.asarray(cond.hop_length),
        "n_fft": np.asarray(cond.n_fft), "center": np.asarray(cond.center),
        "mode": np.asarray(cond.mode),
        "fps": np.asarray(np.nan if cond.fps is None else cond.fps, np.float64),
        "labels": np.asarray(cond.labels, dtype=str), "preset": np.asarray(cond.preset),
        "video": np.asarray(cond.video or ""), "version": np.asarray(cond.version),
        "audio_start": np.asarray(cond.audio_start, np.float64)}
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def write_intervals_npz(path: str | os.PathLike, intervals: Sequence[AlignedInterval],
                        labels: Sequence[str]) -> Path:
    """Aligned intervals (words, phones, subtitle lines, label runs) as ``.npz`` arrays, one
    row each: ``starts``, ``ends``, ``vectors`` (n, d), ``probs`` (n, labels; NaN where no
    face), ``label`` ("" where no face), ``confidence`` (NaN), ``face_ratio``, ``text``,
    ``tier``, plus ``labels`` and ``version``; read back with :func:`read_npz`.

    >>> import tempfile, numpy as np
    >>> iv = AlignedInterval(Segment(0.0, 0.5), "hi", np.ones(3, np.float32),
    ...                      {"happiness": 1.0}, "happiness", 1.0, 1.0, "words")
    >>> out = write_intervals_npz(tempfile.mkdtemp() + "/w.npz", [iv], ["happiness"])
    >>> back = read_npz(out)
    >>> back[0].text, back[0].label, back[0].segment
    ('hi', 'happiness', Segment(start=0.0, end=0.5))
    """
    labels = list(labels)
    dim = len(intervals[0].vector) if intervals else 0
    probs = np.full((len(intervals), len(labels)), np.nan, np.float32)
    for i, iv in enumerate(intervals):
        if iv.probs is not None:
            probs[i] = [iv.probs.get(k, np.nan) for k in labels]
    arrays = {
        "format": np.asarray(INTERVALS_FORMAT), "version": np.asarray(__version__),
        "starts": np.array([iv.segment.start for iv in intervals], np.float64),
        "ends": np.array([iv.segment.end for iv in intervals], np.float64),
        "vectors": (np.stack([iv.vector for iv in intervals]).astype(np.float32) if intervals
                    else np.zeros((0, dim), np.float32)),
        "probs": probs, "labels": np.asarray(labels, dtype=str),
        "label": np.asarray([iv.label or "" for iv in intervals], dtype=str),
        "confidence": np.array([np.nan if iv.confidence is None else iv.confidence
                                for iv in intervals], np.float64),
        "face_ratio": np.array([iv.face_ratio for iv in intervals], np.float64),
        "text": np.asarray([iv.text for iv in intervals], dtype=str),
        "tier": np.asarray([iv.tier for iv in intervals], dtype=str)}
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)
    return Path(path)


def _intervals_of(data) -> list[AlignedInterval]:
    labels = [str(x) for x in data["labels"]]
    out = []
    for i in range(len(data["starts"])):
        label = str(data["label"][i]) or None
        probs = None if label is None else {k: float(v) for k, v in zip(labels, data["probs"][i])}
        confidence = float(data["confidence"][i])
        out.append(AlignedInterval(Segment(data["starts"][i], data["ends"][i]),
                                   str(data["text"][i]), data["vectors"][i], probs, label,
                                   None if np.isnan(confidence) else confidence,
                                   float(data["face_ratio"][i]), str(data["tier"][i])))
    return out


def read_npz(path: str | os.PathLike) -> MelConditioning | list[AlignedInterval]:
    """The :class:`MelConditioning` of a :func:`write_npz` file, or the intervals of a
    :func:`write_intervals_npz` file."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) == INTERVALS_FORMAT:
                return _intervals_of(data)
            if str(data["format"]) != MEL_FORMAT:
                raise AlignmentError(path, f"not a {MEL_FORMAT} .npz file")
            fps = float(data["fps"])
            return MelConditioning(
                values=data["values"], mask=data["mask"], times=data["times"],
                sr=int(data["sr"]), hop_length=int(data["hop_length"]), n_fft=int(data["n_fft"]),
                center=bool(data["center"]), mode=str(data["mode"]),
                fps=None if np.isnan(fps) else fps,
                labels=tuple(str(x) for x in data["labels"]), preset=str(data["preset"]),
                video=str(data["video"]) or None, version=str(data["version"]),
                audio_start=float(data["audio_start"]) if "audio_start" in data else 0.0)
    except FileNotFoundError:
        raise AlignmentError(path, "file not found") from None
    except KeyError as e:
        raise AlignmentError(path, f"not a {MEL_FORMAT} .npz file (no {e.args[0]!r})") from None
    except (OSError, ValueError, TypeError) as e:
        raise AlignmentError(path, f"not a readable .npz file ({e})") from None

