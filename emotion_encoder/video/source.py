"""One interface over the three kinds of video the public API accepts.

* a path to a video file (str or PathLike): frames are streamed by ffmpeg; a still image
  (JPEG, PNG, BMP, TIFF, WebP: :mod:`emotion_encoder.video.still`) is a one-frame video;
* a numpy array of frames, ``(N, H, W, 3)`` uint8 RGB, float RGB in [0, 1], or grey
  ``(N, H, W)``, with its ``fps``;
* any iterable of such frames (``(H, W, 3)`` or ``(H, W)``), with its ``fps``.

>>> src = open_source(np.zeros((50, 64, 64, 3), np.uint8), fps=25)
>>> src.info.n_frames, src.info.duration
(50, 2.0)
>>> [round(t, 2) for t, _ in src.frames(target_fps=5)]
[0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8]
"""

from __future__ import annotations

import itertools
import math
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sized
from dataclasses import replace

import numpy as np

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.media import is_image
from emotion_encoder.video.reader import VideoInfo, iter_frames, probe_video, scaled_size
from emotion_encoder.video.still import STILL_FPS, probe_still, read_still, still_info

Frames = Iterator[tuple[float, np.ndarray]]


def as_rgb_uint8(frame: np.ndarray) -> np.ndarray:
    """One frame as RGB uint8 ``HxWx3``, from uint8 RGB, float RGB in [0, 1] or grey ``HxW``.

    >>> as_rgb_uint8(np.full((2, 2), 0.5)).tolist()[0][0]
    [128, 128, 128]
    """
    a = np.asarray(frame)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] != 3 or 0 in a.shape:
        raise EmotionEncoderError(f"a frame must be HxWx3 RGB or HxW grey, got shape {np.shape(frame)}")
    if a.dtype == np.uint8:
        return a
    if not np.issubdtype(a.dtype, np.floating):
        raise EmotionEncoderError(f"frames must be uint8 or float in [0, 1], got dtype {a.dtype}")
    _check_unit_range(a)
    return np.rint(a * 255.0).astype(np.uint8)


def _check_unit_range(a: np.ndarray) -> None:
    lo, hi = float(np.min(a)), float(np.max(a))
    if not (lo >= 0.0 and hi <= 1.0):  # also rejects NaN
        raise EmotionEncoderError(f"float frames must lie in [0, 1], got values in [{lo:.3g}, {hi:.3g}]")


def _check_fps(fps: float | None, kind: str) -> float:
    if fps is None:
        raise EmotionEncoderError(f"fps is required for {kind}: pass fps=<frames per second>")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise EmotionEncoderError(f"fps must be a positive number, got {fps!r}")
    return float(fps)


def subsample(frames: Iterable[np.ndarray], fps: float, target_fps: float | None) -> Frames:
    """``(i / fps, frame)`` pairs, keeping the first frame at or after each tick of ``target_fps``.

    No frame is repeated: a ``target_fps`` at or above ``fps`` keeps every frame.

    >>> [t for t, _ in subsample(range(10), 10, 4)]
    [0.0, 0.3, 0.5, 0.8]
    """
    tick = 0
    for i, frame in enumerate(frames):
        t = i / fps
        if target_fps is None or target_fps >= fps:
            yield t, frame
        elif i * target_fps >= tick * fps - 1e-9:
            yield t, frame
            tick = math.floor(i * target_fps / fps + 1e-9) + 1


class FrameSource(ABC):
    """Frames with their times (seconds) and a :class:`VideoInfo`."""

    @property
    @abstractmethod
    def info(self) -> VideoInfo:
        """Frame rate, length and frame size of the source."""

    @abstractmethod
    def frames(self, target_fps: float | None = None) -> Frames:
        """Yield ``(t, rgb_uint8_HxWx3)``; with ``target_fps`` fewer frames (never more)."""

    @property
    def scale(self) -> tuple[float, float]:
        """``(sx, sy)``: pixels of the source's own frames (``info``'s size) per pixel of
        the frames yielded; ``(1.0, 1.0)`` unless they come out shrunk."""
        return 1.0, 1.0


class FileSource(FrameSource):
    """A video file, streamed by ffmpeg and shrunk to ``max_side``.

    ``info`` describes the file (its own width and height); frames larger than
    ``max_side`` come out smaller. With ``target_fps`` below the file's rate, ffmpeg's
    fps filter picks the frames and frame ``i`` is at ``i / target_fps``.
    """

    def __init__(self, path: str | os.PathLike, max_side: int | None = 1280):
        self._info = probe_video(path)
        self.max_side = max_side

    @property
    def info(self) -> VideoInfo:
        return self._info

    @property
    def scale(self) -> tuple[float, float]:
        width, height = scaled_size(self._info.width, self._info.height, self.max_side)
        return self._info.width / width, self._info.height / height

    def frames(self, target_fps: float | None = None) -> Frames:
        fps = target_fps if target_fps is not None and target_fps < self._info.fps else None
        return iter_frames(self._info.path, fps=fps, max_side=self.max_side)


