"""The dataset layer: loaders on small trees built here, label options, errors, protocols,
and the real CK+ and FER2013 copies in ../shared/data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from emotion_encoder.data import (Dataset, Sample, fer2013_splits, load_ckplus,
                                  load_ckplus_cutdown, load_fer2013, load_image_folder,
                                  load_manifest, load_oulu_casia, load_video_folder,
                                  oulu_casia_folds, subject_kfold, summarize_folds)
from emotion_encoder.data.discover import open_dataset
from emotion_encoder.errors import DatasetError, EmotionEncoderError

REAL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def write_image(path: Path, value: int = 128) -> Path:
    """A small grey image; the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((16, 16), value, np.uint8)).save(path)
    return path


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.lstrip())
    return path


def still(label: str, subject: str | None = None) -> Sample:
    return Sample(label=label, dataset="t", frames=(Path(f"{label}.png"),), subject=subject)


# --- record types ---------------------------------------------------------------------------

def test_sample_has_frames_or_a_video_and_valid_times():
    clip = Sample(label="fear", dataset="t", video=Path("a.mp4"), start=0.5, end=2.0)
    assert (clip.start, clip.end, clip.frames) == (0.5, 2.0, ())
    with pytest.raises(ValueError, match="either frames or a video"):
        Sample(label="fear", dataset="t")
    with pytest.raises(ValueError, match="either frames or a video"):
        Sample(label="fear", dataset="t", frames=(Path("a.png"),), video=Path("a.mp4"))
    with pytest.raises(ValueError, match="videos only"):
        Sample(label="fear", dataset="t", frames=(Path("a.png"),), start=1.0)
    with pytest.raises(ValueError, match="not after start"):
        Sample(label="fear", dataset="t", video=Path("a.mp4"), start=2.0, end=2.0)
    with pytest.raises(ValueError, match="start -1"):
        Sample(label="fear", dataset="t", video=Path("a.mp4"), start=-1.0)


def test_dataset_counts_select_filter_and_map_labels():
    ds = Dataset("t", (still("anger", "a"), still("contempt", "b"), still("anger", "c")),
                 ("anger", "contempt", "neutral"))
    assert ds.counts() == {"anger": 2, "contempt": 1, "neutral": 0}
    assert ds.select([2]).labels == ds.labels and ds.select([2])[0].subject == "c"
    assert len(ds.filter(lambda s: s.subject != "a")) == 2
    merged = ds.map_labels({"contempt": "anger"})
    assert merged.counts() == {"anger": 3, "neutral": 0}
    dropped = ds.map_labels({"contempt": None})
    assert dropped.labels == ("anger", "neutral") and len(dropped) == 2
    with pytest.raises(ValueError, match="not in labels"):
        Dataset("t", (still("fear"),), ("anger",))


# --- FER2013 --------------------------------------------------------------------------------

@pytest.fixture
def fer_tree(tmp_path) -> Path:
    for split, n in (("train", 3), ("validation", 2), ("test", 1)):
        for name in ("angry", "happy", "neutral", "surprise"):
            for i in range(n):
                write_image(tmp_path / split / name / f"{i}.jpg")
    return tmp_path


def test_fer2013_splits_and_canonical_labels(fer_tree):
    splits = fer2013_splits(fer_tree)
    assert [len(s) for s in splits] == [12, 8, 4]
    test = load_fer2013(fer_tree, "test")
    assert test.labels == ("anger", "happiness", "surprise", "neutral")
    assert test.name == "fer2013" and all(s.subject is None for s in test)
    assert all(len(s.frames) == 1 and s.frames[0].parent.parent.name == "test" for s in test)
    with pytest.raises(ValueError, match="split='dev'"):
        load_fer2013(fer_tree, "dev")


def test_fer2013_unknown_class_folder_is_listed_or_dropped(fer_tree):
    write_image(fer_tree / "test" / "bored" / "0.jpg")
    with pytest.raises(DatasetError, match=r"test: unknown labels 'bored' \(1\)"):
        load_fer2013(fer_tree, "test")
    assert len(load_fer2013(fer_tree, "test", unknown="drop")) == 4


