"""CK+ (Extended Cohn-Kanade): the native layout and this project's cut-down copy.

Native: ``cohn-kanade-images/S###/###/S###_###_########.png`` plus
``Emotion/S###/###/S###_###_########_emotion.txt`` (a float code, see ``CKPLUS_CODES``);
only sequences with an emotion file are labelled. Each sequence runs from a neutral first
frame to the apex. Cut-down: ``sequences.csv`` (sequence, subject, label, peak_frames,
first_frame, last_frame) with paths relative to its folder.

>>> ck = load_ckplus_cutdown("../shared/data/ckplus")       # doctest: +SKIP
>>> len(ck), ck.counts()["surprise"]                        # doctest: +SKIP
(327, 83)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import existing_dir, image_frames, read_csv
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label

CKPLUS_CODES: dict[int, str] = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust",
                                4: "fear", 5: "happiness", 6: "sadness", 7: "surprise"}
"""The numeric codes of CK+'s ``*_emotion.txt`` files."""

CUTDOWN_COLUMNS = ("sequence", "subject", "label", "peak_frames", "first_frame")


def _find_folder(root: Path, name: str) -> Path:
    """``root/name`` or ``root/*/name`` (the zips of CK+ nest one level deeper)."""
    for candidate in (root / name, *sorted(root.glob(f"*/{name}"))):
        if candidate.is_dir():
            return candidate
    raise DatasetError(root, f"no {name}/ folder (CK+ needs cohn-kanade-images/ and Emotion/)")


def _read_code(path: Path) -> str:
    """The label in one ``*_emotion.txt`` file."""
    text = path.read_text().strip()
    try:
        code = float(text)
    except ValueError:
        raise DatasetError(path, f"expected an emotion code 0-7, found {text[:40]!r}") from None
    if code not in CKPLUS_CODES:
        raise DatasetError(path, f"emotion code {text} is not one of 0-7")
    return CKPLUS_CODES[int(code)]


def load_ckplus(root: str | os.PathLike, neutral_frames: int = 0,
                **options: Unpack[LabelOptions]) -> Dataset:
    """Each labelled sequence as one sample of all its frames (neutral first, apex last).

    ``neutral_frames=n`` also emits the first ``n`` frames of each labelled sequence as a
    neutral sample.
    """
    if neutral_frames < 0:
        raise ValueError(f"neutral_frames={neutral_frames}: expected 0 or more")
    root = existing_dir(root)
    images, emotions = _find_folder(root, "cohn-kanade-images"), _find_folder(root, "Emotion")
    samples = []
    for sequence_dir in sorted(p for p in emotions.glob("*/*") if p.is_dir()):
        codes = sorted(sequence_dir.glob("*_emotion.txt"))
        if not codes:
            continue
        if len(codes) > 1:
            raise DatasetError(sequence_dir, f"{len(codes)} emotion files, expected one")
        subject, number = sequence_dir.parent.name, sequence_dir.name
        frame_dir = images / subject / number
        if not frame_dir.is_dir():
            raise DatasetError(codes[0], f"no frames: {frame_dir} not found")
        frames = image_frames(frame_dir)
        info = dict(dataset="ckplus", subject=subject, sequence=f"{subject}_{number}")
        samples.append(Sample(label=_read_code(codes[0]), frames=frames, **info))
        if neutral_frames > 0:
            samples.append(Sample(label="neutral", frames=frames[:neutral_frames], **info))
    if not samples:
        raise DatasetError(emotions, "no *_emotion.txt files in S###/###/ folders")
    return make_dataset("ckplus", root, samples, **options)


def load_ckplus_cutdown(root: str | os.PathLike, with_neutral: bool = False,
                        **options: Unpack[LabelOptions]) -> Dataset:
    """Each row of ``root/sequences.csv`` as one sample of its peak frames (in order).

    ``with_neutral=True`` adds each sequence's first frame as a neutral sample (rows with
    an empty ``first_frame`` have none).
    """
    root = existing_dir(root)
    table = root / "sequences.csv"
    samples = []
    for line, row in read_csv(table, CUTDOWN_COLUMNS):
        if not (row["sequence"] and row["label"] and row["peak_frames"]):
            raise DatasetError(table, "empty sequence, label or peak_frames", line)
        peak_names = [name.strip() for name in row["peak_frames"].split(";") if name.strip()]
        first_names = [row["first_frame"]] if with_neutral and row["first_frame"] else []
        for name in peak_names + first_names:
            if not (root / name).is_file():
                raise DatasetError(table, f"{name}: file not found", line)
        peaks = tuple(root / name for name in peak_names)
        first = tuple(root / name for name in first_names)
        info = dict(dataset="ckplus", subject=row["subject"] or None, sequence=row["sequence"])
        samples.append(Sample(label=normalize_label(row["label"]), frames=peaks, **info))
        if first:
            samples.append(Sample(label="neutral", frames=first, **info))
    if not samples:
        raise DatasetError(table, "no rows")
    return make_dataset("ckplus", table, samples, **options)
