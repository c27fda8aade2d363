"""The probe panel's statistics (``benchmarks/probes.py``): how far a probe can tell, and
whether one model's lead over another on the same faces is more than chance."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import probes  # noqa: E402


def test_wilson_interval_matches_the_formula_worked_by_hand():
    lo, hi = probes.wilson(23, 43)  # JAFFE's held-out people: 23 of 43 right
    assert (lo, hi) == pytest.approx((0.3892, 0.6749), abs=1e-4)
    assert probes.wilson(2, 2)[1] == pytest.approx(1.0) and probes.wilson(0, 0) == (0.0, 1.0)
    small, large = probes.wilson(6, 12), probes.wilson(600, 1200)
    assert small[1] - small[0] > 4 * (large[1] - large[0])  # 100x the faces: 10x narrower


def test_mcnemar_is_the_exact_two_sided_binomial_test(tmp_path):
    assert probes.mcnemar(9, 2) == pytest.approx(2 * (1 + 11 + 55) / 2 ** 11)
    assert probes.mcnemar(5, 0) == probes.mcnemar(0, 5) == pytest.approx(2 / 32)
    assert probes.mcnemar(3, 3) == 1.0 and probes.mcnemar(0, 0) == 1.0
    model, fer = tmp_path / "model", tmp_path / "fer"
    model.mkdir(), fer.mkdir()
    (model / "predictions.csv").write_text(
        "sample,predicted,true,p_anger\na.png,anger,anger,0.9\n\"b,1.png\",fear,anger,0.1\n"
        "c.png,anger,anger,0.8\n")
    (fer / "fer-predictions.csv").write_text(
        "sample,predicted,true\n\"b,1.png\",anger,anger\nc.png,anger,anger\n")  # a: no face
    assert probes.paired(model / "predictions.csv", fer / "fer-predictions.csv") == \
        {"only_a": 1, "only_b": 1, "p": 1.0}
    assert probes.paired(model / "predictions.csv", tmp_path / "none.csv") is None



@pytest.mark.skipif(not probes.DATA.exists(), reason="needs ../shared/data")
def test_labelled_videos_add_a_fetched_corpus_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cremad-sample"
    folder.mkdir()
    for code in ("ANG", "FEA"):
        (folder / f"1001_DFA_{code}_XX.flv").write_bytes(b"")
    monkeypatch.setattr(probes, "SAMPLE_VIDEOS", tmp_path / "none")
    shared = probes.labelled_videos()
    assert {path.name: label for path, label in shared} == {
        "mead_disgusted.mp4": "disgust", "mead_happy.mp4": "happiness"}
    monkeypatch.setattr(probes, "SAMPLE_VIDEOS", tmp_path)
    videos = probes.labelled_videos()
    assert videos[:2] == shared and {path.name: label for path, label in videos[2:]} == {
        "1001_DFA_ANG_XX.flv": "anger", "1001_DFA_FEA_XX.flv": "fear"}


def test_panel_has_a_video_row_per_corpus_with_the_peer_where_it_ran():
    rows = [{"video": "a.mp4", "group": "videos", "truth": "disgust", "model": "disgust",
             "fer": "anger"},
            {"video": "b.flv", "group": "cremad-sample", "truth": "fear", "model": "surprise",
             "fer": None},
            {"video": "c.flv", "group": "cremad-sample", "truth": "anger", "model": "anger",
             "fer": None}]
    table = probes.panel_markdown("default", {}, rows).splitlines()
    assert len(table) == 4
    assert table[2].startswith("| labelled videos, videos (a.mp4: disgust / anger) | 1 | "
                               "**1 / 1** |") and table[2].endswith("| 0 / 1 | | | | |")
    assert table[3].startswith("| labelled videos, cremad-sample (b.flv: surprise, c.flv: "
                               "anger) | 2 | **1 / 2** |") and "| - |" in table[3]


def test_the_cremad_sample_counts_as_present_only_with_every_clip_unchanged(tmp_path,
                                                                          monkeypatch):
    import hashlib

    import fetch_cremad_sample as fetch

    clips = {"1001_DFA_ANG_XX.flv": b"anger", "1001_DFA_SAD_XX.flv": b"sadness"}
    monkeypatch.setattr(fetch, "FILES", {name: hashlib.sha256(data).hexdigest()
                                         for name, data in clips.items()})
    assert not fetch.present(tmp_path)
    (tmp_path / "1001_DFA_ANG_XX.flv").write_bytes(b"anger")
    assert not fetch.present(tmp_path)  # one clip missing
    (tmp_path / "1001_DFA_SAD_XX.flv").write_bytes(b"sadness!")
    assert not fetch.present(tmp_path)  # one clip changed
    (tmp_path / "1001_DFA_SAD_XX.flv").write_bytes(b"sadness")
    assert fetch.present(tmp_path) and fetch.fetch(tmp_path) == tmp_path  # no download


def test_the_posed_sample_is_checked_and_becomes_a_probe_of_the_panel(tmp_path, monkeypatch):
    import hashlib

    import fetch_posed_sample as fetch

    from emotion_encoder.data.discover import open_dataset

    stills = {"0-f1-su-ph.jpg": b"surprise", "sad_face_1.jpg": b"sadness"}
    files = {name: (hashlib.sha256(data).hexdigest(), data.decode(), f"p{i}")
             for i, (name, data) in enumerate(stills.items())}
    monkeypatch.setattr(fetch, "PYFEAT_FILES", {k: files[k] for k in ["0-f1-su-ph.jpg"]})
    monkeypatch.setattr(fetch, "JSPSYCH_FILES", {k: files[k] for k in ["sad_face_1.jpg"]})
    folder = tmp_path / "probe-stills" / "posed-sample"
    folder.mkdir(parents=True)
    for name, data in stills.items():
        (folder / name).write_bytes(data)
    assert not fetch.present(folder)  # no manifest yet
    (folder / "labels.csv").write_text(fetch.manifest(files))
    assert fetch.present(folder) and fetch.fetch(folder) == folder  # no download
    (folder / "sad_face_1.jpg").write_bytes(b"changed")
    assert not fetch.present(folder)
    (folder / "sad_face_1.jpg").write_bytes(b"sadness")

    # a real manifest of real stills, as the panel's extra probe
    from skimage import data as skdata
    from PIL import Image

    for name in stills:
        Image.fromarray(skdata.astronaut()).save(folder / name)
    dataset, _ = open_dataset(folder / "labels.csv")
    assert sorted((s.label, s.subject) for s in dataset) == [("sadness", "p1"),
                                                           ("surprise", "p0")]
    monkeypatch.setattr(probes, "SAMPLE_STILLS", tmp_path / "probe-stills")
    extra = probes.all_probes()[len(probes.PROBES):]
    assert [(p.key, p.split) for p in extra] == [("posed-sample", None)]
    assert probes.DATA / extra[0].path == (folder / "labels.csv").resolve()
    monkeypatch.setattr(probes, "SAMPLE_STILLS", tmp_path / "nothing-here")
    assert probes.all_probes() == probes.PROBES