def test_fer2013_missing_or_empty_folders(tmp_path):
    with pytest.raises(DatasetError, match="nowhere: folder not found"):
        load_fer2013(tmp_path / "nowhere", "test")
    (tmp_path / "test" / "angry").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no images in <class>/ folders"):
        load_fer2013(tmp_path, "test")


def test_load_image_folder_reads_grey_arrays(fer_tree):
    x, y = load_image_folder(fer_tree / "train", size=8, labels=("anger", "happiness"))
    assert x.shape == (6, 8, 8, 1) and x.dtype == np.uint8
    assert y.tolist() == [0, 0, 0, 1, 1, 1]


# --- CK+ native -----------------------------------------------------------------------------

def write_ck_sequence(root: Path, subject: str, number: str, n_frames: int,
                      code: str | None) -> None:
    for i in range(1, n_frames + 1):
        write_image(root / "cohn-kanade-images" / subject / number
                    / f"{subject}_{number}_{i:08d}.png", value=10 * i)
    folder = root / "Emotion" / subject / number
    folder.mkdir(parents=True)
    if code is not None:
        (folder / f"{subject}_{number}_{n_frames:08d}_emotion.txt").write_text(f"   {code}\n")


@pytest.fixture
def ck_native(tmp_path) -> Path:
    root = tmp_path / "CK+"
    write_ck_sequence(root, "S005", "001", 4, "3.0000000e+00")
    write_ck_sequence(root, "S005", "002", 3, None)
    write_ck_sequence(root, "S010", "001", 3, "2.0000000e+00")
    write_ck_sequence(root, "S010", "002", 5, "7.0000000e+00")
    return root


def test_ckplus_native_labelled_sequences_in_order(ck_native):
    ck = load_ckplus(ck_native)
    assert [(s.sequence, s.label, s.subject) for s in ck] == [
        ("S005_001", "disgust", "S005"), ("S010_001", "contempt", "S010"),
        ("S010_002", "surprise", "S010")]
    assert [p.name[-12:-4] for p in ck[2].frames] == [f"{i:08d}" for i in range(1, 6)]
    assert ck.labels == ("disgust", "surprise", "contempt")


def test_ckplus_native_options(ck_native):
    with_neutral = load_ckplus(ck_native, neutral_frames=2, contempt="drop")
    assert with_neutral.counts() == {"disgust": 1, "surprise": 1, "neutral": 3}
    neutral = [s for s in with_neutral if s.label == "neutral"]
    assert all(len(s.frames) == 2 and s.frames[0].name.endswith("00000001.png")
               for s in neutral)


def test_ckplus_native_nested_root_and_errors(ck_native, tmp_path):
    assert len(load_ckplus(tmp_path)) == 3  # CK+/cohn-kanade-images one level down
    bad = ck_native / "Emotion" / "S005" / "002" / "S005_002_00000003_emotion.txt"
    bad.write_text("happy\n")
    with pytest.raises(DatasetError, match=r"S005_002_00000003_emotion.txt: expected an emotion"):
        load_ckplus(ck_native)
    bad.write_text("9.0\n")
    with pytest.raises(DatasetError, match="emotion code 9.0 is not one of 0-7"):
        load_ckplus(ck_native)
    with pytest.raises(DatasetError, match="no cohn-kanade-images/ folder"):
        load_ckplus(ck_native / "Emotion")


# --- CK+ cut-down ---------------------------------------------------------------------------

CUTDOWN_CSV = """
sequence,subject,label,peak_frames,first_frame,last_frame
S010_004,S010,anger,pk/anger/S010_004_18.png;pk/anger/S010_004_19.png,fl/S010_004_1.png,fl/a.png
S011_001,S011,contempt,pk/contempt/S011_001_7.png,,
S012_002,S012,happiness,pk/happy/S012_002_9.png,fl/S012_002_1.png,
"""


