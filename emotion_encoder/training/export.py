"""Write a trained network's weights as the compact file a preset ships.

Keras' ``.weights.h5`` layout is kept, with every float32 array stored as float16: half
the bytes, and ``model.load_weights`` casts back to float32 on load (probabilities change
by ~1e-4). The file is written to a temporary name, then renamed.

>>> export_weights(model, "emotion_encoder/weights/default.weights.h5")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

from emotion_encoder.atomic import atomic_path


def export_weights(model, path: str | os.PathLike, dtype: str = "float16") -> Path:
    """Save ``model``'s weights to ``path`` with float32 arrays stored as ``dtype``."""
    path = Path(path)
    with atomic_path(path, ".weights.h5") as compact, \
            tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        full = Path(tmp) / "full.weights.h5"
        model.save_weights(full)
        with h5py.File(full, "r") as src, h5py.File(compact, "w") as dst:
            _copy(src, dst, np.dtype(dtype))
    return path


def _copy(src: h5py.Group, dst: h5py.Group, dtype: np.dtype) -> None:
    dst.attrs.update(src.attrs)
    for name, item in src.items():
        if isinstance(item, h5py.Group):
            _copy(item, dst.create_group(name), dtype)
        else:
            data = item[()]
            if isinstance(data, np.ndarray) and data.dtype == np.float32:
                data = data.astype(dtype)
            dst.create_dataset(name, data=data).attrs.update(item.attrs)
