"""Video reading: probing, streaming, bad files, and the three kinds of frame source."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from moviepy.config import FFMPEG_BINARY

from emotion_encoder.errors import EmotionEncoderError, VideoError
from emotion_encoder.video import (VideoInfo, iter_frames, open_source, probe_file, probe_video,
                                   read_still)
from emotion_encoder.video.reader import ffmpeg_reason, parse_header, scaled_size
from emotion_encoder.video.source import as_rgb_uint8, subsample
from synthetic import astronaut, face_frames, write_video


def ffmpeg_children() -> list[int]:
    """Live ffmpeg processes started by this test process (Linux /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if int(rest[1]) == os.getpid() and "ffmpeg" in name and rest[0] != "Z":
            found.append(int(entry))
    return found


def assert_one_line_video_error(exc: pytest.ExceptionInfo, path, words: str) -> None:
    message = str(exc.value)
    assert isinstance(exc.value, VideoError)
    assert message.startswith(f"{os.fspath(path)}: ")
    assert words in message
    assert "\n" not in message


# -- probing every container ------------------------------------------------------------

@pytest.fixture(scope="module")
def small_frames():
    frames, _ = face_frames(seconds=1.2, fps=25, size=(160, 120))
    return frames


@pytest.mark.parametrize("ext", [".mp4", ".mkv", ".avi", ".webm", ".flv", ".mov"])
def test_probe_and_read_each_container(tmp_path, small_frames, ext):
    path = write_video(tmp_path / f"clip{ext}", small_frames, fps=25)
    info = probe_video(path)
    assert (info.width, info.height) == (160, 120)
    assert info.fps == pytest.approx(25.0, rel=0.01)
    assert info.duration == pytest.approx(1.2, abs=0.1)
    assert abs(info.n_frames - 30) <= 2
    times, frames = zip(*iter_frames(path))
    assert abs(len(frames) - 30) <= 1
    assert frames[0].shape == (120, 160, 3) and frames[0].dtype == np.uint8
    assert np.allclose(times, np.arange(len(times)) / info.fps)
    # the drawn face is there: the centre is skin-coloured (R > G > B), the corner is not
    r, g, b = frames[0][60, 56].astype(int)
    assert r > g > b


def test_video_info_to_dict():
    info = VideoInfo("a.mp4", 25.0, 3.0, 75, 320, 240)
    assert info.to_dict() == {"path": "a.mp4", "fps": 25.0, "duration": 3.0, "n_frames": 75,
                              "width": 320, "height": 240, "sar": 1.0, "stream": 0}


def test_probe_reports_rotated_size(tmp_path, face_video):
    rotated = tmp_path / "rotated.mp4"
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-display_rotation", "90", "-i",
                    str(face_video[0]), "-c", "copy", str(rotated)], check=True)
    info = probe_video(rotated)
    assert (info.width, info.height) == (240, 320)
    _, frame = next(iter_frames(rotated))
    assert frame.shape == (320, 240, 3)


def test_non_square_pixels_come_out_as_shown(tmp_path, face_video):
    """Wide-screen DVD and HDV files store their frames squeezed (SAR 32:27, 4:3) for the
    player to stretch; the reader must stretch them too, or every face comes out thin."""
    squeezed = tmp_path / "anamorphic.mp4"
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-i", str(face_video[0]), "-vf",
                    "scale=240:240,setsar=4/3", "-c:v", "libx264", str(squeezed)], check=True)
    info = probe_video(squeezed)
    assert (info.width, info.height, info.sar) == (320, 240, pytest.approx(4 / 3))
    (_, shown), (_, original) = next(iter_frames(squeezed)), next(iter_frames(face_video[0]))
    assert shown.shape == original.shape == (240, 320, 3)
    assert np.abs(shown.astype(int) - original.astype(int)).mean() < 6
    assert next(iter_frames(squeezed, max_side=160))[1].shape == (120, 160, 3)
    assert probe_video(face_video[0]).sar == 1.0


