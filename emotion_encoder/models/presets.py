"""Named configurations of the emotion encoder, in the keras-hub manner.

Each preset names a backbone, a classifier head, a preprocessor and (once trained) a
weights file shipped inside the package.

>>> sorted(PRESETS)
['default', 'fast', 'paper']
>>> PRESETS["paper"]["backbone"]["image_size"]
112
"""

from __future__ import annotations

import functools
import hashlib

from importlib import resources
from pathlib import Path

from emotion_encoder.errors import PresetError
from emotion_encoder.labels import CANONICAL_LABELS

RESNET34_BLOCKS = [3, 4, 6, 3]
COMPACT_HEAD = {"convlstm_filters": 64, "transformer_dim": 128, "transformer_heads": 4,
                "transformer_mlp_dim": 256, "embedding_dim": 256, "dropout": 0.3}
"""The temporal heads of the 48 x 48 presets."""
GREY_48 = {"image_size": 48, "channels": 1, "face_margin": 0.2, "face_offset": -0.05}
"""Grey 48 x 48 face crops, framed like FER2013's."""


def _grey48_backbone(width: int, temporal_strides: list[int],
                     temporal_kernel: int | list[int] = 3) -> dict:
    """A ResNet34-depth backbone on 16 x 48 x 48 grey clips: widths ``width * (1, 2, 4, 8)``,
    stride-2 stem, no max-pool."""
    return {
        "stackwise_num_blocks": RESNET34_BLOCKS,
        "stackwise_num_filters": [width, 2 * width, 4 * width, 8 * width],
        "stackwise_spatial_strides": [1, 2, 2, 2],
        "stackwise_temporal_strides": temporal_strides,
        "temporal_kernel": temporal_kernel,
        "stem_filters": width,
        "stem_kernel": [3, 7, 7],
        "stem_spatial_stride": 2,
        "stem_pool": False,
        "num_frames": 16,
        "image_size": 48,
        "channels": 1,
    }


PRESETS: dict[str, dict] = {
    "default": {
        "description": (
            "Compact 3D-ResNet34 (widths 32/64/128/256) on 16 x 48 x 48 grey face clips: "
            "per-frame convolutions in stages 1-2 and 4, temporal ones in stage 3, "
            "4 time steps into ConvLSTM + Transformer, 7 labels; trained on FER2013 (FER+ votes), "
            "CK+, LFW expressions, JAFFE and Yale, class-balanced. ~56 clips/s on a 2-core CPU."
        ),
        "backbone": _grey48_backbone(32, temporal_strides=[1, 2, 2, 1],
                                     temporal_kernel=[1, 1, 3, 1]),
        # temperature: fitted on the validation parts of FER+, CK+ and LFW (NLL; held-out
        # probes' ECE 0.11-0.26 -> 0.03-0.10, JAFFE 0.22 -> 0.28; `python
        # benchmarks/calibration.py`, MODEL_CARD.md)
        "classifier": dict(COMPACT_HEAD, labels=list(CANONICAL_LABELS), temperature=0.549),
        # the central 44 x 44 of each 48 x 48 crop: best of zoom 1, 1.04, 1.09, 1.14 on
        # FER2013 validation (67.29, 67.12, 67.43, 67.09%; configs/default-fer2013.yaml, stage 3)
        "preprocessor": dict(GREY_48, zoom=1.09),
        "weights": "default.weights.h5",
    },
    "fast": {
        "description": (
            "Half the width of `default` (16/32/64/128), 3 x 3 x 3 kernels, the same 16 x 48 "
            "x 48 grey clips and heads, trained with default's recipe (FER2013 with FER+ "
            "votes, CK+, LFW, JAFFE and Yale, class-balanced): 1.37x the network speed on "
            "Keras, 1.06x on LiteRT; reads below default on most face sets."
        ),
        "backbone": _grey48_backbone(16, temporal_strides=[1, 1, 2, 2]),
        # temperature: fitted as default's (`python benchmarks/calibration.py --model fast`)
        "classifier": dict(COMPACT_HEAD, labels=list(CANONICAL_LABELS), temperature=0.571),
        "preprocessor": dict(GREY_48),
        "weights": "fast.weights.h5",
    },
    "paper": {
        "description": (
            "The paper's configuration: 3D-ResNet34 (widths 64/128/256/512) on "
            "16 x 112 x 112 RGB clips, ConvLSTM + Transformer. Train on a GPU."
        ),
        "backbone": {
            "stackwise_num_blocks": RESNET34_BLOCKS,
            "stackwise_num_filters": [64, 128, 256, 512],
            "stackwise_spatial_strides": [1, 2, 2, 2],
            "stackwise_temporal_strides": [1, 1, 2, 2],
            "stem_filters": 64,
            "stem_kernel": [3, 7, 7],
            "stem_spatial_stride": 2,
            "stem_pool": True,
            "num_frames": 16,
            "image_size": 112,
            "channels": 3,
        },
        "classifier": {
            "labels": list(CANONICAL_LABELS),
            "convlstm_filters": 256,
            "transformer_dim": 512,
            "transformer_heads": 8,
            "transformer_mlp_dim": 1024,
            "embedding_dim": 512,
            "dropout": 0.3,
        },
        "preprocessor": {"image_size": 112, "channels": 3, "face_margin": 0.2,
                         "face_offset": -0.05},
        "weights": None,
    },
}


