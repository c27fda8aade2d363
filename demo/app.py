"""The Gradio app: upload a video (or take the bundled example), get its emotion timeline;
or a photo, get its faces' emotions.

    emotion-encoder demo --port 7860
    python -m demo --port 7860

Video tab: a timeline plot (probability per emotion over time, the chosen label as a band,
no-face stretches shaded), a table of clips, the video with face boxes and labels drawn
in (H.264 mp4, at most 640 px), and downloads (JSON, CSV, SRT, embeddings npz). Photo tab:
the main face or every face with its label and probability bars, a table of faces, the
photo with the boxes drawn in (PNG, at most 800 px), downloads (JSON, CSV). Every error
reaches the page as one line (``gr.Error``), never as a stack trace.

The events are exposed to the API as ``/analyze`` and ``/analyze_photo``:

>>> from gradio_client import Client, handle_file                    # doctest: +SKIP
>>> Client("http://127.0.0.1:7860/").predict(                        # doctest: +SKIP
...     {"video": handle_file("clip.mp4")}, "default", 8, 10.0, api_name="/analyze")
>>> Client("http://127.0.0.1:7860/").predict(                        # doctest: +SKIP
...     handle_file("face.png"), "default", "main face", api_name="/analyze_photo")
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence

import cv2
import gradio as gr
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from moviepy.config import FFMPEG_BINARY

from demo.common import (ENCODERS, MAX_UPLOAD_MB, check_preset, check_upload,
                         draw_face, friendly_error, label_color, presets, upload_path)
from demo.photo import analyze_photo, ensure_example_photo, photo_tab
from emotion_encoder.atomic import atomic_path, write_atomic
from emotion_encoder.examples import write_example_video
from emotion_encoder.media import is_image
from emotion_encoder.results import VideoPrediction, clip_predictions
from emotion_encoder.tagging import analyze
from emotion_encoder.timeline import EmotionTrack
from emotion_encoder.video import iter_frames, probe_video, scaled_size
from v2c_bridge import write_srt

matplotlib.use("Agg")

MAX_DURATION_S = 600
RENDER_MAX_SIDE = 640
RENDER_MAX_FPS = 25.0
TABLE_HEADERS = ["#", "start (s)", "end (s)", "label", "confidence", "face seen", "face box",
                 "face"]
FACE_MODES = {"main face": None, "speaker": "speaker", "all faces": "all"}
"""Faces option: the dominant face (``predict``), or ``EmotionEncoder.track``'s speaker or
every tracked face."""


def default_cache_dir() -> Path:
    base = os.environ.get("EMOTION_ENCODER_DEMO_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "emotion_encoder", "demo")
    return Path(base)


def ensure_example(cache_dir: str | os.PathLike) -> Path:
    """The bundled example (astronaut photo, public domain), written on first start."""
    path = Path(cache_dir) / "astronaut_example.mp4"
    if not path.exists():
        write_example_video(path)
    return path


# ------------------------------------------------------------------ outputs

def clip_rows(named: Sequence[tuple[str, EmotionTrack]]) -> list[list[Any]]:
    """Table rows: the clips of every ``(name, track)`` (the main face, or each tracked
    person), by start time."""
    items = sorted(((clip.start, k, name, clip) for k, (name, track) in enumerate(named)
                    for clip in clip_predictions(track)), key=lambda x: (x[0], x[1]))
    rows = []
    for i, (_, _, name, clip) in enumerate(items):
        box = "" if clip.face is None else (
            f"{clip.face.x0:.0f},{clip.face.y0:.0f},{clip.face.x1:.0f},{clip.face.y1:.0f}")
        rows.append([i, round(clip.start, 2), round(clip.end, 2), clip.label or "no face",
                     None if clip.confidence is None else round(clip.confidence, 3),
                     f"{clip.face_ratio:.0%}", box, name])
    return rows


def timeline_figure(track: EmotionTrack, duration: float, cuts: Sequence[float] = ()):
    """Matplotlib figure of ``track``: probability curves at the clips' middles, its label
    runs as a band (:meth:`EmotionTrack.label_runs`), its gaps shaded, shot cuts dashed."""
    fig = Figure(figsize=(10, 4.2), dpi=100, layout="constrained")
    ax = fig.add_subplot()
    labels = track.labels
    mids = 0.5 * (track.starts + track.ends)
    for k, label in enumerate(labels):
        values = np.where(track.has_face, track.probs[:, k], np.nan)
        if len(mids):
            ax.plot(mids, values, marker="o", markersize=3, linewidth=1.6,
                    color=label_color(label, labels), label=label)
    for gap in track.gaps:
        ax.axvspan(gap.start, gap.end, color="0.6", alpha=0.3, linewidth=0)
    for cut in cuts:
        ax.axvline(cut, color="0.3", linestyle="--", linewidth=1)
    for span, label, _ in track.label_runs():
        ax.axvspan(span.start, span.end, ymin=0.905, ymax=1.0,
                   color=label_color(label, labels), linewidth=0)
        if span.duration > 0.06 * max(duration, 1e-6):
            ax.text(span.middle, 1.055, label, ha="center", va="center", fontsize=8,
                    color="white" if label not in ("happiness", "surprise") else "black")
    ax.set_xlim(0, max(duration, mids.max() if len(mids) else 0, 1e-3))
    ax.set_ylim(0, 1.1)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("time (s)")
    ax.set_ylabel("probability")
    title = f"Emotion timeline — video label: {track.video_label or 'no face found'}"
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.25)
    handles, names = ax.get_legend_handles_labels()
    handles.append(Patch(color="0.6", alpha=0.3))
    names.append("no face")
    ax.legend(handles, names, loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8,
              frameon=False)
    return fig


def write_clips_csv(path: Path, named: Sequence[tuple[str, EmotionTrack]]) -> Path:
    """One row per clip of every ``(name, track)``, probabilities as columns."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    labels = list(named[0][1].labels) if named else []
    writer.writerow(["face", "start", "end", "label", "confidence", "face_ratio", "x0", "y0",
                     "x1", "y1"] + [f"prob_{k}" for k in labels])
    for name, clip in ((name, clip) for name, track in named
                       for clip in clip_predictions(track)):
        box = [""] * 4 if clip.face is None else [round(clip.face.x0, 1), round(clip.face.y0, 1),
                                                   round(clip.face.x1, 1), round(clip.face.y1, 1)]
        probs = clip.probs or {}
        writer.writerow([name, round(clip.start, 4), round(clip.end, 4), clip.label or "",
                         "" if clip.confidence is None else round(clip.confidence, 4),
                         round(clip.face_ratio, 3), *box]
                        + ["" if k not in probs else round(probs[k], 4) for k in labels])
    return write_atomic(path, buf.getvalue())


