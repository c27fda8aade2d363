"""How clips of ``window`` frames are cut from a stream of sampled frames.

Two schemes, both carrying times in seconds:

- fixed interval (the paper): ``window`` frames evenly spaced over a whole short video;
- sliding windows: ``window`` consecutive sampled frames every ``stride`` frames, for
  timelines over long videos. The last window is aligned to the end of the stream so that
  every frame is covered; a stream shorter than one window gives one fixed-interval clip.

>>> fixed_interval_indices(40, 4).tolist()
[0, 13, 26, 39]
>>> [w[0] for w in sliding_windows(range(10), window=4, stride=3)]
[0, 3, 6]
"""

from __future__ import annotations

from collections import deque
from typing import Iterable, Iterator, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


def fixed_interval_indices(n_items: int, window: int) -> np.ndarray:
    """``window`` indices evenly spaced over ``n_items`` (repeats when there are fewer)."""
    if n_items < 1:
        raise ValueError("cannot sample from an empty sequence")
    return np.round(np.linspace(0, n_items - 1, window)).astype(int)


def sliding_windows(items: Iterable[T], window: int, stride: int) -> Iterator[list[T]]:
    """Yield lists of ``window`` items every ``stride`` items, holding ``window`` at most.

    The final window ends on the last item; a stream shorter than ``window`` yields one
    list resampled at fixed intervals (items repeat) so every clip has ``window`` frames.
    """
    if window < 1 or stride < 1:
        raise ValueError(f"window and stride must be >= 1, got {window}, {stride}")
    buffer: deque[T] = deque(maxlen=window)
    seen = 0
    last_emitted = -1
    for item in items:
        buffer.append(item)
        seen += 1
        if seen >= window and (seen - window) % stride == 0:
            last_emitted = seen
            yield list(buffer)
    if seen == 0:
        return
    if seen < window:
        yield [buffer[i] for i in fixed_interval_indices(seen, window)]
    elif last_emitted != seen:
        yield list(buffer)


def pick(items: Sequence[T], window: int) -> list[T]:
    """The fixed-interval sample of a whole sequence."""
    return [items[i] for i in fixed_interval_indices(len(items), window)]
