"""The clip classifier on LiteRT: the same stage as
:class:`~emotion_encoder.clip_classifier.ClipClassifier` (face-crop clips in; calibrated
probabilities, fused embeddings and attention out, mirror averaging optional),
run by the ``ai-edge-litert`` interpreter on the graph exported from the Keras model
(:mod:`emotion_encoder.models.litert_export`). It imports no TensorFlow, so a process
that uses it starts in well under a second instead of ~5 s; outputs match Keras within
1e-4 (checked at export and in ``tests/test_litert.py``).

>>> from emotion_encoder.faces.model_files import cache_dir
>>> classify = LiteRTClassifier.for_preset("default", cache_dir())    # doctest: +SKIP
>>> classify([[np.full((112, 112, 3), 128, np.uint8)] * 16])["probs"].shape  # doctest: +SKIP
(1, 7)
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np

from emotion_encoder.calibration import apply_temperature
from emotion_encoder.clip_stage import ClipStage
from emotion_encoder.errors import ModelFileError
from emotion_encoder.models.preprocessor import FacePreprocessor
from emotion_encoder.models.presets import litert_path, preset_config


def litert_installed() -> bool:
    """Whether the LiteRT interpreter (``pip install ai-edge-litert``) can be imported."""
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


def cached_graph(preset: str, cache: Path, quantized: bool = False) -> Path | None:
    """``preset``'s exported graph (``quantized``: its int8-weight twin) under ``cache`` if
    it and its sidecar exist, else None."""
    path = litert_path(preset, cache, quantized) if not str(preset).endswith(".keras") else None
    return path if path is not None and path.is_file() and \
        path.with_suffix(".json").is_file() else None


def auto_backend(preset: str, cache: Path) -> str:
    """What ``backend="auto"`` runs ``preset`` on: ``"litert-int8"`` when its int8 graph
    is exported under ``cache`` (and the interpreter installed), else ``"litert"`` when
    its float graph is, else ``"keras"``."""
    if not litert_installed():
        return "keras"
    for backend in ("litert-int8", "litert"):
        if cached_graph(preset, cache, quantized=backend == "litert-int8") is not None:
            return backend
    return "keras"


class LiteRTClassifier(ClipStage):
    """A preset's LiteRT graph: its sidecar says the batch and which output is which; the
    labels, temperature and preprocessor are the preset's (so a new calibration or zoom
    needs no new export; new weights do, and get a new file name). ``mirror``: average
    each clip with its left-right mirror image, as the Keras backend does (twice the
    network time). ``quantized`` says whether the graph has int8 weights (its sidecar's
    word). ``threads`` (default: the CPUs, at most 4) are split over two interpreters
    that run a call's fixed-size chunks side by side (on 2 CPUs one thread each: 1.15x the
    clips/s of one interpreter on two threads, whose threads wait for each other at every
    layer); :attr:`clips_per_call` is what keeps both busy."""

    def __init__(self, path: str | os.PathLike, preset: str, threads: int | None = None,
                 mirror: bool = True):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        threads = threads or min(4, os.cpu_count() or 1)
        count = min(2, threads)
        try:
            meta = json.loads(path.with_suffix(".json").read_text())
            self.interpreters = [Interpreter(model_path=str(path),
                                             num_threads=threads // count)
                                 for _ in range(count)]
            for interpreter in self.interpreters:
                interpreter.allocate_tensors()
        except (OSError, ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{path}: not a readable LiteRT graph ({exc}); delete it "
                                 "and run `emotion-encoder fetch-models --litert`") from None
        config = preset_config(preset)
        self.path, self.preset = path, preset
        self.labels: tuple[str, ...] = tuple(config["classifier"]["labels"])
        self.batch = int(meta["batch"])
        self.input_index = int(meta["input"])
        self.output_index = {k: int(v) for k, v in meta["outputs"].items()}
        self.input_shape = tuple(meta["input_shape"])
        self.window = int(self.input_shape[0])
        self.temperature = float(config["classifier"].get("temperature", 1.0))
        self.preprocessor = FacePreprocessor.from_config(config["preprocessor"])
        shapes = {d["index"]: d["shape"] for d in self.interpreters[0].get_output_details()}
        self.embedding_dim = int(shapes[self.output_index["embedding"]][-1])
        self.attention_steps = int(shapes[self.output_index["attention"]][-1])
        self.mirror = mirror
        self.quantized = bool(meta.get("quantized", False))

    @classmethod
    def for_preset(cls, preset: str, cache: Path, threads: int | None = None,
                   mirror: bool = True, quantized: bool = False) -> "LiteRTClassifier":
        """The classifier of ``preset``'s exported graph (``quantized``: the int8-weight
        one) under ``cache``."""
        path = cached_graph(preset, cache, quantized)
        if path is None:
            kind = "int8 " if quantized else ""
            raise ModelFileError(f"preset {preset!r} has no {kind}LiteRT graph in "
                                 f"{cache / 'litert'}; run `emotion-encoder fetch-models "
                                 "--litert` (once)")
        return cls(path, preset, threads, mirror)

    def forward(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """:meth:`run` on preprocessed clips ``(n,) + input_shape``, averaged with their
        mirror images when ``mirror``; ``probs`` calibrated at the preset's temperature."""
        batch = np.asarray(batch, np.float32)
        n = len(batch)
        if self.mirror:  # as models.emotion_classifier.mirror_averaged: width is axis 3
            batch = np.concatenate([batch, batch[:, :, :, ::-1]])
        out = self.run(batch)
        if self.mirror:
            out = {k: 0.5 * (v[:n] + v[n:]) for k, v in out.items()}
        out["probs"] = apply_temperature(out["probs"], self.temperature)
        return out

    @property
    def clips_per_call(self) -> int:
        """Clips per call that give every interpreter a chunk (mirror images count)."""
        return self.batch * len(self.interpreters) // (2 if self.mirror else 1)

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """The graph's raw outputs (probabilities at temperature 1) on preprocessed clips,
        in fixed batches (the last zero-padded), the batches shared out over the
        interpreters (each runs its own, in order; the same outputs as one interpreter)."""
        batch = np.asarray(batch, np.float32)
        chunks = [batch[start:start + self.batch] for start in range(0, len(batch), self.batch)]
        done: list[dict[str, np.ndarray] | None] = [None] * len(chunks)
        errors: list[BaseException] = []
        count = min(len(self.interpreters), len(chunks))

        def work(k: int) -> None:
            try:
                for j in range(k, len(chunks), count):
                    done[j] = self._invoke(self.interpreters[k], chunks[j])
            except BaseException as exc:  # re-raised in the calling thread
                errors.append(exc)

        helpers = [threading.Thread(target=work, args=(k,)) for k in range(1, count)]
        for helper in helpers:
            helper.start()
        work(0)
        for helper in helpers:
            helper.join()
        if errors:
            raise errors[0]
        return {k: np.concatenate([d[k] for d in done]) for k in self.output_index}

    def _invoke(self, interpreter, chunk: np.ndarray) -> dict[str, np.ndarray]:
        """One fixed-size batch through ``interpreter`` (zero-padded when short)."""
        m = len(chunk)
        if m < self.batch:
            chunk = np.concatenate([chunk, np.zeros((self.batch - m,) + chunk.shape[1:],
                                                    np.float32)])
        interpreter.set_tensor(self.input_index, chunk)
        interpreter.invoke()
        return {name: interpreter.get_tensor(index)[:m].copy()
                for name, index in self.output_index.items()}