def write_downloads(folder: Path, stem: str, prediction: VideoPrediction, doc: dict,
                    named: Sequence[tuple[str, EmotionTrack]]) -> list[Path]:
    """JSON, clips CSV, emotion SRT (one cue per label run), the track's npz."""
    track = prediction.track
    files = [write_atomic(folder / f"{stem}.emotions.json", json.dumps(doc, indent=2) + "\n"),
             write_clips_csv(folder / f"{stem}.clips.csv", named)]
    files.append(write_srt(folder / f"{stem}.emotions.srt", track))
    files.append(track.save(folder / f"{stem}.embeddings.npz"))
    return files


def analyze_tracks(encoder, path: str, info, faces: str, smooth: bool, **options):
    """``EmotionEncoder.track``: the speaker's prediction, ``(name, track)`` per person
    (``faces="all"``), the result document and the shot cuts."""
    tracks = encoder.track(path, faces=faces, smooth=smooth, **options)
    speaker = VideoPrediction.of(tracks.speaker, info)
    people = [(f"person {face.id}", face.track) for face in tracks.faces]
    doc = speaker.to_dict()
    doc.update(speaker_ids=[int(x) for x in tracks.speaker_ids], cuts=list(tracks.cuts),
               smoothed=bool(tracks.smoothed),
               faces=[{"id": face.id, "clips": [c.to_dict() for c in clip_predictions(
                   face.track)]} for face in tracks.faces])
    return speaker, people, doc, list(tracks.cuts)