def preset_config(name: str) -> dict:
    """The configuration of preset ``name`` (a :class:`PresetError` names the choices)."""
    if name not in PRESETS:
        raise PresetError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)} "
                          "or give a path to a .keras model file")
    return PRESETS[name]


def head_layers(preset: str) -> dict:
    """The keyword arguments of ``preset``'s temporal head layers (``emotion_head``): its
    classifier configuration without the labels and the calibration.

    >>> sorted(head_layers("default"))[:2]
    ['convlstm_filters', 'dropout']
    """
    return {k: v for k, v in preset_config(preset)["classifier"].items()
            if k not in ("labels", "temperature")}


def weights_path(preset: str) -> Path | None:
    """Where the shipped weights of ``preset`` live, or None if it ships none yet.

    >>> weights_path("default").name, weights_path("paper")
    ('default.weights.h5', None)
    """
    filename = preset_config(preset)["weights"]
    if filename is None:
        return None
    path = Path(str(resources.files("emotion_encoder") / "weights" / filename))
    return path if path.exists() else None


LITERT_BATCH = 8
"""Clips per LiteRT invocation: the exported graph has a fixed batch (TFLite's builtins
cannot lower the ConvLSTM's loop with a dynamic one); a shorter batch is zero-padded."""
LITERT_GRAPH = 5
"""The version of the exported graph's layout (3: every 3D convolution as a 2D one over
stacked frames; 4: the same without mirror averaging inside, which the classifier does;
5: no frame computed that a temporal stride drops unused, ``unused_frame_stride``); part
of its file name, so an older export is not reused."""


def litert_path(preset: str, cache: Path, quantized: bool = False) -> Path | None:
    """Where the LiteRT graph exported from ``preset``'s shipped weights lives under
    ``cache`` (named by the weights file's SHA-256, so new weights mean a new graph), or
    None when the preset ships no weights. ``quantized``: the graph with int8 weights
    (dynamic-range quantization, name ending ``-int8``).

    >>> litert_path("default", Path("/c")).name.startswith("default-")
    True
    >>> litert_path("default", Path("/c"), quantized=True).stem.endswith("-int8")
    True
    """
    weights = weights_path(preset)
    if weights is None:
        return None
    stat = weights.stat()
    digest = _digest(str(weights), stat.st_size, stat.st_mtime_ns)
    kind = "-int8" if quantized else ""
    return cache / "litert" / f"{preset}-{digest}-b{LITERT_BATCH}-v{LITERT_GRAPH}{kind}.tflite"


@functools.lru_cache(maxsize=8)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    """The first 16 hex digits of a file's SHA-256, once per process and file version."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
