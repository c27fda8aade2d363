"""Face detectors with one contract: ``detect(rgb_frame) -> [FaceDetection]``, best first.

* :class:`~emotion_encoder.faces.blazeface_litert.LiteRTBlazeFace` - MediaPipe's BlazeFace
  models on the LiteRT interpreter (the default, "blazeface"): about 2 ms (short range)
  or 5 ms (full range) per frame on one CPU core, ready in ~30 ms.
* :class:`BlazeFaceDetector` - the same models through the mediapipe 1.x Tasks API (the
  reference, "blazeface-mediapipe"): ~0.9 ms more CPU per frame and ~0.9 s to start.
* :class:`MTCNNDetector` - MTCNN, the detector of the paper; about 0.2-0.5 s per frame.

>>> with make_detector("blazeface") as detector:                # doctest: +SKIP
...     faces = detector.detect(frame)
>>> faces[0].box, faces[0].score                                # doctest: +SKIP
((172.0, 68.0, 275.0, 171.0), 0.91)
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import threading
import types
import weakref
from dataclasses import dataclass
from typing import IO, Iterator, Protocol

import cv2
import numpy as np

from emotion_encoder._runtime import native_stderr_to  # (must precede TensorFlow / mtcnn)
from emotion_encoder.errors import EmotionEncoderError, ModelFileError
from emotion_encoder.faces.model_files import model_path as find_model
from emotion_encoder.video.source import as_rgb_uint8

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class FaceDetection:
    """A face box ``(x0, y0, x1, y1)`` in pixels (may reach past the frame edge) and a score.

    >>> a = FaceDetection((0, 0, 10, 10), 0.9)
    >>> a.area, a.center, a.iou(FaceDetection((5, 0, 15, 10), 0.8))
    (100.0, (5.0, 5.0), 0.3333333333333333)
    """

    box: Box
    score: float
    padded: bool = False
    """True when the face was found only after padding the frame (a tight face crop)."""

    @property
    def width(self) -> float:
        return float(self.box[2] - self.box[0])

    @property
    def height(self) -> float:
        return float(self.box[3] - self.box[1])

    @property
    def area(self) -> float:
        return max(0.0, self.width) * max(0.0, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return 0.5 * (self.box[0] + self.box[2]), 0.5 * (self.box[1] + self.box[3])

    def iou(self, other: "FaceDetection") -> float:
        """Intersection over union of the two boxes (0 when disjoint)."""
        return box_iou(self.box, other.box)


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


class Detector(Protocol):
    """What the tracker needs from a face detector."""

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]: ...

    def close(self) -> None: ...


class _Closing:
    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the model."""


def _close_quietly(task) -> None:
    with tempfile.TemporaryFile() as log, native_stderr_to(log):
        task.close()


_OPEN: "weakref.WeakSet[BlazeFaceDetector]" = weakref.WeakSet()
_exit_hook_registered = False


def _close_open_detectors() -> None:
    for detector in list(_OPEN):
        detector.close()


def _close_at_exit(detector: "BlazeFaceDetector") -> None:
    """Close ``detector`` at interpreter exit while mediapipe's worker thread still runs.

    mediapipe runs its C calls on a ThreadPoolExecutor, which Python shuts down before
    ``atexit`` handlers; a task left open then fails noisily in ``__del__``. Hooks of
    ``threading._register_atexit`` run earlier, latest first, so registering after
    mediapipe (and concurrent.futures) is imported puts ours ahead of that shutdown.
    """
    global _exit_hook_registered
    if not _exit_hook_registered:
        threading._register_atexit(_close_open_detectors)
        _exit_hook_registered = True
    _OPEN.add(detector)


def _discard(task) -> None:
    """Close a task whose graph failed. mediapipe's ``close`` re-raises the graph's error
    and would retry (noisily) from ``__del__`` at exit, so mark the task closed."""
    try:
        task.close()
    except Exception:
        task._handle = None  # mediapipe's own "closed" marker


def _last_line(log: IO[bytes]) -> str:
    log.seek(0)
    lines = [line.strip() for line in log.read().decode("utf-8", "replace").splitlines()]
    return next((line for line in reversed(lines) if line), "no details")


BLAZEFACE_MODELS = {"short": "blazeface_short", "full": "blazeface_full"}


def blazeface_file(model: str, model_path: str | os.PathLike | None = None) -> str:
    """The ``.tflite`` file of BlazeFace ``model`` ("short" or "full"): ``model_path`` if
    given, else the cached one (fetched if needed); for both runtimes.

    >>> blazeface_file("medium")
    Traceback (most recent call last):
    emotion_encoder.errors.EmotionEncoderError: unknown BlazeFace model 'medium'; choose 'short' or 'full'
    """
    if model not in BLAZEFACE_MODELS:
        raise EmotionEncoderError(f"unknown BlazeFace model {model!r}; choose 'short' or 'full'")
    path = os.fspath(model_path) if model_path is not None else \
        str(find_model(BLAZEFACE_MODELS[model]))
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: BlazeFace model file not found")
    return path


