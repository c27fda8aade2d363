"""``emotion-encoder tag``: a folder with good and bad videos, results, index, log, resume."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from synthetic import write_face_video


def run_tag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_encoder", "tag", *map(str, args)],
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


def test_tag_folder_results_index_log_and_resume(folder, tmp_path):
    from emotion_encoder.tagging import result_name

    out = tmp_path / "tags"
    proc = run_tag(folder, "-o", out)
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
        assert [r["start"] for r in mine] == [c["start"] for c in doc["prediction"]["clips"]]
    log = (out / "tag.log").read_text()
    assert f"FAILED {folder / 'broken.mp4'}: not a readable video" in log
    assert f"tag: error: {folder / 'broken.mp4'}: not a readable video" in proc.stderr
    assert "3/3 files" in proc.stderr and "ETA" in proc.stderr
    assert "tagged 2, skipped 0 (already done), failed 1" in proc.stdout
    if (out / "index.parquet").exists():
        pq = pytest.importorskip("pyarrow.parquet")
        assert pq.read_table(out / "index.parquet").num_rows == len(rows)

    # rerun (file, folder and glob inputs, without the bad file): finished videos are
    # skipped, their files untouched, and no model is loaded
    before = {p.name: p.stat().st_mtime_ns for p in results}
    again = run_tag(folder / "one.mp4", folder / "nested", folder / "o*.mp4", "-o", out)
    assert again.returncode == 0, again.stderr
    assert "tagged 0, skipped 2 (already done), failed 0" in again.stdout
    assert {p.name: p.stat().st_mtime_ns for p in sorted(out.glob("*.json"))} == before
    assert (out / "index.jsonl").read_text().splitlines() == [json.dumps(r) for r in rows]


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
