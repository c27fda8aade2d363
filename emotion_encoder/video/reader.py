"""Read video files through moviepy's bundled ffmpeg: probe them, stream their frames.

Frames come one at a time from an ffmpeg pipe, so a feature film costs the memory of
one frame. Every failure is a one-line :class:`~emotion_encoder.errors.VideoError`.

>>> info = probe_video("clip.mp4")                             # doctest: +SKIP
>>> info.fps, info.n_frames, (info.width, info.height)         # doctest: +SKIP
(25.0, 75, (320, 240))
>>> for t, frame in iter_frames("clip.mp4", fps=5):            # doctest: +SKIP
...     print(t, frame.shape)                                  # 0.0 (240, 320, 3), 0.2 ...
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass
from typing import Iterator

import numpy as np

from emotion_encoder.errors import EmotionEncoderError, VideoError

PROBE_TIMEOUT_S = 120.0
ONE_DECODER_THREAD_PIXELS = 500_000
"""Frames up to this many pixels (854 x 480 and smaller) are decoded on one thread: one
H.264 thread decodes them at 40-120x real time here, far ahead of the pipeline, and
ffmpeg's frame threading costs 10-17% more CPU time, which the network and the face
detector (both cores busy) would otherwise get (``docs/speed-log.md``, 2026-12-04).
Larger frames keep ffmpeg's own thread count (720p on one thread: ~25x real time)."""
_ROTATION = re.compile(r"(?:displaymatrix|Display Matrix): rotation of (-?[\d.]+) degrees", re.I)
_LOG_PREFIX = re.compile(r"^\[[^\]]*\]\s*")


@dataclass(frozen=True)
class VideoInfo:
    """What is known about a video: frame rate, length and frame size as shown (after
    rotation, and stretched to square pixels where the file stores them non-square:
    ``sar`` is the stored pixels' aspect, 32:27 on a wide-screen DVD, 4:3 on HDV;
    ``stream`` the file's stream read, 1 where a cover image is stream 0).

    >>> VideoInfo("a.mp4", 25.0, 3.0, 75, 320, 240).to_dict()["n_frames"]
    75
    """

    path: str | None
    fps: float
    duration: float
    n_frames: int
    width: int
    height: int
    sar: float = 1.0
    stream: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def check_file(path: str) -> None:
    """A one-line :class:`VideoError` if ``path`` is missing, a folder or empty."""
    if not os.path.exists(path):
        raise VideoError(path, "file not found")
    if os.path.isdir(path):
        raise VideoError(path, "is a directory, not a video file")
    if os.path.getsize(path) == 0:
        raise VideoError(path, "file is empty")


def ffmpeg_binary() -> str:
    """moviepy's ffmpeg, found as moviepy finds it: ``$FFMPEG_BINARY`` if set (a path, or
    ``auto-detect`` for the one on ``PATH``), else the binary of imageio-ffmpeg (moviepy's
    dependency). Without importing moviepy, which loads its whole package (0.3-0.7 s) and
    which a command that reads a video need not pay."""
    choice = os.environ.get("FFMPEG_BINARY", "ffmpeg-imageio")
    if choice == "ffmpeg-imageio":
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    found = shutil.which("ffmpeg" if choice == "auto-detect" else choice)
    if found is None:
        raise EmotionEncoderError(f"FFMPEG_BINARY={choice}: no such ffmpeg executable (unset "
                                  "it to use the ffmpeg that comes with imageio-ffmpeg)")
    return found


def _ffmpeg_input(path: str) -> str:
    """``path`` for ffmpeg's ``-i``: never read as an option ("-x") or a protocol ("http:")."""
    return "file:" + os.path.abspath(path)


def ffmpeg_reason(stderr: str) -> str:
    """Shorten ffmpeg's log to the one clause that says what went wrong.

    >>> ffmpeg_reason("[in#0 @ 0x1] moov atom not found\\nError opening input files: Invalid data")
    'moov atom not found: the file is truncated or not fully written'
    >>> ffmpeg_reason("Error opening input files: Invalid data found when processing input")
    'Invalid data found when processing input'
    """
    if "moov atom not found" in stderr:
        return "moov atom not found: the file is truncated or not fully written"
    lines = [_LOG_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith("frame=")]
    if not lines:
        return "no output"
    return lines[-1].rsplit(": ", 1)[-1]


