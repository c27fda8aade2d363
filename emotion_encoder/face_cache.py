"""Face crops of every sample of a :class:`Dataset`, detected once and cached on disk.

Videos are decoded at ``sample_fps``, the dominant face is tracked with the inference
detector and cut with the preprocessor's margin and offset, exactly as
:class:`EmotionEncoder` does at inference; image samples are detected the same way, or,
with ``detect=False``, taken as face crops already (FER2013, the cut-down CK+). Each
sample's crops go to ``cache/<key>.npy`` (written atomically); a sample with too little
face gets a ``<key>.skip`` note, so a rerun redoes nothing.

>>> faces = cache_faces(load_manifest("clips/train.csv"), "runs/ft/faces",
...                     image_size=48, channels=1)                     # doctest: +SKIP
>>> faces.sequences[0].shape, faces.label_names                       # doctest: +SKIP
((37, 48, 48, 1), ('anger', 'happiness', 'others'))
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from emotion_encoder.data.dataset import Dataset, Sample
from emotion_encoder.atomic import atomic_write, write_atomic
from emotion_encoder.errors import EmotionEncoderError, FileProblem
from emotion_encoder.faces import DominantFaceTracker, iter_face_crops, make_detector
from emotion_encoder.faces.tracking import fill_gaps
from emotion_encoder.models.preprocessor import fit_crop
from emotion_encoder.sampling import fixed_interval_indices
from emotion_encoder.video import iter_frames, probe_video, read_still

CACHE_VERSION = 4  # 2: "blazeface" runs on LiteRT (boxes within a pixel of version 1's);
# 3: small faces boxed from close-ups (SmallFaceZoom), video frames as shown (square pixels);
# 4: faces too small for the whole frame searched in its tiles (TiledSearch), covers skipped


@dataclass(frozen=True)
class CropSettings:
    """How faces are found and cut; part of every cache key."""

    image_size: int = 48
    channels: int = 1
    face_margin: float = 0.2
    face_offset: float = -0.05
    zoom: float = 1.0
    detect: bool = True
    detector: str = "blazeface"
    sample_fps: float = 10.0
    max_frames: int = 160
    min_face_ratio: float = 0.25

    @classmethod
    def of(cls, pre, **options) -> "CropSettings":
        """The crops a :class:`FacePreprocessor` expects (size, channels, framing, zoom);
        ``options`` set the other fields."""
        return cls(image_size=pre.image_size, channels=pre.channels, face_margin=pre.face_margin,
                   face_offset=pre.face_offset, zoom=pre.zoom, **options)


@dataclass
class FaceSequences:
    """Per-sample face crops ``(t, size, size, channels)`` uint8 with integer labels."""

    sequences: list[np.ndarray]
    labels: np.ndarray
    label_names: tuple[str, ...]
    samples: list[Sample]
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sequences)

    def select(self, indices) -> "FaceSequences":
        """The sequences at ``indices`` (same label space)."""
        indices = [int(i) for i in indices]
        return FaceSequences([self.sequences[i] for i in indices], self.labels[indices],
                             self.label_names, [self.samples[i] for i in indices])


def sample_name(sample: Sample) -> str:
    """A short readable name: the video or first frame, with the span if any."""
    where = sample.video if sample.video is not None else sample.frames[0]
    span = "" if sample.start is None and sample.end is None else \
        f" [{sample.start or 0:g}-{'' if sample.end is None else f'{sample.end:g}'} s]"
    return f"{where}{span}"


def cache_key(sample: Sample, settings: CropSettings) -> str:
    """A hash of the sample's files (path, size, mtime), span and the crop settings."""
    files = [sample.video] if sample.video is not None else list(sample.frames)
    stats = [(str(Path(f).resolve()), *_stat(f)) for f in files]
    text = json.dumps([CACHE_VERSION, stats, sample.start, sample.end, settings.__dict__],
                      sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _stat(path: Path) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, int(info.st_mtime)


def cache_faces(dataset: Dataset, cache: str | os.PathLike, settings: CropSettings | None = None,
                progress: bool = True, **overrides) -> FaceSequences:
    """Crops of every sample (cached in ``cache``); samples with too little face are left
    out and listed in ``skipped`` with the reason."""
    settings = settings or CropSettings()
    if overrides:
        settings = CropSettings(**{**settings.__dict__, **overrides})
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    tracker_factory = _TrackerFactory(settings)
    sequences, labels, kept, skipped = [], [], [], []
    try:
        for i, sample in enumerate(dataset):
            crops, reason = _cached(sample, cache, settings, tracker_factory)
            if crops is None:
                skipped.append((sample_name(sample), reason))
            else:
                sequences.append(crops)
                labels.append(dataset.labels.index(sample.label))
                kept.append(sample)
            if progress and (i + 1) % 200 == 0:
                print(f"faces: {i + 1}/{len(dataset)} samples", flush=True)
    finally:
        tracker_factory.close()
    if not sequences:
        raise EmotionEncoderError(f"{dataset.name}: no sample has a usable face "
                                  f"({len(skipped)} skipped, e.g. {skipped[:1]})")
    return FaceSequences(sequences, np.asarray(labels, np.int64), dataset.labels, kept, skipped)


def _cached(sample: Sample, cache: Path, settings: CropSettings, trackers: "_TrackerFactory"
            ) -> tuple[np.ndarray | None, str]:
    key = cache_key(sample, settings)
    array, note = cache / f"{key}.npy", cache / f"{key}.skip"
    if array.exists():
        return np.load(array), ""
    if note.exists():
        return None, note.read_text()
    tracker = trackers.tracker() if settings.detect else None  # detector errors end the run
    try:
        crops = _crops(sample, settings, tracker)
        reason = "" if crops is not None else "too little face"
    except FileProblem as error:  # this sample's video or image is unreadable: note it
        crops, reason = None, str(error)
    if crops is None:
        write_atomic(note, reason)
        return None, reason
    with atomic_write(array, "wb") as handle:
        np.save(handle, crops)
    return crops, ""



class _TrackerFactory:
    """One detector for the whole dataset (made on first use), a fresh tracker per sample."""

    def __init__(self, settings: CropSettings):
        self.settings = settings
        self._detector = None

    def tracker(self):
        if self._detector is None:
            self._detector = make_detector(self.settings.detector)
        return DominantFaceTracker(self._detector, detect_every=1)

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()


def _crops(sample: Sample, settings: CropSettings, tracker) -> np.ndarray | None:
    """The sample's crops, or None when too few frames show a face."""
    if tracker is None:
        frames = [read_still(path) for path in sample.frames] if sample.video is None else \
            [frame for _, frame in _video_frames(sample, settings)]
        return _shrink(np.stack([_to_model(f, settings) for f in frames]), settings)
    frames = ((0.04 * i, read_still(p)) for i, p in enumerate(sample.frames)) \
        if sample.video is None else _video_frames(sample, settings)
    found = list(iter_face_crops(frames, tracker, settings.image_size,
                                 settings.face_margin, settings.face_offset))
    have = [i for i, f in enumerate(found) if f.crop is not None]
    if not found or len(have) < settings.min_face_ratio * len(found):
        return None
    return _shrink(np.stack([_to_model(c, settings) for c in fill_gaps(found)]), settings)


def _shrink(crops: np.ndarray, settings: CropSettings) -> np.ndarray:
    """At most ``max_frames`` crops, evenly spaced."""
    if len(crops) <= settings.max_frames:
        return crops
    return crops[fixed_interval_indices(len(crops), settings.max_frames)]


def _to_model(rgb: np.ndarray, settings: CropSettings) -> np.ndarray:
    """An RGB image's central ``1 / zoom`` resized to the model's side, grey when the model is."""
    return fit_crop(rgb, settings.image_size, settings.channels, settings.zoom)


def _video_frames(sample: Sample, settings: CropSettings) -> Iterator[tuple[float, np.ndarray]]:
    """Frames of the sample's span at ``sample_fps`` (never upsampled); ffmpeg seeks to the
    span, so a clip deep inside a film costs only its own decoding."""
    native = probe_video(sample.video).fps
    fps = settings.sample_fps if settings.sample_fps < native else None
    return iter_frames(sample.video, fps=fps, start=sample.start or 0.0, end=sample.end)
