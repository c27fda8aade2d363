"""``emotion-encoder tag``: a folder with good and bad videos, results, index, log, resume;
the same results from 2 worker processes and from the Ray engine (a real local Ray)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthetic import write_face_video

from emotion_encoder.models.presets import PRESETS


def run_tag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "tag", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


NETWORK_PROBE = ("import sys; from emotion_encoder.cli import main; rc = main(sys.argv[1:]); "
                 "print('network-loaded:', 'tensorflow' in sys.modules); sys.exit(rc)")


def run_tag_probed(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``tag`` in a process that says at exit whether TensorFlow (the network) was loaded."""
    return subprocess.run([sys.executable, "-c", NETWORK_PROBE, "tag", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tag_in")
    write_face_video(root / "one.mp4", seconds=2.0)
    (root / "nested").mkdir()
    write_face_video(root / "nested" / "two.mp4", seconds=2.5)
    (root / "broken.mp4").write_text("this is not a video\n" * 50)
    (root / "notes.txt").write_text("not a video extension: ignored\n")
    return root


@pytest.fixture(scope="module")
def local_run(folder, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """One local, single-process run over ``folder`` (with embeddings): (process, outdir)."""
    out = tmp_path_factory.mktemp("tag_local") / "tags"
    return run_tag(folder, "-o", out, "--embeddings"), out


@pytest.fixture(scope="module")
def ray_run(folder, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The same run on a local Ray runtime with 2 actors: (process, outdir)."""
    out = tmp_path_factory.mktemp("tag_ray") / "tags"
    return run_tag(folder, "-o", out, "--embeddings", "--engine", "ray", "--workers", 2), out


def result_docs(out: Path) -> dict[str, dict]:
    """The result documents of ``out`` by result file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


def assert_same_results(out: Path, expected: Path) -> None:
    """Same result files, video labels, clips (times, labels, faces; probabilities to 1e-5),
    embeddings and index rows in both folders."""
    docs, want = result_docs(out), result_docs(expected)
    assert sorted(docs) == sorted(want) and len(docs) == 2
    for name, doc in docs.items():
        pred, ref = doc["prediction"], want[name]["prediction"]
        assert doc["source"] == want[name]["source"]
        assert pred["video_label"] == ref["video_label"]
        assert pred["video_probs"] == pytest.approx(ref["video_probs"], abs=1e-5)
        assert len(pred["clips"]) == len(ref["clips"]) >= 1
        for clip, ref_clip in zip(pred["clips"], ref["clips"]):
            for key in ("start", "end", "label", "face"):
                assert clip[key] == ref_clip[key], (name, key)
            assert clip["probs"] == pytest.approx(ref_clip["probs"], abs=1e-5)
        npz = doc["embeddings_file"]
        with np.load(out / npz) as got, np.load(expected / npz) as ref_npz:
            np.testing.assert_allclose(got["embeddings"], ref_npz["embeddings"], atol=1e-5)
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    ref_rows = [json.loads(line) for line in (expected / "index.jsonl").read_text().splitlines()]
    key = ("video", "clip", "start", "end", "label")
    assert [[r[k] for k in key] for r in rows] == [[r[k] for k in key] for r in ref_rows]


def leftovers(out: Path) -> list[Path]:
    """Temp files (``.name.XXXX.tmp``) left in ``out``."""
    return [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_tag_folder_results_index_log_and_resume(folder, local_run):
    from emotion_encoder.tagging import result_name

    proc, out = local_run
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    results = sorted(out.glob("*.json"))
    assert [p.name for p in results] == sorted(
        result_name(folder / name) for name in ("one.mp4", "nested/two.mp4"))
    docs = {Path(d["source"]).name: d for d in (json.loads(p.read_text()) for p in results)}
    assert docs["two.mp4"]["prediction"]["duration"] == pytest.approx(2.5, abs=0.1)
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    for name, doc in docs.items():
        mine = [r for r in rows if Path(r["video"]).name == name]
        assert len(mine) == len(doc["prediction"]["clips"]) >= 1
        assert all(r["duration"] == doc["prediction"]["duration"] for r in mine)
        assert all(r["warnings"] == doc["prediction"]["warnings"] for r in mine)
        assert [r["start"] for r in mine] == [c["start"] for c in doc["prediction"]["clips"]]
    log = (out / "tag.log").read_text()
    assert f"FAILED {folder / 'broken.mp4'}: not a readable video" in log
    assert f"tag: error: {folder / 'broken.mp4'}: not a readable video" in proc.stderr
    assert "3/3 files" in proc.stderr and "ETA" in proc.stderr
    assert "tagged 2, skipped 0 (already done), failed 1" in proc.stdout
    if (out / "index.parquet").exists():
        pq = pytest.importorskip("pyarrow.parquet")
        table = pq.read_table(out / "index.parquet")
        assert table.num_rows == len(rows)
        assert table.column("warnings").to_pylist() == [r["warnings"] for r in rows]

    # rerun (file, folder and glob inputs, without the bad file): finished videos are
    # skipped, their files untouched, and no model is loaded
    before = {p.name: p.stat().st_mtime_ns for p in results}
    again = run_tag_probed(folder / "one.mp4", folder / "nested", folder / "o*.mp4", "-o", out)
    assert again.returncode == 0, again.stderr
    assert "tagged 0, skipped 2 (already done), failed 0" in again.stdout
    assert "network-loaded: False" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in sorted(out.glob("*.json"))} == before
    assert (out / "index.jsonl").read_text().splitlines() == [json.dumps(r) for r in rows]


def test_the_index_carries_each_videos_warnings(tmp_path):
    """A batch tagger filters out what it cannot trust: every clip row of the index says
    its video's warnings, in the JSONL and the Parquet file alike."""
    from emotion_encoder.tagging.index import write_index

    clip = {"start": 0.0, "end": 1.6, "label": "anger", "confidence": 0.9, "face_ratio": 1.0}
    small = "faces are 14 px wide as read (median): under 24 px the readings are unreliable"
    docs = [{"source": "far.mp4", "result_file": "far.json", "prediction": {
                "duration": 3.0, "video_label": "anger", "clips": [clip, clip],
                "warnings": [small]}},
            {"source": "near.mp4", "result_file": "near.json", "prediction": {
                "duration": 2.0, "video_label": "anger", "clips": [clip], "warnings": []}}]
    paths = write_index(tmp_path, docs)
    rows = [json.loads(line) for line in paths[0].read_text().splitlines()]
    assert [(r["video"], r["warnings"]) for r in rows] == [
        ("far.mp4", [small]), ("far.mp4", [small]), ("near.mp4", [])]
    if len(paths) > 1:
        pq = pytest.importorskip("pyarrow.parquet")
        assert pq.read_table(paths[1]).column("warnings").to_pylist() == [[small], [small], []]


def test_two_worker_processes_give_the_same_results(folder, local_run, tmp_path):
    out = tmp_path / "tags"
    proc = run_tag(folder, "-o", out, "--embeddings", "--workers", 2)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "(2 worker(s))" in proc.stderr and "Traceback" not in proc.stderr
    assert "tagged 2, skipped 0 (already done), failed 1" in proc.stdout
    assert_same_results(out, local_run[1])
    assert not leftovers(out)


def test_ray_engine_same_results_log_and_exit_code(folder, local_run, ray_run):
    proc, out = ray_run
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "(2 worker(s) on Ray)" in proc.stderr
    assert [line for line in proc.stderr.splitlines() if not line.startswith("tag")] == []
    assert_same_results(out, local_run[1])
    log = (out / "tag.log").read_text()
    assert log.count("FAILED ") == 1
    assert f"FAILED {folder / 'broken.mp4'}: not a readable video" in log
    assert f"tag: error: {folder / 'broken.mp4'}: not a readable video" in proc.stderr
    assert "3/3 files" in proc.stderr and "ETA" in proc.stderr
    assert "tagged 2, skipped 0 (already done), failed 1" in proc.stdout
    pq = pytest.importorskip("pyarrow.parquet")
    assert pq.read_table(out / "index.parquet").num_rows == len(
        (out / "index.jsonl").read_text().splitlines())
    assert not leftovers(out)


def test_ray_engine_resume_skips_finished_videos(folder, ray_run):
    out = ray_run[1]
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")}
    index = (out / "index.jsonl").read_text()
    again = run_tag(folder, "-o", out, "--embeddings", "--engine", "ray", "--workers", 2)
    assert again.returncode == 1, again.stdout + again.stderr
    assert "1 to tag (1 worker(s) on Ray)" in again.stderr
    assert "tagged 0, skipped 2 (already done), failed 1" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.json")} == before
    assert (out / "index.jsonl").read_text() == index
    assert (out / "tag.log").read_text().count(f"FAILED {folder / 'broken.mp4'}") == 2
    assert not leftovers(out)


def test_ray_engine_bad_preset_is_one_line(folder, tmp_path):
    proc = run_tag(folder / "one.mp4", "-o", tmp_path / "tags", "--engine", "ray",
                   "--preset", "no-such-preset")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == [("emotion-encoder: error: unknown preset 'no-such-preset'; choose one of "
                       f"{sorted(PRESETS)} or give a path to a .keras model file")]
    assert not list((tmp_path / "tags").glob("*.json"))


def test_ray_engine_without_ray_installed(folder, tmp_path):
    code = ("import sys; sys.modules['ray'] = None  # as if Ray were not installed\n"
            "from emotion_encoder.cli import main\n"
            f"sys.exit(main(['tag', {str(folder)!r}, '-o', {str(tmp_path / 'tags')!r}, "
            "'--engine', 'ray']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("emotion-encoder: error: --engine ray needs Ray Data: "
                                   "pip install 'emotion-encoder[ray]'")


def test_expand_inputs_and_missing_input(folder, tmp_path):
    from emotion_encoder.tagging import TagInputError, expand_inputs

    found = expand_inputs([folder, folder / "one.mp4", str(folder / "*.mp4")])
    assert sorted(p.name for p in found) == ["broken.mp4", "one.mp4", "two.mp4"]
    with pytest.raises(TagInputError, match="no such file"):
        expand_inputs([tmp_path / "missing.mp4"])
    proc = run_tag(tmp_path / "missing.mp4", "-o", tmp_path / "out", timeout=120)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "missing.mp4" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_folders_and_globs_take_still_images(tmp_path):
    from emotion_encoder.tagging import TagInputError, expand_inputs

    stills = tmp_path / "stills"
    stills.mkdir()
    for name in ("b.PNG", "a.jpg", "notes.txt"):
        (stills / name).write_bytes(b"x")
    assert [p.name for p in expand_inputs([str(stills / "*")])] == ["a.jpg", "b.PNG"]
    assert expand_inputs([stills / "b.PNG"]) == [stills / "b.PNG"]
    with pytest.raises(TagInputError, match="no video file or image matches"):
        expand_inputs([str(stills / "*.txt")])
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.jpg", "b.PNG"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(TagInputError, match="empty: no video file or image in this folder"):
        expand_inputs([tmp_path / "empty"])
    with pytest.raises(TagInputError, match="stills: no video file in this folder"):
        expand_inputs([stills], stills=False)  # export-features: clips only


def test_output_that_is_a_file_is_one_line_and_left_alone(folder, tmp_path):
    """Issue 18's one failure of the bad-input panel: ``tag -o some_existing_file``."""
    existing = tmp_path / "notes.txt"
    existing.write_text("keep me\n")
    proc = run_tag_probed(folder / "one.mp4", "-o", existing, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"emotion-encoder: error: {existing}: exists and is not a folder (-o names the folder "
        "the results go to)"]
    assert existing.read_text() == "keep me\n" and sorted(tmp_path.iterdir()) == [existing]
    assert "network-loaded: False" in proc.stdout


def test_killed_runs_resume_to_the_uninterrupted_result(local_run, folder, tmp_path):
    """Issue 18: ``tag`` SIGKILLed at five moments, resumed each time, ends with every video
    indexed once and results equal to an uninterrupted run; no result file is ever
    half-written (an interrupted write leaves only a hidden temp file)."""
    import random
    import signal
    import time as clock

    _, reference = local_run
    out = tmp_path / "tags"
    cmd = [sys.executable, "-m", "emotion_encoder", "tag", str(folder), "-o", str(out),
           "--embeddings"]
    for delay in sorted(random.Random(18).uniform(1.0, 12.0) for _ in range(5)):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clock.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for path in out.glob("*.json"):  # whatever exists under its own name is whole
            json.loads(path.read_text())
    final = run_tag(folder, "-o", out, "--embeddings")
    assert final.returncode == 1, final.stderr  # broken.mp4 fails, as in the reference
    assert_same_results(out, reference)
    rows = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    clips = {(r["video"], r["clip"]) for r in rows}
    assert len(clips) == len(rows)  # every clip of every video indexed once


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs mounted for the test (root only: skips where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """A filler file that leaves ``leave`` bytes free on ``disk``."""
    import os

    filler = disk / "filler.bin"
    stat = os.statvfs(disk)
    free = stat.f_bavail * stat.f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave))
    return filler


def test_full_disk_stops_cleanly_keeps_results_and_resumes(local_run, folder, small_disk):
    """Issue 18: ``tag`` into a folder whose disk fills up stops with one line (exit 2) that
    says so, keeps every finished result byte for byte, leaves no temp or orphan file, and
    a rerun after space is freed tags the rest to the uninterrupted run's results."""
    _, reference = local_run
    out = small_disk / "tags"
    first = run_tag(folder / "one.mp4", "-o", out, "--embeddings")
    assert first.returncode == 0, first.stderr
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".npz")}
    assert len(before) == 2  # one.mp4's result and its embeddings
    filler = fill(small_disk, leave=2048)
    full = run_tag(folder, "-o", out, "--embeddings")
    assert full.returncode == 2, full.stderr
    errors = [line for line in full.stderr.splitlines() if "no space left" in line]
    assert len(errors) == 1 and str(out) in errors[0], full.stderr
    assert "Traceback" not in full.stderr and "run the same command again" in errors[0]
    after = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix in (".json", ".npz")}
    assert after == before  # the finished result intact, nothing new half-written
    assert leftovers(out) == []
    filler.unlink()
    rerun = run_tag(folder, "-o", out, "--embeddings")
    assert rerun.returncode == 1, rerun.stderr  # broken.mp4 fails, as in the reference
    assert_same_results(out, reference)
    assert leftovers(out) == []