def _input_header(stderr: str) -> str:
    """The part of ffmpeg's log that describes the input (up to its output or mapping)."""
    kept = []
    for line in stderr.splitlines():
        if line.startswith(("Output #", "Stream mapping:")):
            break
        if line.strip():
            kept.append(line)
    return "\n".join(kept)


_DURATION = re.compile(r"^\s+Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.M)
_VIDEO_STREAM = re.compile(r"^\s+Stream #0:(\d+)\S*: Video: (.*)$", re.M)
_SIZE = re.compile(r" (\d+)x(\d+)(?:[,\s]|$)")
_SAR = re.compile(r"\[SAR ([1-9]\d*):([1-9]\d*) DAR")  # "SAR 0:1": not known
_RATE = re.compile(r" (\d+(?:\.\d+)?)(k?) (fps|tbr)\b")
_ROTATE_TAG = re.compile(r"^\s+rotate\s*:\s*(-?[\d.]+)", re.M)


def parse_header(header: str) -> dict[str, float | None] | None:
    """What ffmpeg's log says of an input's video stream: ``stream`` (its index in the file:
    the first one flagged default, else the first, as a player picks it; cover pictures
    never, nor an unflagged one before it), ``width``, ``height`` (as stored), ``fps``
    (from "fps", else "tbr"; 23.98 and the like made exact, 24000/1001, as moviepy does),
    ``duration`` (``None`` when the log has none), ``rotation`` (degrees, 0 when none) and
    ``sar`` (the stored pixels' aspect; 1 when square or not said). ``None`` when the log
    names no input; ``{}`` when the input has no video stream (audio with a cover picture
    has none).

    >>> log = ("Input #0, mov,mp4, from 'a.mp4':\\n  Duration: 00:01:02.50, start: 0.0\\n"
    ...        "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), "
    ...        "yuv420p, 640x360 [SAR 1:1 DAR 16:9], 29.97 fps, 29.97 tbr (default)\\n"
    ...        "      Side data:\\n        displaymatrix: rotation of -90.00 degrees")
    >>> info = parse_header(log)
    >>> info["width"], info["height"], round(info["fps"], 5), info["duration"], info["rotation"]
    (640, 360, 29.97003, 62.5, -90.0)
    >>> cover = "  Stream #0:0: Video: mjpeg (Baseline), yuvj444p(pc), 512x512, 25 fps, 25 tbr\\n"
    >>> info = parse_header(log.replace("  Stream #0:0[0x1]", cover + "  Stream #0:1[0x1]"))
    >>> info["stream"], info["width"]
    (1, 640)
    >>> parse_header(log.replace("SAR 1:1 DAR 16:9", "SAR 4:3 DAR 64:27"))["sar"]
    1.3333333333333333
    >>> parse_header("Input #0, wav, from 'a.wav':\\n  Stream #0:0: Audio: pcm_s16le")
    {}
    >>> parse_header("Input #0, mp3, from 'a.mp3':\\n  Stream #0:0: Audio: mp3\\n"
    ...              "  Stream #0:1: Video: png, 500x500, 90k tbn (attached pic)")
    {}
    >>> parse_header("") is None
    True
    """
    if not re.search(r"^Input #0\b", header, re.M):
        return None
    streams = [(int(index), line) for index, line in _VIDEO_STREAM.findall(header)
               if "(attached pic)" not in line]
    if not streams:
        return {}
    index, line = next((s for s in streams if "(default)" in s[1]), streams[0])
    size = _SIZE.search(" " + line)
    rates = {kind: float(value) * (1000 if k else 1)
             for value, k, kind in _RATE.findall(line)}
    fps = rates.get("fps") or rates.get("tbr") or 0.0
    for x in (23, 24, 25, 30, 50):
        if fps != x and abs(fps - x * 1000 / 1001) < 0.01:
            fps = x * 1000 / 1001
    duration = _DURATION.search(header)
    rotation = _ROTATION.search(header) or _ROTATE_TAG.search(header)
    sar = _SAR.search(line)
    return {"stream": index, "width": int(size.group(1)) if size else 0,
            "height": int(size.group(2)) if size else 0, "fps": fps,
            "duration": (int(duration.group(1)) * 3600 + int(duration.group(2)) * 60
                         + float(duration.group(3))) if duration else None,
            "rotation": float(rotation.group(1)) if rotation else 0.0,
            "sar": int(sar.group(1)) / int(sar.group(2)) if sar else 1.0}


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Describe a video file, checking that at least its first frame decodes.

    One ffmpeg call prints the container's header and decodes one grey frame (a second
    decodes the stream a player would show, where a cover image comes before it).
    ``width``/``height`` are those of the frames as shown (rotation applied, non-square
    pixels stretched to square: :class:`VideoInfo`) of the stream :func:`parse_header`
    picks (``stream``), which :func:`iter_frames` yields;
    ``n_frames`` is estimated as ``round(duration * fps)``.

    >>> probe_video("missing.mp4")
    Traceback (most recent call last):
    emotion_encoder.errors.VideoError: missing.mp4: file not found
    """
    path = os.fspath(path)
    check_file(path)
    frame, stderr = _first_frame(path, "0:v:0")
    header = _input_header(stderr)
    meta = parse_header(header)
    if meta is None:
        raise VideoError(path, f"not a readable video (ffmpeg: {ffmpeg_reason(stderr)})")
    if not meta:
        cover = ", with a cover picture" if "(attached pic)" in header else ""
        raise VideoError(path, f"no video stream (audio or data only{cover})")
    if meta["duration"] is None:  # an image, a raw stream: as moviepy, not a video
        raise VideoError(path, "not a readable video (ffmpeg reports no duration)")
    if meta["stream"] != int(_VIDEO_STREAM.search(header).group(1)):  # a cover came first
        frame, stderr = _first_frame(path, f"0:{meta['stream']}")
    if not frame:
        raise VideoError(path, f"no decodable video frames (ffmpeg: {ffmpeg_reason(stderr)})")
    width, height = meta["width"], meta["height"]
    if not width or not height:
        raise VideoError(path, "video stream has no frame size")
    sar = meta["sar"] if abs(meta["sar"] - 1.0) > 1e-3 else 1.0
    if sar != 1.0:  # as shown: the width stretched by the pixels' aspect
        width = max(2, round(width * sar / 2) * 2)
    if round(abs(meta["rotation"])) % 180 == 90:
        width, height = height, width
    fps = meta["fps"]
    if not 0 < fps < float("inf"):
        raise VideoError(path, "video stream has no frame rate")
    n_frames = max(1, round(meta["duration"] * fps))
    duration = meta["duration"] if meta["duration"] > 0 else n_frames / fps
    return VideoInfo(path, fps, duration, n_frames, int(width), int(height), sar,
                     meta["stream"])


def _first_frame(path: str, stream: str) -> tuple[bytes, str]:
    """One grey frame of the ``-map`` ``stream`` (empty if none decodes) and ffmpeg's log,
    which begins with the file's header."""
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-i", _ffmpeg_input(path),
           "-map", stream, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise VideoError(path, f"ffmpeg took over {PROBE_TIMEOUT_S:.0f} s to read the "
                               "header") from None
    return proc.stdout, proc.stderr.decode("utf-8", "replace")


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Frame size after shrinking so the longer side is <= ``max_side`` (even sides).

    >>> scaled_size(4000, 2200, 1280)
    (1280, 704)
    >>> scaled_size(320, 240, 1280)
    (320, 240)
    """
    if max_side is None or max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def _read_exactly(stream, size: int) -> bytearray | None:
    """Read ``size`` bytes, or return None at EOF (a partial last frame is dropped)."""
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = stream.readinto(view[got:])
        if not n:
            return None
        got += n
    return buf


def iter_frames(path: str | os.PathLike, fps: float | None = None,
                max_side: int | None = 1280, start: float = 0.0,
                end: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Stream ``(time_s, rgb_uint8_HxWx3)`` frames of a video file from an ffmpeg pipe.

    ``fps`` resamples with ffmpeg's ``fps`` filter (frame ``i`` is at ``i / fps``);
    without it every decoded frame comes out at ``i / native_fps``. Frames come out as
    shown (:func:`probe_video`'s size: non-square pixels made square), and shrunk when
    larger than ``max_side``. ``start`` and ``end`` (seconds) decode only that span: ffmpeg
    seeks to ``start`` (no decoding of what comes before) and times count from the file's
    start. A truncated file ends at its last whole frame; a file (or span) that yields no
    frame at all raises :class:`VideoError`. Closing the generator early kills ffmpeg.

    >>> frames = iter_frames("clip.mp4", fps=10, max_side=640)     # doctest: +SKIP
    >>> next(frames)[0]                                             # doctest: +SKIP
    0.0
    """
    if fps is not None and not fps > 0:
        raise EmotionEncoderError(f"fps must be a positive number, got {fps!r}")
    if max_side is not None and max_side < 2:
        raise EmotionEncoderError(f"max_side must be at least 2 pixels, got {max_side!r}")
    if not start >= 0 or (end is not None and not end > start):
        raise VideoError(path, f"span {start}-{end} s: need 0 <= start < end")
    info = probe_video(path)
    width, height = scaled_size(info.width, info.height, max_side)
    filters = [f"fps={fps}:eof_action=pass"] if fps else []  # pass: a 1-frame video keeps it
    if (width, height) != (info.width, info.height) or info.sar != 1.0:
        filters.append(f"scale={width}:{height}:flags=area")  # shrunk, square pixels
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error"]
    cmd += ["-ss", f"{start:.6f}"] if start > 0 else []
    cmd += ["-threads", "1"] if info.width * info.height <= ONE_DECODER_THREAD_PIXELS else []
    cmd += ["-i", _ffmpeg_input(info.path), "-map", f"0:{info.stream}", "-an", "-sn"]
    cmd += ["-t", f"{end - start:.6f}"] if end is not None else []
    cmd += ["-vf", ",".join(filters)] if filters else []
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    rate = fps or info.fps
    frame_bytes = width * height * 3
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log, bufsize=frame_bytes)
        count = 0
        try:
            while (buf := _read_exactly(proc.stdout, frame_bytes)) is not None:
                frame = np.frombuffer(buf, np.uint8).reshape(height, width, 3)
                yield start + count / rate, frame
                count += 1
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        if count == 0:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 4000))
            reason = ffmpeg_reason(log.read().decode("utf-8", "replace"))
            where = "" if start == 0 and end is None else \
                f" in {start:g}-{'end' if end is None else f'{end:g}'} s"
            raise VideoError(info.path, f"no decodable video frames{where} (ffmpeg: {reason})")


