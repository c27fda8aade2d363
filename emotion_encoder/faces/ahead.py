"""Face detection ahead of the tracker, on several detector instances in threads.

A BlazeFace instance (on LiteRT or on mediapipe's runtime) runs its native graph on a
worker thread of its own, with the GIL released, so two instances detect two frames at
once (1.5-1.7x the frames/s of one on this 2-core CPU, ``benchmarks/faces_speed.py``).
:class:`DetectorPool` holds such instances; :func:`keyframe_detections`
submits each keyframe to it as it arrives and hands the frames on in order, each keyframe
with its faces, keeping at most ``ahead`` keyframes in flight (memory stays bounded). The
faces are the same as one detector's, frame for frame: only when they are computed moves.
With ``adaptive=True`` it detects every ``2 * every``-th frame and, in the pool's threads
as soon as its neighbours are known, the keyframe between them only where the faces moved
(28% fewer detections on the 10-minute benchmark clip; README, Speed).

>>> pool = DetectorPool(lambda: make_detector("blazeface"), workers=2)    # doctest: +SKIP
>>> for i, t, frame, faces in keyframe_detections(frames, pool, every=2):  # doctest: +SKIP
...     print(i, faces is not None)                                        # 0 True, 1 False, ...
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator

import numpy as np

from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.faces.detectors import Detector, FaceDetection, _Closing, box_iou


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


MOVED_IOU = 0.85
"""With adaptive keyframes, two detected keyframes whose faces all overlap by at least
this IoU (and are as many) count as still: the keyframe between them is not detected."""


def faces_moved(a: list[FaceDetection], b: list[FaceDetection],
                min_iou: float = MOVED_IOU) -> bool:
    """Whether the faces of two frames differ: not as many, or one of ``a`` overlaps no
    face of ``b`` by ``min_iou``.

    >>> f = lambda x: FaceDetection((x, 0, x + 10, 10), 0.9)
    >>> faces_moved([f(0)], [f(0.5)]), faces_moved([f(0)], [f(3)]), faces_moved([], [f(0)])
    (False, True, True)
    """
    if len(a) != len(b):
        return True
    return any(max(box_iou(x.box, y.box) for y in b) < min_iou for x in a)


SKIPPED = None
"""What an adaptive keyframe that was not detected yields for its faces (as a frame
between keyframes does)."""


class _Between:
    """The future of a keyframe halfway between two others (:attr:`out`): once both are
    detected, ``start(frame)``'s detection if their faces moved, else :data:`SKIPPED`.
    It lets go of the frame and the neighbours once decided (a future keeps its
    callbacks, so a closure would chain every frame of the video together)."""

    def __init__(self, left: Future, right: Future, frame: np.ndarray,
                 start: Callable[[np.ndarray], Future]):
        self.out: Future = Future()
        self._sides: list[Future] | None = [left, right]
        self._frame, self._start = frame, start
        self._lock = threading.Lock()
        self._waiting = 2
        left.add_done_callback(self._one_done)
        right.add_done_callback(self._one_done)

    def _one_done(self, _: Future) -> None:
        with self._lock:
            self._waiting -= 1
            if self._waiting:
                return
        (left, right), frame, start = self._sides, self._frame, self._start
        self._sides = self._frame = self._start = None
        failed = left.exception() or right.exception()
        if failed is not None:
            self.out.set_exception(failed)
        elif faces_moved(left.result(), right.result()):
            start(frame).add_done_callback(self._chain)
        else:
            self.out.set_result(SKIPPED)

    def _chain(self, done: Future) -> None:
        if done.exception() is not None:
            self.out.set_exception(done.exception())
        else:
            self.out.set_result(done.result())


def keyframe_detections(frames: Iterable[tuple[float, np.ndarray]], detector: Detector,
                        every: int, ahead: int | None = None, adaptive: bool = False
                        ) -> Iterator[tuple[int, float, np.ndarray, list[FaceDetection] | None]]:
    """``(i, t, frame, faces)`` for every frame, in order: ``faces`` is the detector's
    result on the keyframes (every ``every``-th frame from the first, and the last frame),
    None on the others. ``adaptive``: detect every ``2 * every``-th frame, and the keyframe
    halfway between two of them only where their faces moved (:func:`faces_moved`; None
    where they did not). A :class:`DetectorPool` detects up to ``ahead`` keyframes
    (default: twice its workers, four times with ``adaptive``) before they are handed on,
    and decides each halfway keyframe as soon as its neighbours are detected, so the
    pool never waits for the consumer; any other detector runs as each keyframe arrives.
    The last frame is known only when the next one does not come, so frames are handed
    on one frame late.

    >>> class Count:
    ...     def detect(self, frame): return [frame]
    >>> [(i, faces) for i, _, _, faces in keyframe_detections(
    ...     ((t, t) for t in range(5)), Count(), every=3)]
    [(0, [0]), (1, None), (2, None), (3, [3]), (4, [4])]
    >>> class Still:  # one face that never moves: no keyframe between is detected
    ...     def detect(self, frame): return [FaceDetection((0, 0, 9, 9), 0.9)]
    >>> [i for i, _, _, faces in keyframe_detections(((t, t) for t in range(9)), Still(),
    ...                                                  every=2, adaptive=True) if faces]
    [0, 4, 8]
    """
    pool = detector if isinstance(detector, DetectorPool) else None
    workers = pool.workers if pool else 0
    ahead = ((4 if adaptive else 2) * workers if ahead is None else max(1, ahead)) \
        if pool else 0
    step = 2 * every if adaptive else every

    def start(frame: np.ndarray) -> Future:
        if pool is not None:
            return pool.submit(frame)
        done: Future = Future()
        done.set_result(detector.detect(frame))
        return done

    held: deque = deque()  # [i, t, frame, future or None (, left neighbour's future)]
    middle: list | None = None  # adaptive: the halfway keyframe whose right one is to come
    last_key: Future | None = None
    in_flight = 0          # keyframes in ``held``
    for i, (t, frame) in enumerate(frames):
        entry = [i, t, frame, None]
        if i % step == 0:
            entry[3] = last_key = start(frame)
            if middle is not None:
                middle[3] = _Between(middle.pop(), entry[3], middle[2], start).out
                middle = None
        elif adaptive and i % step == every:
            middle = entry + [last_key]
            middle[3] = Future()  # a placeholder until the right neighbour arrives
            entry = middle
        held.append(entry)
        in_flight += entry[3] is not None
        while len(held) > 1 and held[0] is not middle and (
                held[0][3] is None or in_flight > ahead or held[0][3].done()):
            j, tj, fj, future = held.popleft()[:4]
            in_flight -= future is not None
            yield j, tj, fj, None if future is None else future.result()
    if held and (held[-1][3] is None or held[-1] is middle):
        held[-1][3] = start(held[-1][2])  # the last frame is always a keyframe
        middle = None if held[-1] is middle else middle
    if middle is not None:  # the last frame is its right neighbour
        middle[3] = _Between(middle.pop(), held[-1][3], middle[2], start).out
    for j, tj, fj, future in (entry[:4] for entry in held):
        yield j, tj, fj, None if future is None else future.result()
