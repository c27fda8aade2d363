"""Batch tagging of many videos: :func:`tag` runs one pass per video over files, folders
(recursive) and globs, writing one result JSON per video (atomically), an index of clip
rows and a log of failures. A rerun skips the videos whose result file exists. The work
runs in local processes (``engine="local"``) or on Ray Data (``engine="ray"``); both
engines run :func:`~emotion_encoder.tagging.worker.tag_video` and write the same files.

>>> summary = tag(["videos/"], "tags/", workers=2)     # doctest: +SKIP
>>> summary["done"], summary["skipped"], summary["failed"]   # doctest: +SKIP
(10, 0, 0)
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterable, TextIO

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.tagging.index import read_results, write_index
from emotion_encoder.tagging.inputs import expand_inputs, result_name
from emotion_encoder.tagging.local_engine import run_local
from emotion_encoder.tagging.progress import ProgressBar
from emotion_encoder.tagging.ray_engine import require_ray, run_ray

LOG_NAME = "tag.log"


ENGINES = ("local", "ray")


def tag(inputs: Iterable[str | os.PathLike], outdir: str | os.PathLike, *, workers: int = 1,
        preset: str = "default", sampling: str = "sliding", embeddings: bool = False,
        encoder_options: dict[str, Any] | None = None, engine: str = "local",
        ray_address: str | None = None, stream: TextIO | None = None) -> dict[str, Any]:
    """Tag every video of ``inputs`` into ``outdir``; returns the run's summary.

    Videos with a result file in ``outdir`` are skipped. Failures are logged to
    ``outdir/tag.log`` (and ``stream``) with a one-line error; the run goes on.
    ``engine="ray"`` runs ``workers`` Ray actors, on the cluster at ``ray_address`` (or
    ``$RAY_ADDRESS``) if given, else on a local Ray runtime started for this run.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "ray":
        require_ray()
    stream = stream or sys.stderr
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise EmotionEncoderError(f"{outdir}: exists and is not a folder (-o names the folder "
                                  "the results go to)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmotionEncoderError(f"{outdir}: cannot create the output folder "
                                  f"({exc.strerror or exc})") from None
    videos = expand_inputs(inputs)
    todo, skipped = [], []
    for video in videos:
        out = outdir / result_name(video)
        (skipped if out.exists() else todo).append((str(video), str(out)))
    started = time.perf_counter()
    statuses: list[dict[str, Any]] = []
    log_path = outdir / LOG_NAME
    on_ray = " on Ray" if engine == "ray" else ""
    print(f"tag: {len(videos)} videos, {len(skipped)} already done, {len(todo)} to tag"
          f" ({max(1, min(workers, len(todo) or 1))} worker(s){on_ray})", file=stream, flush=True)
    _log(log_path, f"# run {time.strftime('%Y-%m-%d %H:%M:%S')}: {len(todo)} to tag, "
                   f"{len(skipped)} skipped\n")
    bar = ProgressBar(len(todo), stream)

    def record(status: dict[str, Any]) -> None:
        statuses.append(status)
        if status.get("no_space"):
            raise _DiskFull(status["video"])
        if not status["ok"]:
            error = status["error"]
            if not error.startswith(status["video"]):
                error = f"{status['video']}: {error}"
            _log(log_path, f"FAILED {error}\n")
            stream.write(f"tag: error: {error}\n")
        bar.update(status)

    job = {"workers": workers, "preset": preset, "options": dict(encoder_options or {}),
           "sampling": sampling, "embeddings": embeddings}
    try:
        if todo and engine == "ray":
            run_ray(todo, record, address=ray_address, **job)
        elif todo:
            run_local(todo, record, **job)
    except _DiskFull as full:
        done = sum(s["ok"] for s in statuses)
        with contextlib.suppress(OSError):  # the index of what is whole, if it fits
            write_index(outdir, read_results(outdir))
        raise EmotionEncoderError(
            f"{outdir}: no space left on the device (writing the result of {full}); {done} "
            f"of {len(todo)} videos were tagged this run and every finished result is whole; "
            f"free some space and run the same command again to tag the other "
            f"{len(todo) - done}") from None
    try:
        index = write_index(outdir, read_results(outdir))
    except OSError as exc:
        raise EmotionEncoderError(f"{outdir}: cannot write the index ({exc.strerror or exc}); "
                                  "every result file is whole: free some space and run the "
                                  "same command again to write it") from None
    failed = [s for s in statuses if not s["ok"]]
    summary = {
        "videos": len(videos), "done": len(statuses) - len(failed), "skipped": len(skipped),
        "failed": len(failed), "clips": sum(s.get("clips", 0) for s in statuses),
        "seconds_of_video": round(sum(s.get("duration", 0.0) for s in statuses), 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "index": [str(p) for p in index], "log": str(log_path),
        "errors": {s["video"]: s["error"] for s in failed},
    }
    _log(log_path, f"# summary {json.dumps({k: v for k, v in summary.items() if k != 'errors'})}\n")
    return summary


class _DiskFull(Exception):
    """A video's result could not be written for want of space: the run stops."""


def _log(path: Path, text: str) -> None:
    """Append ``text`` to the run's log; a log that cannot be written (a full disk) does not
    stop the run, whose errors also reach the console."""
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as log:
        log.write(text)
