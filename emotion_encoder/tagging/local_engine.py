"""The ``local`` engine of the batch runs (``tag``, ``export-features``): this process (one
worker) or a pool of spawned processes, each loading the model once."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Callable, Sequence

from emotion_encoder.tagging.worker import Job, _init_worker, _run_one


def run_local(todo: Sequence[tuple[str, str]], record: Callable[[dict[str, Any]], None], *,
               workers: int, preset: str, options: dict[str, Any], job: Job) -> None:
    """Run ``job`` on ``todo`` (video, result file) pairs in this process (one worker) or in a pool of
    spawned processes, each loading the model once; ``record`` gets every status, and
    when it raises, no other video is started (those running finish) and the error goes on."""
    if workers <= 1:
        _init_worker(preset, options)
        for video, out in todo:
            record(_run_one(job, video, out))
        return
    context = multiprocessing.get_context("spawn")  # no fork after TensorFlow
    with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context,
                             initializer=_init_worker, initargs=(preset, options)) as pool:
        pending = {pool.submit(_run_one, job, video, out)
                   for video, out in todo}
        try:
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    record(future.result())
        except BaseException:  # ``record`` stopped the run: start no other video
            pool.shutdown(wait=True, cancel_futures=True)
            raise
