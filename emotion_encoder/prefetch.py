"""Run a producer (decoding and face detection) in a background thread, ahead of the
consumer (the network), through a bounded queue: both cores busy, memory flat, the items
in their order and unchanged.

FFmpeg decodes in its own process, MediaPipe and TensorFlow release the GIL in their
native code, so a thread is enough for the two stages to overlap.

>>> list(prefetched(iter(range(5)), size=2))
[0, 1, 2, 3, 4]
>>> def broken():
...     yield 1
...     raise ValueError("bad frame")
>>> it = prefetched(broken()); next(it)
1
>>> next(it)
Traceback (most recent call last):
ValueError: bad frame
"""

from __future__ import annotations

import queue
import threading
from typing import Iterator, TypeVar

T = TypeVar("T")

_DONE = object()


def prefetched(items: Iterator[T], size: int = 2) -> Iterator[T]:
    """``items``, produced by a daemon thread at most ``size`` ahead of the reader.

    An exception in the producer is raised in the reader, at the point it happened; a
    reader that stops early (closes the generator) stops the producer at its next item.
    """
    slots: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # noqa: BLE001  (handed to the reader)
            put((_DONE, exc))
            return
        put((_DONE, None))

    worker = threading.Thread(target=produce, name="emotion-encoder-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if item is _DONE:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5.0)
