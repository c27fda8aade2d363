"""The layers of ARCHITECTURE.md, checked on the source: every import (at module top or
inside a function) goes to a layer the importing layer may use, and the demo, the CLI and
the benchmarks import no private name of the packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CORE = ("emotion_encoder", "emotion_encoder._runtime", "emotion_encoder.timing",
        "emotion_encoder.timeline", "emotion_encoder.face_tracks", "emotion_encoder.smoothing",
        "emotion_encoder.results", "emotion_encoder.errors", "emotion_encoder.labels",
        "emotion_encoder.media", "emotion_encoder.atomic", "emotion_encoder.provenance",
        "emotion_encoder.sampling", "emotion_encoder.shots", "emotion_encoder.examples",
        "emotion_encoder.prefetch", "emotion_encoder.frames",
        "emotion_encoder.feature_layouts", "emotion_encoder.calibration")
PIPELINE = ("emotion_encoder.clip_classifier", "emotion_encoder.litert_classifier",
            "emotion_encoder.clip_stage",
            "emotion_encoder.tracks",
            "emotion_encoder.face_cache", "emotion_encoder.encoder")

ALLOWED = {  # layer -> the layers it may import (itself included)
    "core": {"core"},
    "video": {"core", "video"},
    "faces": {"core", "video", "faces"},
    "models": {"core", "models"},
    "data": {"core", "data"},
    "pipeline": {"core", "video", "faces", "models", "data", "pipeline"},
    "evaluation": {"core", "video", "faces", "models", "data", "pipeline", "evaluation"},
    "training": {"core", "video", "faces", "models", "data", "pipeline", "evaluation",
                 "training"},
    "tagging": {"core", "video", "pipeline", "tagging"},
    "bridge": {"core", "bridge"},
    "cli": {"core", "video", "faces", "models", "data", "pipeline", "evaluation", "training",
            "tagging", "bridge", "cli", "demo"},
    "demo": {"core", "video", "models", "tagging", "bridge", "demo"},
}


def layer(module: str) -> str:
    if module in CORE:
        return "core"
    if module in PIPELINE:
        return "pipeline"
    if module.startswith("v2c_bridge"):
        return "bridge"
    if module.startswith("demo"):
        return "demo"
    parts = module.split(".")
    name = parts[1]
    if name == "__main__":
        return "cli"
    return name if name in ALLOWED else pytest.fail(f"{module}: in no layer of ALLOWED")


def modules() -> dict[str, Path]:
    found = {}
    for top in ("emotion_encoder", "v2c_bridge", "demo"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every project import in the file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return [(m, n) for m, n in out if m.split(".")[0] in ("emotion_encoder", "v2c_bridge",
                                                           "demo")]


KNOWN = modules()
FACADE = {("emotion_encoder", "emotion_encoder.encoder")}
"""The package's lazy ``emotion_encoder.EmotionEncoder`` (loaded on first use only)."""


@pytest.mark.parametrize("module", sorted(KNOWN))
def test_imports_go_down_the_layers(module):
    own = layer(module)
    for target, names in imports(KNOWN[module]):
        submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in KNOWN]
        for full in submodules or [target]:
            if (module, full) not in FACADE:
                assert layer(full) in ALLOWED[own], (
                    f"{module} ({own}) imports {full} ({layer(full)})")


@pytest.mark.parametrize("path", sorted(
    [p for p in (ROOT / "benchmarks").glob("*.py")] + [ROOT / "demo" / "app.py",
                                                      ROOT / "emotion_encoder" / "cli.py"]),
    ids=lambda p: p.name)
def test_demo_cli_and_benchmarks_use_public_names(path):
    for target, names in imports(path):
        private = [n for n in names if n.startswith("_") and not n.endswith("__")]
        if target == "emotion_encoder" and path.name == "cli.py":
            private = [n for n in private if n != "_runtime"]  # the CLI owns the process
        assert not private, f"{path.name} imports {private} from {target}"
        assert not any(part.startswith("_") and part != "__main__"
                       for part in target.split(".")), f"{path.name} imports {target}"
