"""Neutral-to-apex sequences from the cut-down CK+ (first frame registered to the peak crops).

The cut-down CK+ keeps each sequence's neutral first frame only in another framing
(``first_last_48/``, beside the last frame in that same framing). The last frame exists in
both framings, so template matching over scales gives the similarity transform between
them, and the same transform brings the first frame into the peak crops' framing. The
result is a new cut-down folder whose ``sequences.csv`` lists, per sequence, the frames
``first, *peaks`` in order (absolute paths; the registered first frames are written under
it), so every tool that reads CK+ reads it: ``emotion-encoder train``/``evaluate`` see
neutral-to-apex clips instead of apex-only ones.

    python -m emotion_encoder.data.ckplus_onset ../shared/data/ckplus runs/ckplus-onset

>>> import numpy as np
>>> face = np.random.default_rng(0).integers(0, 255, (48, 48)).astype(np.uint8)
>>> matrix, score = register(face, face)
>>> np.round(matrix, 3).tolist(), round(score, 3)
([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], 1.0)
"""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import cv2
import numpy as np

from emotion_encoder.atomic import atomic_path, atomic_write
from emotion_encoder.data.ckplus import CUTDOWN_COLUMNS
from emotion_encoder.data.files import existing_dir, read_csv
from emotion_encoder.errors import DatasetError

MIN_SCORE = 0.85
"""Registrations whose normalised correlation is lower are not trusted (peaks only)."""


def register(reference: np.ndarray, moving: np.ndarray, zoom: float = 1.33
             ) -> tuple[np.ndarray, float]:
    """The 2x3 matrix mapping ``reference`` pixel coordinates to ``moving`` ones (both grey,
    the same image in two square framings up to ``zoom`` apart), and its normalised
    correlation."""
    size = reference.shape[0]
    reference, moving = reference.astype(np.float32), moving.astype(np.float32)
    best = (-2.0, 1.0, 0.0, 0.0)
    for side in range(int(size / zoom), int(size * zoom) + 1):
        resized = cv2.resize(moving, (side, side), interpolation=cv2.INTER_AREA)
        if side >= size:  # the reference is a window of the enlarged moving image
            scores = cv2.matchTemplate(resized, reference, cv2.TM_CCOEFF_NORMED)
            sign = 1
        else:  # the shrunk moving image is a window of the reference
            scores = cv2.matchTemplate(reference, resized, cv2.TM_CCOEFF_NORMED)
            sign = -1
        _, score, _, (x, y) = cv2.minMaxLoc(scores)
        if score > best[0]:
            best = (score, side / moving.shape[0], sign * x, sign * y)
    score, scale, x, y = best
    matrix = np.array([[1 / scale, 0, x / scale], [0, 1 / scale, y / scale]])
    return matrix, float(score)


def warp_to(reference_shape: tuple[int, int], image: np.ndarray, matrix: np.ndarray
            ) -> np.ndarray:
    """``image`` resampled into the reference framing (``matrix`` from :func:`register`)."""
    return cv2.warpAffine(image, matrix, reference_shape[::-1],
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def write_onset_set(source: str | os.PathLike, out: str | os.PathLike,
                    min_score: float = MIN_SCORE) -> dict[str, int]:
    """Write ``out/sequences.csv`` (first frame + peaks) and ``out/first/*.png``; return
    counts of sequences with a registered first frame and with peaks only."""
    source, out = existing_dir(source), Path(out)
    table = source / "sequences.csv"
    (out / "first").mkdir(parents=True, exist_ok=True)
    rows, counts = [], {"first_and_peaks": 0, "peaks_only": 0}
    for line, row in read_csv(table, (*CUTDOWN_COLUMNS, "last_frame")):
        peaks = [source / name.strip() for name in row["peak_frames"].split(";") if name.strip()]
        frames = [str(p.resolve()) for p in peaks]
        first = _registered_first(source, row, peaks[-1], out / "first", min_score, table, line)
        counts["first_and_peaks" if first else "peaks_only"] += 1
        rows.append({**row, "peak_frames": ";".join(([first] if first else []) + frames),
                     "first_frame": first or "", "last_frame": str(peaks[-1].resolve())})
    with atomic_write(out / "sequences.csv", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*CUTDOWN_COLUMNS, "last_frame"])
        writer.writeheader()
        writer.writerows(rows)
    return counts


def _registered_first(source: Path, row: dict, last_peak: Path, folder: Path, min_score: float,
                      table: Path, line: int) -> str | None:
    """The path of the registered first frame, or None (no first frame, poor registration)."""
    if not (row["first_frame"] and row["last_frame"]):
        return None
    images = [cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
              for path in (last_peak, source / row["last_frame"], source / row["first_frame"])]
    if any(image is None for image in images):
        raise DatasetError(table, "first_frame, last_frame or a peak frame is not a readable "
                                  "image", line)
    peak, last, first = images
    matrix, score = register(peak, last)
    if score < min_score:
        return None
    path = folder / f"{row['sequence']}.png"
    with atomic_path(path, ".png") as tmp:
        cv2.imwrite(str(tmp), warp_to(peak.shape, first, matrix))
    return str(path.resolve())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="cut-down CK+ folder (with sequences.csv)")
    parser.add_argument("out", type=Path, help="folder for the neutral-to-apex set")
    parser.add_argument("--min-score", type=float, default=MIN_SCORE)
    args = parser.parse_args()
    counts = write_onset_set(args.source, args.out, args.min_score)
    print(f"{args.out / 'sequences.csv'}: {counts['first_and_peaks']} sequences first frame + "
          f"peaks, {counts['peaks_only']} peaks only")


if __name__ == "__main__":
    main()
