"""``emotion-encoder export-features``: real clips into each dubbing model's layout, read
back with the checks that model's data loader applies (issue 17).

The lip features those loaders pair our rows with are made here the way their
preprocessing makes them: ``ffmpeg -i CLIP -r 25 frames/%05d.jpg`` (25 fps frames), one
row per extracted frame; only their row count matters to the checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from moviepy.config import FFMPEG_BINARY

from synthetic import write_face_video

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
CLIPS = {  # V2C-style names: speaker = the part before "_00"
    "Mead@Actor_00_0001_00": "mead_disgusted.mp4",  # 8.1 s, 25 fps, audio: 203 rows
    "Mead@Actor_00_0002_00": "mead_happy.mp4",      # 5.6 s, 25 fps: 141 rows
    "Phone@Woman_00_0001_00": "smiling_phone.mp4",  # 29.97 fps: -r 25 and fps=25 differ
}

needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data/videos is absent")


def run_export(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "export-features",
                           *map(str, args)], capture_output=True, text=True, timeout=600)


def lip_rows(video: Path, tmp: Path) -> int:
    """The frames ``ffmpeg -i VIDEO -r 25 %05d.jpg`` writes (a dubbing pipeline's lip frames)."""
    folder = tmp / f"frames-{video.stem}"
    folder.mkdir()
    subprocess.run([FFMPEG_BINARY, "-v", "error", "-i", str(video), "-r", "25",
                    "-s", "32x32", str(folder / "%05d.jpg")], check=True)
    return len(list(folder.glob("*.jpg")))


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """The real clips under V2C names, and each one's lip-frame count."""
    if not DATA.is_dir():
        pytest.skip("../shared/data/videos is absent")
    root = tmp_path_factory.mktemp("export_in")
    rows = {}
    for name, source in CLIPS.items():
        shutil.copy(DATA / source, root / f"{name}.mp4")
        rows[name] = lip_rows(root / f"{name}.mp4", root)
    return root, rows


@pytest.fixture(scope="module")
def exported(clips, tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    """One export per layout of the same clips: (process, output folder)."""
    root, _ = clips
    runs = {}
    for layout in ("hpmdubbing", "styledubber", "produbber", "npz"):
        out = tmp_path_factory.mktemp(f"export_{layout}") / "preprocessed"
        runs[layout] = (run_export(*sorted(root.glob("*.mp4")), "-o", out, "--layout", layout),
                        out)
    return runs


def speaker_of(basename: str) -> str:
    return basename.split("_00")[0]  # the loaders' own rule


@needs_data
def test_hpmdubbing_layout_reads_as_its_loader_reads_it(clips, exported):
    """HPMDubbing (GalaxyCong/HPMDubbing) ``dataset.py`` ``Dataset.__getitem__`` lines
    124-129: ``np.load(os.path.join(preprocessed_path, "VA_feature",
    "{}-feature-{}.npy".format(speaker, basename)))``, padded by ``pad_2D`` (2-D arrays),
    into ``nn.Linear(256, 256)`` (``modules.py`` line 106); lip rows come from 25 fps
    frames and the mel has 4 frames per video frame (``HPM_Dubbing.py`` line 61,
    ``Synchronization_coefficient = 4``; ``preprocess.yaml`` sampling_rate 22050,
    hop_length 220, filter_length 1024)."""
    from v2c_bridge.mel import mel_frames_for

    root, rows = clips
    proc, out = exported["hpmdubbing"]
    assert proc.returncode == 0, proc.stderr
    for basename, want in rows.items():
        speaker = speaker_of(basename)
        va = np.load(out / "VA_feature" / f"{speaker}-feature-{basename}.npy")
        assert va.dtype == np.float32 and va.ndim == 2 and va.shape == (want, 256)
        assert np.abs(va).sum(axis=1).min() > 0  # a face in every frame of these clips
        emo = np.load(out / "emos" / f"{speaker}-emo-{basename}.npy")
        assert emo.shape == (256,)
        np.testing.assert_allclose(emo, va.mean(axis=0), atol=1e-5)
    mels = mel_frames_for(root / "Mead@Actor_00_0001_00.mp4", sr=22050, hop_length=220,
                          n_fft=1024)
    assert abs(mels - 4 * rows["Mead@Actor_00_0001_00"]) <= 4  # within one video frame


@needs_data
def test_styledubber_layout_reads_as_its_loader_reads_it(clips, exported):
    """StyleDubber (GalaxyCong/StyleDubber) ``dataset.py`` ``Dataset_denoise2_V2Cdataset``:
    ``VA_feature/{speaker}-feature-{basename}.npy`` (lines 106-107) and
    ``emos/{speaker}-emo-{basename}.npy`` (lines 112-113); ``face_lens`` are the lip
    features' rows (line 272) and mask the face rows
    (``MultimodalTransformer/src/models_16_5_Face2_same.py`` lines 183-187), so both have
    the same T; ``emos`` is stacked unpadded with ``np.array`` (line 298): one shape."""
    _, rows = clips
    proc, out = exported["styledubber"]
    assert proc.returncode == 0, proc.stderr
    emos = []
    for basename, want in rows.items():
        speaker = speaker_of(basename)
        lip = np.zeros((want, 512), np.float32)  # what its lip extractor would give
        face = np.load(out / "VA_feature" / f"{speaker}-feature-{basename}.npy")
        assert face.shape[0] == lip.shape[0] and face.shape[1] == 256
        emos.append(np.load(out / "emos" / f"{speaker}-emo-{basename}.npy"))
    stacked = np.array(emos)
    assert stacked.dtype == np.float32 and stacked.shape == (len(rows), 256)


@needs_data
def test_produbber_layout_reads_as_its_collater_reads_it(clips, exported):
    """ProDubber (ZZDoog/ProDubber) ``meldataset.py`` ``FilePathDataset``: ``VA_feature``
    ``{}-feature-{}.npy`` (lines 222-241), ``emos`` ``{}-emo-{}.npy`` (lines 244-270);
    ``Collater``: ``assert lip_feature.size(0) == emotion_feature.size(0)`` (line 339),
    zero-padded ``(B, T, 256)`` and ``atm_features[bid] = atm_feature`` into ``(B, 256)``
    (lines 321-356); ``PositionalEncoding(max_len=200)`` (``models.py``) holds 200 rows,
    so the 8.1 s clip (203 rows) is written and warned about."""
    _, rows = clips
    proc, out = exported["produbber"]
    assert proc.returncode == 0, proc.stderr
    batch = np.zeros((len(rows), max(rows.values()), 256), np.float32)
    atm = np.zeros((len(rows), 256), np.float32)
    for bid, (basename, want) in enumerate(rows.items()):
        speaker = speaker_of(basename)
        emotion = np.load(out / "VA_feature" / f"{speaker}-feature-{basename}.npy")
        assert emotion.shape[0] == want  # == the lip feature's rows
        batch[bid, :len(emotion)] = emotion
        atm[bid] = np.load(out / "emos" / f"{speaker}-emo-{basename}.npy")
    assert np.abs(atm).sum(axis=1).min() > 0
    warnings = [line for line in proc.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "Mead@Actor_00_0001_00" in warnings[0] \
        and "203 rows" in warnings[0] and "200" in warnings[0], proc.stderr


@needs_data
def test_npz_layout_and_the_run_records(clips, exported):
    """The npz layout is :class:`FrameFeatures`; every layout's records, index and
    predicted emotions (V2C ids) say what was written."""
    from emotion_encoder.frames import FrameFeatures

    _, rows = clips
    proc, out = exported["npz"]
    assert proc.returncode == 0, proc.stderr
    for basename, want in rows.items():
        frames = FrameFeatures.load(out / f"{speaker_of(basename)}-frames-{basename}.npz")
        assert len(frames) == want and frames.fps == 25.0
        np.testing.assert_allclose(frames.times[:3], [0.0, 0.04, 0.08])
    index = [json.loads(line) for line in
             (out / "emotion_encoder" / "index.jsonl").read_text().splitlines()]
    assert sorted(r["basename"] for r in index) == sorted(rows)
    assert {r["basename"]: r["rows"] for r in index} == rows
    emotions = json.loads((out / "emotion_encoder" / "predicted_emotions.json").read_text())
    assert emotions["Mead@Actor_00_0001_00"] == 1  # disgust in V2C's order
    assert emotions["Mead@Actor_00_0002_00"] == 3  # happy


@needs_data
def test_rerun_skips_lengths_follow_lip_features_and_names_collide(clips, exported, tmp_path):
    """A rerun does nothing; ``--lengths-from`` takes each clip's rows from its lip
    feature file; a missing lip file fails that clip in one line; two inputs with the
    same names are refused before any work."""
    root, rows = clips
    proc, out = exported["styledubber"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")}
    again = run_export(root, "-o", out, "--layout", "styledubber")
    assert again.returncode == 0 and "exported 0, skipped 3" in again.stdout, again.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")} == before

    lips = tmp_path / "extrated_embedding_V2C_gray"
    lips.mkdir()
    np.save(lips / "Mead@Actor-face-Mead@Actor_00_0002_00.npy",
            np.zeros((rows["Mead@Actor_00_0002_00"] + 3, 512), np.float32))
    out2 = tmp_path / "pre"
    proc = run_export(root / "Mead@Actor_00_0002_00.mp4", root / "Phone@Woman_00_0001_00.mp4",
                      "-o", out2, "--layout", "produbber", "--lengths-from", lips)
    assert proc.returncode == 1, proc.stderr
    face = np.load(out2 / "VA_feature" / "Mead@Actor-feature-Mead@Actor_00_0002_00.npy")
    assert face.shape == (rows["Mead@Actor_00_0002_00"] + 3, 256)
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "no lip feature file" in errors[0] \
        and "Phone@Woman-face-Phone@Woman_00_0001_00.npy" in errors[0]
    assert not list((out2 / "VA_feature").glob("Phone@Woman*"))

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write_face_video(tmp_path / "a" / "x.mp4", seconds=1.0)
    write_face_video(tmp_path / "b" / "x.mp4", seconds=1.0)
    same = run_export(tmp_path / "a", tmp_path / "b", "-o", tmp_path / "o", "--layout",
                      "npz", "--speaker", "s1")
    assert same.returncode == 2 and "s1-x" in same.stderr and "Traceback" not in same.stderr
    assert not (tmp_path / "o" / "emotion_encoder" / "index.jsonl").exists()


@needs_data
def test_the_ray_engine_writes_the_same_files(clips, exported, tmp_path):
    """``--engine ray`` runs the same job on Ray Data actors: the same layout files."""
    pytest.importorskip("ray", reason="pip install 'emotion-encoder[ray]'")
    root, rows = clips
    _, local = exported["hpmdubbing"]
    out = tmp_path / "pre"
    proc = run_export(root / "Mead@Actor_00_0002_00.mp4", root / "Phone@Woman_00_0001_00.mp4",
                      "-o", out, "--layout", "hpmdubbing", "--engine", "ray", "--workers", 2)
    assert proc.returncode == 0 and "exported 2" in proc.stdout, proc.stderr
    for name in ("VA_feature/Mead@Actor-feature-Mead@Actor_00_0002_00.npy",
                 "emos/Phone@Woman-emo-Phone@Woman_00_0001_00.npy"):
        np.testing.assert_allclose(np.load(out / name), np.load(local / name), atol=1e-5)


def test_a_clip_whose_face_is_not_read_is_named_in_the_problems(tmp_path):
    """A clip with no face exports zero rows of features; the run says so on stderr and
    in the records' index, not only in the exit code of another command."""
    video = tmp_path / "Room@Nobody_00_0001_00.mp4"
    write_face_video(video, seconds=1.5, face=False)
    out = tmp_path / "preprocessed"
    proc = run_export(video, "-o", out, "--layout", "npz")
    assert proc.returncode == 0, proc.stderr
    assert f"emotion-encoder: warning: {video}: no face found in any clip" in proc.stderr
    index = [json.loads(line) for line in
             (out / "emotion_encoder" / "index.jsonl").read_text().splitlines()]
    assert [r["problems"] for r in index] == [["no face found in any clip"]]
    assert index[0]["face_rows"] == 0
