"""Where a result came from: the git commit of the code that produced it.

>>> len(git_commit()) in (7, 40) or git_commit() == "unknown"
True
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def git_commit() -> str:
    """The commit of this checkout (``"unknown"`` outside a git checkout)."""
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
