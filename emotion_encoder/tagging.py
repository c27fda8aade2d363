"""One pass per video for both outputs, and batch tagging of many videos.

:func:`analyze` runs :meth:`EmotionEncoder.analyze` (prediction and embeddings from one
pass) and reports progress as a fraction of the video read.

:func:`tag` runs it over files, folders (recursive) and globs, writing one result JSON per
video (atomically), an index of clip rows (JSONL, plus Parquet when pyarrow is installed)
and a log of failures. A rerun skips the videos whose result file exists. The work runs
in local processes (``engine="local"``) or on Ray Data (``engine="ray"``, see
:mod:`emotion_encoder.tagging_ray`); both write the same files.

>>> summary = tag(["videos/"], "tags/", workers=2)     # doctest: +SKIP
>>> summary["done"], summary["skipped"], summary["failed"]   # doctest: +SKIP
(10, 0, 0)
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import sys
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence, TextIO

from emotion_encoder.atomic import atomic_path, write_atomic
from emotion_encoder.media import is_video
from emotion_encoder.results import Analysis

RESULT_FORMAT = "emotion_encoder.tag_result"
INDEX_JSONL = "index.jsonl"
INDEX_PARQUET = "index.parquet"
LOG_NAME = "tag.log"

Progress = Callable[[float, str], None]
"""``progress(fraction_done, message)``."""


# ------------------------------------------------------------------ one video, one pass

def analyze(encoder, video, sampling: str = "sliding",
            progress: Progress | None = None, **options: Any) -> Analysis:
    """:meth:`EmotionEncoder.analyze` with ``progress(fraction, message)`` reported as the
    fraction of the video's duration read; ``options`` as for ``predict``."""
    from emotion_encoder.video import probe_video

    duration = probe_video(video).duration if isinstance(video, (str, os.PathLike)) else 0.0

    def report(frame) -> None:
        if progress is not None and duration > 0:
            progress(min(1.0, frame.t / duration), f"{frame.t:.1f} / {duration:.1f} s")

    analysis = encoder.analyze(video, sampling=sampling, progress=report, **options)
    if progress is not None:
        progress(1.0, "done")
    return analysis


def load_encoder(preset: str = "default", **kwargs):
    """An :class:`EmotionEncoder` with TensorFlow's C++ start-up logs kept off the console."""
    import warnings

    from emotion_encoder import _runtime

    with tempfile.TemporaryFile() as log, _runtime.native_stderr_to(log), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from emotion_encoder.encoder import EmotionEncoder

        encoder = EmotionEncoder(preset, **kwargs)
        encoder.detector  # noqa: B018  (load it now, under the same quiet)
    return encoder


# ------------------------------------------------------------------ inputs and outputs

class TagInputError(Exception):
    """An input that names nothing (missing file, empty glob)."""


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given; folders searched recursively and globs expanded, for video files.

    Order is kept, duplicates dropped. An input that matches nothing raises
    :class:`TagInputError`.
    """
    found: list[Path] = []
    for item in inputs:
        text = os.fspath(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(p for p in path.rglob("*")
                             if p.is_file() and is_video(p))
        elif path.exists():
            matches = [path]
        elif glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True)
                             if Path(p).is_file() and is_video(p))
            if not matches:
                raise TagInputError(f"{text}: no video file matches")
        else:
            raise TagInputError(f"{text}: no such file or folder")
        found.extend(matches)
    seen: set[Path] = set()
    unique = []
    for p in found:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def result_name(video: str | os.PathLike) -> str:
    """``<stem>.<8 hex of the absolute path>.json``: stable and unique per video."""
    path = Path(video).resolve()
    digest = hashlib.sha1(str(path).encode("utf-8")).hexdigest()[:8]
    return f"{path.stem}.{digest}.json"


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message (type name first for unexpected errors)."""
    from emotion_encoder.errors import EmotionEncoderError

    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, EmotionEncoderError) else f"{type(exc).__name__}: {text}"


