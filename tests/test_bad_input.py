"""The bad-input panel (issue 18), run as a user would: ``predict -o result.json`` in a
subprocess on each kind of bad or odd input. A bad input ends with exactly one
``emotion-encoder: error: <file>: <problem>`` line and exit code 2; an odd but valid
video is read (exit 0, or 3 when no face shows). Never a traceback, never an output
file left behind by a failed run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from moviepy.config import FFMPEG_BINARY

from emotion_encoder.video import probe_video
from synthetic import write_face_video

ERROR = "emotion-encoder: error: "


def run_predict(video: str | Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "predict", str(video),
                           "-o", str(out), *extra], capture_output=True, text=True,
                          timeout=300)


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG_BINARY, "-y", "-loglevel", "error", *args], check=True)


@pytest.fixture(scope="module")
def face(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("panel") / "face.mp4"
    write_face_video(path, seconds=2.0, fps=25)
    return path


def make_bad(kind: str, folder: Path, face: Path) -> str:
    """The bad input of ``kind``; returns the path (or URL) as given on the command line."""
    path = folder / f"{kind}.mp4"
    if kind == "missing":
        pass
    elif kind == "empty":
        path.touch()
    elif kind == "text":
        path.write_text("this is not a video\n" * 100)
    elif kind == "truncated":
        path.write_bytes(face.read_bytes()[:1500])
    elif kind == "folder":
        path.mkdir()
    elif kind == "png-header":
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    elif kind == "broken-png":
        path = folder / "face.png"
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000)
    elif kind == "audio-only":
        path = folder / "speech.m4a"
        ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(path))
    elif kind == "audio-with-cover":  # a song with its album art: one picture, no video
        path = folder / "song.mp3"
        ffmpeg("-i", str(face), "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
               "-map", "1", "-map", "0:v", "-frames:v", "1", "-c:v", "mjpeg",
               "-disposition:v", "attached_pic", str(path))
    elif kind == "symlink-loop":
        os.symlink(folder / "loop-b.mp4", folder / "loop-a.mp4")
        os.symlink(folder / "loop-a.mp4", folder / "loop-b.mp4")
        path = folder / "loop-a.mp4"
    elif kind == "url":
        return "http://example.com/clip.mp4"
    return str(path)


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated", "folder",
                                  "png-header", "broken-png", "audio-only", "audio-with-cover",
                                  "symlink-loop", "url"])
def test_bad_input_is_one_line_naming_the_file(kind, face, tmp_path):
    video = make_bad(kind, tmp_path, face)
    out = tmp_path / "result.json"
    proc = run_predict(video, out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR + video + ": "), proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()


@pytest.mark.parametrize("option", [["--stride", "0"], ["--fps", "0"], ["--detect-every", "0"]])
def test_option_out_of_range_is_one_line(option, face, tmp_path):
    out = tmp_path / "result.json"
    proc = run_predict(face, out, *option)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(ERROR) and "must be" in errors[0]
    assert not out.exists()


def test_unknown_preset_is_one_line(face, tmp_path):
    out = tmp_path / "result.json"
    proc = run_predict(face, out, "--preset", "nope")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(ERROR) and "'nope'" in errors[0]
    assert not out.exists()


def test_mp4_corrupted_in_the_middle_is_read_or_refused_in_one_line(face, tmp_path):
    data = bytearray(face.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4000] = os.urandom(4000)
    video = tmp_path / "corrupted.mp4"
    video.write_bytes(bytes(data))
    out = tmp_path / "result.json"
    proc = run_predict(video, out)
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        assert proc.stderr.strip().splitlines()[-1].startswith(f"{ERROR}{video}: ")
        assert not out.exists()
    else:
        assert proc.returncode in (0, 3) and out.exists()


ODD = {  # kind: (file name, ffmpeg options before -i, after -i)
    "one-frame": ("one.mp4", [], ["-frames:v", "1"]),
    "4k": ("uhd.mp4", [], ["-t", "1", "-vf", "scale=3840:2160", "-pix_fmt", "yuv420p"]),
    "24px": ("tiny.mp4", [], ["-vf", "scale=24:24"]),
    "grey": ("grey.mp4", [], ["-vf", "hue=s=0"]),
    "rotated": ("rotated.mp4", ["-display_rotation", "90"], ["-c", "copy"]),
    "anamorphic": ("anamorphic.mp4", [], ["-vf", "scale=iw*3/4:ih,setsar=4/3"]),
    "vfr": ("vfr.mp4", [], ["-vf", "setpts='if(lt(N,25),N/25,1+(N-25)/12.5)/TB'",
                            "-fps_mode", "vfr"]),
    "120fps": ("fast.mp4", [], ["-vf", "fps=120"]),
    "mjpeg-avi": ("clip.avi", [], ["-c:v", "mjpeg", "-q:v", "4"]),
    "gif": ("clip.gif", [], ["-vf", "fps=10"]),
    "jpeg": ("still.jpg", [], ["-frames:v", "1"]),
    "png": ("still.png", [], ["-frames:v", "1"]),
    "tiff": ("still.tiff", [], ["-frames:v", "1"]),
    "webp": ("still.webp", [], ["-frames:v", "1"]),
}


def make_odd(kind: str, folder: Path, face: Path) -> Path:
    """A valid video of ``kind``, made from the synthetic face clip with ffmpeg."""
    if kind == "non-ascii name":
        out = folder / "clip été 東京 (final).mp4"
        out.write_bytes(face.read_bytes())
    elif kind == "no-face":
        out = folder / "no_face.mp4"
        write_face_video(out, seconds=1.0, face=False)
    elif kind == "cover-first":  # a still of no face, unflagged, muxed before the video
        out = folder / "cover.mkv"
        ffmpeg("-f", "lavfi", "-i", "color=c=navy:s=400x400:d=0.04", "-i", str(face), "-map", "0",
               "-map", "1", "-c:v:0", "mjpeg", "-c:v:1", "copy", "-disposition:v:0", "0",
               "-disposition:v:1", "default", str(out))
    else:
        name, before, after = ODD[kind]
        out = folder / name
        ffmpeg(*before, "-i", str(face), *after, str(out))
    return out


@pytest.mark.parametrize("kind", ["no-face", "one-frame", "4k", "24px", "grey", "rotated",
                                  "anamorphic", "cover-first", "vfr", "120fps", "mjpeg-avi", "gif",
                                  "jpeg", "png", "tiff", "webp", "non-ascii name"])
def test_odd_videos_are_read(kind, face, tmp_path):
    video = make_odd(kind, tmp_path, face)
    out = tmp_path / "result.json"
    proc = run_predict(video, out)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 3), proc.stderr
    assert out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    if kind in ("no-face", "24px"):
        assert proc.returncode == 3  # no face can show: flagged, not an error
    if kind in ("one-frame", "grey", "mjpeg-avi", "non-ascii name", "jpeg", "png", "tiff",
                "webp", "4k", "120fps", "anamorphic", "cover-first"):
        assert proc.returncode == 0, f"{kind}: the drawn face was not found"
    if kind in ("anamorphic", "cover-first"):  # shown as the clip it was made from
        shown = json.loads(out.read_text())
        assert (shown["width"], shown["height"]) == (probe_video(face).width,
                                                     probe_video(face).height)


@pytest.fixture(scope="module")
def talking(tmp_path_factory, face) -> Path:
    """The face clip with a tone as its audio track."""
    path = tmp_path_factory.mktemp("panel_audio") / "talking.mp4"
    ffmpeg("-i", str(face), "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
           "-c:v", "copy", "-c:a", "aac", "-shortest", str(path))
    return path


def run_align(video: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "align", str(video),
                           "-o", str(out), *extra], capture_output=True, text=True,
                          timeout=300)


ALIGN_INPUTS = {  # kind: (file name, align flag, content)
    "srt-backwards": ("cues.srt", "--subtitles", "1\n00:00:01,500 --> 00:00:00,500\nHello\n"),
    "srt-no-times": ("cues.srt", "--subtitles",
                     "1\nHello there\n\n2\n00:00:01,000 --> 00:00:01,500\nyes\n"),
    "textgrid-cut": ("words.TextGrid", "--textgrid",
                     'File type = "ooTextFile"\nObject class = "TextGrid"\n\nxmin = 0\n'),
    "words-not-json": ("words.json", "--words", "{'segments': [not json"),
}


@pytest.mark.parametrize("kind,says", [
    ("srt-backwards", "ends before it starts"),
    ("srt-no-times", "expected a cue timing line"),
    ("textgrid-cut", "TextGrid"),
    ("words-not-json", "JSON"),
    ("sr-zero", "--sr"),
])
def test_bad_alignment_input_is_one_line(kind, says, talking, tmp_path):
    out = tmp_path / "lines.json"
    if kind in ALIGN_INPUTS:
        name, flag, text = ALIGN_INPUTS[kind]
        given = tmp_path / name
        given.write_text(text)
        extra = [flag, str(given)]
    else:
        given, out = None, tmp_path / "cond.npz"
        extra = ["--sr", "0"]
    proc = run_align(talking, out, *extra)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR) and says in lines[0], proc.stderr
    if given is not None:
        assert str(given) in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()
