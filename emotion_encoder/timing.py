"""Time spans in seconds, in the manner of ``pyannote.core``.

>>> s = Segment(1.0, 3.0)
>>> s.duration, s.middle
(2.0, 2.0)
>>> Segment(0, 2) & Segment(1, 3)
Segment(start=1.0, end=2.0)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Segment:
    """A half-open time span ``[start, end)`` in seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", float(self.start))
        object.__setattr__(self, "end", float(self.end))
        if self.end < self.start:
            raise ValueError(f"segment ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def middle(self) -> float:
        return 0.5 * (self.start + self.end)

    def __bool__(self) -> bool:
        return self.duration > 0

    def __and__(self, other: "Segment") -> "Segment":
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Segment(start, max(start, end))

    def __contains__(self, t: float) -> bool:
        return self.start <= t < self.end

    def to_dict(self) -> dict[str, float]:
        return {"start": round(self.start, 4), "end": round(self.end, 4)}