LAVFI_CLIPS = [  # (file name, ffmpeg output options): containers, codecs, exact and NTSC rates
    ("ntsc.mp4", ["-r", "30000/1001"]), ("film.webm", ["-r", "24000/1001", "-c:v", "libvpx-vp9"]),
    ("mjpeg.avi", ["-r", "15", "-c:v", "mjpeg"]), ("anim.gif", ["-r", "12"]),
    ("mpeg4.mkv", ["-r", "25", "-c:v", "mpeg4"]), ("fast.mp4", ["-r", "60", "-s", "1280x720"]),
    ("stream.ts", ["-r", "25", "-f", "mpegts"]), ("flash.flv", ["-r", "25", "-c:v", "libx264"]),
]


@pytest.mark.parametrize("name, options", LAVFI_CLIPS, ids=[n for n, _ in LAVFI_CLIPS])
def test_probe_reads_what_moviepys_parser_reads(tmp_path, name, options):
    """Our header parser (no moviepy import on the way to a video) and moviepy's
    FFmpegInfosParser agree on size, frame rate and duration of the same ffmpeg log."""
    from moviepy.video.io.ffmpeg_reader import FFmpegInfosParser

    path = tmp_path / name
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=30", "-t", "1.5", *options, str(path)], check=True)
    log = subprocess.run([FFMPEG_BINARY, "-hide_banner", "-i", str(path)],
                         capture_output=True, text=True).stderr
    theirs = FFmpegInfosParser(log, str(path)).parse()
    ours = parse_header(log)
    assert (ours["width"], ours["height"]) == tuple(theirs["video_size"])
    assert ours["fps"] == theirs["video_fps"] and ours["duration"] == theirs["duration"]
    info = probe_video(path)
    width, height = theirs["video_size"]  # as stored; shown with the pixels' aspect
    shown = round(width * ours["sar"] / 2) * 2  # ("-s 1280x720" keeps testsrc's 4:3: SAR 3:4)
    assert (info.width, info.height, info.fps, info.duration) == \
        (shown, height, theirs["video_fps"], theirs["duration"])
    assert (shown == width) == (name != "fast.mp4")


def test_an_image_named_like_a_video_is_not_a_video(tmp_path):
    path = tmp_path / "still.mp4"
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48",
                    "-frames:v", "1", "-f", "image2", "-c:v", "png", str(path)], check=True)
    with pytest.raises(VideoError) as exc:
        probe_video(path)
    assert_one_line_video_error(exc, path, "no duration")


def test_probing_and_reading_import_no_moviepy(face_video):
    """moviepy loads its whole package (0.3-0.7 s): reading a video must not pay it."""
    code = ("import sys; from emotion_encoder.video import probe_video, iter_frames; "
            f"info = probe_video({str(face_video[0])!r}); "
            f"n = sum(1 for _ in iter_frames({str(face_video[0])!r}, fps=5)); "
            "print(info.width, n, 'moviepy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    width, frames, imported = out.stdout.split()
    assert int(width) > 0 and int(frames) > 0 and imported == "False"


def test_a_missing_ffmpeg_binary_is_one_clear_error(face_video, monkeypatch):
    monkeypatch.setenv("FFMPEG_BINARY", "/no/such/ffmpeg")
    with pytest.raises(EmotionEncoderError, match=r"^FFMPEG_BINARY=/no/such/ffmpeg: no such"):
        probe_video(face_video[0])
    monkeypatch.setenv("FFMPEG_BINARY", FFMPEG_BINARY)  # a path that exists is used as is
    assert probe_video(face_video[0]).width > 0


HEADER = ("Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':\n  Metadata:\n    encoder : Lavf61\n"
          "  Duration: 00:00:10.02, start: 0.000000, bitrate: 1019 kb/s\n"
          "  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, "
          "bt709, progressive), 640x360 [SAR 1:1 DAR 16:9], 880 kb/s, 29.97 fps, 29.97 tbr, "
          "30k tbn (default)\n      Side data:\n        displaymatrix: rotation of -90.00 "
          "degrees\n  Stream #0:1[0x2](und): Audio: aac (LC), 44100 Hz, stereo, fltp\n")


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, len(HEADER)), insert=st.text(max_size=20),
       at=st.integers(0, len(HEADER)))
