"""The ``emotion-encoder`` command line.

    emotion-encoder predict clip.mp4 --json
    emotion-encoder embed clip.mp4 -o clip.npz
    emotion-encoder info
    emotion-encoder example example.mp4
    emotion-encoder fetch-models

Bad input ends with a one-line ``error:`` message and exit code 2; a video in which no
face was found prints its (flagged) result and exits with code 3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from emotion_encoder import _runtime
from emotion_encoder.errors import EmotionEncoderError

EXIT_ERROR = 2
EXIT_NO_FACE = 3


def _add_encoder_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", help="video file (any container ffmpeg reads)")
    parser.add_argument("--preset", default="default",
                        help="preset name or path to a .keras model (default: default)")
    parser.add_argument("--detector", default="blazeface",
                        choices=["blazeface", "blazeface-full", "blazeface-short", "mtcnn"])
    parser.add_argument("--sampling", default="sliding", choices=["sliding", "fixed"],
                        help="sliding windows (timeline) or one fixed-interval clip (paper)")
    parser.add_argument("--fps", type=float, default=10.0, help="sampled frames per second")
    parser.add_argument("--stride", type=int, default=8, help="frames between window starts")
    parser.add_argument("--detect-every", type=int, default=2,
                        help="run the face detector on every k-th sampled frame")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotion-encoder", description=(
        "Facial emotion encoder for visual voice cloning: emotions and embeddings per clip."))
    sub = parser.add_subparsers(dest="command", required=True)
    predict = sub.add_parser("predict", help="emotions per clip and for the whole video")
    _add_encoder_options(predict)
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("-o", "--output", type=Path, help="also write the JSON to this file")
    embed = sub.add_parser("embed", help="write fused embeddings and clip times to .npz")
    _add_encoder_options(embed)
    embed.add_argument("-o", "--output", type=Path, required=True, help="output .npz file")
    train = sub.add_parser("train", help="run (or resume) a training recipe config")
    train.add_argument("config", type=Path, help="YAML/JSON recipe, e.g. configs/default.yaml")
    train.add_argument("--out", type=Path, help="run folder (default: the config's 'out')")
    sub.add_parser("info", help="versions, presets, backend, oneDNN state, model cache")
    example = sub.add_parser("example", help="write a short example video (a real face)")
    example.add_argument("output", type=Path, nargs="?", default=Path("example.mp4"))
    fetch = sub.add_parser("fetch-models", help="download and verify the face detector models")
    fetch.add_argument("--force", action="store_true", help="download again even if cached")
    return parser


def _encoder(args: argparse.Namespace):
    """Load TensorFlow and the model with their C++ start-up logs kept off the console."""
    with tempfile.TemporaryFile() as log, _runtime.native_stderr_to(log), \
            warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from emotion_encoder.encoder import EmotionEncoder

        encoder = EmotionEncoder(args.preset, detector=args.detector, sample_fps=args.fps,
                                 stride=args.stride, detect_every=args.detect_every)
        encoder.detector  # noqa: B018  (load it now, under the same quiet)
    for warning in caught:
        if issubclass(warning.category, UserWarning):
            print(f"emotion-encoder: warning: {warning.message}", file=sys.stderr)
    return encoder


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _print_table(result) -> None:
    print(f"video: {result.video}  ({result.duration:.2f} s, {result.fps:.2f} fps, "
          f"{result.n_frames} frames, {result.width}x{result.height}, preset {result.preset})")
    if result.video_label:
        print(f"video label: {result.video_label} ({result.video_probs[result.video_label]:.2f})")
    print(f"{'start':>7} {'end':>7}  {'label':<10} {'conf':>5}  face")
    for clip in result.clips:
        label = clip.label or "-"
        conf = f"{clip.confidence:.2f}" if clip.confidence is not None else "-"
        face = f"{clip.face_ratio:.0%}" if clip.face else "none"
        print(f"{clip.start:7.2f} {clip.end:7.2f}  {label:<10} {conf:>5}  {face}")


def cmd_predict(args: argparse.Namespace) -> int:
    result = _encoder(args).predict(args.video, sampling=args.sampling)
    text = result.to_json()
    if args.output:
        _write_atomic(args.output, text + "\n")
    if args.json:
        print(text)
    else:
        _print_table(result)
    if not result.faces_found:
        print(f"emotion-encoder: {args.video}: no face found in any clip", file=sys.stderr)
        return EXIT_NO_FACE
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    result = _encoder(args).embed(args.video, sampling=args.sampling)
    result.save(args.output)
    print(f"{args.output}: {len(result)} clips x {result.embeddings.shape[1]} dims, "
          f"{int(result.has_face.sum())} with a face")
    if not result.has_face.any():
        print(f"emotion-encoder: {args.video}: no face found in any clip", file=sys.stderr)
        return EXIT_NO_FACE
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from importlib import metadata

    from emotion_encoder import __version__

    with tempfile.TemporaryFile() as log, _runtime.native_stderr_to(log):
        import keras

        from emotion_encoder.faces.model_files import cache_dir, model_status
        from emotion_encoder.models.loading import weights_path
        from emotion_encoder.models.presets import PRESETS

    info = {"emotion_encoder": __version__, "python": sys.version.split()[0]}
    for package in ("tensorflow", "keras", "mediapipe", "moviepy", "librosa", "gradio",
                    "numpy", "mtcnn"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["keras_backend"] = keras.backend.backend()
    info["onednn"] = _runtime.onednn_state()
    info["presets"] = {name: ("trained weights" if weights_path(name) else "no trained weights")
                       for name in PRESETS}
    info["default_preset"] = "default"
    info["model_cache"] = str(cache_dir())
    info["face_models"] = model_status()
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        print(f"{key:<{width}}  {value}")
    return 0


def cmd_fetch_models(args: argparse.Namespace) -> int:
    from emotion_encoder.faces.model_files import fetch_models

    for name, path in fetch_models(force=args.force).items():
        print(f"{name}: {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from emotion_encoder.training.recipe import run_recipe

    print(json.dumps(run_recipe(args.config, args.out)))
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    from emotion_encoder.examples import write_example_video

    print(write_example_video(args.output))
    return 0


COMMANDS = {"predict": cmd_predict, "embed": cmd_embed, "info": cmd_info,
            "example": cmd_example, "train": cmd_train, "fetch-models": cmd_fetch_models}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = lambda message, *_a, **_k: print(
        f"emotion-encoder: warning: {message}", file=sys.stderr)
    try:
        return COMMANDS[args.command](args)
    except EmotionEncoderError as exc:
        print(f"emotion-encoder: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("emotion-encoder: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