class StillSource(FrameSource):
    """A still image file: one frame at time 0, read once (:func:`read_still`) and kept
    whole (``max_side`` is for a video's stream of frames; a still is read as the dataset
    loaders read it)."""

    def __init__(self, path: str | os.PathLike):
        self._frame = read_still(path)
        self._info = still_info(path, self._frame)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def frames(self, target_fps: float | None = None) -> Frames:
        yield 0.0, self._frame


def probe_file(path: str | os.PathLike) -> VideoInfo:
    """:func:`probe_video` of a video file, :func:`probe_still` of an image (by suffix)."""
    return probe_still(path) if is_image(path) else probe_video(path)


class ArraySource(FrameSource):
    """Frames held in one numpy array; everything about them is known up front."""

    def __init__(self, frames: np.ndarray, fps: float | None):
        self.fps = _check_fps(fps, "a frame array")
        if frames.ndim not in (3, 4) or (frames.ndim == 4 and frames.shape[-1] != 3):
            raise EmotionEncoderError(
                f"a frame array must be (N, H, W, 3) RGB or (N, H, W) grey, got shape {frames.shape}")
        if len(frames) == 0:
            raise EmotionEncoderError("the frame array holds no frames")
        if np.issubdtype(frames.dtype, np.floating):
            _check_unit_range(frames)
        elif frames.dtype != np.uint8:
            raise EmotionEncoderError(f"frames must be uint8 or float in [0, 1], got dtype {frames.dtype}")
        self._frames = frames
        n, h, w = frames.shape[:3]
        self._info = VideoInfo(None, self.fps, n / self.fps, n, w, h)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def frames(self, target_fps: float | None = None) -> Frames:
        for t, frame in subsample(self._frames, self.fps, target_fps):
            yield t, as_rgb_uint8(frame)


class IterableSource(FrameSource):
    """Frames from any iterable. The first frame is read on opening (for the size).

    ``info.n_frames``/``info.duration`` are exact up front when the iterable has a
    ``len()``; otherwise they are 0 until one full pass of :meth:`frames` has counted
    them. A one-shot iterator (e.g. a generator) can be passed through only once.
    """

    def __init__(self, frames: Iterable[np.ndarray], fps: float | None):
        self.fps = _check_fps(fps, "a frame iterable")
        self._frames = frames
        self._one_shot = iter(frames) is frames
        self._used = False
        first = next(iter(frames), None)
        if first is None:
            raise EmotionEncoderError("the frame iterable yields no frames")
        self._first = as_rgb_uint8(first)
        h, w = self._first.shape[:2]
        n = len(frames) if isinstance(frames, Sized) else 0
        self._info = VideoInfo(None, self.fps, n / self.fps, n, w, h)

    @property
    def info(self) -> VideoInfo:
        return self._info

    def frames(self, target_fps: float | None = None) -> Frames:
        if self._one_shot:
            if self._used:
                raise EmotionEncoderError(
                    "this frame iterator was already read; pass a list or an array to read it twice")
            self._used = True
            frames = itertools.chain([self._first], self._frames)
        else:
            frames = iter(self._frames)
        count = 0

        def counting() -> Iterator[np.ndarray]:
            nonlocal count
            for frame in frames:
                count += 1
                yield frame

        for t, frame in subsample(counting(), self.fps, target_fps):
            yield t, as_rgb_uint8(frame)
        self._info = replace(self._info, n_frames=count, duration=count / self.fps)


def open_source(video: str | os.PathLike | np.ndarray | Iterable[np.ndarray] | FrameSource,
                fps: float | None = None, max_side: int | None = 1280) -> FrameSource:
    """Wrap a path, a frame array or a frame iterable as a :class:`FrameSource`.

    ``fps`` is required for arrays and iterables and ignored for files (their own rate
    counts); one RGB image ``(H, W, 3)`` (or a PIL image) is a one-frame video (``fps``
    optional, as a still file). ``max_side`` shrinks the frames of video files only.

    >>> open_source(np.zeros((32, 24, 3), np.uint8)).info.n_frames
    1
    >>> open_source(np.zeros((3, 8, 8)))
    Traceback (most recent call last):
    emotion_encoder.errors.EmotionEncoderError: fps is required for a frame array: pass fps=<frames per second>
    """
    if isinstance(video, FrameSource):
        return video
    if isinstance(video, (str, os.PathLike)):
        return StillSource(video) if is_image(video) else FileSource(video, max_side)
    if type(video).__module__.startswith("PIL.") and hasattr(video, "convert"):
        video = np.asarray(video.convert("RGB"))  # a PIL image: one RGB image
    if isinstance(video, np.ndarray) and video.ndim == 3 and video.shape[-1] == 3:
        return ArraySource(video[None], STILL_FPS if fps is None else fps)  # one RGB image
    if isinstance(video, np.ndarray):
        return ArraySource(video, fps)
    if isinstance(video, Iterable):
        return IterableSource(video, fps)
    raise EmotionEncoderError(
        f"cannot read a video from {type(video).__name__}: pass a path, an array or an iterable of frames")