def test_parse_header_never_raises(cut, insert, at):
    """Cut and spliced logs give None, {} or finite numbers, never an exception."""
    text = (HEADER[:cut] + HEADER[cut + 15:])
    text = text[:at] + insert + text[at:]
    meta = parse_header(text)
    assert meta is None or meta == {} or (
        meta["width"] >= 0 and meta["height"] >= 0 and meta["fps"] >= 0
        and (meta["duration"] is None or meta["duration"] >= 0))


def test_parse_header_of_a_full_log():
    meta = parse_header(HEADER)
    assert meta == {"stream": 0, "width": 640, "height": 360, "fps": 30000 / 1001,
                    "duration": 10.02, "rotation": -90.0, "sar": 1.0}
    assert parse_header(HEADER.replace("SAR 1:1", "SAR 32:27"))["sar"] == 32 / 27
    assert parse_header(HEADER.replace("SAR 1:1", "SAR 0:1"))["sar"] == 1.0  # not known


# -- streaming ---------------------------------------------------------------------------

def test_iter_frames_native_rate(face_video):
    times, frames = zip(*iter_frames(face_video[0]))
    assert len(frames) == 75
    assert times[:3] == (0.0, 0.04, 0.08)
    assert all(f.shape == (240, 320, 3) for f in frames)


@pytest.mark.parametrize("fps, expected", [(10, 30), (5, 15), (1, 3)])
def test_iter_frames_target_fps(face_video, fps, expected):
    times = [t for t, _ in iter_frames(face_video[0], fps=fps)]
    assert abs(len(times) - expected) <= 1
    assert np.allclose(times, np.arange(len(times)) / fps)
    assert all(b > a for a, b in zip(times, times[1:]))


def test_one_decoder_thread_gives_ffmpegs_own_frames(face_video):
    """Small frames decode on one thread (less CPU); the pixels are those that ffmpeg's
    own (frame-threaded) decoding gives."""
    from emotion_encoder.video.reader import ONE_DECODER_THREAD_PIXELS

    info = probe_video(face_video[0])
    assert info.width * info.height <= ONE_DECODER_THREAD_PIXELS
    ours = np.stack([f for _, f in iter_frames(face_video[0], fps=10)])
    raw = subprocess.run([FFMPEG_BINARY, "-v", "error", "-threads", "0", "-i",
                          str(face_video[0]), "-vf", "fps=10:eof_action=pass", "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                         check=True).stdout
    theirs = np.frombuffer(raw, np.uint8).reshape(-1, info.height, info.width, 3)
    assert ours.shape == theirs.shape and len(ours) >= 25
    assert np.array_equal(ours, theirs)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_closing_the_stream_early_kills_ffmpeg(face_video):
    before = set(ffmpeg_children())
    frames = iter_frames(face_video[0])
    next(frames)
    assert set(ffmpeg_children()) - before, "ffmpeg should be running while frames stream"
    frames.close()
    assert set(ffmpeg_children()) - before == set()


def test_one_frame_video(tmp_path):
    frames, _ = face_frames(seconds=0.04, fps=25)
    path = write_video(tmp_path / "one.mp4", frames, fps=25)
    info = probe_video(path)
    assert info.n_frames == 1
    assert len(list(iter_frames(path))) == 1
    assert len(list(iter_frames(path, fps=5))) == 1
    assert len(list(open_source(path).frames(target_fps=5))) == 1


def test_huge_frames_are_scaled_down(tmp_path):
    frame = np.zeros((2200, 4000, 3), np.uint8)
    frame[:, :2000] = (200, 50, 50)
    path = write_video(tmp_path / "huge.mp4", [frame, frame], fps=25)
    info = probe_video(path)
    assert (info.width, info.height) == (4000, 2200)
    frames = [f for _, f in iter_frames(path, max_side=1280)]
    assert len(frames) == 2
    assert frames[0].shape == (704, 1280, 3)
    assert frames[0][350, 300, 0] > 150 and frames[0][350, 1000, 0] < 50
    assert next(iter_frames(path, max_side=None))[1].shape == (2200, 4000, 3)


def test_scaled_size_keeps_even_sides():
    assert scaled_size(4000, 2200, 1280) == (1280, 704)
    assert scaled_size(1081, 1921, 1280) == (720, 1280)
    assert scaled_size(640, 480, None) == (640, 480)


# -- bad input ---------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(VideoError) as exc:
        probe_video(tmp_path / "nope.mp4")
    assert_one_line_video_error(exc, tmp_path / "nope.mp4", "file not found")


def test_directory(tmp_path):
    with pytest.raises(VideoError) as exc:
        list(iter_frames(tmp_path))
    assert_one_line_video_error(exc, tmp_path, "directory")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(VideoError) as exc:
        open_source(path)
    assert_one_line_video_error(exc, path, "file is empty")


def test_text_file_named_mp4(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("these are not the frames you are looking for\n" * 20)
    with pytest.raises(VideoError) as exc:
        probe_video(path)
    assert_one_line_video_error(exc, path, "not a readable video (ffmpeg: ")


def test_audio_only_file(tmp_path):
    path = tmp_path / "sound.mp4"
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-f", "lavfi", "-i", "sine=duration=1",
                    "-c:a", "aac", str(path)], check=True)
    with pytest.raises(VideoError) as exc:
        probe_video(path)
    assert_one_line_video_error(exc, path, "no video stream")


def test_truncated_mp4_without_index_is_a_clean_error(tmp_path, face_video):
    data = face_video[0].read_bytes()  # moviepy writes the moov index at the end
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError) as exc:
        list(iter_frames(path))
    assert_one_line_video_error(exc, path, "truncated")