@pytest.fixture
def ck_cut(tmp_path) -> Path:
    table = write_csv(tmp_path / "sequences.csv", CUTDOWN_CSV)
    for line in CUTDOWN_CSV.strip().splitlines()[1:]:
        fields = line.split(",")
        for name in fields[3].split(";") + [f for f in fields[4:] if f]:
            write_image(tmp_path / name)
    return table.parent


def test_ckplus_cutdown_peak_frames_and_neutral(ck_cut):
    ck = load_ckplus_cutdown(ck_cut)
    assert [(s.sequence, s.label, len(s.frames)) for s in ck] == [
        ("S010_004", "anger", 2), ("S011_001", "contempt", 1), ("S012_002", "happiness", 1)]
    assert ck[0].frames[1] == ck_cut / "pk/anger/S010_004_19.png"
    both = load_ckplus_cutdown(ck_cut, with_neutral=True, contempt="drop")
    assert both.counts() == {"anger": 1, "happiness": 1, "neutral": 2}  # S011 has no first frame
    assert {s.subject for s in both if s.label == "neutral"} == {"S010", "S012"}


def test_ckplus_cutdown_errors(ck_cut):
    (ck_cut / "pk/happy/S012_002_9.png").unlink()
    with pytest.raises(DatasetError, match="sequences.csv:4: pk/happy/S012_002_9.png: file not"):
        load_ckplus_cutdown(ck_cut)
    write_csv(ck_cut / "sequences.csv", "sequence,subject,label,peaks\nS1,S1,anger,a.png\n")
    with pytest.raises(DatasetError, match=r"sequences.csv:1: missing column\(s\) "
                                           "peak_frames, first_frame"):
        load_ckplus_cutdown(ck_cut)


def _framed(scene: np.ndarray, x: int, y: int, side: int) -> np.ndarray:
    """A 48x48 crop of ``scene`` (square window at x, y of ``side`` pixels)."""
    import cv2

    return cv2.resize(scene[y:y + side, x:x + side], (48, 48), interpolation=cv2.INTER_AREA)


def test_ckplus_onset_registers_first_frames_into_the_peak_framing(tmp_path):
    import cv2

    from emotion_encoder.data.ckplus_onset import write_onset_set

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.integers(0, 255, (200, 200)).astype(np.uint8), (0, 0), 1.5)
    apex, onset = texture, texture.copy()
    onset[110:140, 70:130] //= 2  # the expression changes: the "mouth" differs
    src = tmp_path / "ck"
    for folder in ("pk", "fl"):
        (src / folder).mkdir(parents=True)
    # (x, y, side) of the peak crops and of the other framing: wider, then tighter
    framings = [((60, 50, 80), (52, 44, 96)), ((40, 40, 100), (50, 48, 84))]
    rows = ["sequence,subject,label,peak_frames,first_frame,last_frame"]
    for n, (peak, wide) in enumerate(framings):
        seq = f"S01{n}_001"
        for i in range(3):
            cv2.imwrite(str(src / "pk" / f"{seq}_{i}.png"), _framed(apex, *peak))
        cv2.imwrite(str(src / "fl" / f"{seq}_first.png"), _framed(onset, *wide))
        cv2.imwrite(str(src / "fl" / f"{seq}_last.png"), _framed(apex, *wide))
        peaks = ";".join(f"pk/{seq}_{i}.png" for i in range(3))
        rows.append(f"{seq},S01{n},anger,{peaks},fl/{seq}_first.png,fl/{seq}_last.png")
    rows.append("S020_001,S020,anger,pk/S010_001_0.png,,")  # no first frame: peaks only
    write_csv(src / "sequences.csv", "\n".join(rows) + "\n")

    counts = write_onset_set(src, tmp_path / "onset")
    assert counts == {"first_and_peaks": 2, "peaks_only": 1}
    ck = load_ckplus_cutdown(tmp_path / "onset")
    assert [len(s.frames) for s in ck] == [4, 4, 1]
    assert [s.subject for s in ck] == ["S010", "S011", "S020"]
    for sample, (peak, _) in zip(ck, framings):
        registered = np.asarray(Image.open(sample.frames[0]), np.float32)
        truth = _framed(onset, *peak).astype(np.float32)  # the first frame, framed as the peaks
        unregistered = np.asarray(Image.open(src / "fl" / f"{sample.sequence}_first.png"),
                                  np.float32)
        inner = (slice(4, -4), slice(4, -4))  # borders are replicated, not real
        error = np.abs(registered - truth)[inner].mean()
        assert error < 4 and np.abs(unregistered - truth)[inner].mean() > 3 * error
    assert not list((tmp_path / "onset").rglob("*.tmp*"))


