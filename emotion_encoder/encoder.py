"""The public entry point: find faces in a video, read their expressions clip by clip.

The encoder holds only what a call does not change (the network, the face detector, the
defaults); every option can be given per call. Its three stages are public, so that a
caller can compose them and a benchmark can time each: :meth:`EmotionEncoder.face_clips`
(decode, detect and track the dominant face, cut windows), :meth:`EmotionEncoder.classify`
(the :class:`~emotion_encoder.clip_classifier.ClipClassifier` on the clips with a face) and
:func:`assemble_track` (the clips as an :class:`~emotion_encoder.timeline.EmotionTrack`).

>>> from emotion_encoder import EmotionEncoder
>>> from emotion_encoder.examples import write_example_video
>>> video = write_example_video("/tmp/emotion-encoder-doctest/example.mp4", seconds=2.0)
>>> enc = EmotionEncoder.from_preset("fast")
>>> result = enc.predict(video, stride=4)
>>> [(c.start, c.end) for c in result.clips], result.faces_found
([(0.0, 1.6), (0.4, 2.0)], True)
>>> track = enc.embed(video)             # the same clips as an EmotionTrack
>>> track.embeddings.shape, track.video_label == enc.predict(video).video_label
((2, 256), True)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, Callable, Iterable, Iterator, Literal

import numpy as np

from emotion_encoder.errors import ModelFileError, OptionError
from emotion_encoder.face_tracks import FaceTracks
from emotion_encoder.frames import FrameFeatures, sample_frames
from emotion_encoder.faces import (DetectorPool, DominantFaceTracker, FaceCrop, iter_face_crops,
                                   make_detector)
from emotion_encoder.faces.multi_tracking import MultiFaceTracker, iter_multi_face_crops
from emotion_encoder.faces.model_files import cache_dir
from emotion_encoder.faces.tracking import fill_gaps
from emotion_encoder.litert_classifier import (LiteRTClassifier, auto_backend, cached_graph,
                                               litert_installed)
from emotion_encoder.prefetch import prefetched
from emotion_encoder.results import Analysis, VideoPrediction
from emotion_encoder.sampling import pick, sliding_windows
from emotion_encoder.timeline import EmotionTrack, SampleMode
from emotion_encoder.tracks import TrackAssembler, note_cuts, window_faces
from emotion_encoder.video import VideoInfo, frame_times, open_source

Sampling = Literal["sliding", "fixed"]
VideoInput = "str | os.PathLike | np.ndarray | Iterable[np.ndarray]"


BACKENDS = ("auto", "keras", "litert", "litert-int8")
"""Where the network runs (:class:`EmotionEncoder`'s ``backend``)."""
KEYFRAMES = ("fixed", "adaptive")
"""Which sampled frames the face detector runs on (:class:`ClipOptions`' ``keyframes``)."""
SMALL_FACE_PX = 24
"""Faces narrower than this, in the pixels the network's crops are cut from (a video's
frames shrunk to 1280 px), get a warning: the labelled clips shrunk until their faces
were 24 px wide read as at full size; at 20 px one of eight changed its label, at 16 px
two (``benchmarks/footage_conditions.py``, MODEL_CARD)."""


@dataclass(frozen=True)
class ClipOptions:
    """How a call cuts a video into clips.

    Args:
        sample_fps: frames per second sampled for sliding windows.
        stride: sampled frames between the starts of consecutive sliding windows.
        detect_every: run the face detector on every k-th sampled frame and interpolate.
        min_face_ratio: share of a clip's frames that must show the face for a label.
        keyframes: ``"fixed"`` (every ``detect_every``-th frame) or ``"adaptive"``: every
            ``2 * detect_every``-th, and the one halfway between two of them only where
            the faces moved (:func:`~emotion_encoder.faces.ahead.keyframe_detections`).
    """

    sample_fps: float = 10.0
    stride: int = 8
    detect_every: int = 2
    min_face_ratio: float = 0.25
    keyframes: str = "fixed"

    def __post_init__(self) -> None:
        if not self.sample_fps > 0:
            raise OptionError(f"the sampled fps must be > 0, got {self.sample_fps:g}")
        if self.stride < 1 or self.detect_every < 1:
            raise OptionError(f"stride and detect-every must be at least 1, got stride "
                              f"{self.stride}, detect-every {self.detect_every}")
        if not 0.0 <= self.min_face_ratio <= 1.0:
            raise OptionError(f"min_face_ratio must be in [0, 1], got {self.min_face_ratio}")
        if self.keyframes not in KEYFRAMES:
            raise OptionError(f"keyframes must be one of {', '.join(KEYFRAMES)}, got "
                              f"{self.keyframes!r}")


@dataclass
class Clip:
    """One window of the dominant face's crops, before and after :meth:`classify`."""

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
        preset: a preset name (``"default"``, ``"fast"``, ``"paper"``) or a ``.keras`` path.
        detector: ``"blazeface"`` (full range), ``"blazeface-short"``, either on
            mediapipe's runtime (``"blazeface-mediapipe"``, ``"blazeface-short-mediapipe"``)
            or ``"mtcnn"`` (:func:`~emotion_encoder.faces.make_detector`).
        detector_threads: detector instances that find the faces of the next keyframes
            in threads while the tracker works (None: 2, or 1 on a 1-CPU machine); the
            boxes are the same for any count (:mod:`emotion_encoder.faces.ahead`).
        sample_fps, stride, detect_every, min_face_ratio, keyframes: the defaults of
            :class:`ClipOptions` (each call may override them).
        batch_size: clips per forward pass (at least the backend's ``clips_per_call``:
            on LiteRT the clips that give both of its interpreters a batch).
        mirror: also run each clip mirrored left-right and average the two outputs
            (both backends; off: ~1.9x the network's clips/s, outputs a little less
            accurate: README, Speed).
        overlap: decode and find faces in a background thread while the network runs
            (:mod:`emotion_encoder.prefetch`; same results, in the same order).
        backend: ``"keras"`` (TensorFlow, the model's source of truth; ~5 s to start,
            then about as fast as the float graph), ``"litert"`` (the graph exported from it,
            :mod:`emotion_encoder.litert_classifier`: no TensorFlow, so a process starts
            ~5 s sooner; ``emotion-encoder fetch-models --litert`` exports it once), or
            ``"litert-int8"``: the exported graph with int8 weights (~2.4x the float
            graph's clips/s; probabilities within ~0.01 of Keras, not 1e-4; every probe
            of the panel within 0.2 points: MODEL_CARD), or ``"auto"``: the int8 graph
            when exported and the interpreter installed, else the float one, else Keras
            (every CLI command uses it: no TensorFlow to start, and the network is most
            of a command's time: README, Speed). ``.keras`` files run on Keras.
    """

    def __init__(
        self,
        preset: str | os.PathLike = "default",
        *,
        detector: str = "blazeface",
        detector_threads: int | None = None,
        detect_every: int = 2,
        sample_fps: float = 10.0,
        stride: int = 8,
        min_face_ratio: float = 0.25,
        keyframes: str = "fixed",
        batch_size: int = 8,
        mirror: bool = True,
        overlap: bool = True,
        backend: str = "keras",
    ):
        if backend not in BACKENDS:
            raise OptionError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        graph = None
        chosen = auto_backend(str(preset), cache_dir()) if backend == "auto" else backend
        quantized = chosen == "litert-int8"
        if chosen != "keras" and litert_installed():
            graph = cached_graph(str(preset), cache_dir(), quantized)
        if backend.startswith("litert") and graph is None:
            why = ("pip install ai-edge-litert" if not litert_installed() else
                   f"no exported {'int8 ' if quantized else ''}graph for {str(preset)!r}: "
                   "run `emotion-encoder fetch-models --litert` once")
            raise ModelFileError(f"backend {backend!r}: {why}")
        if graph is not None:
            self.classifier = LiteRTClassifier(graph, str(preset), mirror=mirror)
            self.preprocessor = self.classifier.preprocessor
            self.preset, self.weights_trained = str(preset), True
        else:  # TensorFlow loads here, only on this backend
            from emotion_encoder.clip_classifier import ClipClassifier
            from emotion_encoder.models.loading import load_encoder_model

            loaded = load_encoder_model(preset)
            self.classifier = ClipClassifier(loaded.model, loaded.preprocessor, mirror)
            self.preprocessor = loaded.preprocessor
            self.preset = loaded.preset
            self.weights_trained = loaded.weights_trained
        self.backend = ("litert-int8" if quantized else "litert") if graph is not None \
            else "keras"
        self.labels = self.classifier.labels
        self.window = self.classifier.window
        self.defaults = ClipOptions(sample_fps, stride, detect_every, min_face_ratio,
                                    keyframes)
        self.detector_name = detector
        self.detector_threads = min(2, os.cpu_count() or 1) if detector_threads is None \
            else detector_threads
        if self.detector_threads < 1:
            raise OptionError(f"detector_threads must be >= 1, got {detector_threads}")
        self.batch_size = max(batch_size, self.classifier.clips_per_call)
        self.overlap = overlap
        self._detector = None

    @classmethod
    def from_preset(cls, preset: str | os.PathLike = "default", **kwargs: Any) -> "EmotionEncoder":
        """Same as ``EmotionEncoder(preset, **kwargs)``, in the keras-hub manner."""
        return cls(preset, **kwargs)

    @property
    def detector(self):
        """The face detector, created on first use (fetching its model file if needed): a
        :class:`~emotion_encoder.faces.ahead.DetectorPool` of ``detector_threads``."""
        if self._detector is None:
            name = self.detector_name
            self._detector = make_detector(name) if self.detector_threads == 1 else \
                DetectorPool(lambda: make_detector(name), self.detector_threads)
        return self._detector

    def options(self, **overrides: Any) -> ClipOptions:
        """The defaults with the options given (None: keep the default).

        >>> EmotionEncoder("fast").options(stride=4, sample_fps=None).stride
        4
        """
        return replace(self.defaults, **{k: v for k, v in overrides.items() if v is not None})

    def sampling_info(self, sampling: Sampling, options: ClipOptions) -> dict[str, Any]:
        """How the clips were cut, as recorded in every result (``sampling`` in the JSON)."""
        if sampling == "fixed":
            return {"mode": "fixed", "window": self.window}
        return {"mode": "sliding", "window": self.window, "stride": options.stride,
                "fps": options.sample_fps, "detector": self.detector_name,
                "detect_every": options.detect_every, "keyframes": options.keyframes}

    # ---------------------------------------------------------------- the calls

    def predict(self, video: VideoInput, fps: float | None = None,
                sampling: Sampling = "sliding", **options: Any) -> VideoPrediction:
        """Emotions of every clip and of the whole video.

        Args:
            video: a file path, a ``(n, h, w, 3)`` uint8 array, or an iterable of frames.
            fps: frame rate of an array or iterable (ignored for files).
            sampling: ``"sliding"`` windows over the video (timelines) or ``"fixed"``: one
                clip of frames evenly spaced over the whole video (the paper's protocol).
            options: any of :class:`ClipOptions` for this call (``sample_fps=``, ``stride=``,
                ``detect_every=``, ``min_face_ratio=``).
        """
        return self.analyze(video, fps, sampling, **options).prediction

    def embed(self, video: VideoInput, fps: float | None = None,
              sampling: Sampling = "sliding", **options: Any) -> EmotionTrack:
        """The clips' timeline with their fused embeddings ``(n_clips, d)``; same arguments
        as :meth:`predict` (it is ``predict(...).track``)."""
        return self.predict(video, fps, sampling, **options).track

    def frames(self, video: VideoInput, frame_fps: float | None = 25.0,
               mode: SampleMode = "linear", fps: float | None = None,
               **options: Any) -> FrameFeatures:
        """One row per video frame at ``frame_fps`` (None: the video's own frame rate):
        time, face flag, probabilities and embedding interpolated from the clips with
        ``mode`` (see :mod:`emotion_encoder.frames`). For a file the rows are exactly the
        frames ``ffmpeg -vf fps=FRAME_FPS`` extracts (:func:`~emotion_encoder.video.frame_times`);
        for an array or iterable (``fps``: its rate), ``round(duration * frame_fps)`` rows.
        ``options``: as for :meth:`predict`.

        >>> from emotion_encoder.examples import write_example_video
        >>> video = write_example_video("/tmp/emotion-encoder-doctest/frames.mp4", seconds=2.0)
        >>> rows = EmotionEncoder("fast").frames(video, frame_fps=25)
        >>> len(rows), rows.embeddings.shape[1], bool(rows.has_face.all())
        (50, 256, True)
        """
        prediction = self.predict(video, fps, **options)
        if isinstance(video, (str, os.PathLike)):
            times = frame_times(video, frame_fps)
        else:
            rate = frame_fps or prediction.fps
            times = np.arange(int(np.floor(prediction.duration * rate + 0.5))) / rate
        return sample_frames(prediction.track, times, frame_fps or prediction.fps, mode)

    def analyze(self, video: VideoInput, fps: float | None = None,
                sampling: Sampling = "sliding",
                progress: Callable[[FaceCrop], None] | None = None,
                **options: Any) -> Analysis:
        """:meth:`predict` with the tracked face box of every sampled frame.

        ``progress`` is called with every sampled frame's :class:`FaceCrop` (time, box) as
        the video streams by; the boxes also come back in ``Analysis.frame_boxes``.
        """
        opts = self.options(**options)
        boxes: list[tuple[float, tuple[float, float, float, float] | None]] = []

        def seen(frame: FaceCrop) -> None:
            boxes.append((float(frame.t), None if frame.box is None else
                          tuple(float(v) for v in frame.box[:4])))
            if progress is not None:
                progress(frame)

        source = open_source(video, fps=fps)
        info, clips = self.face_clips(source, fps, sampling, opts, on_frame=seen)
        done: list[Clip] = []
        for batch in _batched(self._ahead(clips), self.batch_size):
            self.classify(batch, opts)
            done.extend(batch)
        track = assemble_track(done, info, self, self.sampling_info(sampling, opts))
        small = small_face_warning([(box[2] - box[0]) / source.scale[0]
                                    for _, box in boxes if box is not None])
        return Analysis(VideoPrediction.of(track, info, [small] if small else []), tuple(boxes))

    def track(self, video: VideoInput, fps: float | None = None,
              faces: Literal["speaker", "all"] = "speaker", smooth: bool = True,
              **options: Any) -> FaceTracks:
        """Emotion timelines per face, the speaker's timeline and the shot cuts.

        Every face is tracked (one id per person and shot, see
        :mod:`emotion_encoder.faces.multi_tracking`); each sliding window's speaker is the
        face with visible mouth motion, else the largest (see :mod:`emotion_encoder.tracks`).
        The detector runs on every ``detect_every``-th frame and on every cut (``keyframes``
        does not apply: the result's ``sampling`` says ``"fixed"``). ``faces="speaker"``
        runs the network on the speaker's clips only; ``"all"`` on every face's and fills
        :attr:`FaceTracks.faces`. ``smooth``: HMM posteriors per shot
        (:mod:`emotion_encoder.smoothing`). No-face windows stay gaps. Frames are streamed.
        ``options``: as for :meth:`predict`.
        """
        if faces not in ("speaker", "all"):
            raise ValueError(f"faces must be 'speaker' or 'all', got {faces!r}")
        opts = self.options(**options)
        source = open_source(video, fps=fps)
        pre = self.preprocessor
        tracker = MultiFaceTracker(self.detector, detect_every=opts.detect_every)
        cuts: list[float] = []
        frames = note_cuts(iter_multi_face_crops(source.frames(opts.sample_fps), tracker,
                                                 pre.image_size, pre.face_margin,
                                                 pre.face_offset, scale=source.scale), cuts)
        step = 1.0 / min(opts.sample_fps, source.info.fps)
        windows = (window_faces(w, step, opts.min_face_ratio)
                   for w in sliding_windows(frames, self.window, opts.stride))
        sampling = dict(self.sampling_info("sliding", opts), faces=faces, smoothed=smooth,
                        keyframes="fixed")  # every face: every k-th frame and every cut
        assembler = TrackAssembler(self.labels, self.classifier.embedding_dim,
                                   self.classifier.attention_steps, self.preset,
                                   self.weights_trained, keep_faces=faces == "all",
                                   sampling=sampling)
        for batch in _batched(self._ahead(windows), self.batch_size):
            if faces == "all":
                todo = [c for w in batch for c in w.clips]
            else:
                todo = [w.speaker for w in batch if w.speaker is not None]
            self.classify(todo, opts)
            for window in batch:
                assembler.add(window)
        info = source.info
        result = assembler.result(info.path, info.duration, cuts, smooth)
        boxes = result.speaker_boxes[np.isfinite(result.speaker_boxes[:, 0])]
        small = small_face_warning((boxes[:, 2] - boxes[:, 0]) / source.scale[0])
        return replace(result, warnings=[small]) if small else result

    def _ahead(self, items: Iterator) -> Iterator:
        """``items`` produced in a background thread when ``overlap`` is on."""
        return prefetched(items, 2 * self.batch_size) if self.overlap else items

    # ---------------------------------------------------------------- the stages

    def face_clips(self, video: VideoInput, fps: float | None = None,
                   sampling: Sampling = "sliding", options: ClipOptions | None = None,
                   on_frame: Callable[[FaceCrop], None] | None = None
                   ) -> tuple[VideoInfo, Iterator[Clip]]:
        """Stage 1: the video's facts and its clips of the dominant face's crops, streamed
        (decoding, detection and tracking happen as the clips are drawn)."""
        if sampling not in ("sliding", "fixed"):
            raise ValueError(f"sampling must be 'sliding' or 'fixed', got {sampling!r}")
        opts = options or self.defaults
        source = open_source(video, fps=fps)
        info = source.info
        target_fps: float | None = opts.sample_fps
        if sampling == "fixed":  # 4 candidates per picked frame bound the memory
            target_fps = 4 * self.window / info.duration if info.duration > 0 else None
        pre = self.preprocessor
        tracker = DominantFaceTracker(self.detector, detect_every=opts.detect_every,
                                      adaptive=opts.keyframes == "adaptive")
        frames = iter_face_crops(source.frames(target_fps), tracker, pre.image_size,
                                 pre.face_margin, pre.face_offset, scale=source.scale)
        if on_frame is not None:
            frames = _observed(frames, on_frame)
        step = 1.0 / min(target_fps or info.fps, info.fps)  # sources never upsample

        def clips() -> Iterator[Clip]:
            if sampling == "fixed":
                chosen = list(frames)
                if chosen:
                    yield _clip(pick(chosen, self.window), 0.0, info.duration)
                return
            for window in sliding_windows(frames, self.window, opts.stride):
                end = window[-1].t + step
                yield _clip(window, window[0].t,
                            min(end, info.duration) if info.duration > 0 else end)

        return info, clips()

    def classify(self, clips: list, options: ClipOptions | None = None) -> None:
        """Stage 2: fill ``probs``, ``embedding`` and ``attention`` of the clips (``Clip``
        or a tracked face's clip) whose face shows in at least ``min_face_ratio`` of their
        frames; the others keep None (no face). Frames without the face take the nearest
        crop."""
        ratio = (options or self.defaults).min_face_ratio
        todo = [c for c in clips if c.face_ratio >= ratio]
        outputs = self.classifier([fill_gaps(c.frames) for c in todo])
        for i, clip in enumerate(todo):
            clip.probs = outputs["probs"][i]
            clip.embedding = outputs["embedding"][i]
            clip.attention = outputs["attention"][i]


def assemble_track(clips: list[Clip], info: VideoInfo, encoder: EmotionEncoder,
                   sampling: dict[str, Any]) -> EmotionTrack:
    """Stage 3: classified clips as the video's :class:`EmotionTrack` (zero rows where no
    face; each clip's median box and score over the frames that show the face)."""
    n = len(clips)
    probs = np.zeros((n, len(encoder.labels)), np.float32)
    embeddings = np.zeros((n, encoder.classifier.embedding_dim), np.float32)
    attention = np.zeros((n, encoder.classifier.attention_steps), np.float32)
    boxes, scores = np.full((n, 4), np.nan), np.zeros(n)
    padded = np.zeros(n, bool)
    for i, clip in enumerate(clips):
        seen = [f.box + (f.score or 0.0,) for f in clip.frames if f.box is not None]
        if seen:
            median = np.median(np.array(seen), axis=0)
            boxes[i], scores[i] = median[:4], median[4]
            padded[i] = any(f.padded for f in clip.frames if f.box is not None)
        if clip.probs is not None:
            probs[i], embeddings[i], attention[i] = clip.probs, clip.embedding, clip.attention
    return EmotionTrack([c.start for c in clips], [c.end for c in clips], embeddings,
                        has_face=[c.probs is not None for c in clips], probs=probs,
                        attention=attention, boxes=boxes, box_scores=scores, padded=padded,
                        clip_face_ratio=[c.face_ratio for c in clips], labels=encoder.labels,
                        video=info.path, preset=encoder.preset,
                        weights_trained=encoder.weights_trained, sampling=sampling)


def _clip(frames: list[FaceCrop], start: float, end: float) -> Clip:
    return Clip(start, end, frames, sum(f.crop is not None for f in frames) / len(frames))


def small_face_warning(widths: Iterable[float]) -> str | None:
    """The warning for faces ``widths`` px wide as read: None when there are none or their
    median is :data:`SMALL_FACE_PX` or more.

    >>> small_face_warning([18.4, 17.0, 30.0])
    'faces are 18 px wide as read (median): under 24 px the readings are unreliable'
    >>> small_face_warning([30.0]) is None, small_face_warning([]) is None
    (True, True)
    """
    widths = np.asarray(list(widths), float)
    width = float(np.median(widths)) if widths.size else np.inf
    if width >= SMALL_FACE_PX:
        return None
    return (f"faces are {width:.0f} px wide as read (median): under {SMALL_FACE_PX} px the "
            "readings are unreliable")


def _observed(frames: Iterator[FaceCrop], on_frame: Callable[[FaceCrop], None]
              ) -> Iterator[FaceCrop]:
    for frame in frames:
        on_frame(frame)
        yield frame


def _batched(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