@pytest.mark.parametrize("ext, params", [(".mp4", ["-movflags", "+faststart"]), (".mkv", None)])
def test_truncated_file_gives_its_whole_frames(tmp_path, ext, params):
    frames, _ = face_frames(seconds=3.0, fps=25)
    full = write_video(tmp_path / f"full{ext}", frames, fps=25, ffmpeg_params=params)
    data = Path(full).read_bytes()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    got = [f for _, f in iter_frames(cut)]
    assert 5 < len(got) < 75
    assert all((a != b).any() for a, b in zip(got, got[1:])), "no repeated last frame"


def test_ffmpeg_reason_is_short():
    log = ("[in#0 @ 0x5] Format mov detected only with low score of 1\n"
           "Error opening input file x.mp4.\n"
           "Error opening input files: Invalid data found when processing input\n")
    assert ffmpeg_reason(log) == "Invalid data found when processing input"
    assert ffmpeg_reason("") == "no output"


# -- frame sources -----------------------------------------------------------------------

def test_array_source_knows_everything(face_video):
    frames = np.stack(face_frames(seconds=2.0, fps=25)[0])
    src = open_source(frames, fps=25)
    assert src.info == VideoInfo(None, 25.0, 2.0, 50, 320, 240)
    out = list(src.frames(target_fps=10))
    assert [round(t, 2) for t, _ in out][:5] == [0.0, 0.12, 0.2, 0.32, 0.4]
    assert len(out) == 20
    assert out[1][1] is not None and np.array_equal(out[1][1], frames[3])
    assert len(list(src.frames())) == 50
    assert len(list(src.frames(target_fps=50))) == 50, "never upsamples"


def test_float_and_grey_arrays_become_rgb_uint8():
    floats = np.full((4, 8, 8, 3), 0.5, np.float32)
    _, frame = next(open_source(floats, fps=4).frames())
    assert frame.dtype == np.uint8 and frame[0, 0].tolist() == [128, 128, 128]
    grey = np.arange(4 * 8 * 8, dtype=np.uint8).reshape(4, 8, 8)
    src = open_source(grey, fps=4)
    assert (src.info.width, src.info.height, src.info.n_frames) == (8, 8, 4)
    _, frame = next(src.frames())
    assert frame.shape == (8, 8, 3) and (frame[..., 0] == grey[0]).all()


