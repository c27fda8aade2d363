"""`emotion-encoder timeline` and `emotion-encoder align`, run in a subprocess on real files;
their outputs are read back with the v2c_bridge readers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from v2c_bridge import read_json, read_npz, read_subtitles, read_textgrid

from synthetic import face_frames, write_face_video


def run_cli(*args, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def talking(tmp_path_factory) -> Path:
    """2.5 s of two drawn faces with a 440 Hz tone as the audio track (AAC in MP4)."""
    from moviepy import ImageSequenceClip
    from moviepy.audio.AudioClip import AudioArrayClip

    path = tmp_path_factory.mktemp("v2c cli") / "two faces.mp4"
    frames, _ = face_frames(seconds=2.5, fps=25, faces=2)
    rate = 44100
    t = np.arange(int(2.5 * rate)) / rate
    audio = AudioArrayClip(np.stack([0.3 * np.sin(2 * np.pi * 440 * t)] * 2, axis=1), fps=rate)
    clip = ImageSequenceClip(frames, fps=25).with_audio(audio).with_duration(2.5)
    clip.write_videofile(str(path), codec="libx264", audio_codec="aac", audio_fps=rate,
                         logger=None, ffmpeg_params=["-pix_fmt", "yuv420p"])
    return path


def test_timeline_json_and_textgrid_per_face(talking, tmp_path):
    out = tmp_path / "timeline.json"
    proc = run_cli("timeline", talking, "--faces", "all", "-o", out)
    assert proc.returncode == 0, proc.stderr
    intervals = read_json(out)
    tiers = {iv.tier for iv in intervals}
    assert tiers == {"speaker", "face 0", "face 1"}
    speaker = [iv for iv in intervals if iv.tier == "speaker"]
    assert speaker[0].segment.start == 0.0 and speaker[-1].segment.end == pytest.approx(2.5, 0.05)
    assert all(iv.label is not None and iv.vector.shape == (intervals[0].vector.size,)
               for iv in intervals)
    grid = tmp_path / "timeline.TextGrid"
    proc = run_cli("timeline", talking, "-o", grid)  # format from the extension
    assert proc.returncode == 0, proc.stderr
    assert [iv.text for iv in read_textgrid(grid, "speaker") if iv.text]
    assert "Traceback" not in proc.stderr


def test_timeline_srt_readable_as_subtitles(talking, tmp_path):
    out = tmp_path / "emotions.srt"
    proc = run_cli("timeline", talking, "-f", "srt", "-o", out, "--no-smooth")
    assert proc.returncode == 0, proc.stderr
    cues = read_subtitles(out)
    assert cues and cues[0].segment.start == 0.0
    assert cues[0].text.split()[0] in ("anger", "disgust", "fear", "happiness", "sadness",
                                       "surprise", "neutral", "contempt")


def test_align_to_mel_frames_and_to_subtitles(talking, tmp_path):
    out = tmp_path / "cond.npz"
    proc = run_cli("align", talking, "--sr", 22050, "--hop", 256, "-o", out)
    assert proc.returncode == 0, proc.stderr
    cond = read_npz(out)
    assert cond.n_frames == 1 + int(2.5 * 22050) // 256  # librosa's count (center=True)
    assert cond.sr == 22050 and cond.hop_length == 256 and cond.mask.all()
    assert cond.fps == pytest.approx(25.0)
    srt = tmp_path / "lines.srt"
    srt.write_text("1\n00:00:00,200 --> 00:00:01,000\nHello\n\n"
                   "2\n00:00:01,200 --> 00:00:02,300\nthere\n")
    lines = tmp_path / "lines.json"
    proc = run_cli("align", talking, "--subtitles", srt, "-o", lines)
    assert proc.returncode == 0, proc.stderr
    aligned = read_json(lines)
    assert [iv.text for iv in aligned] == ["Hello", "there"]
    assert all(iv.face_ratio == 1.0 and iv.vector.shape == cond.values.shape[1:]
               for iv in aligned)
    # the same lines as arrays (issue 17): .npz read back equal to the JSON
    arrays = tmp_path / "lines.npz"
    proc = run_cli("align", talking, "--subtitles", srt, "-o", arrays)
    assert proc.returncode == 0, proc.stderr
    back = read_npz(arrays)
    assert [iv.text for iv in back] == ["Hello", "there"]
    for a, b in zip(back, aligned):
        assert a.segment == b.segment and a.label == b.label
        np.testing.assert_allclose(a.vector, b.vector, atol=1e-6)
        assert a.probs.keys() == b.probs.keys()
        np.testing.assert_allclose(list(a.probs.values()), list(b.probs.values()), atol=1e-6)
    with np.load(arrays) as data:
        assert data["vectors"].shape == (2, cond.values.shape[1])
        assert data["probs"].shape == (2, len(cond.labels)) and list(data["text"]) == [
            "Hello", "there"]


@pytest.mark.parametrize("args, says", [
    (("timeline", "missing.mp4", "-o", "{tmp}/t.json"), "missing.mp4"),
    (("timeline", "{video}", "-o", "{tmp}/t.txt"), "extension"),
    (("align", "{video}", "--subtitles", "{tmp}/none.srt", "-o", "{tmp}/a.json"), "none.srt"),
    (("align", "{video}", "-o", "{tmp}/a.json"), "extension"),
    (("align", "{silent}", "-o", "{tmp}/a.npz"), "no audio"),
])
def test_bad_input_is_one_line_and_exit_2(talking, tmp_path, args, says):
    silent = tmp_path / "silent.mp4"
    if "{silent}" in args:
        from synthetic import write_face_video

        write_face_video(silent, seconds=0.5)
    args = [a.format(tmp=tmp_path, video=talking, silent=silent) for a in args]
    proc = run_cli(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emotion-encoder: error:") and says in lines[0]
    assert not list(tmp_path.glob("[ta].*"))


def test_audio_that_starts_after_the_video_is_aligned_on_the_videos_clock(tmp_path):
    """Cameras, screen recordings and streams cut without re-encoding can start their audio
    after the first frame; ffmpeg reads the frames from the file's start, but a mel
    spectrogram or a transcript made from the audio counts from its first sample. Mel
    frame ``j`` must be read at ``audio_start + times[j]`` on the video's clock, and a word
    of an audio transcript pooled there, keeping its own times."""
    from moviepy.config import FFMPEG_BINARY

    from emotion_encoder import EmotionEncoder
    from v2c_bridge import Interval, Segment, align, audio_start, pool_interval

    silent = tmp_path / "silent.mp4"
    write_face_video(silent, seconds=4.0, no_face_spans=[(0.0, 1.6)])  # a face from 1.6 s
    video = tmp_path / "late audio.mp4"
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-i", str(silent), "-itsoffset", "0.8",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-map", "0:v",
                    "-map", "1:a", "-c:v", "copy", "-c:a", "aac", str(video)], check=True)
    start = audio_start(video)
    assert 0.75 < start < 0.85 and audio_start(silent) == 0.0
    track = EmotionEncoder("fast").track(video).speaker
    cond = align(track, mel_frames_for=video)
    assert cond.audio_start == pytest.approx(start)
    values, mask = track.at(cond.times + start, cond.mode)
    assert cond.mask.tolist() == mask.tolist()
    np.testing.assert_allclose(cond.values[mask], values[mask], atol=1e-6)
    assert track.at(cond.times, cond.mode)[1].tolist() != mask.tolist()  # the shift matters
    assert cond.video_frames()[0] == int(start * 25) > 0  # the frame shown at the first sound
    out = tmp_path / "cond.npz"
    proc = run_cli("align", video, "--preset", "fast", "-o", out)
    assert proc.returncode == 0, proc.stderr
    written = read_npz(out)  # the command: the same shift and faces, kept in the file
    assert written.audio_start == pytest.approx(start) and written.mask.tolist() == mask.tolist()
    word = Interval(Segment(0.4, 1.0), "hello", "words")
    (pooled,) = align(track, words=[word], audio_start=start)
    moved = pool_interval(track, Segment(0.4 + start, 1.0 + start), "hello", "words")
    assert pooled.segment == word.segment and pooled.face_ratio == moved.face_ratio
    np.testing.assert_allclose(pooled.vector, moved.vector, atol=1e-6)
    (found,) = align(track, words=[word])  # the shift read from the track's own video
    np.testing.assert_allclose(found.vector, moved.vector, atol=1e-6)
    (line,) = align(track, subtitles=[word])  # subtitles: on the video's clock, not moved
    np.testing.assert_allclose(line.vector, pool_interval(track, word.segment).vector,
                               atol=1e-6)


def test_faces_too_small_to_read_are_said_on_stderr(tmp_path):
    """The astronaut's face ~20 px wide: ``timeline`` writes its file and warns, once."""
    import cv2

    from synthetic import astronaut, write_video

    picture = cv2.resize(astronaut(), (96, 96), interpolation=cv2.INTER_AREA)
    video = write_video(tmp_path / "far.mp4", [picture] * 30, fps=10)
    out = tmp_path / "far.json"
    proc = run_cli("timeline", video, "-o", out)
    assert proc.returncode == 0 and out.exists(), proc.stderr
    said = [line for line in proc.stderr.splitlines() if "px wide as read" in line]
    assert len(said) == 1 and said[0].startswith(f"emotion-encoder: warning: {video}: faces ")
    assert int(said[0].split("faces are ")[1].split()[0]) in (19, 20, 21)
