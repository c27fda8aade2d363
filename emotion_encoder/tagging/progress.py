"""The progress line of a batch run (``tag``, ``export-features``): files done, clips found, failures, elapsed and ETA.

>>> import io
>>> bar = ProgressBar(2, io.StringIO())
>>> bar.update({"ok": True, "clips": 3}); bar.stream.getvalue().split(" files")[0]
'tag [############............] 1/2'
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO

Progress = Callable[[float, str], None]
"""``progress(fraction_done, message)``."""


class ProgressBar:
    """Files done, clips found and ETA on one stderr line (a new line per update if not a tty)."""

    def __init__(self, total: int, stream: TextIO | None = None, name: str = "tag"):
        self.total = total
        self.name = name
        self.stream = stream or sys.stderr
        self.done = self.clips = self.failed = 0
        self.started = time.perf_counter()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, status: dict[str, Any]) -> None:
        self.done += 1
        self.clips += status.get("clips", 0)
        self.failed += not status["ok"]
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = int(width * self.done / max(1, self.total))
        line = (f"{self.name} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} files, "
                f"{self.clips} clips, {self.failed} failed, "
                f"elapsed {_clock(elapsed)}, ETA {_clock(eta)}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
