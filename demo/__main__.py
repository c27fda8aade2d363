"""``python -m demo [--port 7860] [--host 127.0.0.1] [--share]``: start the Gradio demo."""

from __future__ import annotations

import argparse

from demo.app import launch
from demo.options import add_demo_arguments

if __name__ == "__main__":
    args = add_demo_arguments(argparse.ArgumentParser(prog="python -m demo")).parse_args()
    launch(port=args.port, host=args.host, share=args.share, cache_dir=args.cache_dir)