# --- Oulu-CASIA -----------------------------------------------------------------------------

@pytest.fixture
def oulu(tmp_path) -> Path:
    for light in ("VL/Strong", "NI/Dark"):
        for subject in ("P001", "P002"):
            for emotion in ("Anger", "Happiness", "Surprise"):
                for i in (0, 1, 2, 9, 10):
                    write_image(tmp_path / "OriginalImg" / light / subject / emotion
                                / f"{i}.jpeg")
    return tmp_path


def test_oulu_casia_sequences_subjects_and_lighting(oulu):
    ds = load_oulu_casia(oulu)
    assert len(ds) == 6 and ds.labels == ("anger", "happiness", "surprise")
    assert {s.subject for s in ds} == {"P001", "P002"} and ds[0].sequence == "P001_Anger"
    assert [p.stem for p in ds[0].frames] == ["0", "1", "2", "9", "10"]
    dark = load_oulu_casia(oulu, imaging="NI", illumination="Dark")
    assert all("NI/Dark" in s.frames[0].as_posix() for s in dark)
    with pytest.raises(DatasetError, match="no OriginalImg/VL/Weak/ folder"):
        load_oulu_casia(oulu, illumination="Weak")


def test_oulu_casia_empty_sequence_folder_is_an_error(oulu):
    empty = oulu / "OriginalImg" / "VL" / "Strong" / "P002" / "Fear"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"P002/Fear: no images"):
        load_oulu_casia(oulu)


# --- folders of video clips -----------------------------------------------------------------

@pytest.fixture(scope="module")
def clip_tree(tmp_path_factory) -> Path:
    from moviepy import ImageSequenceClip

    root = tmp_path_factory.mktemp("clips")
    for label, name in (("happy", "S01_take1.mp4"), ("sad", "S02_take1.mp4")):
        (root / label).mkdir()
        frames = [np.full((32, 32, 3), 40 * i, np.uint8) for i in range(5)]
        ImageSequenceClip(frames, fps=10).write_videofile(
            str(root / label / name), codec="libx264", audio=False, logger=None)
    (root / "sad" / "notes.txt").write_text("not a clip")
    return root


def test_video_folder_labels_and_subjects(clip_tree):
    ds = load_video_folder(clip_tree)
    assert ds.name == clip_tree.name
    assert [(s.label, s.video.name, s.subject) for s in ds] == [
        ("happiness", "S01_take1.mp4", None), ("sadness", "S02_take1.mp4", None)]
    assert all(s.video.stat().st_size > 0 and s.start is None for s in ds)
    by_subject = load_video_folder(clip_tree, subject_from=r"^(S\d+)_", name="mine")
    assert [s.subject for s in by_subject] == ["S01", "S02"] and by_subject.name == "mine"
    named = load_video_folder(clip_tree, subject_from=r"take(?P<subject>\d)")
    assert [s.subject for s in named] == ["1", "1"]
    with pytest.raises(DatasetError, match=r"S01_take1.mp4: subject_from '\^P\\d\+' does not"):
        load_video_folder(clip_tree, subject_from=r"^P\d+")


