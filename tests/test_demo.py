"""The Gradio demo, driven over its HTTP API with gradio_client (the app runs in a thread)."""

from __future__ import annotations

import json

import gradio as gr
import pytest

from synthetic import write_face_video


@pytest.fixture(scope="module")
def clip_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo_videos") / "face clip.mp4"
    write_face_video(path, seconds=2.5)
    return path


def test_round_trip_returns_table_json_plot_video_and_downloads(demo_url, clip_video):
    from gradio_client import Client, handle_file

    client = Client(demo_url, verbose=False)
    summary, plot, table, annotated, files, result = client.predict(
        handle_file(str(clip_video)), "default", 8, 10, api_name="/analyze")
    # 2.5 s at 10 sampled fps = 25 frames: windows of 16 at 0 and 8, plus one ending the video
    assert len(table["data"]) == len(result["clips"]) == 3
    assert [row[1] for row in table["data"]] == [c["start"] for c in
                                                 (dict(c, start=round(c["start"], 2))
                                                  for c in result["clips"])]
    assert result["clips"][0]["start"] == 0.0
    assert result["clips"][-1]["end"] == pytest.approx(result["duration"], abs=0.05)
    assert result["duration"] == pytest.approx(2.5, abs=0.1)
    assert result["video"] == "face clip.mp4"
    assert all(row[3] in result["labels"] for row in table["data"])  # a face in every clip
    assert "3 clips" in summary
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image")
    assert annotated.endswith(".mp4")
    names = sorted(f.rsplit("/", 1)[-1] for f in files)
    assert names == ["face clip.clips.csv", "face clip.embeddings.npz",
                     "face clip.emotions.json", "face clip.emotions.srt"]
    by_name = {f.rsplit("/", 1)[-1]: f for f in files}
    with open(by_name["face clip.emotions.json"]) as handle:
        assert len(json.load(handle)["clips"]) == 3
    with open(by_name["face clip.clips.csv"]) as handle:
        assert len(handle.read().strip().splitlines()) == 1 + 3
    # the options reach the encoder: a smaller stride gives more windows
    _, _, table4, _, _, result4 = client.predict(
        handle_file(str(clip_video)), "default", 4, 10, api_name="/analyze")
    assert len(table4["data"]) == len(result4["clips"]) == 4


def test_bad_video_is_one_line_error(demo_url, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "broken.mp4"
    bad.write_text("this is not a video\n" * 50)
    with pytest.raises(AppError) as info:
        Client(demo_url, verbose=False).predict(handle_file(str(bad)), "default", 8, 10,
                                                api_name="/analyze")
    message = str(info.value)
    assert "broken.mp4" in message and "not a readable video" in message
    assert "Traceback" not in message and "\n" not in message.strip()


def test_limits_and_missing_input_are_clear(clip_video):
    from demo.app import analyze_video

    with pytest.raises(gr.Error, match=r"is 0\.\d+ MB; the limit is 0.0001 MB\."):
        analyze_video(str(clip_video), max_mb=0.0001)
    with pytest.raises(gr.Error, match=r"is \d+\.\d s long; the limit is 1.0 s\."):
        analyze_video(str(clip_video), max_seconds=1)
    with pytest.raises(gr.Error, match="Upload a video first"):
        analyze_video(None)
    with pytest.raises(gr.Error, match="Unknown preset"):
        analyze_video(str(clip_video), preset="nope")


def test_timeline_reads_the_track_gaps_and_label_runs():
    import numpy as np

    from demo.app import clip_rows, timeline_figure
    from emotion_encoder.timeline import EmotionTrack

    probs = np.array([[0.8, 0.2], [0, 0], [0, 0], [0.4, 0.6]], np.float32)
    track = EmotionTrack([0.0, 0.8, 1.6, 2.4], [1.6, 2.4, 3.2, 4.0], np.ones((4, 3)),
                         probs=probs, labels=("happiness", "neutral"),
                         has_face=[True, False, False, True],
                         boxes=[[1, 2, 30, 40]] + [[np.nan] * 4] * 2 + [[1, 2, 30, 40]])
    fig = timeline_figure(track, 4.0)
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 4.0)
    assert "happiness" in ax.get_title()
    shaded = [p.get_x() for p in ax.patches]  # the gap, then the two label runs of the band
    assert shaded == pytest.approx([1.6, 0.0, 2.4])
    rows = clip_rows([("main", track)])
    assert [r[3] for r in rows] == ["happiness", "no face", "no face", "neutral"]
    assert rows[0][6] == "1,2,30,40" and rows[1][6] == ""


def test_all_faces_with_smoothing(demo_url, tmp_path):
    from gradio_client import Client, handle_file

    video = tmp_path / "two faces.mp4"
    write_face_video(video, seconds=2.5, faces=2)
    summary, _, table, annotated, files, result = Client(demo_url, verbose=False).predict(
        handle_file(str(video)), "default", 8, 10, "all faces", True, api_name="/analyze")
    assert result["smoothed"] is True and len(result["faces"]) == 2
    assert len(result["clips"]) == 3  # the speaker's windows
    people = {row[7] for row in table["data"]}
    assert people == {"person 0", "person 1"}
    assert len(table["data"]) == sum(len(f["clips"]) for f in result["faces"])
    assert "all faces" in summary and "2 people" in summary
    assert annotated.endswith(".mp4") and len(files) == 4


def test_concurrent_uploads_each_get_their_own_answer(demo_url, tmp_path):
    """Issue 18: six users at once (the queue runs one analysis at a time); each answer is
    the one for its own file, and a broken upload among them fails alone."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    videos = []
    for i, seconds in enumerate((1.2, 1.6, 2.0, 2.4, 2.8, 3.2)):
        path = tmp_path / f"user {i}.mp4"
        write_face_video(path, seconds=seconds)
        videos.append((path, seconds))
    broken = tmp_path / "broken upload.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"junk" * 400)

    def ask(path):
        client = Client(demo_url, verbose=False)
        try:
            return client.predict(handle_file(str(path)), "default", 8, 10,
                                  api_name="/analyze")[-1]
        except AppError as exc:
            return exc

    with ThreadPoolExecutor(7) as pool:
        answers = list(pool.map(ask, [p for p, _ in videos[:3]] + [broken]
                                + [p for p, _ in videos[3:]]))
    failed = answers.pop(3)
    assert isinstance(failed, AppError) and "broken upload.mp4" in str(failed)
    for (path, seconds), result in zip(videos, answers):
        assert isinstance(result, dict), result
        assert result["video"] == path.name
        assert result["duration"] == pytest.approx(seconds, abs=0.1)
        assert result["faces_found"]
