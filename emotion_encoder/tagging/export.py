"""``export-features``: per-frame features of many clips in a dubbing model's own layout
(:mod:`emotion_encoder.feature_layouts`), on the batch machinery of ``tag`` (progress,
resume, failure log, full disk, the local or the Ray engine).

Beside the layout's files, ``OUT/emotion_encoder/`` holds a record per clip (its rows,
frame rate, face coverage, predicted label; written last, so a rerun skips the clips
whose record exists), ``index.jsonl`` (one line per clip), ``export.log``, and
``predicted_emotions.json``: basename -> V2C emotion id (0 angry ... 6 surprise, 7
others), the shape of V2C's ``emotions.json``, *predicted*, for clips that have none.

>>> summary = export_features(["clips/"], "V2C/preprocessed", layout="hpmdubbing")  # doctest: +SKIP
>>> summary["done"], summary["failed"]                                        # doctest: +SKIP
(12, 0)
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, TextIO

import numpy as np

from emotion_encoder.atomic import atomic_path, write_atomic
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.feature_layouts import LAYOUTS, clip_names, layout_arrays
from emotion_encoder.frames import sample_frames, to_v2c
from emotion_encoder.results import UNTRAINED_WARNING
from emotion_encoder.tagging.inputs import expand_inputs
from emotion_encoder.tagging.run import batch_summary, prepare_outdir, run_batch, write_or_explain
from emotion_encoder.tagging.worker import failure
from emotion_encoder.video import frame_times

RECORDS = "emotion_encoder"
"""The folder of the run's own files inside the output folder."""
RECORD_FORMAT = "emotion_encoder.feature_export"


@dataclass(frozen=True)
class ExportJob:
    """One clip into ``outdir`` in ``layout``: rows at ``frame_fps``, interpolated with
    ``mode``: the frames ``ffmpeg -i VIDEO -r 25 %d.jpg`` writes (how these systems'
    preprocessing extracts the frames their lip features come from), or exactly as many
    as the clip's lip-feature file in ``lengths_from`` has."""

    outdir: str
    layout: str
    speaker: str | None = None
    frame_fps: float = 25.0
    mode: str = "linear"
    lengths_from: str | None = None
    v2c_labels: bool = False

    def __call__(self, encoder, video: str, out: str) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            layout = LAYOUTS[self.layout]
            speaker, basename = clip_names(video, self.speaker)
            times = self.times(video, speaker, basename)
            prediction = encoder.predict(video)
            frames = sample_frames(prediction.track, times, self.frame_fps, self.mode)
            if self.v2c_labels:
                frames = frames.in_v2c_labels()
            files = layout.files(speaker, basename)
            arrays = layout_arrays(frames.embeddings, frames.has_face)
            for kind, relative in files.items():
                path = Path(self.outdir) / relative
                if kind == "npz":
                    frames.save(path)  # atomic
                    continue
                with atomic_path(path, ".npy") as tmp:
                    np.save(tmp, arrays[kind])
            track = prediction.track
            probs = None if track.video_probs is None else \
                to_v2c(track.video_probs[None], track.labels)[0]
            record = {
                "format": RECORD_FORMAT, "video": video, "speaker": speaker,
                "basename": basename, "layout": layout.name, "files": files,
                "rows": len(frames), "fps": self.frame_fps, "mode": self.mode,
                "rows_from": "lip features" if self.lengths_from else "ffmpeg frames",
                "face_rows": int(frames.has_face.sum()), "dims": int(arrays["frames"].shape[1]),
                "video_label": prediction.video_label,
                "v2c_emotion_id": None if probs is None else int(np.argmax(probs)),
                "preset": prediction.track.preset,
                "weights_trained": prediction.track.weights_trained,
                "problems": layout.problems(len(frames)) + [  # and faces not read well
                    w for w in prediction.warnings if w != UNTRAINED_WARNING],
            }
            write_atomic(out, json.dumps(record, indent=1) + "\n")
            return {"video": video, "ok": True, "clips": len(prediction.clips),
                    "duration": prediction.duration, "seconds": time.perf_counter() - started}
        except Exception as exc:  # noqa: BLE001  (one bad clip must not stop the run)
            return failure(video, exc, started)

    def times(self, video: str, speaker: str, basename: str) -> np.ndarray:
        """The time of each row: every ``1 / frame_fps`` for as many rows as the lip
        features have, or the frames ffmpeg extracts at ``frame_fps``."""
        if not self.lengths_from:
            return frame_times(video, self.frame_fps, by="rate")
        lip = Path(self.lengths_from) / LAYOUTS[self.layout].lip_file(speaker, basename)
        if not lip.is_file():
            raise EmotionEncoderError(f"{video}: no lip feature file {lip} to take the row "
                                      "count from (--lengths-from)")
        try:
            rows = np.load(lip, mmap_mode="r").shape[0]
        except (OSError, ValueError, IndexError) as exc:
            raise EmotionEncoderError(f"{lip}: not a readable (T, D) .npy ({exc})") from None
        return np.arange(rows) / self.frame_fps