def _box_at(frame_boxes, times: np.ndarray, t: float, max_gap: float):
    """The tracked box of the sampled frame nearest ``t`` (None if none within max_gap)."""
    if not len(times):
        return None
    i = int(np.searchsorted(times, t))
    best = min((j for j in (i - 1, i) if 0 <= j < len(times)), key=lambda j: abs(times[j] - t))
    return frame_boxes[best][1] if abs(times[best] - t) <= max_gap else None


def _clip_box(track: EmotionTrack, t: float):
    """The median box of the clip of ``track`` at ``t`` (None where none is seen)."""
    i = track.clip_at(t)
    return None if i is None or not np.all(np.isfinite(track.boxes[i])) else track.boxes[i]


def render_annotated(src: str | os.PathLike, track: EmotionTrack, out: Path, progress=None,
                     frame_boxes=(), faces: Sequence[tuple[str, EmotionTrack]] = ()) -> Path:
    """The video at <= 640 px and <= 25 fps with face boxes and labels, as H.264 mp4
    (with the source's audio when it has some); the caption gives ``track``'s label run.

    ``frame_boxes``: the tracked box per sampled frame (``Analysis.frame_boxes``); without
    them each clip's median box is drawn. ``faces``: ``(name, track)`` of every tracked
    person, each drawn with its own clip boxes and label runs (instead of the above).
    """
    info = probe_video(src)
    fps = min(info.fps, RENDER_MAX_FPS) if info.fps > 0 else RENDER_MAX_FPS
    width, height = scaled_size(info.width, info.height, RENDER_MAX_SIDE)
    scale = width / info.width  # boxes are in the pixels of the file's own frames
    out_w, out_h = width + width % 2, height + height % 2
    cmd = [FFMPEG_BINARY, "-y", "-hide_banner", "-nostdin", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{out_w}x{out_h}", "-r", f"{fps:.6f}",
           "-i", "-", "-i", os.fspath(src), "-map", "0:v:0", "-map", "1:a:0?",
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "26", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-b:a", "96k", "-shortest", "-movflags", "+faststart"]
    labels = track.labels
    times = np.array([t for t, _ in frame_boxes], np.float64)
    gap = 1.5 * float(np.median(np.diff(times))) if len(times) > 1 else 0.5
    with tempfile.TemporaryFile() as log, atomic_path(out, ".mp4") as tmp:
        proc = subprocess.Popen(cmd + [os.fspath(tmp)], stdin=subprocess.PIPE, stderr=log)
        try:
            rate = fps if fps < info.fps else None
            for t, frame in iter_frames(src, fps=rate, max_side=RENDER_MAX_SIDE):
                img = np.zeros((out_h, out_w, 3), np.uint8)
                img[:frame.shape[0], :frame.shape[1]] = frame
                run = track.run_at(t)
                overlays = []  # (box, label, confidence, name)
                if faces:
                    for name, face_track in faces:
                        box, face_run = _clip_box(face_track, t), face_track.run_at(t)
                        if box is not None:
                            overlays.append((box, *(face_run[1:] if face_run else (None, None)),
                                             name))
                else:
                    box = _box_at(frame_boxes, times, t, gap) if frame_boxes else \
                        _clip_box(track, t)
                    if box is not None:
                        overlays.append((box, *(run[1:] if run else (None, None)), ""))
                text = "no face"
                if run is not None and (overlays or faces):
                    text = f"{run[1]} {run[2]:.2f}"
                for box, label, confidence, name in overlays:
                    draw_face(img, [v * scale for v in box], label, confidence, name, labels)
                cv2.putText(img, f"{t:6.2f} s  {text}", (8, out_h - 10),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
                proc.stdin.write(img.tobytes())
                if progress is not None and info.duration > 0:
                    progress(min(1.0, t / info.duration))
            proc.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            code = proc.wait()
        if code != 0:
            log.seek(0)
            reason = log.read().decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError("could not encode the annotated video"
                               + (f" ({reason[-1]})" if reason else ""))
    return out


# ------------------------------------------------------------------ the event

def _span(seconds: float) -> str:
    """``"4.5 s"`` below a minute, else ``"10.0 min"``."""
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def analyze_video(video, preset: str = "default", stride: float = 8, fps: float = 10.0,
                  faces_mode: str = "main face", smooth: bool = False, *,
                  max_mb: float = MAX_UPLOAD_MB, max_seconds: float = MAX_DURATION_S,
                  progress=None):
    """The whole pipeline behind the page: checks, analysis, outputs (raises ``gr.Error``)."""
    path = upload_path(video)
    try:
        if not path:
            raise gr.Error("Upload a video first (or pick the example below).")
        check_upload(path, max_mb)
        if is_image(path):
            raise gr.Error(f"{Path(path).name} is a photo: analyze it in the Photo tab.")
        check_preset(preset)
        stride, fps = int(stride), float(fps)
        if not 1 <= stride <= 64:
            raise gr.Error(f"Window stride must be 1 to 64 frames, got {stride}.")
        if not 1.0 <= fps <= 30.0:
            raise gr.Error(f"Sampled fps must be 1 to 30, got {fps:g}.")
        if faces_mode not in FACE_MODES:
            raise gr.Error(f"Faces must be one of {', '.join(FACE_MODES)}, got {faces_mode!r}.")
        tracking = FACE_MODES[faces_mode] or ("speaker" if smooth else None)
        report = progress or (lambda *a, **k: None)
        report(0.0, desc="reading the video")
        info = probe_video(path)
        if info.duration > max_seconds:
            raise gr.Error(f"{Path(path).name} is {_span(info.duration)} long; "
                           f"the limit is {_span(max_seconds)}.")
        report(0.02, desc=f"loading the {preset} model")
        encoder = ENCODERS.get(preset)
        options = {"stride": stride, "sample_fps": fps}
        people: list[tuple[str, EmotionTrack]] = []
        cuts: list[float] = []
        frame_boxes: tuple = ()
        with ENCODERS.lock:
            if tracking:
                report(0.1, desc=f"tracking faces ({faces_mode}"
                                 f"{', smoothed' if smooth else ''})")
                pred, people, doc, cuts = analyze_tracks(encoder, path, info, tracking,
                                                         bool(smooth), **options)
            else:
                analysis = analyze(encoder, path, progress=lambda f, msg: report(
                    0.05 + 0.7 * f, desc=f"faces and emotions: {msg}"), **options)
                pred, frame_boxes = analysis.prediction, analysis.frame_boxes
                doc = pred.to_dict()
        name = Path(path).name  # not the server's temp path of the upload
        pred = dataclasses.replace(pred, video=name)
        doc["video"] = name
        folder = Path(tempfile.mkdtemp(prefix="emotion-demo-"))
        stem = Path(path).stem or "video"
        report(0.76, desc="drawing the faces into the video")
        annotated = render_annotated(path, pred.track, folder / f"{stem}.annotated.mp4",
                                     progress=lambda f: report(0.76 + 0.2 * f,
                                                               desc="drawing the faces"),
                                     frame_boxes=frame_boxes, faces=people)
        report(0.97, desc="writing the downloads")
        named = people or [("main", pred.track)]
        files = write_downloads(folder, stem, pred, doc, named)
        figure = timeline_figure(pred.track, pred.duration, cuts)
    except gr.Error:
        raise
    except Exception as exc:  # noqa: BLE001  (one line in the page, never a stack trace)
        raise gr.Error(friendly_error(exc, path)) from None
    summary = summary_markdown(pred, Path(path).name)
    if tracking:
        summary += (f"\n\nFaces: **{faces_mode}**, smoothing **{'on' if smooth else 'off'}**"
                    f"{f', {len(people)} people' if people else ''}"
                    f"{f', {len(cuts)} shot cuts' if cuts else ''} (the plot shows the "
                    "speaker).")
    frame = pd.DataFrame(clip_rows(named), columns=TABLE_HEADERS)
    return summary, figure, frame, str(annotated), [str(f) for f in files], doc


def summary_markdown(pred, name: str) -> str:
    faced = sum(c.has_face for c in pred.clips)
    head = (f"**{name}** — {pred.duration:.1f} s, {pred.width}x{pred.height}, {pred.fps:.0f} fps"
            f" · **{len(pred.clips)} clips**, {faced} with a face · preset `{pred.preset}`")
    if pred.video_label:
        head += (f"\n\nVideo label: **{pred.video_label}** "
                 f"({pred.video_probs[pred.video_label]:.2f})")
    else:
        head += "\n\nNo face found in any clip."
    for warning in pred.warnings:
        head += f"\n\n⚠️ {warning}"
    return head


# ------------------------------------------------------------------ the page

def build_app(cache_dir: str | os.PathLike | None = None, *, example: bool = True,
              max_mb: float = MAX_UPLOAD_MB, max_seconds: float = MAX_DURATION_S):
    """The Gradio Blocks app (not launched). Writes the example video into ``cache_dir``."""
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    example_path = ensure_example(cache) if example else None
    example_photo = ensure_example_photo(cache) if example else None

    def run(video, preset, stride, fps, *extra, progress=gr.Progress()):
        return analyze_video(video, preset, stride, fps, *extra, max_mb=max_mb,
                             max_seconds=max_seconds, progress=progress)

    def run_photo(photo, preset, faces_mode, progress=gr.Progress()):
        return analyze_photo(photo, preset, faces_mode, max_mb=max_mb, progress=progress)

    with gr.Blocks(title="Emotion encoder") as app:
        gr.Markdown(
            "# Emotion encoder\nFaces in a video → emotions per clip, with timestamps and "
            "embeddings for dubbing. Upload a video (at most "
            f"{max_mb:g} MB and {_span(max_seconds)}) or a photo, or pick an example.")
        with gr.Tab("Video", elem_id="video-tab"):
            _video_tab(run, example_path)
        with gr.Tab("Photo", elem_id="photo-tab"):
            photo_tab(run_photo, example_photo)
    app.emotion_cache_dir = cache  # for launch(): allowed_paths
    return app


def _video_tab(run, example_path: Path | None) -> None:
    """The video tab's inputs, outputs and its ``/analyze`` event."""
    with gr.Row():
        with gr.Column(scale=1):
            video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-in")
            with gr.Accordion("Options", open=False):
                preset = gr.Dropdown(presets(), value="default", label="Preset")
                stride = gr.Slider(1, 32, value=8, step=1,
                                   label="Window stride (sampled frames)")
                fps = gr.Slider(2, 25, value=10, step=1, label="Sampled fps")
                extra = [gr.Radio(list(FACE_MODES), value="main face", label="Faces",
                                  elem_id="faces-mode"),
                         gr.Checkbox(False, label="Smooth over time (per shot)",
                                     elem_id="smooth")]
            button = gr.Button("Analyze", variant="primary", elem_id="analyze")
            if example_path is not None:
                gr.Examples([[str(example_path)]], inputs=[video_in],
                            label="Example (astronaut photo, public domain)")
        with gr.Column(scale=2):
            summary = gr.Markdown(elem_id="summary")
            plot = gr.Plot(label="Timeline", show_label=False, elem_id="timeline")
    table = gr.Dataframe(headers=TABLE_HEADERS, label="Clips", elem_id="clips",
                         interactive=False, wrap=True)
    with gr.Row():
        annotated = gr.Video(label="Faces and labels", elem_id="annotated",
                             interactive=False)
        with gr.Column():
            downloads = gr.File(label="Downloads (JSON, CSV, SRT, embeddings npz)",
                                file_count="multiple", elem_id="downloads",
                                interactive=False)
            result_json = gr.JSON(label="Result JSON", open=False, elem_id="result-json")
    button.click(run, inputs=[video_in, preset, stride, fps, *extra],
                 outputs=[summary, plot, table, annotated, downloads, result_json],
                 api_name="analyze", concurrency_limit=1)


def launch_options(app, *, max_mb: float = MAX_UPLOAD_MB) -> dict[str, Any]:
    """Keyword arguments for ``app.launch`` (Gradio 6: theme and css go here)."""
    return {"theme": gr.themes.Soft(), "max_file_size": int(max_mb * 1e6),  # bytes
            "allowed_paths": [str(getattr(app, "emotion_cache_dir", default_cache_dir()))],
            "show_error": True}


def launch(port: int = 7860, host: str = "127.0.0.1", share: bool = False,
           cache_dir: str | os.PathLike | None = None, block: bool = True):
    """Build and start the app; blocks until interrupted unless ``block=False``."""
    app = build_app(cache_dir)
    app.queue(default_concurrency_limit=1)
    app.launch(server_name=host, server_port=port, share=share,
               prevent_thread_lock=not block, **launch_options(app))
    return app