def test_class_folders_of_stills_and_frame_folders(tmp_path):
    write_image(tmp_path / "happy" / "S01_a.png")
    write_image(tmp_path / "happy" / "S02_b.JPG")
    write_image(tmp_path / "Surprised" / "S03_c.tiff")
    for i in (10, 9):  # natural order: 9 before 10
        write_image(tmp_path / "sad" / "S04_seq" / f"f{i}.png", value=i)
    (tmp_path / "sad" / "notes.txt").write_text("not a sample")
    (tmp_path / "sad" / "empty").mkdir()
    ds = load_video_folder(tmp_path, subject_from=r"^(S\d+)_")
    assert [(s.label, s.sequence, s.subject, [p.name for p in s.frames], s.video)
            for s in ds] == [
        ("surprise", "S03_c", "S03", ["S03_c.tiff"], None),  # class folders sort by name
        ("happiness", "S01_a", "S01", ["S01_a.png"], None),
        ("happiness", "S02_b", "S02", ["S02_b.JPG"], None),
        ("sadness", "S04_seq", "S04", ["f9.png", "f10.png"], None)]
    assert open_dataset(tmp_path)[0].labels == ds.labels  # the layout is recognised


def test_video_folder_without_clips(tmp_path):
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "notes.txt").write_text("not a sample")
    with pytest.raises(DatasetError, match="no video clips, images or folders of frames"):
        load_video_folder(tmp_path)


# --- manifest CSV ---------------------------------------------------------------------------

@pytest.fixture
def manifest_dir(tmp_path, clip_tree) -> Path:
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes((clip_tree / "happy" / "S01_take1.mp4").read_bytes())
    write_image(tmp_path / "img" / "b.png")
    for i in (1, 2, 10):
        write_image(tmp_path / "frames" / f"f{i}.jpg")
    return tmp_path


def test_manifest_videos_images_frame_folders(manifest_dir):
    table = write_csv(manifest_dir / "train.csv", """
path,label,subject,start,end,note
v/a.mp4,angry,s1,0.5,1.5,x
v/a.mp4,Others,s1,,,
img/b.png,sad,,,,
frames,neutral,s2,,,
""")
    ds = load_manifest(table, name="v2c")
    assert [s.label for s in ds] == ["anger", "others", "sadness", "neutral"]
    assert (ds[0].video, ds[0].start, ds[0].end) == (manifest_dir / "v/a.mp4", 0.5, 1.5)
    assert ds[2].frames == (manifest_dir / "img/b.png",) and ds[2].subject is None
    assert [p.name for p in ds[3].frames] == ["f1.jpg", "f2.jpg", "f10.jpg"]
    assert ds.name == "v2c" and load_manifest(table).name == manifest_dir.name
    assert load_manifest(table, others="drop").labels == ("anger", "sadness", "neutral")


def test_manifest_without_time_columns(manifest_dir):
    table = write_csv(manifest_dir / "m.csv", "path,label,subject\nv/a.mp4,happy,s1\n")
    assert load_manifest(table)[0].start is None


def test_manifest_without_subject_column(manifest_dir):
    table = write_csv(manifest_dir / "m.csv", "path,label,notes\nv/a.mp4,happy,smiles\n")
    sample = load_manifest(table)[0]
    assert sample.subject is None and sample.label == "happiness"
    with pytest.raises(DatasetError, match="needs subject ids, and sample 0 has none"):
        subject_kfold(load_manifest(table), k=2)


HEADER = "path,label,subject,start,end\n"