FRAME_COUNTS = ("filter", "rate")


def frame_times(path: str | os.PathLike, fps: float | None = None,
                by: str = "filter") -> np.ndarray:
    """The time of every frame of the video at ``fps`` (every frame at its own rate without
    it), frame ``i`` at ``i / fps`` from the container's start. ``by="filter"``: the frames
    ``ffmpeg -i VIDEO -vf fps=FPS frame_%05d.png`` extracts; ``by="rate"``: those of
    ``ffmpeg -i VIDEO -r FPS frame_%05d.jpg``, the output-rate option that dubbing
    pipelines extract lip frames with (the two can differ by a frame or two where the
    video's rate or start differ from ``fps``'s grid). These are the rows of per-frame
    features. It decodes the video (shrunk to 16 px: ~1000+ frames/s here)."""
    if fps is not None and not fps > 0:
        raise EmotionEncoderError(f"fps must be a positive number, got {fps!r}")
    if by not in FRAME_COUNTS:
        raise EmotionEncoderError(f"by must be one of {', '.join(FRAME_COUNTS)}, got {by!r}")
    info = probe_video(path)
    filters = ([f"fps={fps}"] if fps and by == "filter" else []) + ["scale=16:16"]
    rate = ["-r", f"{fps}"] if fps and by == "rate" else []
    cmd = [ffmpeg_binary(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i",
           _ffmpeg_input(info.path), "-map", f"0:{info.stream}", "-an", "-sn",
           "-vf", ",".join(filters),
           *rate, "-f", "image2pipe", "-c:v", "rawvideo", "-pix_fmt", "gray", "-"]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)
    count = len(proc.stdout) // 256
    if proc.returncode != 0 or count == 0:
        reason = ffmpeg_reason(proc.stderr.decode("utf-8", "replace"))
        raise VideoError(info.path, f"no decodable video frames (ffmpeg: {reason})")
    return np.arange(count) / float(fps or info.fps)
