"""EmotionEncoder end to end: real video files, real face detection, the default network."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emotion_encoder import CANONICAL_LABELS, EmotionEncoder, EmotionEncoderError, VideoError
from emotion_encoder.results import UNTRAINED_WARNING

from synthetic import astronaut, face_frames, write_face_video

SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


@pytest.fixture(scope="module")
def encoder() -> EmotionEncoder:
    return EmotionEncoder.from_preset("default")


@pytest.fixture(scope="module")
def face_video(tmp_path_factory) -> tuple[Path, list]:
    path = tmp_path_factory.mktemp("videos") / "face.mp4"
    boxes = write_face_video(path, seconds=3.0, fps=25)
    return path, boxes


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area


def test_predict_sliding_windows_on_a_video_file(encoder, face_video):
    path, boxes = face_video
    result = encoder.predict(path)
    assert result.video == str(path)
    assert result.duration == pytest.approx(3.0, abs=0.1)
    assert result.fps == pytest.approx(25.0, abs=0.01)
    assert result.labels == CANONICAL_LABELS
    # 30 frames sampled at 10 fps, windows of 16 every 8 -> starts at 0.0, 0.8, end-aligned 1.4
    assert [round(c.start, 2) for c in result.clips] == [0.0, 0.8, 1.4]
    assert all(c.end - c.start == pytest.approx(1.6) for c in result.clips)
    assert result.clips[-1].end == pytest.approx(3.0, abs=0.05)
    for clip in result.clips:
        assert clip.has_face and clip.face_ratio == 1.0
        assert sum(clip.probs.values()) == pytest.approx(1.0, abs=1e-4)
        assert clip.label == max(clip.probs, key=clip.probs.get)
        middle = boxes[int(clip.segment.middle * 25)][0]
        assert _iou((clip.face.x0, clip.face.y0, clip.face.x1, clip.face.y1), middle) > 0.4
    assert result.video_label in CANONICAL_LABELS
    assert sum(result.video_probs.values()) == pytest.approx(1.0, abs=1e-4)
    assert (UNTRAINED_WARNING in result.warnings) == (not result.weights_trained)


def test_fixed_interval_gives_one_clip_over_the_whole_video(encoder, face_video):
    path, _ = face_video
    result = encoder.predict(path, sampling="fixed")
    assert len(result.clips) == 1
    assert (result.clips[0].start, result.clips[0].end) == (0.0, pytest.approx(3.0, abs=0.05))
    assert result.sampling["mode"] == "fixed"


def test_array_and_iterable_inputs_match_the_file(encoder, face_video):
    path, _ = face_video
    frames, _ = face_frames(seconds=3.0, fps=25)
    from_file = encoder.predict(path)
    from_array = encoder.predict(np.stack(frames), fps=25)
    from_iter = encoder.predict(iter(frames), fps=25)
    for other in (from_array, from_iter):
        assert [c.start for c in other.clips] == pytest.approx([c.start for c in from_file.clips])
        assert all(c.has_face for c in other.clips)
    assert from_array.video is None and from_array.n_frames == 75
    with pytest.raises(EmotionEncoderError, match="fps"):
        encoder.predict(np.stack(frames))


def test_embed_matches_predict_times(encoder, face_video):
    path, _ = face_video
    emb = encoder.embed(path)
    pred = encoder.predict(path)
    assert emb.embeddings.shape == (len(pred.clips), 256)
    assert emb.starts.tolist() == pytest.approx([c.start for c in pred.clips])
    assert emb.has_face.all()
    assert np.abs(emb.embeddings).sum(axis=1).min() > 0
    np.testing.assert_allclose(emb.probs.sum(-1), 1.0, atol=1e-4)
    assert emb.attention.shape == (len(pred.clips), 4)


def test_no_face_video_is_flagged_not_dropped(encoder, tmp_path):
    path = tmp_path / "empty_room.mp4"
    write_face_video(path, seconds=2.0, face=False)
    result = encoder.predict(path)
    assert result.clips and not result.faces_found
    assert all(c.label is None and c.face is None and c.face_ratio == 0 for c in result.clips)
    assert result.video_label is None and result.video_probs is None
    assert "no face found in any clip" in result.warnings
    emb = encoder.embed(path)
    assert not emb.has_face.any() and not emb.embeddings.any()


@pytest.mark.parametrize("side, warned", [(96, True), (160, False)])
def test_a_face_too_small_to_read_is_warned(encoder, side, warned):
    """The astronaut's face 19 px wide (a 96 px picture) is under the 24 px where the
    labelled clips stop reading as at full size: the result says so, and so do the face
    tracks (``timeline``, ``align``); at 32 px they do not."""
    import cv2

    picture = cv2.resize(astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    result = encoder.predict(np.stack([picture] * 20), fps=10)
    assert result.faces_found
    small = [w for w in result.warnings if "px wide as read" in w]
    assert len(small) == warned
    if warned:
        assert small[0].startswith("faces are 19 px wide") and "under 24 px" in small[0]
    assert result.to_dict()["warnings"] == small  # the only warning, in the JSON too
    tracks = encoder.track(np.stack([picture] * 20), fps=10)  # the speaker's faces too
    assert tracks.speaker.has_face.any() and tracks.warnings == small


def test_gap_without_face_is_flagged_in_its_clips(encoder, tmp_path):
    path = tmp_path / "gap.mp4"
    write_face_video(path, seconds=6.0, no_face_spans=[(2.0, 4.4)])
    result = encoder.predict(path, )
    flags = [(round(c.start, 1), c.has_face) for c in result.clips]
    assert any(has for _, has in flags) and not all(has for _, has in flags)
    inside = [c for c in result.clips if c.start >= 2.0 and c.end <= 4.4]
    assert inside and all(not c.has_face for c in inside)
    assert result.clips[0].has_face and result.clips[-1].has_face


def test_one_frame_video(encoder, tmp_path):
    path = tmp_path / "one.mp4"
    write_face_video(path, seconds=0.04, fps=25)
    result = encoder.predict(path)
    assert len(result.clips) == 1 and result.clips[0].has_face


@pytest.mark.parametrize("name", ["face.png", "face.tiff"])
def test_a_still_image_reads_as_its_pixels(encoder, name, tmp_path):
    import cv2

    rgb = astronaut()
    path = tmp_path / name
    assert cv2.imwrite(str(path), rgb[:, :, ::-1].copy())
    from_file, from_pixels = encoder.predict(path), encoder.predict(rgb)  # one RGB image
    assert len(from_file.clips) == 1 and from_file.clips[0].has_face
    assert from_file.duration == pytest.approx(0.04) and from_file.video_label == "happiness"
    np.testing.assert_allclose(from_file.track.probs, from_pixels.track.probs, atol=1e-6)


def test_evaluate_on_a_class_folder_of_stills_reads_them_as_predict_does(encoder, tmp_path):
    import cv2

    from emotion_encoder.evaluation import evaluate

    rgb = astronaut()
    (tmp_path / "data" / "happy").mkdir(parents=True)
    (tmp_path / "data" / "Surprised").mkdir()
    stills = [tmp_path / "data" / "Surprised" / "mirrored.png",
              tmp_path / "data" / "happy" / "a.jpg", tmp_path / "data" / "happy" / "b.webp"]
    for path, image in zip(stills, (rgb[:, ::-1], rgb, rgb[64:, 32:])):
        assert cv2.imwrite(str(path), image[:, :, ::-1].copy())
    report = evaluate("default", tmp_path / "data", tmp_path / "report")
    assert report.n == 3 and not report.skipped
    predicted = np.stack([encoder.predict(path).track.probs[0] for path in stills])
    np.testing.assert_allclose(report.probs, predicted, atol=1e-5)
    assert report.accuracy == pytest.approx(2 / 3)  # the smiling face is no surprise


def test_evaluate_reads_a_talking_face_corpus_in_its_native_layout(tmp_path):
    from emotion_encoder.evaluation import evaluate

    for name in ("Actor_01/01-01-05-02-01-01-01.mp4", "Actor_02/01-01-03-01-02-01-02.mp4"):
        (tmp_path / "ravdess" / name).parent.mkdir(parents=True, exist_ok=True)
        write_face_video(tmp_path / "ravdess" / name, seconds=1.0, fps=25)
    report = evaluate("default", tmp_path / "ravdess", tmp_path / "report")
    assert report.n == 2 and not report.skipped
    assert list(report.true_labels) == ["anger", "happiness"]
    assert report.probs.shape == (2, 7)


def test_evaluate_reads_a_posed_stills_corpus_in_its_native_layout(tmp_path):
    import cv2

    from emotion_encoder.evaluation import evaluate

    rgb = astronaut()  # a smiling face: KDEF's "happy" right, its "surprised" wrong
    for name, image in (("AF01/AF01HAS.JPG", rgb), ("AF01/AF01SUS.JPG", rgb[:, ::-1]),
                        ("AF01/AF01HAHL.JPG", rgb)):
        (tmp_path / "kdef" / name).parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(tmp_path / "kdef" / name), image[:, :, ::-1].copy())
    report = evaluate("default", tmp_path / "kdef", tmp_path / "report")
    assert report.n == 2 and not report.skipped  # straight photos only
    assert list(report.true_labels) == ["happiness", "surprise"]
    assert report.accuracy == pytest.approx(0.5)


def test_missing_file_is_a_video_error(encoder, tmp_path):
    with pytest.raises(VideoError, match="nope.mp4: file not found"):
        encoder.predict(tmp_path / "nope.mp4")


@pytest.mark.skipif(not SHARED_VIDEOS.exists(), reason="../shared/data/videos not present")
@pytest.mark.parametrize("name,min_face_share", [("mead_happy.mp4", 0.9),
                                                 ("talking_woman.mp4", 0.8)])
def test_real_face_videos(encoder, name, min_face_share):
    result = encoder.predict(SHARED_VIDEOS / name)
    share = np.mean([c.has_face for c in result.clips])
    assert share >= min_face_share
    assert result.clips[-1].end == pytest.approx(result.duration, abs=0.15)


@pytest.mark.skipif(not SHARED_VIDEOS.exists(), reason="../shared/data/videos not present")
def test_real_multiface_video_with_no_face_stretches(encoder):
    result = encoder.predict(SHARED_VIDEOS / "stage_multiface.mp4")
    assert result.faces_found
    assert result.duration == pytest.approx(10.0, abs=0.1)  # the data README says 9.2 s; ffmpeg reads 10.0


def test_mirror_averaging_is_mirror_invariant(encoder):
    clips = np.random.default_rng(0).normal(size=(2, 16, 48, 48, 1)).astype("float32")
    plain = encoder.classifier.forward(clips)
    mirrored = encoder.classifier.forward(clips[:, :, :, ::-1].copy())
    for key in ("probs", "embedding", "attention"):
        np.testing.assert_allclose(plain[key], mirrored[key], atol=1e-5)
    single = EmotionEncoder(mirror=False).classifier.forward(clips)["probs"]
    assert not np.allclose(single, plain["probs"], atol=1e-6)


def test_analyze_is_predict_and_embed_in_one_pass(encoder, face_video):
    path, boxes = face_video
    seen = []
    out = encoder.analyze(path, progress=seen.append)
    assert out.prediction.to_dict() == encoder.predict(path).to_dict()
    np.testing.assert_allclose(out.track.embeddings, encoder.embed(path).embeddings,
                               atol=1e-5)
    assert [round(f.t, 2) for f in seen] == [round(t, 2) for t, _ in out.frame_boxes]
    assert len(seen) == 30 and all(box is not None for _, box in out.frame_boxes)


def test_face_boxes_are_in_the_pixels_of_a_large_videos_own_frames(encoder, tmp_path):
    """Frames over 1280 px are decoded shrunk for detection; the boxes that come back (clip
    faces, per-frame boxes, every tracked face) are in the file's pixels, as its width and
    height are."""
    path = tmp_path / "uhd.mp4"
    boxes = write_face_video(path, seconds=2.0, fps=10, size=(2560, 1440), moving=False)
    truth = boxes[0][0]
    out = encoder.analyze(path)
    assert (out.prediction.width, out.prediction.height) == (2560, 1440)
    clip_boxes = [(c.face.x0, c.face.y0, c.face.x1, c.face.y1) for c in out.prediction.clips]
    frame_boxes = [box for _, box in out.frame_boxes]
    tracks = encoder.track(path, faces="all", smooth=False)
    assert len(tracks.faces) == 1
    face_boxes = [tuple(b) for b in tracks.faces[0].boxes]
    for box in clip_boxes + frame_boxes + face_boxes:
        assert _iou(box, truth) > 0.6, (box, truth)


def test_overlapped_pipeline_gives_the_serial_result(face_video):
    path, _ = face_video
    overlapped = EmotionEncoder("fast").predict(path).to_dict()
    serial = EmotionEncoder("fast", overlap=False).predict(path).to_dict()
    assert overlapped == serial and len(serial["clips"]) == 3