@pytest.mark.parametrize("body,message", [
    ("path,subject\nv/a.mp4,s1\n", r"m.csv:1: missing column\(s\) label"),
    ("v/a.mp4,happy,s1\n", r"m.csv:1: missing column\(s\) path, label"),
    ("", "m.csv: empty file"),
    (HEADER, "m.csv: no rows after the header"),
    (HEADER + "v/a.mp4,happy,s1\nv/zz.mp4,sad,s1\n", "m.csv:3: v/zz.mp4: file not found"),
    (HEADER + '"v/a\nb.mp4",happy,s1\n', r"m.csv:\d: v/a\\nb.mp4: file not found"),
    (HEADER + "v/a.mp4,,s1\n", "m.csv:2: empty path or label"),
    (HEADER + "v/a.mp4,happy,s1,abc,\n", "m.csv:2: v/a.mp4: start 'abc' is not a time"),
    (HEADER + "v/a.mp4,happy,s1,3,2\n", "m.csv:2: v/a.mp4: end 2.0 is not after start 3.0"),
    (HEADER + "v/a.mp4,happy,s1,-1,\n", "m.csv:2: v/a.mp4: start -1.0 is not a time >= 0"),
    (HEADER + "img/b.png,happy,s1,1,2\n", "m.csv:2: img/b.png: start/end apply to videos"),
    (HEADER + "m.csv,happy,s1\n", "m.csv:2: m.csv: not a video, an image"),
    (HEADER + "v/a.mp4,bored,s1\nv/a.mp4,meh,s1\nv/a.mp4,bored,s1\n",
     r"m.csv: unknown labels 'bored' \(2\), 'meh' \(1\); known: anger"),
])
def test_manifest_errors_name_the_file_and_problem(manifest_dir, body, message):
    table = manifest_dir / "m.csv"
    table.write_text(body)
    with pytest.raises(DatasetError, match=message) as error:
        load_manifest(table)
    assert isinstance(error.value, EmotionEncoderError) and "\n" not in str(error.value)


def test_manifest_unknown_labels_can_be_dropped(manifest_dir):
    table = write_csv(manifest_dir / "m.csv", "path,label,subject\nv/a.mp4,bored,s1\n"
                                              "v/a.mp4,contempt,s1\n")
    assert load_manifest(table, unknown="drop").labels == ("contempt",)
    assert len(load_manifest(table, unknown="drop", contempt="drop")) == 0
    with pytest.raises(ValueError, match="contempt='maybe'"):
        load_manifest(table, contempt="maybe")


# --- protocols ------------------------------------------------------------------------------

def dataset_of(subject_sizes: list[int]) -> Dataset:
    samples = tuple(still("anger", f"s{i}") for i, n in enumerate(subject_sizes)
                    for _ in range(n))
    return Dataset("t", samples, ("anger",))


@settings(deadline=None)
@given(sizes=st.lists(st.integers(1, 8), min_size=2, max_size=40), k=st.integers(2, 12),
       seed=st.integers(0, 2**32 - 1))
def test_subject_kfold_properties(sizes, k, seed):
    ds = dataset_of(sizes)
    if k > len(sizes):
        with pytest.raises(DatasetError, match=f"need at least {k} subjects"):
            subject_kfold(ds, k, seed)
        return
    folds = subject_kfold(ds, k, seed)
    assert len(folds) == k
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(ds)))  # every sample tested once
    for train, test in folds:
        assert len(test) > 0 and len(train) + len(test) == len(ds)
        assert not {ds[i].subject for i in train} & {ds[i].subject for i in test}
    test_sizes = [len(test) for _, test in folds]
    assert max(test_sizes) - min(test_sizes) <= max(sizes)
    again = subject_kfold(ds, k, seed)
    assert all(np.array_equal(a[1], b[1]) and np.array_equal(a[0], b[0])
               for a, b in zip(folds, again))


def test_subject_kfold_needs_subject_ids_and_two_folds():
    ds = Dataset("clips", (still("anger", "a"), still("anger")), ("anger",))
    with pytest.raises(DatasetError, match="clips: subject-independent .* needs subject ids"):
        subject_kfold(ds, k=2)
    with pytest.raises(ValueError, match="at least 2 folds"):
        subject_kfold(dataset_of([1, 1]), k=1)