def export_features(inputs: Iterable[str | os.PathLike], outdir: str | os.PathLike, *,
                    layout: str, speaker: str | None = None, frame_fps: float = 25.0,
                    mode: str = "linear", lengths_from: str | os.PathLike | None = None,
                    v2c_labels: bool = False, workers: int = 1, preset: str = "default",
                    encoder_options: dict[str, Any] | None = None, engine: str = "local",
                    ray_address: str | None = None, stream: TextIO | None = None
                    ) -> dict[str, Any]:
    """Write every clip of ``inputs`` into ``outdir`` in ``layout``; returns the summary
    (``tag``'s, plus ``index`` and ``problems``: clips the system's model would refuse, and
    clips whose faces were not read well: none found, too small)."""
    if layout not in LAYOUTS:
        raise EmotionEncoderError(f"unknown layout {layout!r}; choose one of "
                                  f"{', '.join(LAYOUTS)}")
    if not frame_fps or frame_fps <= 0:
        raise EmotionEncoderError(f"--frame-fps must be above 0, got {frame_fps}")
    if lengths_from is not None and not Path(lengths_from).is_dir():
        raise EmotionEncoderError(f"{lengths_from}: --lengths-from must be the folder of "
                                  "the clips' lip feature files")
    outdir = prepare_outdir(outdir, engine)
    records = outdir / RECORDS
    videos = expand_inputs(inputs, stills=False)  # dubbing clips: a frame is no clip
    names = {str(video): clip_names(video, speaker) for video in videos}
    repeated = [f"{s}-{b}" for (s, b), n in Counter(names.values()).items() if n > 1]
    if repeated:
        raise EmotionEncoderError(f"{outdir}: several inputs map to the same files "
                                  f"({', '.join(sorted(repeated)[:3])}); give them distinct "
                                  "names (speaker folder or V2C name) or export them apart")
    pairs = [(video, str(records / f"{s}-{b}.json")) for video, (s, b) in names.items()]
    records.mkdir(exist_ok=True)
    job = ExportJob(str(outdir), layout, speaker, float(frame_fps), mode,
                    str(lengths_from) if lengths_from else None, v2c_labels)
    started = time.perf_counter()
    log = records / "export.log"
    statuses, skipped = run_batch(pairs, outdir, job, log_path=log, name="export-features",
                                  verb="export", workers=workers, preset=preset,
                                  encoder_options=encoder_options, engine=engine,
                                  ray_address=ray_address, stream=stream)
    docs = read_records(records)
    index = write_or_explain(outdir, "the index", lambda: write_export_index(records, docs))
    summary = batch_summary(len(videos), skipped, statuses, started, log)
    summary["index"] = [str(p) for p in index]
    summary["problems"] = {d["video"]: d["problems"] for d in docs if d["problems"]}
    return summary


def read_records(records: Path) -> list[dict[str, Any]]:
    """Every clip record in ``records`` (this run's and earlier ones), by speaker and name."""
    docs = []
    for path in sorted(records.glob("*.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and doc.get("format") == RECORD_FORMAT:
            docs.append(doc)
    return docs


def write_export_index(records: Path, docs: list[dict[str, Any]]) -> list[Path]:
    """``index.jsonl`` (one line per clip) and ``predicted_emotions.json`` (basename -> V2C
    emotion id in :data:`~emotion_encoder.frames.V2C_LABELS` order, as V2C's
    ``emotions.json``), atomically."""
    keys = ("video", "speaker", "basename", "rows", "fps", "face_rows", "video_label",
            "v2c_emotion_id", "files", "problems")
    index = write_atomic(records / "index.jsonl",
                         "".join(json.dumps({k: d[k] for k in keys}) + "\n" for d in docs))
    emotions = {d["basename"]: d["v2c_emotion_id"] for d in docs
                if d["v2c_emotion_id"] is not None}
    labels = write_atomic(records / "predicted_emotions.json",
                          json.dumps(emotions, indent=1) + "\n")
    return [index, labels]
