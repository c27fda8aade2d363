"""What the demo's tabs share: the model cache, label colours, face boxes drawn into
images, upload checks and one-line errors.

>>> label_color("happiness")
'#f2b701'
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import cv2
import gradio as gr
import matplotlib
import numpy as np

from emotion_encoder.errors import one_line
from emotion_encoder.models.presets import PRESETS
from emotion_encoder.tagging import load_encoder

MAX_UPLOAD_MB = 200
LABEL_COLORS = {
    "anger": "#d62728", "disgust": "#8c564b", "fear": "#9467bd", "happiness": "#f2b701",
    "sadness": "#1f77b4", "surprise": "#17becf", "neutral": "#7f7f7f", "contempt": "#e377c2",
}


def label_color(label: str | None, labels: tuple[str, ...] = ()) -> str:
    """The label's colour (a tab10 colour by its place in ``labels`` for other labels)."""
    if label in LABEL_COLORS:
        return LABEL_COLORS[label]
    palette = matplotlib.colormaps["tab10"].colors
    index = labels.index(label) if label in labels else abs(hash(label)) % len(palette)
    return matplotlib.colors.to_hex(palette[index % len(palette)])


class EncoderCache:
    """One loaded :class:`EmotionEncoder` per preset; one analysis at a time."""

    def __init__(self):
        self._encoders: dict[str, Any] = {}
        self.lock = threading.Lock()

    def get(self, preset: str):
        if preset not in self._encoders:
            self._encoders[preset] = load_encoder(preset)
        return self._encoders[preset]


ENCODERS = EncoderCache()


def presets() -> list[str]:
    """The preset names the page offers."""
    return list(PRESETS)


def draw_face(img: np.ndarray, box, label: str | None, confidence: float | None,
              name: str = "", labels: tuple[str, ...] = ()) -> None:
    """Draw a face box in place, tagged with ``name``, ``label`` and ``confidence``, in the
    label's colour (grey without a label); line and text sized to the image's width."""
    color = label_color(label, labels) if label else "#bbbbbb"
    rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    width = img.shape[1]
    cv2.rectangle(img, (x0, y0), (x1, y1), rgb, max(2, width // 320))
    tag = " ".join(x for x in (name, label, None if confidence is None else
                               f"{confidence:.2f}") if x)
    if tag:
        font = max(0.45, width / 1100)
        (tw, th), _ = cv2.getTextSize(tag, cv2.FONT_HERSHEY_SIMPLEX, font, 1)
        ty, tx = max(th + 6, y0), max(0, min(x0, width - tw - 6))  # inside the image
        cv2.rectangle(img, (tx, ty - th - 6), (tx + tw + 6, ty), rgb, -1)
        cv2.putText(img, tag, (tx + 3, ty - 4), cv2.FONT_HERSHEY_SIMPLEX, font,
                    (0, 0, 0) if label in ("happiness", "surprise") else (255, 255, 255), 1,
                    cv2.LINE_AA)


# ------------------------------------------------------------------ uploads and errors

def friendly_error(exc: BaseException, upload: str | None) -> str:
    """``exc`` in one line, the upload named by its file name (not the server's path)."""
    text = one_line(exc)
    if upload:
        text = text.replace(os.fspath(upload), Path(upload).name)
    return text


def upload_path(video: Any) -> str | None:
    """The file path of a Gradio upload value (a path, or a FileData / video dict)."""
    if video is None:
        return None
    if isinstance(video, dict):  # {"video": ..., "subtitles": ...} or a FileData dict
        video = video.get("video", video.get("path"))
        if isinstance(video, dict):
            video = video.get("path")
    return None if video is None else os.fspath(video)


def check_upload(path: str, max_mb: float) -> None:
    """A ``gr.Error`` when the upload is missing or over ``max_mb``."""
    if not os.path.isfile(path):
        raise gr.Error(f"{Path(path).name}: the uploaded file is missing.")
    size_mb = os.path.getsize(path) / 1e6
    if size_mb > max_mb:
        raise gr.Error(f"{Path(path).name} is {size_mb:.3g} MB; the limit is {max_mb:g} MB.")


def check_preset(preset: str) -> None:
    """A ``gr.Error`` naming the presets when ``preset`` is none of them."""
    if preset not in presets():
        raise gr.Error(f"Unknown preset {preset!r}; pick one of {', '.join(presets())}.")