def index_rows(result: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Clip rows of one result document (a video without clips gives one empty row)."""
    pred = result["prediction"]
    base = {"video": result["source"], "duration": pred["duration"],
            "video_label": pred["video_label"], "result": result["result_file"]}
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
    columns = ["video", "duration", "video_label", "result", "clip", "start", "end", "label",
               "confidence", "face_ratio"]
    table = pa.table({c: [row[c] for row in rows] for c in columns}) if rows else \
        pa.table({c: pa.array([], pa.string()) for c in columns})
    with atomic_path(outdir / INDEX_PARQUET) as tmp:
        pq.write_table(table, tmp)
    paths.append(outdir / INDEX_PARQUET)
    return paths


# ------------------------------------------------------------------ workers

_WORKER: dict[str, Any] = {}


def _init_worker(preset: str, options: dict[str, Any]) -> None:
    _WORKER["encoder"] = load_encoder(preset, **options)


def _tag_one(video: str, out: str, sampling: str, embeddings: bool) -> dict[str, Any]:
    """:func:`tag_video` with this worker process's encoder."""
    return tag_video(_WORKER["encoder"], video, out, sampling, embeddings)


def tag_video(encoder, video: str, out: str, sampling: str = "sliding",
              embeddings: bool = False) -> dict[str, Any]:
    """Tag one video into the result file ``out`` (written atomically); returns a status
    dict (``ok``, ``clips``, ``duration``, ``seconds``; ``error`` and ``trace`` on failure)
    and never raises. Both engines run this for every video.

    >>> tag_video(load_encoder(), "a.mp4", "tags/a.0badc0de.json")["ok"]   # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    try:
        analysis = analyze(encoder, video, sampling=sampling)
        pred = analysis.prediction
        doc = {"format": RESULT_FORMAT, "source": video, "result_file": Path(out).name,
               "prediction": pred.to_dict()}
        if embeddings:
            npz = Path(out).with_suffix(".npz")
            analysis.track.save(npz)
            doc["embeddings_file"] = npz.name
        write_atomic(Path(out), json.dumps(doc, indent=1) + "\n")
        return {"video": video, "ok": True, "clips": len(pred.clips),
                "duration": pred.duration, "seconds": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001  (one bad file must not stop the run)
        return {"video": video, "ok": False, "error": one_line(exc),
                "trace": traceback.format_exc(), "seconds": time.perf_counter() - started}


# ------------------------------------------------------------------ progress bar

class ProgressBar:
    """Files done, clips found and ETA on one stderr line (a new line per update if not a tty)."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total = total
        self.stream = stream or sys.stderr
        self.done = self.clips = self.failed = 0
        self.started = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, status: dict[str, Any]) -> None:
        self.done += 1
        self.clips += status.get("clips", 0)
        self.failed += not status["ok"]
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = int(width * self.done / max(1, self.total))
        line = (f"tag [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files, "
                f"{self.clips} clips, {self.failed} failed, "
                f"elapsed {_clock(elapsed)}, ETA {_clock(eta)}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# ------------------------------------------------------------------ the batch

def _run_local(todo: Sequence[tuple[str, str]], record: Callable[[dict[str, Any]], None], *,
               workers: int, preset: str, options: dict[str, Any], sampling: str,
               embeddings: bool) -> None:
    """Tag ``todo`` (video, result file) pairs in this process (one worker) or in a pool of
    spawned processes, each loading the model once; ``record`` gets every status."""
    if workers <= 1:
        _init_worker(preset, options)
        for video, out in todo:
            record(_tag_one(video, out, sampling, embeddings))
        return
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork after TensorFlow
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context,
                             initializer=_init_worker, initargs=(preset, options)) as pool:
        pending = {pool.submit(_tag_one, video, out, sampling, embeddings)
                   for video, out in todo}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                record(future.result())


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
        from emotion_encoder.tagging_ray import require_ray

        require_ray()
    stream = stream or sys.stderr
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
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
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# run {time.strftime('%Y-%m-%d %H:%M:%S')}: {len(todo)} to tag, "
                  f"{len(skipped)} skipped\n")
        bar = ProgressBar(len(todo), stream)

        def record(status: dict[str, Any]) -> None:
            statuses.append(status)
            if not status["ok"]:
                error = status["error"]
                if not error.startswith(status["video"]):
                    error = f"{status['video']}: {error}"
                log.write(f"FAILED {error}\n")
                log.flush()
                stream.write(f"tag: error: {error}\n")
            bar.update(status)

        job = {"workers": workers, "preset": preset, "options": dict(encoder_options or {}),
               "sampling": sampling, "embeddings": embeddings}
        if todo and engine == "ray":
            from emotion_encoder.tagging_ray import run_ray

            run_ray(todo, record, address=ray_address, **job)
        elif todo:
            _run_local(todo, record, **job)

    index = write_index(outdir, read_results(outdir))
    failed = [s for s in statuses if not s["ok"]]
    summary = {
        "videos": len(videos), "done": len(statuses) - len(failed), "skipped": len(skipped),
        "failed": len(failed), "clips": sum(s.get("clips", 0) for s in statuses),
        "seconds_of_video": round(sum(s.get("duration", 0.0) for s in statuses), 3),
        "wall_seconds": round(time.perf_counter() - started, 3),
        "index": [str(p) for p in index], "log": str(log_path),
        "errors": {s["video"]: s["error"] for s in failed},
    }
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"# summary {json.dumps({k: v for k, v in summary.items() if k != 'errors'})}\n")
    return summary
