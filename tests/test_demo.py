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


# ------------------------------------------------------------------ the photo tab

@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """The astronaut photo as a PNG, the same photo beside its mirror image (two faces),
    and a grey PNG with no face."""
    import cv2
    import numpy as np

    from emotion_encoder.examples import astronaut, write_example_photo

    folder = tmp_path_factory.mktemp("demo_photos")
    photo = astronaut()
    cv2.imwrite(str(folder / "two faces.png"),
                cv2.cvtColor(np.concatenate([photo, photo[:, ::-1]], axis=1), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(folder / "grey.png"), np.full((200, 300, 3), 128, np.uint8))
    return {"one": write_example_photo(folder / "astronaut.png"),
            "two": folder / "two faces.png", "none": folder / "grey.png"}


def test_photo_round_trip_reads_the_face_and_draws_it(demo_url, photos):
    import cv2

    from gradio_client import Client, handle_file

    from demo.common import LABEL_COLORS

    summary, plot, table, annotated, files, result = Client(demo_url, verbose=False).predict(
        handle_file(str(photos["one"])), "default", "main face", api_name="/analyze_photo")
    assert result["image"] == "astronaut.png" and (result["width"], result["height"]) == (512, 512)
    (face,) = result["faces"]
    assert face["label"] == "happiness" and face["confidence"] > 0.8  # she smiles broadly
    assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-3)
    box = face["face"]
    assert 150 < box["x0"] < box["x1"] < 320 and 20 < box["y0"] < box["y1"] < 220
    assert table["headers"][:4] == ["face", "label", "confidence", "face box"]
    assert table["headers"][4:] == result["labels"]
    assert [row[:2] for row in table["data"]] == [["main face", "happiness"]]
    assert "**happiness**" in summary and "1 face" in summary
    assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image")
    # the annotated photo: the box drawn in happiness's colour on the face's left edge
    drawn = cv2.cvtColor(cv2.imread(annotated), cv2.COLOR_BGR2RGB)
    assert drawn.shape == (512, 512, 3)
    colour = tuple(int(LABEL_COLORS["happiness"][i:i + 2], 16) for i in (1, 3, 5))
    edge = drawn[int((box["y0"] + box["y1"]) / 2), int(round(box["x0"]))]
    assert tuple(int(v) for v in edge) == colour
    names = sorted(f.rsplit("/", 1)[-1] for f in files)
    assert names == ["astronaut.emotions.json", "astronaut.faces.csv"]
    by_name = {f.rsplit("/", 1)[-1]: f for f in files}
    with open(by_name["astronaut.emotions.json"]) as handle:
        assert json.load(handle)["faces"][0]["label"] == "happiness"
    with open(by_name["astronaut.faces.csv"]) as handle:
        lines = handle.read().strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("main face,happiness,")


def test_photo_all_faces_left_to_right_and_no_face(demo_url, photos):
    from gradio_client import Client, handle_file

    client = Client(demo_url, verbose=False)
    summary, _, table, _, _, result = client.predict(
        handle_file(str(photos["two"])), "default", "all faces", api_name="/analyze_photo")
    left, right = result["faces"]
    assert [left["name"], right["name"]] == ["face 1", "face 2"]
    assert left["label"] == right["label"] == "happiness"
    # the right face is the left one mirrored about the middle of the 1024 px photo
    assert right["face"]["x0"] == pytest.approx(1024 - left["face"]["x1"], abs=8)
    assert right["face"]["y0"] == pytest.approx(left["face"]["y0"], abs=8)
    assert len(table["data"]) == 2 and "2 faces" in summary
    # "main face" keeps one of them
    _, _, table1, _, _, result1 = client.predict(
        handle_file(str(photos["two"])), "default", "main face", api_name="/analyze_photo")
    assert len(result1["faces"]) == 1 and len(table1["data"]) == 1
    summary, _, table, annotated, _, result = client.predict(
        handle_file(str(photos["none"])), "default", "main face", api_name="/analyze_photo")
    assert result["faces"] == [] and table["data"] == []
    assert "No face found in the photo." in summary and "clip" not in summary
    assert annotated.endswith(".png")


def test_photo_bad_inputs_are_one_line_errors(demo_url, photos, clip_video, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from demo.photo import analyze_photo

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 100)
    client = Client(demo_url, verbose=False)
    cases = [(broken, "/analyze_photo", "broken.png: not a readable image"),
             (clip_video, "/analyze_photo", "face clip.mp4 is not a photo"),
             (photos["one"], "/analyze", "astronaut.png is a photo: analyze it in the Photo tab")]
    for path, api, expected in cases:
        args = ("default", "main face") if api == "/analyze_photo" else ("default", 8, 10)
        with pytest.raises(AppError) as info:
            client.predict(handle_file(str(path)), *args, api_name=api)
        message = str(info.value)
        assert expected in message, message
        assert "Traceback" not in message and "\n" not in message.strip()
    with pytest.raises(gr.Error, match="Upload a photo first"):
        analyze_photo(None)
    with pytest.raises(gr.Error, match=r"is 0\.\d+ MB; the limit is 1e-05 MB\."):
        analyze_photo(str(photos["one"]), max_mb=0.00001)


def test_the_annotated_video_boxes_the_face_of_a_large_video(tmp_path):
    """A 1080p upload is detected on shrunk frames and drawn at 640 px: the box drawn
    must lie on the face (its vertical edges are where the drawing changed the frame)."""
    import numpy as np

    from demo.app import render_annotated
    from emotion_encoder import EmotionEncoder
    from emotion_encoder.video import iter_frames

    path = tmp_path / "full hd.mp4"
    truth = write_face_video(path, seconds=1.0, fps=10, size=(1920, 1080), moving=False)[0][0]
    analysis = EmotionEncoder("fast").analyze(path)
    out = render_annotated(path, analysis.track, tmp_path / "annotated.mp4",
                           frame_boxes=analysis.frame_boxes)
    (_, drawn), (_, plain) = next(iter_frames(out)), next(iter_frames(path, max_side=640))
    assert drawn.shape == plain.shape == (360, 640, 3)
    x0, y0, x1, y1 = (v * 640 / 1920 for v in truth)
    rows = slice(int(y0 + 0.3 * (y1 - y0)), int(y1 - 0.3 * (y1 - y0)))  # below the tag
    changed = np.abs(drawn[rows].astype(int) - plain[rows].astype(int)).max(axis=(0, 2)) > 80
    columns = np.flatnonzero(changed)
    assert abs(columns.min() - x0) < 15 and abs(columns.max() - x1) < 15, (columns, x0, x1)