@contextlib.contextmanager
def mediapipe_without_tensorflow() -> Iterator[None]:
    """Import MediaPipe without TensorFlow: its tasks import
    ``tensorflow.tools.docs.doc_controls`` only to mark functions undocumented, which loads
    all of TensorFlow (~5 s) when it is installed. While TensorFlow is not loaded, that one
    import is answered with MediaPipe's own no-op, which is forgotten afterwards (a later
    real ``import tensorflow`` is untouched).

    >>> import sys
    >>> with mediapipe_without_tensorflow():
    ...     import mediapipe
    >>> "tensorflow.tools.docs" in sys.modules and "tensorflow" not in sys.modules
    False
    """
    name = "tensorflow.tools.docs"
    if "tensorflow" in sys.modules or name in sys.modules:
        yield
        return
    stub = types.ModuleType(name)
    stub.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
    sys.modules[name] = stub
    try:
        yield
    finally:
        if sys.modules.get(name) is stub:
            del sys.modules[name]


class BlazeFaceDetector(_Closing):
    """MediaPipe BlazeFace in IMAGE mode; ``model`` is "full" (default) or "short".

    "full" is the full-range sparse model (192x192 input). It loads and works in the
    Tasks ``FaceDetector`` of mediapipe 1.x (LiteRT warns that sparse tensors "may not
    be fully supported", yet boxes are right): it finds 48-px faces in a 640x480 frame
    that "short" misses, and faces in 100% of sampled frames of a stage shot with several
    small faces where "short" finds 74%. Its boxes are a little taller (they reach the
    hairline); it costs ~5 ms instead of ~2 ms per frame. Movie shots often show small
    faces, hence the default. "short" (128x128 input) suits close-ups and webcam clips.

    >>> with BlazeFaceDetector("short") as det:                      # doctest: +SKIP
    ...     det.detect(astronaut)[0].score
    0.92
    """

    def __init__(self, model: str = "full", min_score: float = 0.5,
                 model_path: str | os.PathLike | None = None):
        path = blazeface_file(model, model_path)
        with mediapipe_without_tensorflow():
            import mediapipe as mp
            from mediapipe.tasks.python import vision
            from mediapipe.tasks.python.core.base_options import BaseOptions

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_path=path),
            running_mode=vision.RunningMode.IMAGE,
            min_detection_confidence=min_score)
        blank = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.zeros((64, 64, 3), np.uint8))
        task = None
        with tempfile.TemporaryFile() as log, native_stderr_to(log):
            try:
                task = vision.FaceDetector.create_from_options(options)
                # A first detection proves the model fits the graph, and spends the
                # one-off LiteRT memory-alignment warning while stderr is redirected.
                task.detect(blank)
            except Exception as exc:  # a corrupt or foreign .tflite; the C++ log says why
                if task is not None:
                    _discard(task)
                lines = str(exc).strip().splitlines()
                reason = lines[-1].strip() if lines else _last_line(log)
                raise ModelFileError(f"{path}: not a usable BlazeFace model ({reason})") from None
        self._detector = task
        self._finalizer = weakref.finalize(self, _close_quietly, task)
        self._finalizer.atexit = False  # too late then; _close_at_exit does it
        _close_at_exit(self)
        self.model = model
        self.model_path = path
        self.min_score = min_score

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame (uint8 HxWx3; grey/float frames are converted)."""
        import mediapipe as mp

        if not self._finalizer.alive:
            raise EmotionEncoderError("BlazeFaceDetector is closed")
        image = mp.Image(image_format=mp.ImageFormat.SRGB,
                         data=np.ascontiguousarray(as_rgb_uint8(frame_rgb)))
        faces = []
        for det in self._detector.detect(image).detections:
            b = det.bounding_box
            score = float(det.categories[0].score) if det.categories else 0.0
            if score >= self.min_score:
                box = (float(b.origin_x), float(b.origin_y),
                       float(b.origin_x + b.width), float(b.origin_y + b.height))
                faces.append(FaceDetection(box, score))
        return sorted(faces, key=lambda f: -f.score)

    def close(self) -> None:
        self._finalizer()


class MTCNNDetector(_Closing):
    """MTCNN (Zhang et al. 2016) from the ``mtcnn`` package, on TensorFlow; slow but sure.

    >>> MTCNNDetector().detect(astronaut)[0].score                   # doctest: +SKIP
    0.999
    """

    MIN_SIDE = 24  # MTCNN's smallest pyramid level needs a few 12-px cells

    def __init__(self, min_score: float = 0.9):
        from mtcnn import MTCNN

        self._mtcnn = MTCNN()
        self.min_score = min_score

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame (uint8 HxWx3; grey/float frames are converted)."""
        frame = as_rgb_uint8(frame_rgb)
        if min(frame.shape[:2]) < self.MIN_SIDE:
            return []
        found = self._mtcnn.detect_faces(frame, box_format="xyxy", fit_to_image=False)
        faces = [FaceDetection(tuple(float(v) for v in f["box"]), float(f["confidence"]))
                 for f in found if float(f["confidence"]) >= self.min_score]
        return sorted(faces, key=lambda f: -f.score)


