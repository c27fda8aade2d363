"""Batch runs over many videos: :func:`tag` runs one pass per video over files, folders
(recursive) and globs, writing one result JSON per video (atomically), an index of clip
rows and a log of failures. A rerun skips the videos whose result file exists. The work
runs in local processes (``engine="local"``) or on Ray Data (``engine="ray"``); both
engines run the same job per video (:mod:`~emotion_encoder.tagging.worker`) and write the
same files. :func:`run_batch` is that machinery for any job (``export-features`` too).

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
from typing import Any, Iterable, Sequence, TextIO

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.tagging.index import read_results, write_index
from emotion_encoder.tagging.inputs import expand_inputs, result_name
from emotion_encoder.tagging.local_engine import run_local
from emotion_encoder.tagging.progress import ProgressBar
from emotion_encoder.tagging.ray_engine import require_ray, run_ray
from emotion_encoder.tagging.worker import Job, TagJob

LOG_NAME = "tag.log"


ENGINES = ("local", "ray")


def prepare_outdir(outdir: str | os.PathLike, engine: str) -> Path:
    """Check ``engine`` and make ``outdir`` (a folder), each failure one line."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "ray":
        require_ray()
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise EmotionEncoderError(f"{outdir}: exists and is not a folder (-o names the folder "
                                  "the results go to)")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EmotionEncoderError(f"{outdir}: cannot create the output folder "
                                  f"({exc.strerror or exc})") from None
    return outdir


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
    outdir = prepare_outdir(outdir, engine)
    videos = expand_inputs(inputs)
    pairs = [(str(video), str(outdir / result_name(video))) for video in videos]
    started = time.perf_counter()
    statuses, skipped = run_batch(
        pairs, outdir, TagJob(sampling, embeddings), log_path=outdir / LOG_NAME, name="tag",
        workers=workers, preset=preset, encoder_options=encoder_options, engine=engine,
        ray_address=ray_address, stream=stream)
    index = write_or_explain(outdir, "the index", lambda: write_index(outdir, read_results(outdir)))
    summary = batch_summary(len(videos), skipped, statuses, started, outdir / LOG_NAME)
    summary["index"] = [str(p) for p in index]
    return summary


def run_batch(pairs: Sequence[tuple[str, str]], outdir: Path, job: Job, *, log_path: Path,
              name: str, verb: str | None = None, workers: int = 1, preset: str = "default",
              encoder_options: dict[str, Any] | None = None, engine: str = "local",
              ray_address: str | None = None, stream: TextIO | None = None
              ) -> tuple[list[dict[str, Any]], int]:
    """Run ``job`` on every (video, result file) pair whose result file does not exist yet;
    returns the statuses of this run and the number of pairs skipped as done. ``name``
    starts the console lines ("tag"), ``verb`` says what is to do (default: ``name``).

    Failures go to ``log_path`` and ``stream`` as one line each and the run goes on; a
    disk that fills up stops it with one :class:`EmotionEncoderError` that says what is
    whole and that a rerun tags the rest.
    """
    stream = stream or sys.stderr
    todo = [(video, out) for video, out in pairs if not Path(out).exists()]
    skipped = len(pairs) - len(todo)
    statuses: list[dict[str, Any]] = []
    on_ray = " on Ray" if engine == "ray" else ""
    print(f"{name}: {len(pairs)} videos, {skipped} already done, {len(todo)} to {verb or name}"
          f" ({max(1, min(workers, len(todo) or 1))} worker(s){on_ray})", file=stream, flush=True)
    _log(log_path, f"# run {time.strftime('%Y-%m-%d %H:%M:%S')}: {len(todo)} to do, "
                   f"{skipped} skipped\n")
    bar = ProgressBar(len(todo), stream, name)

    def record(status: dict[str, Any]) -> None:
        statuses.append(status)
        if status.get("no_space"):
            raise _DiskFull(status["video"])
        if not status["ok"]:
            error = status["error"]
            if not error.startswith(status["video"]):
                error = f"{status['video']}: {error}"
            _log(log_path, f"FAILED {error}\n")
            stream.write(f"{name}: error: {error}\n")
        bar.update(status)

    engine_job = {"workers": workers, "preset": preset,
                  "options": dict(encoder_options or {}), "job": job}
    try:
        if todo and engine == "ray":
            run_ray(todo, record, address=ray_address, **engine_job)
        elif todo:
            run_local(todo, record, **engine_job)
    except _DiskFull as full:
        done = sum(s["ok"] for s in statuses)
        raise EmotionEncoderError(
            f"{outdir}: no space left on the device (writing the result of {full}); {done} "
            f"of {len(todo)} videos were done this run and every finished result is whole; "
            f"free some space and run the same command again to do the other "
            f"{len(todo) - done}") from None
    return statuses, skipped


def write_or_explain(outdir: Path, what: str, write):
    """``write()``, an :class:`OSError` (a full disk) as one line that says the results are
    whole and a rerun writes ``what``."""
    try:
        return write()
    except OSError as exc:
        raise EmotionEncoderError(f"{outdir}: cannot write {what} ({exc.strerror or exc}); "
                                  "every result file is whole: free some space and run the "
                                  "same command again to write it") from None


def batch_summary(videos: int, skipped: int, statuses: list[dict[str, Any]], started: float,
                  log_path: Path) -> dict[str, Any]:
    """The summary of a run (also appended to its log)."""
    failed = [s for s in statuses if not s["ok"]]
    summary = {
        "videos": videos, "done": len(statuses) - len(failed), "skipped": skipped,
        "failed": len(failed), "clips": sum(s.get("clips", 0) for s in statuses),
        "seconds_of_video": round(sum(s.get("duration", 0.0) for s in statuses), 3),
        "wall_seconds": round(time.perf_counter() - started, 3), "log": str(log_path),
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
