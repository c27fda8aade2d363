"""One video, one pass: the job every engine runs for each video (a :class:`TagJob` runs
:func:`tag_video`; ``export-features`` has its own job), and the encoder it runs with
(:func:`load_encoder`, once per worker process or actor).

A job is a picklable callable ``job(encoder, video, out) -> status``: it writes what it
makes atomically, its result file ``out`` last (a run skips a video whose ``out`` exists),
and returns a status dict (``video``, ``ok``, ``clips``, ``duration``, ``seconds``;
``error``, ``trace`` and ``no_space`` on failure) instead of raising.

>>> TagJob()(load_encoder(), "a.mp4", "tags/a.0badc0de.json")["ok"]   # doctest: +SKIP
True
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
import time
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from emotion_encoder import _runtime
from emotion_encoder.atomic import write_atomic
from emotion_encoder.errors import one_line
from emotion_encoder.results import Analysis
from emotion_encoder.tagging.index import RESULT_FORMAT
from emotion_encoder.tagging.progress import Progress
from emotion_encoder.video import probe_file


def analyze(encoder, video, sampling: str = "sliding",
            progress: Progress | None = None, **options: Any) -> Analysis:
    """:meth:`EmotionEncoder.analyze` with ``progress(fraction, message)`` reported as the
    fraction of the video's duration read; ``options`` as for ``predict``."""
    duration = probe_file(video).duration if isinstance(video, (str, os.PathLike)) else 0.0

    def report(frame) -> None:
        if progress is not None and duration > 0:
            progress(min(1.0, frame.t / duration), f"{frame.t:.1f} / {duration:.1f} s")

    analysis = encoder.analyze(video, sampling=sampling, progress=report, **options)
    if progress is not None:
        progress(1.0, "done")
    return analysis


def load_encoder(preset: str = "default", **kwargs):
    """An :class:`EmotionEncoder` with TensorFlow's C++ start-up logs kept off the console."""
    with tempfile.TemporaryFile() as log, _runtime.native_stderr_to(log), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from emotion_encoder.encoder import EmotionEncoder  # TensorFlow: under the quiet

        encoder = EmotionEncoder(preset, **kwargs)
        encoder.detector  # noqa: B018  (load it now, under the same quiet)
    return encoder


class Job(Protocol):
    """What an engine runs for each video (see the module docstring)."""

    def __call__(self, encoder, video: str, out: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class TagJob:
    """``tag``'s job: :func:`tag_video` with these options."""

    sampling: str = "sliding"
    embeddings: bool = False

    def __call__(self, encoder, video: str, out: str) -> dict[str, Any]:
        return tag_video(encoder, video, out, self.sampling, self.embeddings)


_WORKER: dict[str, Any] = {}


def _init_worker(preset: str, options: dict[str, Any]) -> None:
    _WORKER["encoder"] = load_encoder(preset, **options)


def _run_one(job: Job, video: str, out: str) -> dict[str, Any]:
    """``job`` on one video with this worker process's encoder."""
    return job(_WORKER["encoder"], video, out)


def tag_video(encoder, video: str, out: str, sampling: str = "sliding",
              embeddings: bool = False) -> dict[str, Any]:
    """Tag one video into the result file ``out`` (written atomically); returns a status
    dict (``ok``, ``clips``, ``duration``, ``seconds``; ``error`` and ``trace`` on failure)
    and never raises. Both engines run this for every video.

    >>> tag_video(load_encoder(), "a.mp4", "tags/a.0badc0de.json")["ok"]   # doctest: +SKIP
    True
    """
    started = time.perf_counter()
    npz = Path(out).with_suffix(".npz")
    try:
        analysis = analyze(encoder, video, sampling=sampling)
        pred = analysis.prediction
        doc = {"format": RESULT_FORMAT, "source": video, "result_file": Path(out).name,
               "prediction": pred.to_dict()}
        if embeddings:
            analysis.track.save(npz)
            doc["embeddings_file"] = npz.name
        try:
            write_atomic(Path(out), json.dumps(doc, indent=1) + "\n")
        except BaseException:
            if embeddings:  # no embeddings file without its result document
                npz.unlink(missing_ok=True)
            raise
        return {"video": video, "ok": True, "clips": len(pred.clips),
                "duration": pred.duration, "seconds": time.perf_counter() - started}
    except Exception as exc:  # noqa: BLE001  (one bad file must not stop the run)
        return failure(video, exc, started)


def failure(video: str, exc: Exception, started: float) -> dict[str, Any]:
    """The status of a video whose job raised ``exc`` (inside its ``except`` block)."""
    return {"video": video, "ok": False, "error": one_line(exc), "no_space": is_no_space(exc),
            "trace": traceback.format_exc(), "seconds": time.perf_counter() - started}


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full: the run cannot go on.

    >>> is_no_space(OSError(errno.ENOSPC, "No space left on device")), is_no_space(ValueError())
    (True, False)
    """
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
