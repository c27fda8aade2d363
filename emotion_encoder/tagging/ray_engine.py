"""The ``ray`` engine of the batch runs (``tag``, ``export-features``): the same batch on
Ray Data.

The videos still to do become a dataset (one row each) mapped by a pool of ``workers``
actors; each actor loads the model once and runs the run's job
(:mod:`~emotion_encoder.tagging.worker`, the local engine's per-video function) on its
rows, so the result files are the same. A
failed video comes back as a row carrying its error; the driver logs it and goes on. A
model that cannot be loaded (a bad preset) ends the run with that error, as in the local
engine.

Ray runs on the cluster at ``address`` (or ``$RAY_ADDRESS``) when one is given, else on a
local runtime started for the run and shut down after it. Ray, an optional dependency
(``pip install 'emotion-encoder[ray]'``), is imported only when this engine runs.

>>> from emotion_encoder.tagging import tag
>>> tag(["videos/"], "tags/", workers=2, engine="ray")["failed"]   # doctest: +SKIP
0
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.errors import one_line
from emotion_encoder.tagging.worker import Job, load_encoder

INSTALL_HINT = "pip install 'emotion-encoder[ray]'"
COLUMNS = ("video", "ok", "clips", "duration", "seconds", "error", "trace", "no_space",
           "fatal")
"""The columns of a status row: ``error`` and ``trace`` are empty for a tagged video,
``fatal`` says the error is the actor's model not loading."""


def require_ray() -> None:
    """Raise a one-line :class:`EmotionEncoderError` when Ray Data is not installed."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        raise EmotionEncoderError(f"--engine ray needs Ray Data: {INSTALL_HINT}") from None


class VideoTagger:
    """Ray Data UDF, one per actor: loads the model once, runs ``job`` on each batch's videos.

    A model that fails to load is not raised here (Ray would retry the actor and print
    tracebacks) but returned, as a ``fatal`` row, for each video.

    >>> VideoTagger("default", {}, TagJob())(
    ...     {"video": ["a.mp4"], "out": ["tags/a.0badc0de.json"]})["ok"]   # doctest: +SKIP
    [True]
    """

    def __init__(self, preset: str, options: dict[str, Any], job: Job):
        self.job = job
        self.encoder, self.load_error = None, ""
        try:
            self.encoder = load_encoder(preset, **options)
        except Exception as exc:  # noqa: BLE001  (reported per row, see the class doc)
            self.load_error = one_line(exc)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        statuses = [self.tag(str(video), str(out))
                    for video, out in zip(batch["video"], batch["out"])]
        return {c: [_cell(status, c) for status in statuses] for c in COLUMNS}

    def tag(self, video: str, out: str) -> dict[str, Any]:
        """The job with this actor's model, or the fatal load error."""
        if self.load_error:
            return {"video": video, "ok": False, "error": self.load_error, "fatal": True}
        return self.job(self.encoder, video, out)


def _cell(status: dict[str, Any], column: str) -> Any:
    """One column of a status, with the type fixed (0 / "" where the status has none)."""
    kinds = {"video": str, "ok": bool, "clips": int, "duration": float, "seconds": float,
             "error": str, "trace": str, "no_space": bool, "fatal": bool}
    return kinds[column](status.get(column) or kinds[column]())


def _status(row: dict[str, Any]) -> dict[str, Any]:
    """A row back as the local engine's status dict (a fatal row raises its error)."""
    if row["fatal"]:
        raise EmotionEncoderError(row["error"])
    status = {c: row[c] for c in COLUMNS if c != "fatal"}
    if status["ok"]:
        del status["error"], status["trace"]
    return status


@contextlib.contextmanager
def ray_runtime(cpus: int, address: str | None = None) -> Iterator[None]:
    """Ray for one run: the one already initialised in this process if any (left running),
    else a connection to ``address`` / ``$RAY_ADDRESS``, else a local runtime with ``cpus``
    CPUs; what this function initialised it shuts down (a cluster is only disconnected).

    >>> with ray_runtime(2):   # doctest: +SKIP
    ...     ray.cluster_resources()["CPU"]
    2.0
    """
    import ray

    if ray.is_initialized():
        yield
        return
    address = address or os.environ.get("RAY_ADDRESS")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(num_cpus=cpus, include_dashboard=False, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = address or "a local runtime"
        raise EmotionEncoderError(f"Ray: cannot start or reach {where}: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


@contextlib.contextmanager
def quiet_ray_data() -> Iterator[None]:
    """No Ray Data progress bars, start and stats lines, or Ray log lines (they stay in Ray's
    session logs; errors reach the user as one line from :func:`run_ray`) for the block."""
    import ray.data

    context = ray.data.DataContext.get_current()
    settings = {"enable_progress_bars": False, "print_on_execution_start": False,
                "enable_auto_log_stats": False}
    saved = {name: getattr(context, name) for name in settings}
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    levels = [logger.level for logger in loggers]
    for name, value in settings.items():
        setattr(context, name, value)
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def run_ray(todo: Sequence[tuple[str, str]], record: Callable[[dict[str, Any]], None], *,
            workers: int, preset: str, options: dict[str, Any], job: Job,
            address: str | None = None, cpus_per_worker: float = 1.0) -> None:
    """Run ``job`` on ``todo`` (video, result file) pairs with ``workers`` actors of ``cpus_per_worker``
    CPUs each; ``record`` gets every status as it arrives (the local engine's signature).

    >>> run_ray([("a.mp4", "tags/a.0badc0de.json")], print, workers=1, preset="default",
    ...         options={}, job=TagJob())   # doctest: +SKIP
    {'video': 'a.mp4', 'ok': True, 'clips': 3, 'duration': 2.0, 'seconds': 4.1}
    """
    import ray
    import ray.data

    workers = max(1, min(workers, len(todo)))
    rows = [{"video": video, "out": os.path.abspath(out)} for video, out in todo]
    with ray_runtime(math.ceil(workers * cpus_per_worker), address), quiet_ray_data():
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            VideoTagger, batch_size=1, num_cpus=cpus_per_worker,
            compute=ray.data.ActorPoolStrategy(size=workers),
            fn_constructor_args=(preset, options, job))
        try:
            for row in dataset.iter_rows():
                record(_status(row))
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise EmotionEncoderError(f"Ray: {type(exc).__name__}: {first}") from None
