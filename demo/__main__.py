"""``python -m demo [--port 7860] [--host 127.0.0.1] [--share]``: start the Gradio demo."""

from __future__ import annotations

import sys

from emotion_encoder.cli import main

if __name__ == "__main__":
    sys.exit(main(["demo", *sys.argv[1:]]))