def test_oulu_protocol_is_ten_folds_and_summary():
    assert len(oulu_casia_folds(dataset_of([6] * 80))) == 10
    summary = summarize_folds([0.5, 1.0, 0.75])
    assert summary == (0.75, 0.25, 3) and summary.mean == 0.75
    assert summarize_folds([0.8]).std == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        summarize_folds([85.0, 90.0])
    with pytest.raises(ValueError, match="non-empty"):
        summarize_folds([])


# --- the real data --------------------------------------------------------------------------

@pytest.mark.skipif(not (REAL_DATA / "ckplus" / "sequences.csv").is_file(),
                    reason="real CK+ copy not present")
def test_real_ckplus_counts_and_subject_folds():
    ck = load_ckplus_cutdown(REAL_DATA / "ckplus")
    assert len(ck) == 327 and all(len(s.frames) == 3 for s in ck)
    assert ck.counts() == {"anger": 45, "disgust": 59, "fear": 25, "happiness": 69,
                           "sadness": 28, "surprise": 83, "contempt": 18}
    assert len({s.subject for s in ck}) == 118
    assert all(s.sequence.startswith(s.subject) for s in ck)
    with_neutral = load_ckplus_cutdown(REAL_DATA / "ckplus", with_neutral=True)
    assert with_neutral.counts()["neutral"] == 327 - 9
    folds = subject_kfold(ck, k=10)
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(327))
    for train, test in folds:
        assert not {ck[i].subject for i in train} & {ck[i].subject for i in test}
    assert max(len(t) for _, t in folds) - min(len(t) for _, t in folds) <= 1


@pytest.mark.skipif(not (REAL_DATA / "fer2013" / "test").is_dir(),
                    reason="real FER2013 copy not present")
def test_real_fer2013_test_split():
    test = load_fer2013(REAL_DATA / "fer2013", "test")
    assert len(test) == 3589
    assert test.counts() == {"anger": 491, "disgust": 55, "fear": 528, "happiness": 879,
                             "sadness": 594, "surprise": 416, "neutral": 626}


def _touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"clip")


def test_ravdess_native_layout(tmp_path):
    from emotion_encoder.data import load_ravdess

    _touch(tmp_path, "Video_Speech_Actor_01/Actor_01/01-01-05-02-01-01-01.mp4",  # angry
           "Video_Speech_Actor_01/Actor_01/02-01-05-02-01-01-01.mp4",  # its video-only twin
           "Video_Speech_Actor_01/Actor_01/02-01-07-01-02-02-01.mp4",  # disgust, video only
           "Actor_02/01-01-02-01-01-01-02.mp4",                        # calm
           "Actor_02/01-02-03-02-01-01-02.mp4",                        # song, happy
           "Audio_Speech_Actors_01-24/Actor_02/03-01-04-01-01-01-02.wav",
           "Actor_02/notes.txt")
    ds = load_ravdess(tmp_path)
    assert [(s.label, s.subject, s.video.name) for s in ds] == [
        ("anger", "actor01", "01-01-05-02-01-01-01.mp4"),
        ("disgust", "actor01", "02-01-07-01-02-02-01.mp4"),
        ("neutral", "actor02", "01-01-02-01-01-01-02.mp4")]
    assert [s.label for s in load_ravdess(tmp_path, channel="all", calm="drop")] == [
        "anger", "disgust", "happiness"]
    assert [s.label for s in load_ravdess(tmp_path, intensity="strong")] == ["anger"]
    assert open_dataset(tmp_path)[0].labels == ds.labels
    with pytest.raises(DatasetError, match="'loud': expected one of normal, strong, all"):
        load_ravdess(tmp_path, intensity="loud")


def test_crema_d_native_layout(tmp_path):
    from emotion_encoder.data import load_crema_d

    _touch(tmp_path, "VideoFlash/1001_DFA_ANG_XX.flv", "VideoFlash/1001_IEO_DIS_HI.flv",
           "VideoFlash/1002_ITS_FEA_LO.mp4", "AudioWAV/1001_DFA_ANG_XX.wav",
           "VideoFlash/readme.flv")
    ds = load_crema_d(tmp_path)
    assert [(s.label, s.subject) for s in ds] == [("anger", "1001"), ("disgust", "1001"),
                                                  ("fear", "1002")]
    assert [s.label for s in load_crema_d(tmp_path, level="HI")] == ["disgust"]
    assert open_dataset(tmp_path)[0].name == "crema_d"


