"""The record type every loader returns: one :class:`Sample` per clip, in a :class:`Dataset`.

>>> a = Sample(label="happiness", dataset="demo", frames=(Path("a1.png"), Path("a2.png")))
>>> b = Sample(label="contempt", dataset="demo", video=Path("b.mp4"), start=1.0, end=2.5)
>>> ds = Dataset("demo", (a, b), ("happiness", "contempt"))
>>> ds.counts()
{'happiness': 1, 'contempt': 1}
>>> ds.map_labels({"contempt": None}).labels
('happiness',)
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, TypedDict, Unpack

from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import CANONICAL_LABELS, EXTRA_LABELS

KNOWN_LABELS: tuple[str, ...] = CANONICAL_LABELS + EXTRA_LABELS + ("others",)
"""Every label a loader accepts: the seven canonical ones, CK+'s contempt, V2C's others."""

Keep = Literal["keep", "drop"]


class LabelOptions(TypedDict, total=False):
    """Label options every loader takes as keyword arguments.

    ``contempt`` (CK+) and ``others`` (V2C-Animation): ``"keep"`` (default) or ``"drop"``;
    ``unknown``: ``"error"`` (default, the error lists them) or ``"drop"``.
    """

    contempt: Keep
    others: Keep
    unknown: Literal["error", "drop"]


@dataclass(frozen=True, kw_only=True)
class Sample:
    """One labelled clip: image ``frames`` in temporal order, or a ``video`` (optionally a span).

    >>> Sample(label="fear", dataset="demo", video=Path("c.mp4"), start=2.0, end=1.0)
    Traceback (most recent call last):
    ValueError: end 1.0 is not after start 2.0
    """

    label: str
    dataset: str
    frames: tuple[Path, ...] = ()
    video: Path | None = None
    start: float | None = None
    end: float | None = None
    subject: str | None = None
    sequence: str | None = None

    def __post_init__(self) -> None:
        if bool(self.frames) == (self.video is not None):
            raise ValueError("a sample has either frames or a video, not both or neither")
        if self.video is None and (self.start is not None or self.end is not None):
            raise ValueError("start/end apply to videos only")
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} {value} is not a time >= 0 s")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError(f"end {self.end} is not after start {self.start}")


@dataclass(frozen=True)
class Dataset:
    """Samples plus the label space (``labels``, in output order) and a name.

    ``select`` and ``filter`` keep the label space, so indices stay comparable across folds;
    ``map_labels`` rebuilds it.
    """

    name: str
    samples: tuple[Sample, ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        stray = sorted({s.label for s in self.samples} - set(self.labels))
        if stray:
            raise ValueError(f"{self.name}: sample labels {stray} are not in labels")

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def __getitem__(self, index: int) -> Sample:
        return self.samples[index]

    def counts(self) -> dict[str, int]:
        """Samples per label, for every label in ``labels`` (zeros included)."""
        found = Counter(s.label for s in self.samples)
        return {label: found[label] for label in self.labels}

    def select(self, indices: Iterable[int]) -> Dataset:
        """The samples at ``indices`` (e.g. one fold of :func:`subject_kfold`)."""
        return replace(self, samples=tuple(self.samples[int(i)] for i in indices))

    def filter(self, keep: Callable[[Sample], bool]) -> Dataset:
        """The samples for which ``keep(sample)`` is true."""
        return replace(self, samples=tuple(s for s in self.samples if keep(s)))

    def map_labels(self, mapping: Mapping[str, str | None]) -> Dataset:
        """Rename labels (``{"contempt": "disgust"}``); a label mapped to ``None`` is dropped."""
        new = {label: mapping.get(label, label) for label in self.labels}
        samples = tuple(replace(s, label=new[s.label]) for s in self.samples
                        if new[s.label] is not None)
        labels = tuple(dict.fromkeys(v for v in new.values() if v is not None))
        return Dataset(self.name, samples, labels)


def make_dataset(name: str, source: str | os.PathLike, samples: Sequence[Sample], *,
                 contempt: Keep = "keep", others: Keep = "keep",
                 unknown: Literal["error", "drop"] = "error") -> Dataset:
    """Apply the label options to a loader's ``samples`` and order labels as ``KNOWN_LABELS``.

    Unknown labels raise a :class:`DatasetError` naming ``source`` and listing them.
    """
    for option, value, allowed in (("contempt", contempt, ("keep", "drop")),
                                   ("others", others, ("keep", "drop")),
                                   ("unknown", unknown, ("error", "drop"))):
        if value not in allowed:
            raise ValueError(f"{option}={value!r}: expected one of {allowed}")
    strangers = Counter(s.label for s in samples if s.label not in KNOWN_LABELS)
    if strangers and unknown == "error":
        listed = ", ".join(f"{label!r} ({n})" for label, n in sorted(strangers.items()))
        raise DatasetError(source, f"unknown labels {listed}; known: {', '.join(KNOWN_LABELS)}"
                                   " (unknown='drop' skips them)")
    dropped = set(strangers)
    dropped |= {"contempt"} if contempt == "drop" else set()
    dropped |= {"others"} if others == "drop" else set()
    kept = tuple(s for s in samples if s.label not in dropped)
    present = {s.label for s in kept}
    return Dataset(name, kept, tuple(label for label in KNOWN_LABELS if label in present))


def corpus_dataset(name: str, root: Path, samples: Sequence[Sample], what: str,
                   **options: Unpack[LabelOptions]) -> Dataset:
    """:func:`make_dataset` of a corpus read by its file names, or a one-line
    :class:`DatasetError` saying that none of ``what`` was found (or left by the options)."""
    if not samples:
        raise DatasetError(root, f"no {what} here (or none left by the options)")
    return make_dataset(name, root, samples, **options)