@pytest.mark.parametrize("bad, words", [
    (np.full((2, 8, 8, 3), 2.0), "[0, 1]"),
    (np.zeros((0, 8, 8, 3), np.uint8), "no frames"),
    (np.zeros((2, 8, 8, 4), np.uint8), "(N, H, W, 3)"),
    (np.zeros((2, 8, 8, 3), np.int32), "dtype int32"),
])
def test_bad_arrays(bad, words):
    with pytest.raises(EmotionEncoderError) as exc:
        open_source(bad, fps=25)
    assert words in str(exc.value)


def test_one_rgb_image_array_is_a_one_frame_video():
    image = np.arange(48 * 64 * 3, dtype=np.uint32).reshape(48, 64, 3).astype(np.uint8)
    for src in (open_source(image), open_source(image, fps=10)):
        assert (src.info.n_frames, src.info.width, src.info.height) == (1, 64, 48)
        [(t, frame)] = list(src.frames(target_fps=5))
        assert t == 0.0 and np.array_equal(frame, image)
    assert open_source(image).info.duration == 0.04  # a still file's rate
    from PIL import Image

    [(_, frame)] = list(open_source(Image.fromarray(image).convert("RGBA")).frames())
    assert np.array_equal(frame, image)


def test_fps_is_required_for_arrays_and_iterables():
    with pytest.raises(EmotionEncoderError, match="fps is required"):
        open_source(np.zeros((3, 8, 8, 3), np.uint8))
    with pytest.raises(EmotionEncoderError, match="fps is required"):
        open_source(iter([np.zeros((8, 8, 3), np.uint8)]))
    with pytest.raises(EmotionEncoderError, match="positive"):
        open_source([np.zeros((8, 8, 3), np.uint8)], fps=0)


def test_generator_source_counts_frames_after_a_pass():
    frames = face_frames(seconds=1.0, fps=25, size=(64, 48))[0]
    src = open_source((f for f in frames), fps=25)
    assert (src.info.width, src.info.height, src.info.n_frames) == (64, 48, 0)
    out = list(src.frames(target_fps=5))
    assert [round(t, 2) for t, _ in out] == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert src.info.n_frames == 25 and src.info.duration == pytest.approx(1.0)
    with pytest.raises(EmotionEncoderError, match="already read"):
        list(src.frames())


def test_list_source_can_be_read_twice():
    frames = face_frames(seconds=0.4, fps=25, size=(64, 48))[0]
    src = open_source(frames, fps=25)
    assert src.info.n_frames == 10
    assert len(list(src.frames())) == len(list(src.frames())) == 10
    with pytest.raises(EmotionEncoderError, match="no frames"):
        open_source([], fps=25)


def test_path_source(face_video):
    src = open_source(str(face_video[0]), fps=99)  # a file's own rate wins
    assert src.info == probe_video(face_video[0])
    assert abs(len(list(src.frames(target_fps=10))) - 30) <= 1
    assert len(list(src.frames(target_fps=100))) == 75, "never upsamples"
    assert open_source(src) is src


def test_unsupported_input():
    with pytest.raises(EmotionEncoderError, match="cannot read a video from int"):
        open_source(42, fps=25)


def test_as_rgb_uint8_rejects_bad_frames():
    with pytest.raises(EmotionEncoderError, match="shape"):
        as_rgb_uint8(np.zeros((4, 4, 2)))
    with pytest.raises(EmotionEncoderError, match="dtype"):
        as_rgb_uint8(np.zeros((4, 4, 3), np.int64))


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 120), fps=st.sampled_from([10, 24, 25, 29.97, 30, 60]),
       target=st.floats(0.5, 70))
def test_subsample_keeps_first_frame_at_or_after_each_tick(n, fps, target):
    kept = [round(t * fps) for t, _ in subsample(range(n), fps, target)]
    if target >= fps:
        assert kept == list(range(n))
        return
    expected = sorted({int(np.ceil(k * fps / target - 1e-6)) for k in range(int(n * target / fps) + 2)})
    assert kept == [i for i in expected if i < n]