class PaddedRetry(_Closing):
    """Wrap a detector: a frame without a confident face is padded and searched again.

    Face detectors look for faces with some context around them, so a tight face crop (a
    dataset crop, a thumbnail, a screenshot) is often not found at all, or only as a weak
    box on part of the face. Each retry pads the frame with its edge pixels by ``pads``
    times its longer side on every side; found boxes are mapped back to the frame (they
    may reach past its edge) and marked ``padded``. Frames with a confident face cost
    nothing extra. On 600 LFW face crops (176 px), BlazeFace alone found 130; with pads
    (0.5, 1.0), 595.

    >>> with PaddedRetry(make_detector()) as det:                    # doctest: +SKIP
    ...     det.detect(tight_crop)[0].padded
    True
    """

    def __init__(self, detector: Detector, pads: tuple[float, ...] = (0.5, 1.0),
                 retry_below: float = 0.6):
        self.detector = detector
        self.pads = tuple(pads)
        self.retry_below = retry_below

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame, searched again padded when none is found or the best
        scores under ``retry_below`` (a tight crop often yields a weak box on part of the
        face); the padded result wins when it scores higher."""
        faces = self.detector.detect(frame_rgb)
        if faces and faces[0].score >= self.retry_below:
            return faces
        frame = as_rgb_uint8(frame_rgb)
        for pad in self.pads:
            p = int(round(pad * max(frame.shape[:2])))
            found = self.detector.detect(cv2.copyMakeBorder(frame, p, p, p, p,
                                                            cv2.BORDER_REPLICATE))
            if found and (not faces or found[0].score > faces[0].score):
                return [FaceDetection((f.box[0] - p, f.box[1] - p, f.box[2] - p, f.box[3] - p),
                                      f.score, padded=True) for f in found]
        return faces

    def close(self) -> None:
        self.detector.close()


class SmallFaceZoom(_Closing):
    """Wrap a detector: each small face found is searched again in a close-up around it.

    BlazeFace sees the whole frame at 128 or 192 px, so a face under about an eighth of the
    frame's side (a wide shot) is a few detector pixels, and its box comes out loose: a
    65 px face in a 1080p frame got a 93 px box, so the crop showed the face small and the
    network read neutral. The close-up (``context`` times the box's side, centred on it)
    gives the detector the face large; the best face found there whose centre lies in the
    first box replaces it (54 px, disgust read again). Frames without small faces cost
    nothing extra.

    >>> type(make_detector().detector).__name__       # inside PaddedRetry   # doctest: +SKIP
    'SmallFaceZoom'
    """

    def __init__(self, detector: Detector, below: float = 0.125, context: float = 3.0):
        self.detector, self.below, self.context = detector, below, context

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame, the small ones' boxes from their close-ups."""
        faces = self.detector.detect(frame_rgb)
        side = max(frame_rgb.shape[:2])
        return [self._closer(frame_rgb, f) if max(f.width, f.height) < self.below * side
                else f for f in faces]

    def _closer(self, frame: np.ndarray, face: FaceDetection) -> FaceDetection:
        (cx, cy), half = face.center, 0.5 * self.context * max(face.width, face.height)
        h, w = frame.shape[:2]
        x0, y0 = int(max(0, cx - half)), int(max(0, cy - half))
        x1, y1 = int(min(w, cx + half)), int(min(h, cy + half))
        if x1 - x0 < 8 or y1 - y0 < 8:  # the box lies off the frame: nothing to look at
            return face
        inside = [f for f in self.detector.detect(frame[y0:y1, x0:x1])
                  if face.box[0] <= f.center[0] + x0 <= face.box[2]
                  and face.box[1] <= f.center[1] + y0 <= face.box[3]]
        if not inside:
            return face
        best = max(inside, key=lambda f: f.score)
        b = best.box
        return FaceDetection((b[0] + x0, b[1] + y0, b[2] + x0, b[3] + y0), best.score,
                             face.padded)

    def close(self) -> None:
        self.detector.close()


class TiledSearch(_Closing):
    """Wrap a detector: a large frame where it finds no face is searched again in
    ``grid`` x ``grid`` overlapping tiles, each ``tile`` of the frame's width and height.

    BlazeFace finds no face under about 1/30 of the frame's side, sooner on a dark
    background (a 90 px face in a dark 4K wide shot, 30 px once the frame is shrunk to
    1280 px for reading): in a tile of 0.45 it is 1/13. ``tile_detector`` searches the
    tiles (the wrapped detector without its padded retry, which only helps tight crops); a
    face found there must score ``min_score`` (textures pass BlazeFace's 0.5 more often in
    nine searches than in one), and one found in two tiles is kept once. Frames under
    ``min_side`` px (crops, thumbnails, SD video: there a face too small for the whole
    frame is under ~24 px, too few to read) and frames with a face cost nothing extra; a
    frame without any face costs nine more detections.

    >>> type(make_detector()).__name__                                # doctest: +SKIP
    'TiledSearch'
    """

    def __init__(self, detector: Detector, tile_detector: Detector | None = None,
                 grid: int = 3, tile: float = 0.45, min_side: int = 960,
                 min_score: float = 0.75):
        self.detector, self.tile_detector = detector, tile_detector or detector
        self.grid, self.tile, self.min_side, self.min_score = grid, tile, min_side, min_score

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame, from its tiles where the whole frame shows none."""
        faces = self.detector.detect(frame_rgb)
        h, w = frame_rgb.shape[:2]
        if faces or max(h, w) < self.min_side:
            return faces
        th, tw = int(h * self.tile), int(w * self.tile)
        for y0 in np.linspace(0, h - th, self.grid).astype(int):
            for x0 in np.linspace(0, w - tw, self.grid).astype(int):
                for f in self.tile_detector.detect(frame_rgb[y0:y0 + th, x0:x0 + tw]):
                    if f.score < self.min_score:
                        continue
                    found = FaceDetection((f.box[0] + x0, f.box[1] + y0, f.box[2] + x0,
                                           f.box[3] + y0), f.score, f.padded)
                    same = [i for i, g in enumerate(faces) if found.iou(g) > 0.3]
                    if not same:
                        faces.append(found)
                    elif found.score > faces[same[0]].score:
                        faces[same[0]] = found
        return sorted(faces, key=lambda f: -f.score)

    def close(self) -> None:
        self.detector.close()


DETECTORS = ("blazeface", "blazeface-short", "blazeface-full", "blazeface-mediapipe",
             "blazeface-short-mediapipe", "mtcnn")


def make_detector(name: str = "blazeface", padded_retry: bool = True, **kw) -> Detector:
    """Build a detector by name: "blazeface" (= "blazeface-full", full range) or
    "blazeface-short" on the LiteRT interpreter, the same two models through mediapipe's
    Tasks runtime ("blazeface-mediapipe", "blazeface-short-mediapipe"), or "mtcnn";
    keyword arguments go to its constructor. With ``padded_retry`` (the default) it is
    wrapped in :class:`PaddedRetry`, so tight face crops are found too, and a BlazeFace
    first in :class:`SmallFaceZoom`, so small faces get tight boxes, and last in
    :class:`TiledSearch`, so faces too small for the whole frame are found in its tiles
    (MTCNN searches every scale itself); without it the detector comes bare.

    >>> make_detector("haar")
    Traceback (most recent call last):
    emotion_encoder.errors.EmotionEncoderError: unknown face detector 'haar'; choose one of blazeface, blazeface-short, blazeface-full, blazeface-mediapipe, blazeface-short-mediapipe, mtcnn
    """
    if name == "mtcnn":
        detector = MTCNNDetector(**kw)
    elif name in ("blazeface", "blazeface-full", "blazeface-short"):
        from emotion_encoder.faces.blazeface_litert import LiteRTBlazeFace

        detector = LiteRTBlazeFace(model="short" if name == "blazeface-short" else "full", **kw)
    elif name in ("blazeface-mediapipe", "blazeface-short-mediapipe"):
        detector = BlazeFaceDetector(model="short" if "short" in name else "full", **kw)
    else:
        raise EmotionEncoderError(f"unknown face detector {name!r}; choose one of "
                                  f"{', '.join(DETECTORS)}")
    if not padded_retry:
        return detector
    if name == "mtcnn":
        return PaddedRetry(detector)
    zoomed = SmallFaceZoom(detector)
    return TiledSearch(PaddedRetry(zoomed), zoomed)
