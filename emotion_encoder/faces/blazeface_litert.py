"""MediaPipe's BlazeFace models run directly on the LiteRT interpreter.

The same ``.tflite`` files and the same post-processing as the mediapipe Tasks
``FaceDetector`` (letterboxed input in [-1, 1], SSD anchors, sigmoid scores, weighted
non-maximum suppression, integer pixel boxes), without its graph runtime: it starts in
~30 ms instead of ~0.9 s (importing mediapipe and building the Tasks graph) and spends
~0.9 ms less CPU per frame. Its boxes equal the Tasks detector's to a pixel on 98% of the
faces of the shared videos (``tests/test_blazeface_litert.py``; the rest within 3 px,
scores within 0.01: the two runtimes' float arithmetic differs).

>>> detector = LiteRTBlazeFace("full")
>>> detector.detect(np.zeros((360, 640, 3), np.uint8))
[]
>>> ssd_anchors(128, (8, 16, 16, 16), per_cell=(2, 6)).shape
(896, 2)
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np

from emotion_encoder.errors import EmotionEncoderError, ModelFileError
from emotion_encoder.faces.detectors import FaceDetection, _Closing, blazeface_file
from emotion_encoder.video.source import as_rgb_uint8

# Anchor layout of each model (mediapipe's face_detection_{short,full}_range graphs):
# input side, the strides of its feature maps, anchors per cell of each distinct stride.
LAYOUTS = {
    "short": (128, (8, 16, 16, 16), (2, 6)),
    "full": (192, (4,), (1,)),
}


def ssd_anchors(side: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Anchor centres ``(n, 2)`` as fractions of the input, in the models' output order:
    feature maps by stride (equal strides share one map), cells row by row, then the
    ``per_cell`` anchors of a cell (all of one size: BlazeFace's anchors are fixed)."""
    centres = []
    for stride, n in zip(dict.fromkeys(strides), per_cell):
        cells = math.ceil(side / stride)
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], 1), n, axis=0))
    return np.concatenate(centres)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, threshold: float
                 ) -> list[tuple[np.ndarray, float]]:
    """MediaPipe's weighted non-maximum suppression: the best remaining box and every box
    overlapping it by IoU > ``threshold`` become one box, their score-weighted mean, with
    the best one's score. ``boxes`` ``(n, 4)`` as ``x0, y0, x1, y1``.

    >>> b = np.array([[0, 0, 2, 2], [0, 0, 2, 4], [5, 5, 6, 6]], np.float32)
    >>> [(box.tolist(), s) for box, s in weighted_nms(b, np.array([0.75, 0.25, 0.5]), 0.3)]
    [([0.0, 0.0, 2.0, 2.5], 0.75), ([5.0, 5.0, 6.0, 6.0], 0.5)]
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(scores), bool)
    merged = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        b = boxes[i]
        iw = np.clip(np.minimum(b[2], boxes[:, 2]) - np.maximum(b[0], boxes[:, 0]), 0, None)
        ih = np.clip(np.minimum(b[3], boxes[:, 3]) - np.maximum(b[1], boxes[:, 1]), 0, None)
        inter = iw * ih
        with np.errstate(divide="ignore", invalid="ignore"):
            iou = inter / (areas + areas[i] - inter)
        group = alive & (iou > threshold)
        group[i] = True
        weights = scores[group]
        merged.append(((boxes[group] * weights[:, None]).sum(0) / weights.sum(),
                       float(scores[i])))
        alive &= ~group
    return merged


class LiteRTBlazeFace(_Closing):
    """BlazeFace ``model`` "full" (192 px input, finds small faces; the default) or
    "short" (128 px, close-ups) on one LiteRT interpreter of ``threads`` threads. One
    instance serves one thread at a time (the interpreter releases the GIL while it runs,
    so instances in two threads detect at once: :class:`~emotion_encoder.faces.ahead.
    DetectorPool`)."""

    def __init__(self, model: str = "full", min_score: float = 0.5,
                 min_suppression: float = 0.3, threads: int = 1,
                 model_path: str | os.PathLike | None = None):
        from ai_edge_litert.interpreter import Interpreter

        path = blazeface_file(model, model_path)
        side, strides, per_cell = LAYOUTS[model]
        self.anchors = ssd_anchors(side, strides, per_cell)
        try:
            self._interpreter = Interpreter(model_path=path, num_threads=threads)
            self._interpreter.allocate_tensors()
            (inp,) = self._interpreter.get_input_details()
            boxes_out, scores_out = sorted(self._interpreter.get_output_details(),
                                           key=lambda d: -int(d["shape"][-1]))
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{path}: not a usable BlazeFace model ({exc})") from None
        if tuple(inp["shape"]) != (1, side, side, 3) or \
                tuple(boxes_out["shape"]) != (1, len(self.anchors), 16):
            raise ModelFileError(
                f"{path}: not a usable BlazeFace model (input {tuple(inp['shape'])} and "
                f"boxes {tuple(boxes_out['shape'])}; {model} range needs (1, {side}, {side}, "
                f"3) and (1, {len(self.anchors)}, 16))")
        self._input = inp["index"]
        self._boxes, self._scores = boxes_out["index"], scores_out["index"]
        self.side = side
        self.model, self.model_path = model, path
        self.min_score, self.min_suppression = min_score, min_suppression
        # sigmoid(logit) >= min_score, decided on the logits
        self._min_logit = math.log(min_score / (1 - min_score)) if 0 < min_score < 1 else \
            (-math.inf if min_score <= 0 else math.inf)
        self._closed = False

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame (uint8 HxWx3; grey/float frames are converted), best first."""
        if self._closed:
            raise EmotionEncoderError("LiteRTBlazeFace is closed")
        frame = as_rgb_uint8(frame_rgb)
        h, w = frame.shape[:2]
        longer = max(w, h)
        scale = self.side / longer
        # letterbox: the frame centred in a square of its longer side, zero borders
        pad_x, pad_y = (longer - w) / 2, (longer - h) / 2
        warp = np.array([[scale, 0, pad_x * scale], [0, scale, pad_y * scale]], np.float32)
        square = cv2.warpAffine(frame, warp, (self.side, self.side), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        tensor = square.astype(np.float32)[None]
        tensor *= 1 / 127.5
        tensor -= 1.0
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        logits = self._interpreter.get_tensor(self._scores)[0, :, 0]
        keep = np.flatnonzero(logits >= self._min_logit)
        if not len(keep):
            return []
        raw = self._interpreter.get_tensor(self._boxes)[0, keep, :4] / self.side
        centre = raw[:, :2] + self.anchors[keep]
        half = raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1)
        scores = 1 / (1 + np.exp(-np.clip(logits[keep], -100, 100)))
        faces = []
        for box, score in weighted_nms(boxes, scores, self.min_suppression):
            # back to frame pixels, as integers the way mediapipe writes them
            x0, y0 = box[0] * longer - pad_x, box[1] * longer - pad_y
            bw, bh = (box[2] - box[0]) * longer, (box[3] - box[1]) * longer
            x0, y0, bw, bh = (float(math.trunc(float(v))) for v in (x0, y0, bw, bh))
            faces.append(FaceDetection((x0, y0, x0 + bw, y0 + bh), score))
        return faces

    def close(self) -> None:
        self._closed = True
        self._interpreter = None
