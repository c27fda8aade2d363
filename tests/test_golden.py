"""Golden outputs: what ``predict``, ``embed`` and ``track`` return for fixed videos, recorded
before a refactor and checked after it (issue 15: behaviour unchanged, numbers to 1e-5).

The ``fast`` preset is used: its weights change far less often than ``default``'s (last
re-recorded 2026-12-03, when ``fast`` moved to the mixture recipe; 2026-12-07, when small
faces got boxes from close-ups: the stage clip's), so a change here means the code changed
what it computes. Re-record (only when a change of
output is intended, and say why in the commit) with::

    EMOTION_ENCODER_RECORD_GOLDEN=1 python -m pytest tests/test_golden.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from emotion_encoder import EmotionEncoder

from synthetic import write_face_video

GOLDEN = Path(__file__).parent / "golden"
SHARED_VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"
WEIGHTS = Path(__file__).resolve().parents[1] / "emotion_encoder" / "weights" / "fast.weights.h5"
RECORD = os.environ.get("EMOTION_ENCODER_RECORD_GOLDEN") == "1"
ATOL = 1e-5


def _weights_stamp() -> str:
    return hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()[:16]


@pytest.fixture(scope="module", params=[("blazeface", "fast"),
                                        ("blazeface-mediapipe", "fast-mediapipe")],
                ids=["litert-faces", "mediapipe-faces"])
def encoder(request) -> tuple[EmotionEncoder, str]:
    """The ``fast`` preset with each face detector runtime, and its recordings' file stem
    (the default LiteRT runner moves a few boxes by a pixel: its own recording)."""
    detector, stem = request.param
    return EmotionEncoder.from_preset("fast", detector=detector), stem


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Two synthetic clips (one with a no-face second) and, where present, shared real ones."""
    folder = tmp_path_factory.mktemp("golden")
    out = {"face": folder / "face.mp4", "gap": folder / "gap.mp4"}
    write_face_video(out["face"], seconds=3.0, fps=25)
    write_face_video(out["gap"], seconds=3.0, fps=25, no_face_spans=[(1.0, 2.0)])
    for name in ("mead_happy", "talking_woman", "stage_multiface"):
        if (SHARED_VIDEOS / f"{name}.mp4").exists():
            out[name] = SHARED_VIDEOS / f"{name}.mp4"
    return out


def _outputs(encoder: EmotionEncoder, name: str, path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The JSON-able results and the arrays of every public entry point on one video."""
    predicted = encoder.predict(path).to_dict()
    fixed = encoder.predict(path, sampling="fixed").to_dict()
    for result in (predicted, fixed):
        result.pop("video")  # a temp path
    emb = encoder.embed(path)
    arrays = {f"{name}.embed.{k}": np.asarray(v) for k, v in
              (("embeddings", emb.embeddings), ("starts", emb.starts), ("ends", emb.ends),
               ("has_face", emb.has_face), ("probs", emb.probs), ("attention", emb.attention))}
    if name in ("gap", "stage_multiface"):
        tracks = encoder.track(path, faces="all")
        arrays[f"{name}.track.speaker_ids"] = tracks.speaker_ids
        arrays[f"{name}.track.speaker_boxes"] = tracks.speaker_boxes
        arrays[f"{name}.track.speaker.probs"] = tracks.speaker.probs
        arrays[f"{name}.track.speaker.embeddings"] = tracks.speaker.embeddings
        arrays[f"{name}.track.cuts"] = np.asarray(tracks.cuts, np.float64)
        for face in tracks.faces:
            arrays[f"{name}.track.face{face.id}.probs"] = face.track.probs
            arrays[f"{name}.track.face{face.id}.boxes"] = face.boxes
            arrays[f"{name}.track.face{face.id}.starts"] = face.track.starts
    return {"predict": predicted, "fixed": fixed}, arrays


def _close(got, want, where: str) -> None:
    """Equal structure and strings; numbers within one unit of the JSON's 4th decimal."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want), where
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: length"
        for i, (g, w) in enumerate(zip(got, want)):
            _close(g, w, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(want, bool):
        assert got == pytest.approx(want, abs=1.5e-4), where
    else:
        assert got == want, where


def test_outputs_equal_the_recorded_ones(encoder, videos):
    encoder, stem = encoder
    stamp = _weights_stamp()
    results, arrays = {}, {}
    for name, path in videos.items():
        results[name], more = _outputs(encoder, name, path)
        arrays.update(more)
    if RECORD:
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / f"{stem}.json").write_text(json.dumps({"weights": stamp, "results": results},
                                                     indent=1))
        np.savez_compressed(GOLDEN / f"{stem}.npz", **arrays)
        pytest.skip("golden outputs recorded")
    recorded = json.loads((GOLDEN / f"{stem}.json").read_text())
    assert recorded["weights"] == stamp, "the fast weights changed: re-record (see docstring)"
    for name in results:  # the shared videos only where ../shared is present
        _close(results[name], recorded["results"][name], name)
    with np.load(GOLDEN / f"{stem}.npz") as want:
        names = [k for k in want.files if k.split(".")[0] in results]
        assert sorted(arrays) == sorted(names)
        for key in names:
            assert arrays[key].shape == want[key].shape, key
            np.testing.assert_allclose(arrays[key], want[key], atol=ATOL, rtol=0, err_msg=key)
