"""Face detection ahead of the tracker, on several detector instances in threads.

A BlazeFace instance (on LiteRT or on mediapipe's runtime) runs its native graph on a
worker thread of its own, with the GIL released, so two instances detect two frames at
once (1.5-1.7x the frames/s of one on this 2-core CPU, ``benchmarks/faces_speed.py``).
:class:`DetectorPool` holds such instances; :func:`keyframe_detections`
submits each keyframe to it as it arrives and hands the frames on in order, each keyframe
with its faces, keeping at most ``ahead`` keyframes in flight (memory stays bounded). The
faces are the same as one detector's, frame for frame: only when they are computed moves.

>>> pool = DetectorPool(lambda: make_detector("blazeface"), workers=2)    # doctest: +SKIP
>>> for i, t, frame, faces in keyframe_detections(frames, pool, every=2):  # doctest: +SKIP
...     print(i, faces is not None)                                        # 0 True, 1 False, ...
"""

from __future__ import annotations

import queue
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.faces.detectors import Detector, FaceDetection, _Closing


class DetectorPool(_Closing):
    """``workers`` detectors made by ``make``, each used by one thread at a time.

    ``detect(frame)`` works as a single detector's (any free instance runs it);
    ``submit(frame)`` runs it in the pool's threads and returns a future.

    >>> with DetectorPool(lambda: make_detector(), workers=2) as pool:   # doctest: +SKIP
    ...     pool.submit(frame).result() == pool.detect(frame)
    True
    """

    def __init__(self, make: Callable[[], Detector], workers: int = 2):
        if workers < 1:
            raise EmotionEncoderError(f"detector workers must be >= 1, got {workers}")
        self.workers = workers
        self._free: queue.Queue = queue.Queue()
        self._all: list[Detector] = []
        try:
            for _ in range(workers):
                detector = make()
                self._all.append(detector)
                self._free.put(detector)
        except BaseException:
            self.close()
            raise
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="face-detect")

    def detect(self, frame_rgb: np.ndarray) -> list[FaceDetection]:
        """Faces in one RGB frame, on whichever instance is free."""
        detector = self._free.get()
        try:
            return detector.detect(frame_rgb)
        finally:
            self._free.put(detector)

    def submit(self, frame_rgb: np.ndarray) -> Future:
        """:meth:`detect` of ``frame_rgb`` in the pool's threads."""
        return self._threads.submit(self.detect, frame_rgb)

    def close(self) -> None:
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.shutdown(wait=True)
        for detector in self._all:
            detector.close()
        self._all = []


def keyframe_detections(frames: Iterable[tuple[float, np.ndarray]], detector: Detector,
                        every: int, ahead: int | None = None
                        ) -> Iterator[tuple[int, float, np.ndarray, list[FaceDetection] | None]]:
    """``(i, t, frame, faces)`` for every frame, in order: ``faces`` is the detector's
    result on the keyframes (every ``every``-th frame from the first, and the last frame),
    None on the others. A :class:`DetectorPool` detects up to ``ahead`` keyframes (default:
    twice its workers) before they are handed on; any other detector runs as each keyframe
    arrives. The last frame is known only when the next one does not come, so frames are
    handed on one frame late.

    >>> class Count:
    ...     def detect(self, frame): return [frame]
    >>> [(i, faces) for i, _, _, faces in keyframe_detections(
    ...     ((t, t) for t in range(5)), Count(), every=3)]
    [(0, [0]), (1, None), (2, None), (3, [3]), (4, [4])]
    """
    pool = detector if isinstance(detector, DetectorPool) else None
    ahead = (2 * pool.workers if ahead is None else max(1, ahead)) if pool else 0

    def start(frame: np.ndarray) -> Future:
        if pool is not None:
            return pool.submit(frame)
        done: Future = Future()
        done.set_result(detector.detect(frame))
        return done

    held: deque = deque()  # [i, t, frame, future or None], oldest first
    in_flight = 0          # keyframes in ``held``
    for i, (t, frame) in enumerate(frames):
        key = i % every == 0
        held.append([i, t, frame, start(frame) if key else None])
        in_flight += key
        while len(held) > 1 and (held[0][3] is None or in_flight > ahead
                                 or held[0][3].done()):
            j, tj, fj, future = held.popleft()
            in_flight -= future is not None
            yield j, tj, fj, None if future is None else future.result()
    if held and held[-1][3] is None:  # the last frame is always a keyframe
        held[-1][3] = start(held[-1][2])
    for j, tj, fj, future in held:
        yield j, tj, fj, None if future is None else future.result()