def test_iter_frames_decodes_only_a_span(face_video):
    path, _ = face_video
    full = list(iter_frames(path, fps=10))
    span = list(iter_frames(path, fps=10, start=1.0, end=2.0))
    times = [t for t, _ in span]
    assert len(span) == 10 and times[0] == pytest.approx(1.0) and times[-1] == pytest.approx(1.9)

    def diff(a, b):
        return float(np.abs(a.astype(float) - b.astype(float)).mean())

    for t, frame in span[::3]:  # the same pictures as the full decode at the same times
        same = full[round(t * 10)][1]
        assert diff(frame, same) < 2.0 < diff(frame, full[round(t * 10) - 5][1])
    tail = list(iter_frames(path, fps=10, start=2.5))
    assert tail[0][0] == pytest.approx(2.5) and len(tail) == 5
    with pytest.raises(VideoError, match=r"face.mp4: span 2.0-1.0 s: need 0 <= start < end"):
        next(iter_frames(path, start=2.0, end=1.0))
    with pytest.raises(VideoError, match=r"no decodable video frames in 5-6 s"):
        list(iter_frames(path, start=5.0, end=6.0))


def _still_cases() -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    """kind: (file name, what OpenCV writes (BGR, grey, 16-bit or BGRA), the RGB uint8
    frame a reader must return), from a real photograph."""
    rgb = astronaut()
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    grey = rgb[:, :, 1].copy()
    deep = grey.astype(np.uint16) * 256 + 100  # 16 bits; OpenCV keeps the high byte
    alpha = np.dstack([bgr, np.full(grey.shape, 90, np.uint8)])
    return {"png": ("face.png", bgr, rgb), "tiff": ("face.tiff", bgr, rgb),
            "bmp": ("face.BMP", bgr, rgb), "webp": ("face.webp", bgr, rgb),
            "grey tiff": ("grey.tif", grey, np.dstack([grey] * 3)),
            "16-bit png": ("deep.png", deep, np.dstack([grey] * 3)),
            "rgba png": ("alpha.png", alpha, rgb)}


@pytest.mark.parametrize("kind", list(_still_cases()))
def test_a_still_image_is_a_one_frame_video_of_its_exact_pixels(kind, tmp_path):
    import cv2

    name, written, expected = _still_cases()[kind]
    path = tmp_path / name
    params = [cv2.IMWRITE_WEBP_QUALITY, 101] if kind == "webp" else []  # 101: lossless
    assert cv2.imwrite(str(path), written, params)
    info = probe_file(path)
    h, w = expected.shape[:2]
    assert (info.fps, info.duration, info.n_frames, info.width, info.height) == \
        (25.0, 0.04, 1, w, h)
    source = open_source(path, max_side=64)  # a still is kept whole
    assert source.info == info
    frames = list(source.frames(target_fps=10))
    assert [t for t, _ in frames] == [0.0]
    assert frames[0][1].dtype == np.uint8 and np.array_equal(frames[0][1], expected)


def test_a_still_is_turned_by_its_exif_orientation(tmp_path):
    from PIL import Image

    rgb = astronaut()[:, 64:]  # 512 x 448: portrait and landscape differ
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    Image.fromarray(rgb).save(path, quality=95, exif=exif)
    info = probe_file(path)
    assert (info.width, info.height) == (512, 448)
    frame = read_still(path)
    upright = np.rot90(rgb, k=-1)
    assert frame.shape == upright.shape
    assert np.abs(frame.astype(int) - upright).mean() < 4  # JPEG loss only


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + b"\x00" * 2000,
                                     b"not an image\n", b""])
def test_a_broken_still_is_one_line_naming_it(content, tmp_path):
    path = tmp_path / "face.png"
    path.write_bytes(content)
    with pytest.raises(VideoError) as exc:
        open_source(path)
    assert_one_line_video_error(exc, path, "file is empty" if not content else
                                "not a readable image")
