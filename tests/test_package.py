"""The package as shipped: every docstring example runs, light imports stay light, the
packaging names files that exist."""

from __future__ import annotations

import doctest
import importlib
import json
import pkgutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import emotion_encoder
import v2c_bridge

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> list[str]:
    names = ["demo.app"]
    for package in (emotion_encoder, v2c_bridge):
        names.append(package.__name__)
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
                  if not m.name.endswith("__main__")]
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples_run(name, tmp_path, monkeypatch, face_models):
    """Examples marked ``+SKIP`` need a user's files (a video, a dataset) and are shown, not
    run; every other example runs here, in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=False)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed"


def _imported_after(statement: str) -> set[str]:
    code = (f"import sys, json\n{statement}\n"
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


HEAVY = {"tensorflow", "keras", "mediapipe", "gradio", "cv2"}


@pytest.mark.parametrize("statement", [
    "import v2c_bridge",
    "import emotion_encoder",
    "from emotion_encoder import EmotionTrack, Segment",
])
def test_light_imports_load_no_tensorflow_or_mediapipe(statement):
    assert not HEAVY & _imported_after(statement)


def test_the_command_line_help_loads_no_heavy_package():
    """``--help``, ``info`` and the other commands that read no video start in ~0.4 s:
    the parser loads neither the network's nor the video's packages (moviepy: 0.3-0.7 s)."""
    assert not (HEAVY | {"moviepy", "pyarrow"}) & _imported_after("import emotion_encoder.cli")


def test_aligning_a_saved_track_loads_no_tensorflow(tmp_path):
    """A dubbing pipeline that only aligns ``embed`` files needs numpy, not the network."""
    statement = f"""
import numpy as np
from emotion_encoder.timeline import EmotionTrack
from v2c_bridge import align, load_track, write_srt
EmotionTrack([0.0, 0.8], [1.6, 2.4], np.ones((2, 3)), probs=[[0.9, 0.1], [0.2, 0.8]],
             labels=("happiness", "sadness")).save({str(tmp_path / 't.npz')!r})
track = load_track({str(tmp_path / 't.npz')!r})
cond = align(track, n_mel_frames=200)
assert cond.values.shape == (200, 3), cond.values.shape
write_srt({str(tmp_path / 't.srt')!r}, track)
"""
    assert not HEAVY & _imported_after(statement)
    assert "happiness" in (tmp_path / "t.srt").read_text()


def test_manifest_and_package_data_name_existing_files():
    manifest = (ROOT / "MANIFEST.in").read_text().split("\n")
    for line in manifest:
        words = line.split()
        if words and words[0] == "include":
            for name in words[1:]:
                assert (ROOT / name).is_file(), f"MANIFEST.in names {name}, which is missing"
    weights = sorted((ROOT / "emotion_encoder" / "weights").glob("*.weights.h5"))
    assert [w.name for w in weights] == ["default.weights.h5", "fast.weights.h5"]


@pytest.mark.slow
def test_sdist_carries_licence_weights_and_configs(tmp_path):
    subprocess.run([sys.executable, "-m", "build", "--sdist", "-o",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (sdist,) = tmp_path.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "NOTICE", "README.md", "MODEL_CARD.md",
            "emotion_encoder/weights/default.weights.h5", "configs/default.yaml"} <= names


@pytest.mark.parametrize("command", [["--help"], ["info"], ["fetch-models"]])
def test_commands_that_need_no_network_load_no_tensorflow(command):
    statement = ("from emotion_encoder.cli import main\n"
                 f"try:\n    main({command!r})\nexcept SystemExit:\n    pass")
    loaded = _imported_after(statement)
    assert not {"tensorflow", "keras", "gradio"} & loaded