def test_kdef_native_layout(tmp_path):
    from emotion_encoder.data import load_kdef

    _touch(tmp_path, "KDEF/AF01/AF01ANS.JPG", "KDEF/AF01/AF01ANHL.JPG",
           "KDEF/BF01/BF01HAS.JPG", "KDEF/AM12/AM12AFS.jpg", "KDEF/AM12/AM12DIFR.JPG",
           "KDEF/AM12/am12sus.jpg", "KDEF/AM12/AM12XXS.JPG", "KDEF/readme.txt")
    ds = load_kdef(tmp_path)
    assert [(s.label, s.subject, s.frames[0].name) for s in ds] == [
        ("anger", "F01", "AF01ANS.JPG"), ("fear", "M12", "AM12AFS.jpg"),
        ("surprise", "M12", "am12sus.jpg"), ("happiness", "F01", "BF01HAS.JPG")]
    assert [s.label for s in load_kdef(tmp_path, angle="FR")] == ["disgust"]
    assert len(load_kdef(tmp_path, angle="all")) == 6
    data, cropped = open_dataset(tmp_path / "KDEF")
    assert data.name == "kdef" and not cropped and len(data) == 4
    with pytest.raises(DatasetError, match="angle 'left': expected one of S, HL"):
        load_kdef(tmp_path, angle="left")


def test_rafd_native_layout(tmp_path):
    from emotion_encoder.data import load_rafd

    _touch(tmp_path, "Rafd090_01_Caucasian_female_angry_frontal.jpg",
           "Rafd090_01_Caucasian_female_angry_left.jpg",
           "Rafd045_01_Caucasian_female_angry_frontal.jpg",
           "Rafd090_73_Moroccan_male_contemptuous_right.jpg",
           "Rafd090_02_Caucasian_male_fearful_frontal.jpg", "notes.jpg")
    ds = load_rafd(tmp_path, contempt="drop")
    assert [(s.label, s.subject) for s in ds] == [
        ("anger", "rafd01"), ("anger", "rafd01"), ("fear", "rafd02")]
    assert [s.label for s in load_rafd(tmp_path, gaze="frontal", contempt="drop")] == [
        "anger", "fear"]
    assert [s.label for s in load_rafd(tmp_path, camera="045")] == ["anger"]
    assert "contempt" in open_dataset(tmp_path)[0].labels
    with pytest.raises(DatasetError, match="no RaFD .* photos here"):
        load_rafd(tmp_path, camera="180")


def test_mead_native_layout(tmp_path):
    from emotion_encoder.data import load_mead

    _touch(tmp_path, "M003/video/front/angry/level_1/001.mp4",
           "M003/video/front/disgusted/level_3/002.mp4",
           "M003/video/left_30/angry/level_1/001.mp4",
           "W011/video/front/neutral/level_1/001.mp4",
           "W011/video/front/contempt/level_2/003.mp4",
           "W011/audio/angry/level_1/001.m4a")
    ds = load_mead(tmp_path, contempt="drop")
    assert [(s.label, s.subject, s.sequence) for s in ds] == [
        ("anger", "M003", "M003_angry_level_1_001"),
        ("disgust", "M003", "M003_disgusted_level_3_002"),
        ("neutral", "W011", "W011_neutral_level_1_001")]
    assert [s.label for s in load_mead(tmp_path / "M003", view="left_30")] == ["anger"]
    assert [s.subject for s in load_mead(tmp_path / "M003", level="3")] == ["M003"]
    assert "contempt" in open_dataset(tmp_path)[0].labels
    with pytest.raises(DatasetError, match="no MEAD .* clips here"):
        load_mead(tmp_path, view="top")
