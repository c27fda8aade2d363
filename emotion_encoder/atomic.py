"""Atomic file writing, the one helper every writer uses: a temp file in the same folder,
then ``os.replace``; on any error the temp file is removed and the old file is untouched.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "cues.srt"
>>> with atomic_write(out) as f:
...     _ = f.write("1\\n00:00:00,000 --> 00:00:01,000\\nhappiness\\n")
>>> write_atomic(out.with_suffix(".txt"), "done").read_text()
'done'
>>> sorted(p.name for p in out.parent.iterdir())       # no temp file left behind
['cues.srt', 'cues.txt']
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

FILE_MODE = 0o644
"""Permissions of a written file (``mkstemp`` makes its temp files private, 0o600)."""


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temp file next to ``path``; on success rename it over ``path``, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **open_kwargs) as handle:
            yield handle
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes, encoding: str = "utf-8") -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically; returns the path."""
    if isinstance(data, bytes):
        with atomic_write(path, "wb") as handle:
            handle.write(data)
    else:
        with atomic_write(path, "w", encoding=encoding, newline="") as handle:
            handle.write(data)
    return Path(path)


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """A temp path next to ``path`` (ending in ``suffix``, for writers that pick the format
    by the name) for a writer that takes a file name; renamed over ``path`` on success.

    >>> import tempfile, pathlib, numpy as np
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "x.npy"
    >>> with atomic_path(out, ".npy") as tmp:
    ...     np.save(tmp, np.arange(3))
    >>> np.load(out).tolist()
    [0, 1, 2]
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
