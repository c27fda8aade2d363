"""The result documents of a ``tag`` run and the index of their clips (JSONL, and Parquet
when pyarrow is installed), written atomically.

>>> doc = {"source": "a.mp4", "result_file": "a.1.json", "prediction": {"duration": 2.0,
...        "video_label": None, "clips": []}}
>>> [(row["clip"], row["warnings"]) for row in index_rows(doc)]  # no clips: one empty row
[(None, [])]
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Iterator, Sequence

from emotion_encoder.atomic import atomic_path, write_atomic

RESULT_FORMAT = "emotion_encoder.tag_result"
INDEX_JSONL = "index.jsonl"
INDEX_PARQUET = "index.parquet"


def index_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Clip rows of one result document (a video without clips gives one empty row), each
    with its video's warnings (faces too small to read, no face, untrained weights)."""
    pred = result["prediction"]
    base = {"video": result["source"], "duration": pred["duration"],
            "video_label": pred["video_label"], "warnings": list(pred.get("warnings", [])),
            "result": result["result_file"]}
    clips = pred["clips"] or [None]
    for i, clip in enumerate(clips):
        row = dict(base, clip=None if clip is None else i)
        for key in ("start", "end", "label", "confidence", "face_ratio"):
            row[key] = None if clip is None else clip[key]
        yield row


def read_results(outdir: Path) -> list[dict[str, Any]]:
    """Every result document in ``outdir`` (of this run and earlier ones), by video path."""
    results = []
    for path in sorted(Path(outdir).glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and doc.get("format") == RESULT_FORMAT:
                results.append(doc)
    return sorted(results, key=lambda d: (d["source"], d["result_file"]))


def write_index(outdir: Path, results: Sequence[dict[str, Any]]) -> list[Path]:
    """``index.jsonl`` (and ``index.parquet`` when pyarrow is installed), atomically: one row
    per clip of every result in ``outdir``, with the video, its duration and its label."""
    rows = [row for result in results for row in index_rows(result)]
    paths = [write_atomic(outdir / INDEX_JSONL,
                          "".join(json.dumps(row) + "\n" for row in rows))]
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return paths
    columns = ["video", "duration", "video_label", "warnings", "result", "clip", "start", "end",
               "label", "confidence", "face_ratio"]
    table = pa.table({c: pa.array([row[c] for row in rows], pa.list_(pa.string()))
                      if c == "warnings" else [row[c] for row in rows] for c in columns}) \
        if rows else pa.table({c: pa.array([], pa.string()) for c in columns})
    with atomic_path(outdir / INDEX_PARQUET) as tmp:
        pq.write_table(table, tmp)
    paths.append(outdir / INDEX_PARQUET)
    return paths
