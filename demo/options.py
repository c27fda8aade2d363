"""The demo's command-line options, declared once for ``emotion-encoder demo`` and
``python -m demo`` (light: no Gradio import)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_demo_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--port``, ``--host``, ``--share``, ``--cache-dir``.

    >>> add_demo_arguments(argparse.ArgumentParser()).parse_args(["--port", "8000"]).port
    8000
    """
    parser.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--share", action="store_true", help="make a public Gradio share link")
    parser.add_argument("--cache-dir", type=Path, help="where the example video is kept")
    return parser
