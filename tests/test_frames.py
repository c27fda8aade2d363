"""Per-frame features (issue 17): one row per video frame, exactly the frames ffmpeg's
``fps`` filter extracts, with values interpolated from the clips and gaps kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from moviepy.config import FFMPEG_BINARY

from emotion_encoder import EmotionEncoder
from emotion_encoder.frames import FrameFeatures

from synthetic import write_face_video

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def ffmpeg_frame_count(video: Path, fps: str, folder: Path) -> int:
    """Frames that ``ffmpeg -vf fps=FPS`` writes as an image sequence (the usual way
    dubbing datasets are cut into frames)."""
    folder.mkdir()
    subprocess.run([FFMPEG_BINARY, "-loglevel", "error", "-i", str(video), "-vf",
                    f"fps={fps}", "-s", "16x16", str(folder / "%05d.png")], check=True)
    return len(list(folder.glob("*.png")))


def run_frames(video: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """``emotion-encoder frames VIDEO --preset fast -o OUT [options]`` in a subprocess."""
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "frames", str(video),
                           "--preset", "fast", "-o", str(out), *options],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def encoder() -> EmotionEncoder:
    return EmotionEncoder("fast")


@pytest.fixture(scope="module")
def gap_video(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("frames") / "gap.mp4"
    write_face_video(path, seconds=5.0, fps=25, no_face_spans=[(1.0, 4.0)])
    return path


def _videos(gap_video: Path) -> list[Path]:
    names = ("mead_happy", "talking_woman", "smiling_phone", "stage_multiface")
    return [gap_video] + [SHARED_VIDEOS / f"{n}.mp4" for n in names
                          if (SHARED_VIDEOS / f"{n}.mp4").exists()]


@pytest.mark.parametrize("fps,rate", [("25", 25.0), ("30000/1001", 30000 / 1001)])
def test_rows_are_the_frames_ffmpeg_extracts(encoder, gap_video, tmp_path, fps, rate):
    for video in _videos(gap_video):
        frames = encoder.frames(video, frame_fps=rate)
        assert len(frames) == ffmpeg_frame_count(video, fps, tmp_path / video.stem), video.name
        np.testing.assert_allclose(frames.times, np.arange(len(frames)) / rate)
        assert frames.embeddings.shape == (len(frames), 256)
        assert frames.probs.shape == (len(frames), 7)


def test_values_come_from_the_clips_and_gaps_stay_empty(encoder, gap_video):
    track = encoder.embed(gap_video)
    frames = encoder.frames(gap_video, frame_fps=25)
    covered = [(track.starts[track.has_face] <= t) & (t < track.ends[track.has_face])
               for t in frames.times]
    assert frames.has_face.tolist() == [bool(c.any()) for c in covered]
    assert not frames.has_face.all() and frames.has_face.any()
    assert not frames.probs[~frames.has_face].any()
    assert not frames.embeddings[~frames.has_face].any()
    np.testing.assert_allclose(frames.probs[frames.has_face].sum(axis=1), 1.0, atol=1e-4)
    # a frame covered by one face clip only carries that clip's values exactly
    for i in np.flatnonzero(frames.has_face):
        rows = np.flatnonzero(track.has_face & (track.starts <= frames.times[i])
                              & (frames.times[i] < track.ends))
        if len(rows) == 1:
            np.testing.assert_allclose(frames.probs[i], track.probs[rows[0]], atol=1e-6)
            break
    else:
        pytest.fail("no frame covered by a single clip")
    nearest = encoder.frames(gap_video, frame_fps=25, mode="nearest")
    assert len(nearest) == len(frames) and nearest.mode == "nearest"
    assert (nearest.has_face == frames.has_face).all()


def test_frames_command_writes_a_readable_npz(gap_video, tmp_path):
    out = tmp_path / "gap.frames.npz"
    proc = run_frames(gap_video, out, "--frame-fps", "25")
    assert proc.returncode == 0, proc.stderr[-2000:]
    frames = FrameFeatures.load(out)
    assert len(frames) == 125 and frames.fps == 25.0 and frames.mode == "linear"
    assert f"{out}: 125 frames at 25 fps x 256 dims (linear)" in proc.stdout
    assert frames.meta["preset"] == "fast" and frames.video == str(gap_video)


def test_v2c_label_space_columns(gap_video, tmp_path):
    """V2C-Animation's 8 labels: the 7 canonical ones renamed and reordered, ``others`` an
    explicit zero column for a 7-label model."""
    out = tmp_path / "v2c.npz"
    proc = run_frames(gap_video, out, "--labels", "v2c")
    assert proc.returncode == 0, proc.stderr[-2000:]
    v2c = FrameFeatures.load(out)
    plain = EmotionEncoder("fast", backend="auto").frames(gap_video)  # the command's network
    assert v2c.labels == ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise",
                          "others")
    for name, canonical in (("angry", "anger"), ("happy", "happiness"), ("sad", "sadness"),
                            ("neutral", "neutral"), ("surprise", "surprise")):
        np.testing.assert_allclose(v2c.probs[:, v2c.labels.index(name)],
                                   plain.probs[:, plain.labels.index(canonical)], atol=1e-6)
    assert not v2c.probs[:, -1].any() and v2c.meta["label_space"] == "v2c"
    np.testing.assert_allclose(v2c.probs.sum(axis=1), plain.probs.sum(axis=1), atol=1e-5)
