"""The public entry point: find faces in a video, read their expressions clip by clip.

>>> from emotion_encoder import EmotionEncoder
>>> enc = EmotionEncoder.from_preset("default")             # doctest: +SKIP
>>> result = enc.predict("clip.mp4")                         # doctest: +SKIP
>>> result.video_label, [(c.start, c.end, c.label) for c in result.clips]  # doctest: +SKIP
>>> emb = enc.embed("clip.mp4")                              # doctest: +SKIP
>>> emb.embeddings.shape, emb.starts, emb.ends               # doctest: +SKIP
>>> tracks = enc.track("scene.mp4", faces="all")             # doctest: +SKIP
>>> tracks.speaker, tracks.faces, tracks.cuts                # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Literal

import numpy as np

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import tensorflow as tf

from emotion_encoder.faces import DominantFaceTracker, FaceCrop, iter_face_crops, make_detector
from emotion_encoder.faces.tracking import fill_gaps
from emotion_encoder.faces.multi_tracking import MultiFaceTracker, iter_multi_face_crops
from emotion_encoder.models.emotion_classifier import mirror_averaged
from emotion_encoder.models.loading import LoadedModel, load_encoder_model
from emotion_encoder.results import (UNTRAINED_WARNING, Analysis, ClipEmbeddings, ClipPrediction,
                                     FaceBox, VideoPrediction)
from emotion_encoder.sampling import pick, sliding_windows
from emotion_encoder.tracks import FaceClip, TrackAssembler, note_cuts, window_faces
from emotion_encoder.video import VideoInfo, open_source
from v2c_bridge.faces import FaceTracks

Sampling = Literal["sliding", "fixed"]
VideoInput = "str | os.PathLike | np.ndarray | Iterable[np.ndarray]"


@dataclass
class _Clip:
    """One window of frames, before and after inference."""

    start: float
    end: float
    frames: list[FaceCrop]
    face_ratio: float
    probs: np.ndarray | None = None
    embedding: np.ndarray | None = None
    attention: np.ndarray | None = None


class EmotionEncoder:
    """Per-clip emotions and fused embeddings for the dominant face of a video.

    Args:
        preset: a preset name (``"default"``, ``"paper"``) or a path to a ``.keras`` model.
        detector: ``"blazeface"`` (full range), ``"blazeface-short"`` or ``"mtcnn"``.
        detect_every: run the face detector on every k-th sampled frame and interpolate.
        sample_fps: frames per second sampled for sliding windows.
        stride: frames between the starts of consecutive sliding windows.
        min_face_ratio: share of a clip's frames that must show the face for a label.
        batch_size: clips per forward pass.
        mirror: also run each clip mirrored left-right and average the two outputs
            (+1.4 points on FER2013 at half the network's speed).
    """

    def __init__(
        self,
        preset: str | os.PathLike = "default",
        *,
        detector: str = "blazeface",
        detect_every: int = 2,
        sample_fps: float = 10.0,
        stride: int = 8,
        min_face_ratio: float = 0.25,
        batch_size: int = 8,
        mirror: bool = True,
    ):
        loaded: LoadedModel = load_encoder_model(preset)
        self.model = loaded.model
        self.preprocessor = loaded.preprocessor
        self.preset = loaded.preset
        self.weights_trained = loaded.weights_trained
        self.labels: tuple[str, ...] = tuple(self.model.labels)
        self.window = int(self.model.backbone.num_frames)
        self.detector_name = detector
        self.detect_every = detect_every
        self.sample_fps = sample_fps
        self.stride = stride
        self.min_face_ratio = min_face_ratio
        self.batch_size = batch_size
        self.mirror = mirror
        self._detector = None
        shape = (None,) + tuple(self.model.input_shape[1:])
        forward = lambda x: self.model(x, training=False)  # noqa: E731
        self._forward = tf.function(mirror_averaged(forward) if mirror else forward,
                                    input_signature=[tf.TensorSpec(shape, tf.float32)])

    @classmethod
    def from_preset(cls, preset: str | os.PathLike = "default", **kwargs: Any) -> "EmotionEncoder":
        """Same as ``EmotionEncoder(preset, **kwargs)``, in the keras-hub manner."""
        return cls(preset, **kwargs)

    @property
    def detector(self):
        """The face detector, created on first use (fetching its model file if needed)."""
        if self._detector is None:
            self._detector = make_detector(self.detector_name)
        return self._detector

    def predict(self, video: VideoInput, fps: float | None = None,
                sampling: Sampling = "sliding") -> VideoPrediction:
        """Emotions of every clip and of the whole video.

        Args:
            video: a file path, a ``(n, h, w, 3)`` uint8 array, or an iterable of frames.
            fps: frame rate of an array or iterable (ignored for files).
            sampling: ``"sliding"`` windows over the video (timelines) or ``"fixed"``: one
                clip of frames evenly spaced over the whole video (the paper's protocol).
        """
        return self._prediction(*self._encode(video, fps, sampling), sampling)

    def embed(self, video: VideoInput, fps: float | None = None,
              sampling: Sampling = "sliding") -> ClipEmbeddings:
        """Fused embeddings ``(n_clips, d)`` with clip times; same arguments as :meth:`predict`."""
        return self._embeddings(*self._encode(video, fps, sampling))

    def analyze(self, video: VideoInput, fps: float | None = None,
                sampling: Sampling = "sliding",
                progress: Callable[[FaceCrop], None] | None = None) -> Analysis:
        """:meth:`predict` and :meth:`embed` from one decoding and one network pass.

        ``progress`` is called with every sampled frame's :class:`FaceCrop` (time, box) as
        the video streams by; the boxes also come back in ``Analysis.frame_boxes``.

        >>> out = EmotionEncoder().analyze("clip.mp4", progress=lambda f: print(f.t))  # doctest: +SKIP
        >>> out.prediction.video_label, out.embeddings.embeddings.shape                  # doctest: +SKIP
        """
        boxes: list[tuple[float, tuple[float, float, float, float] | None]] = []

        def seen(frame: FaceCrop) -> None:
            boxes.append((float(frame.t), None if frame.box is None else
                          tuple(float(v) for v in frame.box[:4])))
            if progress is not None:
                progress(frame)

        info, clips = self._encode(video, fps, sampling, seen)
        return Analysis(self._prediction(info, clips, sampling), self._embeddings(info, clips),
                        tuple(boxes))

    def track(self, video: VideoInput, fps: float | None = None,
              faces: Literal["speaker", "all"] = "speaker", smooth: bool = True) -> FaceTracks:
        """Emotion timelines per face, the speaker's timeline and the shot cuts.

        Every face is tracked (one id per person and shot, see
        :mod:`emotion_encoder.faces.multi_tracking`); each sliding window's speaker is the
        face with visible mouth motion, else the largest (see :mod:`emotion_encoder.tracks`).
        ``faces="speaker"`` runs the network on the speaker's clips only; ``"all"`` on every
        face's and fills :attr:`FaceTracks.faces`. ``smooth``: HMM posteriors per shot
        (:mod:`v2c_bridge.smoothing`). No-face windows stay gaps. Frames are streamed.

        >>> tracks = EmotionEncoder().track("scene.mp4", faces="all")   # doctest: +SKIP
        >>> tracks.speaker.clip_labels[:3], tracks.cuts                 # doctest: +SKIP
        """
        if faces not in ("speaker", "all"):
            raise ValueError(f"faces must be 'speaker' or 'all', got {faces!r}")
        source = open_source(video, fps=fps)
        pre = self.preprocessor
        tracker = MultiFaceTracker(self.detector, detect_every=self.detect_every)
        cuts: list[float] = []
        frames = note_cuts(iter_multi_face_crops(source.frames(self.sample_fps), tracker,
                                                 pre.image_size, pre.face_margin,
                                                 pre.face_offset), cuts)
        step = 1.0 / min(self.sample_fps, source.info.fps)
        windows = (window_faces(w, step, self.min_face_ratio)
                   for w in sliding_windows(frames, self.window, self.stride))
        assembler = TrackAssembler(self.labels, int(self.model.embedding_dim),
                                   int(self.model.output["attention"].shape[-1]), self.preset,
                                   self.weights_trained, keep_faces=faces == "all")
        for batch in _batched(windows, self.batch_size):
            if faces == "all":
                todo = [c for w in batch for c in w.clips if c.face_ratio >= self.min_face_ratio]
            else:
                todo = [w.speaker for w in batch if w.speaker is not None]
            self._infer(todo)
            for window in batch:
                assembler.add(window)
        info = source.info
        return assembler.result(info.path, info.duration, cuts, smooth)

    def _encode(self, video: VideoInput, fps: float | None, sampling: Sampling,
                on_frame: Callable[[FaceCrop], None] | None = None
                ) -> tuple[VideoInfo, list[_Clip]]:
        if sampling not in ("sliding", "fixed"):
            raise ValueError(f"sampling must be 'sliding' or 'fixed', got {sampling!r}")
        source = open_source(video, fps=fps)
        target_fps = self.sample_fps
        if sampling == "fixed":  # 4 candidates per picked frame bound the memory
            duration = source.info.duration
            target_fps = 4 * self.window / duration if duration > 0 else None
        frames = self._face_frames(source.frames(target_fps))
        if on_frame is not None:
            frames = _observed(frames, on_frame)
        if sampling == "fixed":
            windows: Iterable[list[FaceCrop]] = [pick(list(frames), self.window)]
        else:
            windows = sliding_windows(frames, self.window, self.stride)
        step = 1.0 / min(target_fps or source.info.fps, source.info.fps)  # sources never upsample
        clips: list[_Clip] = []
        for batch in _batched((self._clip(w, step) for w in windows), self.batch_size):
            self._infer([c for c in batch if c.face_ratio >= self.min_face_ratio])
            clips.extend(batch)
        info = source.info
        if sampling == "fixed" and clips:
            clips[0].start, clips[0].end = 0.0, info.duration
        for clip in clips:
            clip.end = min(clip.end, info.duration) if info.duration > 0 else clip.end
        return info, clips

    def _prediction(self, info: VideoInfo, clips: list[_Clip],
                    sampling: Sampling) -> VideoPrediction:
        predictions = [self._clip_prediction(clip) for clip in clips]
        weights = np.array([c.face_ratio if c.probs is not None else 0.0 for c in clips])
        video_label = video_probs = None
        warnings = [] if self.weights_trained else [UNTRAINED_WARNING]
        if weights.sum() > 0:
            mean = sum(w * c.probs for w, c in zip(weights, clips) if w > 0) / weights.sum()
            video_label = self.labels[int(np.argmax(mean))]
            video_probs = {label: float(p) for label, p in zip(self.labels, mean)}
        else:
            warnings.append("no face found in any clip")
        return VideoPrediction(
            video=info.path, duration=info.duration, fps=info.fps, n_frames=info.n_frames,
            width=info.width, height=info.height, labels=self.labels,
            video_label=video_label, video_probs=video_probs, clips=predictions,
            preset=self.preset, weights_trained=self.weights_trained,
            sampling=self._sampling_dict(sampling), warnings=warnings)

    def _embeddings(self, info: VideoInfo, clips: list[_Clip]) -> ClipEmbeddings:
        dim = int(self.model.embedding_dim)
        steps = int(self.model.output["attention"].shape[-1])
        zeros = {"embedding": np.zeros(dim, np.float32),
                 "probs": np.zeros(len(self.labels), np.float32),
                 "attention": np.zeros(steps, np.float32)}

        def stack(key: str) -> np.ndarray:
            rows = [getattr(c, key) if c.probs is not None else zeros[key] for c in clips]
            return np.stack(rows).astype(np.float32) if rows else np.zeros((0, zeros[key].size),
                                                                             np.float32)

        return ClipEmbeddings(
            video=info.path, embeddings=stack("embedding"),
            starts=np.array([c.start for c in clips], np.float64),
            ends=np.array([c.end for c in clips], np.float64),
            has_face=np.array([c.probs is not None for c in clips], bool),
            probs=stack("probs"), attention=stack("attention"), labels=self.labels,
            preset=self.preset, weights_trained=self.weights_trained)

    def _face_frames(self, frames: Iterator[tuple[float, np.ndarray]]) -> Iterator[FaceCrop]:
        pre = self.preprocessor
        tracker = DominantFaceTracker(self.detector, detect_every=self.detect_every)
        return iter_face_crops(frames, tracker, pre.image_size, pre.face_margin, pre.face_offset)

    def _clip(self, frames: list[FaceCrop], step: float) -> _Clip:
        seen = sum(f.crop is not None for f in frames)
        return _Clip(frames[0].t, frames[-1].t + step, frames, seen / len(frames))

    def _infer(self, clips: list[_Clip] | list[FaceClip]) -> None:
        if not clips:
            return
        batch = np.stack([self.preprocessor(np.stack(fill_gaps(c.frames))) for c in clips])
        outputs = {k: v.numpy() for k, v in self._forward(tf.constant(batch)).items()}
        for i, clip in enumerate(clips):
            clip.probs = outputs["probs"][i]
            clip.embedding = outputs["embedding"][i]
            clip.attention = outputs["attention"][i]

    def _clip_prediction(self, clip: _Clip) -> ClipPrediction:
        boxes = [f.box + (f.score or 0.0,) for f in clip.frames if f.box is not None]
        padded = any(f.padded for f in clip.frames if f.box is not None)
        face = FaceBox(*np.median(np.array(boxes), axis=0), padded=padded) if boxes else None
        if clip.probs is None:
            return ClipPrediction(clip.start, clip.end, None, None, None, face, clip.face_ratio)
        best = int(np.argmax(clip.probs))
        return ClipPrediction(clip.start, clip.end, self.labels[best], float(clip.probs[best]),
                              {k: float(p) for k, p in zip(self.labels, clip.probs)}, face,
                              clip.face_ratio)

    def _sampling_dict(self, sampling: Sampling) -> dict[str, Any]:
        if sampling == "fixed":
            return {"mode": "fixed", "window": self.window}
        return {"mode": "sliding", "window": self.window, "stride": self.stride,
                "fps": self.sample_fps, "detector": self.detector_name,
                "detect_every": self.detect_every}


def _observed(frames: Iterator[FaceCrop], on_frame: Callable[[FaceCrop], None]
              ) -> Iterator[FaceCrop]:
    for frame in frames:
        on_frame(frame)
        yield frame


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
