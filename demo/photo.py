"""The demo's Photo tab: a still in, every face's emotion out (label, probability bars, a
table, the photo with its boxes drawn in, JSON and CSV downloads).

>>> import tempfile
>>> from emotion_encoder.examples import write_example_photo
>>> path = write_example_photo(tempfile.mkdtemp() + "/astronaut.png")
>>> summary, *_, doc = analyze_photo(str(path))                      # doctest: +SKIP
>>> doc["faces"][0]["label"]                                         # doctest: +SKIP
'happiness'
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Sequence

import cv2
import gradio as gr
import pandas as pd
from matplotlib.figure import Figure

from demo.common import (ENCODERS, MAX_UPLOAD_MB, check_preset, check_upload, draw_face,
                         friendly_error, label_color, presets, upload_path)
from emotion_encoder.atomic import atomic_path, write_atomic
from emotion_encoder.examples import write_example_photo
from emotion_encoder.media import is_image
from emotion_encoder.results import ClipPrediction, VideoPrediction, clip_predictions
from emotion_encoder.video import probe_file, read_still

PHOTO_MAX_SIDE = 800  # the annotated photo's longest side
PHOTO_FACE_MODES = ("main face", "all faces")
PHOTO_HEADERS = ["face", "label", "confidence", "face box"]
"""The photo table's first columns; one probability column per label follows."""


def ensure_example_photo(cache_dir: str | os.PathLike) -> Path:
    """The example still (the same astronaut photo as a PNG), written on first start."""
    path = Path(cache_dir) / "astronaut.png"
    if not path.exists():
        write_example_photo(path)
    return path


def photo_upload(**kwargs) -> gr.Image:
    """A ``gr.Image`` upload that hands the file on as it came: the encoder reads it (and
    says in one line what is wrong with a broken one), where Gradio's own preprocessing
    opens it with PIL first and fails with a stack of PIL errors. (Set on the instance: a
    ``gr.Image`` subclass would make Gradio write a ``.pyi`` stub beside this module.)"""
    image = gr.Image(type="filepath", **kwargs)
    image.preprocess = lambda payload: None if payload is None else payload.path
    return image


Named = Sequence[tuple[str, ClipPrediction]]
"""``(name, prediction)`` per face: ``"main face"``, or ``"face 1"``, ``"face 2"``, ..."""


def photo_faces(encoder, path: str, faces_mode: str, info) -> tuple[Named, list[str]]:
    """``(name, prediction)`` of the photo's main face (``"main face"``) or of every face
    found, left to right (``"all faces"``), and the result's warnings."""
    if faces_mode == "all faces":
        tracks = encoder.track(path, faces="all")
        found = [clip_predictions(face.track)[0] for face in tracks.faces]
        found = sorted((c for c in found if c.label is not None), key=lambda c: c.face.x0)
        warnings = VideoPrediction.of(tracks.speaker, info).warnings
        named = [(f"face {i + 1}", clip) for i, clip in enumerate(found)]
    else:
        pred = encoder.predict(path)
        warnings = pred.warnings
        named = [("main face", clip) for clip in pred.clips if clip.label is not None][:1]
    # the summary says "no face found in the photo" itself (the warning speaks of clips)
    return named, [w for w in warnings if not w.startswith("no face found")]


def photo_figure(named: Named, labels: Sequence[str]):
    """One horizontal bar chart of the label probabilities per face (at most six)."""
    shown = list(named[:6])
    fig = Figure(figsize=(10, 0.6 + 2.2 * max(1, len(shown))), dpi=100, layout="constrained")
    if not shown:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no face found", ha="center", va="center", fontsize=14)
        ax.set_axis_off()
        return fig
    for k, (name, clip) in enumerate(shown):
        ax = fig.add_subplot(len(shown), 1, k + 1)
        values = [clip.probs[label] for label in labels]
        ax.barh(list(labels), values, color=[label_color(x, tuple(labels)) for x in labels])
        ax.invert_yaxis()
        ax.set_xlim(0, 1)
        for y, value in enumerate(values):
            ax.text(min(value + 0.01, 0.93), y, f"{value:.2f}", va="center", fontsize=8)
        ax.set_title(f"{name}: {clip.label} ({clip.confidence:.2f})", fontsize=11)
        ax.grid(axis="x", alpha=0.25)
    ax.set_xlabel("probability")
    return fig


def photo_rows(named: Named, labels: Sequence[str]) -> pd.DataFrame:
    """The faces table: name, label, confidence, box, then one probability per label."""
    rows = [[name, clip.label, round(clip.confidence, 3),
             f"{clip.face.x0:.0f},{clip.face.y0:.0f},{clip.face.x1:.0f},{clip.face.y1:.0f}"]
            + [round(clip.probs[label], 3) for label in labels] for name, clip in named]
    return pd.DataFrame(rows, columns=PHOTO_HEADERS + list(labels))


def render_photo(path: str, named: Named, labels: Sequence[str], out: Path) -> Path:
    """The photo at <= 800 px with every face's box, name, label and confidence, as PNG."""
    rgb = read_still(path)
    height, width = rgb.shape[:2]
    scale = min(1.0, PHOTO_MAX_SIDE / max(height, width))
    img = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))),
                     interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    for name, clip in named:
        box = [v * scale for v in (clip.face.x0, clip.face.y0, clip.face.x1, clip.face.y1)]
        draw_face(img, box, clip.label, clip.confidence, name if len(named) > 1 else "",
                  tuple(labels))
    with atomic_path(out, ".png") as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(img, cv2.COLOR_RGB2BGR)):
            raise OSError(f"{out.name}: could not write the annotated photo")
    return out


def analyze_photo(photo, preset: str = "default", faces_mode: str = "main face", *,
                  max_mb: float = MAX_UPLOAD_MB, progress=None):
    """The photo tab behind the page: checks, analysis, outputs (raises ``gr.Error``).

    Returns the summary, the probability bars, the faces table, the annotated photo, the
    downloads (JSON, CSV) and the result document.
    """
    path = upload_path(photo)
    try:
        if not path:
            raise gr.Error("Upload a photo first (or pick the example below).")
        check_upload(path, max_mb)
        if not is_image(path):
            raise gr.Error(f"{Path(path).name} is not a photo (PNG, JPEG, TIFF, BMP or WebP): "
                           "analyze videos in the Video tab.")
        check_preset(preset)
        if faces_mode not in PHOTO_FACE_MODES:
            raise gr.Error(f"Faces must be one of {', '.join(PHOTO_FACE_MODES)}, "
                           f"got {faces_mode!r}.")
        report = progress or (lambda *a, **k: None)
        report(0.0, desc="reading the photo")
        info = probe_file(path)
        report(0.1, desc=f"loading the {preset} model")
        encoder = ENCODERS.get(preset)
        report(0.3, desc="finding faces and reading their expressions")
        with ENCODERS.lock:
            named, warnings = photo_faces(encoder, path, faces_mode, info)
        labels = list(encoder.labels)
        name = Path(path).name
        folder = Path(tempfile.mkdtemp(prefix="emotion-demo-"))
        stem = Path(path).stem or "photo"
        report(0.8, desc="drawing the faces")
        annotated = render_photo(path, named, labels, folder / f"{stem}.annotated.png")
        faces = [{"name": face, "label": clip.label, "confidence": round(clip.confidence, 4),
                  "probs": {k: round(v, 4) for k, v in clip.probs.items()},
                  "face": clip.face.to_dict()} for face, clip in named]
        doc = {"image": name, "width": info.width, "height": info.height, "preset": preset,
               "labels": labels, "faces": faces, "warnings": warnings}
        table = photo_rows(named, labels)
        files = [write_atomic(folder / f"{stem}.emotions.json", json.dumps(doc, indent=2) + "\n"),
                 write_atomic(folder / f"{stem}.faces.csv", table.to_csv(index=False))]
        figure = photo_figure(named, labels)
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001  (one line in the page, never a stack trace)
        raise gr.Error(friendly_error(exc, path)) from None
    summary = f"**{name}** — {info.width}x{info.height} · preset `{preset}` · "
    if named:
        summary += (f"**{len(named)} face{'s' if len(named) > 1 else ''}**\n\n" + "\n\n".join(
            f"{face}: **{clip.label}** ({clip.confidence:.2f})"
            + (" — a tight face crop, found once the photo was padded" if clip.face.padded
               else "") for face, clip in named))
    else:
        summary += "**no face**\n\nNo face found in the photo."
    for warning in warnings:
        summary += f"\n\n⚠️ {warning}"
    return summary, figure, table, str(annotated), [str(f) for f in files], doc


def photo_tab(run_photo, example_photo: Path | None) -> None:
    """The photo tab's inputs, outputs and its ``/analyze_photo`` event."""
    with gr.Row():
        with gr.Column(scale=1):
            photo_in = photo_upload(label="Photo", sources=["upload", "clipboard"],
                                    elem_id="photo-in")
            faces_mode = gr.Radio(list(PHOTO_FACE_MODES), value="main face", label="Faces",
                                  elem_id="photo-faces-mode")
            with gr.Accordion("Options", open=False):
                preset = gr.Dropdown(presets(), value="default", label="Preset")
            button = gr.Button("Analyze photo", variant="primary", elem_id="analyze-photo")
            if example_photo is not None:
                gr.Examples([[str(example_photo)]], inputs=[photo_in],
                            label="Example (astronaut photo, public domain)")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="photo-summary")
            plot = gr.Plot(label="Probabilities", show_label=False, elem_id="photo-probs")
    table = gr.Dataframe(headers=PHOTO_HEADERS, label="Faces", elem_id="photo-table",
                         interactive=False, wrap=True)
    with gr.Row():
        annotated = gr.Image(label="Faces and labels", type="filepath", elem_id="photo-annotated",
                             interactive=False)
        with gr.Column():
            downloads = gr.File(label="Downloads (JSON, CSV)", file_count="multiple",
                                elem_id="photo-downloads", interactive=False)
            result_json = gr.JSON(label="Result JSON", open=False, elem_id="photo-json")
    button.click(run_photo, inputs=[photo_in, preset, faces_mode],
                 outputs=[summary, plot, table, annotated, downloads, result_json],
                 api_name="analyze_photo", concurrency_limit=1)
