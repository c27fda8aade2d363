"""The ``emotion-encoder`` command line.

    emotion-encoder predict clip.mp4 --json
    emotion-encoder embed clip.mp4 -o clip.npz
    emotion-encoder timeline scene.mp4 --faces all -f textgrid -o scene.TextGrid
    emotion-encoder align scene.mp4 --sr 22050 --hop 256 -o cond.npz
    emotion-encoder info
    emotion-encoder example example.mp4     (or example.png: the photo itself)
    emotion-encoder fetch-models

Bad input ends with a one-line ``error:`` message and exit code 2; a video in which no
face was found prints its (flagged) result and exits with code 3.

The network (TensorFlow), the face detector (MediaPipe, OpenCV), training and the demo
(Gradio) are imported inside the commands that use them, so that ``--help``, ``info``'s
listing, ``fetch-models`` and aligning saved tracks start in well under a second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from demo.options import add_demo_arguments
from emotion_encoder import __version__, _runtime
from emotion_encoder.atomic import write_atomic
from emotion_encoder.errors import EmotionEncoderError
from emotion_encoder.media import is_image
from emotion_encoder.tagging import TagInputError, export_features, tag
from emotion_encoder.video import probe_file
from v2c_bridge import (align, emotion_runs, read_subtitles, read_textgrid, read_words,
                        write_csv, write_intervals_npz, write_json, write_npz, write_srt,
                        write_textgrid, write_vtt)
from v2c_bridge.mel import audio_start, probe

EXIT_ERROR = 2
EXIT_NO_FACE = 3


def _encoder(args: argparse.Namespace):
    from emotion_encoder.encoder import EmotionEncoder

    return EmotionEncoder(args.preset, detector=args.detector, sample_fps=args.fps,
                          stride=args.stride, detect_every=args.detect_every,
                          keyframes=getattr(args, "keyframes", "fixed"), backend=args.backend,
                          mirror=args.mirror)


def _exit_code(video: str, faces_found: bool) -> int:
    """0, or (saying so on stderr) :data:`EXIT_NO_FACE` when no clip showed a face."""
    if faces_found:
        return 0
    print(f"emotion-encoder: {video}: no face found in any clip", file=sys.stderr)
    return EXIT_NO_FACE


def _print_still(result) -> None:
    """A still's result: its size, the face's label, box and every probability."""
    print(f"image: {result.video}  ({result.width}x{result.height}, preset {result.preset})")
    clip = result.clips[0] if result.clips else None
    if clip is None or clip.label is None:
        print("label: none (no face found)")
        return
    face = clip.face
    crop = ", a tight face crop (found once padded)" if face.padded else ""
    print(f"label: {clip.label} ({clip.confidence:.2f})  face {face.x0:.0f},{face.y0:.0f}-"
          f"{face.x1:.0f},{face.y1:.0f}{crop}")
    print("  ".join(f"{label} {p:.2f}" for label, p in clip.probs.items()))


def _print_table(result) -> None:
    if is_image(result.video or ""):
        _print_still(result)
        return
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
    from emotion_encoder.results import NO_FACE_WARNING, UNTRAINED_WARNING

    result = _encoder(args).predict(args.video, sampling=args.sampling)
    text = result.to_json()
    if args.output:
        write_atomic(args.output, text + "\n")
    if args.json:
        print(text)
    else:
        _print_table(result)
    for warning in result.warnings:  # the rest are said already: on loading, by the exit
        if warning not in (UNTRAINED_WARNING, NO_FACE_WARNING):
            print(f"emotion-encoder: warning: {args.video}: {warning}", file=sys.stderr)
    return _exit_code(args.video, bool(result.faces_found))


def cmd_embed(args: argparse.Namespace) -> int:
    result = _encoder(args).embed(args.video, sampling=args.sampling)
    result.save(args.output)
    print(f"{args.output}: {len(result)} clips x {result.embeddings.shape[1]} dims, "
          f"{int(result.has_face.sum())} with a face")
    return _exit_code(args.video, bool(result.has_face.any()))


def cmd_frames(args: argparse.Namespace) -> int:
    probe_file(args.video)  # a bad video fails before the model loads
    frames = _encoder(args).frames(args.video, frame_fps=args.frame_fps or None, mode=args.mode,
                                   sampling=args.sampling)
    if args.labels == "v2c":
        frames = frames.in_v2c_labels()
    frames.save(args.output)
    print(f"{args.output}: {len(frames)} frames at {frames.fps:g} fps x "
          f"{frames.embeddings.shape[1]} dims ({args.mode}), "
          f"{int(frames.has_face.sum())} with a face")
    return _exit_code(args.video, bool(frames.has_face.any()))


def cmd_info(args: argparse.Namespace) -> int:
    from emotion_encoder.faces.model_files import cache_dir, model_status
    from emotion_encoder.litert_classifier import auto_backend, cached_graph, litert_installed
    from emotion_encoder.models.presets import PRESETS, weights_path

    info = {"emotion_encoder": __version__, "python": sys.version.split()[0]}
    for package in ("tensorflow", "keras", "mediapipe", "moviepy", "librosa", "gradio",
                    "numpy", "mtcnn", "ai-edge-litert"):
        try:
            info[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            info[package] = "not installed"
    info["keras_backend"] = os.environ["KERAS_BACKEND"]  # set (if unset) by _runtime
    info["onednn"] = _runtime.onednn_state()
    info["presets"] = {name: ("trained weights" if weights_path(name) else "no trained weights")
                       for name in PRESETS}
    info["default_preset"] = "default"
    info["litert_graphs"] = {
        f"{name}{kind}": ("exported" if cached_graph(name, cache_dir(), bool(kind))
                          else "not exported")
        for name in PRESETS if weights_path(name) for kind in ("", " int8")
    } if litert_installed() else "not installed"
    info["commands_run_on"] = f"{auto_backend('default', cache_dir())} (--backend auto)"
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
    if args.litert:  # TensorFlow, once: the graphs the LiteRT backend starts from
        from emotion_encoder.faces.model_files import cache_dir
        from emotion_encoder.models.litert_export import export_litert
        from emotion_encoder.models.presets import PRESETS, weights_path

        for preset in PRESETS:
            if weights_path(preset) is not None:
                print(f"litert {preset}: {export_litert(preset, cache_dir())}")
                print(f"litert-int8 {preset}: "
                      f"{export_litert(preset, cache_dir(), quantized=True)}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from emotion_encoder.training.recipe import run_recipe

    print(json.dumps(run_recipe(args.config, args.out)))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from emotion_encoder.evaluation import evaluate

    report = evaluate(args.model, args.data, args.output, split=args.split,
                      sampling=args.sampling, mirror=args.mirror,
                      restrict=args.restrict, zoom=args.zoom, contempt=args.contempt,
                      others=args.others, unknown=args.unknown, backend=args.backend)
    print(report.table())
    print(f"report: {report.out}")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    from emotion_encoder.examples import write_example_photo, write_example_video

    write = write_example_photo if is_image(args.output) else write_example_video
    print(write(args.output))
    return 0


def _batch_options(args: argparse.Namespace) -> dict:
    """The encoder options of a batch run (``tag``, ``export-features``), ``--workers``
    checked."""
    if args.workers < 1:
        raise EmotionEncoderError(f"--workers must be at least 1, got {args.workers}")
    return {"detector": args.detector, "sample_fps": args.fps, "stride": args.stride,
            "detect_every": args.detect_every, "keyframes": args.keyframes,
            "backend": args.backend, "mirror": args.mirror}


def cmd_tag(args: argparse.Namespace) -> int:
    options = _batch_options(args)
    try:
        summary = tag(args.inputs, args.output, workers=args.workers, preset=args.preset,
                      sampling=args.sampling, embeddings=args.embeddings,
                      encoder_options=options, engine=args.engine,
                      ray_address=args.ray_address)
    except TagInputError as exc:
        raise EmotionEncoderError(str(exc)) from None
    print(f"tagged {summary['done']}, skipped {summary['skipped']} (already done), "
          f"failed {summary['failed']}; {summary['clips']} clips from "
          f"{summary['seconds_of_video']:.1f} s of video in {summary['wall_seconds']:.1f} s; "
          f"index: {', '.join(summary['index'])}; log: {summary['log']}")
    return 1 if summary["failed"] else 0


def cmd_export_features(args: argparse.Namespace) -> int:
    options = _batch_options(args)
    try:
        summary = export_features(
            args.inputs, args.output, layout=args.layout, speaker=args.speaker,
            frame_fps=args.frame_fps, mode=args.mode, lengths_from=args.lengths_from,
            v2c_labels=args.labels == "v2c", workers=args.workers, preset=args.preset,
            encoder_options=options, engine=args.engine, ray_address=args.ray_address)
    except TagInputError as exc:
        raise EmotionEncoderError(str(exc)) from None
    for video, problems in summary["problems"].items():
        for problem in problems:
            print(f"emotion-encoder: warning: {video}: {problem}", file=sys.stderr)
    print(f"exported {summary['done']}, skipped {summary['skipped']} (already done), "
          f"failed {summary['failed']} into {args.output} ({args.layout}); "
          f"index: {', '.join(summary['index'])}; log: {summary['log']}")
    return 1 if summary["failed"] else 0


def cmd_demo(args: argparse.Namespace) -> int:
    from demo.app import launch

    launch(port=args.port, host=args.host, share=args.share, cache_dir=args.cache_dir)
    return 0


TIMELINE_FORMATS = {".json": "json", ".csv": "csv", ".srt": "srt", ".vtt": "vtt", ".npz": "npz",
                    ".textgrid": "textgrid"}


def _output_format(path: Path, given: str | None, allowed: dict[str, str]) -> str:
    fmt = given or allowed.get(path.suffix.lower())
    if fmt is None:
        raise EmotionEncoderError(f"{path}: cannot tell the output format from the extension "
                                  f"(use one of {', '.join(sorted(allowed))})")
    return fmt


def _write_intervals(path: Path, fmt: str, intervals, labels, tiers=None) -> None:
    if fmt == "textgrid":
        write_textgrid(path, tiers or {"speaker": intervals})
    elif fmt == "npz":
        write_intervals_npz(path, intervals, labels)
    else:
        {"json": write_json, "csv": write_csv, "srt": write_srt, "vtt": write_vtt}[fmt](
            path, intervals)


def _tracks(args: argparse.Namespace, faces: str):
    probe_file(args.video)  # a bad video fails before the model loads
    tracks = _encoder(args).track(args.video, faces=faces, smooth=args.smooth)
    _exit_code(args.video, bool(tracks.speaker.has_face.any()))  # says it; callers exit
    for warning in tracks.warnings:
        print(f"emotion-encoder: warning: {args.video}: {warning}", file=sys.stderr)
    return tracks


def cmd_timeline(args: argparse.Namespace) -> int:
    fmt = _output_format(args.output, args.format, TIMELINE_FORMATS)
    tracks = _tracks(args, args.faces)
    tiers = {"speaker": tracks.speaker}
    tiers.update({f"face {f.id}": f.track for f in tracks.faces})
    runs = {name: [replace(iv, tier=name) for iv in emotion_runs(track)]
            for name, track in tiers.items()}
    _write_intervals(args.output, fmt, runs["speaker"] if fmt in ("srt", "vtt") else
                     [iv for ivs in runs.values() for iv in ivs], tracks.speaker.labels, runs)
    print(f"{args.output}: {len(runs['speaker'])} speaker runs, {len(tracks.faces)} face "
          f"tracks, {len(tracks.cuts)} shot cuts")
    return 0 if tracks.speaker.has_face.any() else EXIT_NO_FACE


def cmd_align(args: argparse.Namespace) -> int:
    transcript = None
    for flag, value, least in (("--sr", args.sr, 1), ("--hop", args.hop, 1),
                               ("--n-fft", args.n_fft, 1)):
        if value < least:
            raise EmotionEncoderError(f"{flag} must be at least {least}, got {value}")
    if args.tier and not args.textgrid:
        raise EmotionEncoderError("--tier selects a TextGrid tier; it needs --textgrid")
    if args.subtitles or args.textgrid or args.words:
        fmt = _output_format(args.output, None, TIMELINE_FORMATS)  # .npz: arrays per line
        transcript = (read_subtitles(args.subtitles) if args.subtitles else
                      read_words(args.words) if args.words else
                      read_textgrid(args.textgrid, args.tier or "words"))
    else:
        _output_format(args.output, None, {".npz": "npz"})
        if not probe(args.video).get("audio_found"):
            raise EmotionEncoderError(f"{args.video}: has no audio track to count mel frames "
                                      "of (give --subtitles, --textgrid or --words instead)")
    tracks = _tracks(args, "speaker")
    if transcript is None:
        cond = align(tracks, mel_frames_for=args.video, sr=args.sr, hop_length=args.hop,
                     n_fft=args.n_fft, interpolation=args.interpolation)
        write_npz(args.output, cond)
        print(f"{args.output}: {cond.n_frames} mel frames x {cond.values.shape[1]} dims, "
              f"{cond.mask.mean():.0%} with a face")
    else:
        from_audio = bool(args.words or args.textgrid)  # counted from the audio's first sample
        lines = align(tracks, subtitles=transcript, pool=args.pool,
                      audio_start=audio_start(args.video) if from_audio else 0.0)
        _write_intervals(args.output, fmt, lines, tracks.speaker.labels)
        print(f"{args.output}: {len(lines)} intervals, "
              f"{sum(iv.label is not None for iv in lines)} with a face")
    return 0 if tracks.speaker.has_face.any() else EXIT_NO_FACE


# ---------------------------------------------------------------- the parser: each command once

DETECTORS = ["blazeface", "blazeface-full", "blazeface-short", "blazeface-mediapipe",
             "blazeface-short-mediapipe", "mtcnn"]


def _encoder_options(parser: argparse.ArgumentParser, keyframes: bool = True) -> None:
    """The encoder's options, shared by every command that runs it on videos. The network
    backend defaults to ``auto``: LiteRT's int8 graph when exported (no TensorFlow to
    start, ~2.4x the float graph's clips/s, every probe within 0.2 points; README, Speed),
    else its float graph, else Keras."""
    parser.add_argument("--preset", default="default",
                        help="preset name or path to a .keras model (default: default)")
    parser.add_argument("--detector", default="blazeface", choices=DETECTORS,
                        help="face detector: BlazeFace full range (default) or short range "
                             "on LiteRT; the same models on mediapipe's Tasks runtime "
                             "(*-mediapipe: the reference, ~0.9 s slower start); or MTCNN")
    parser.add_argument("--fps", type=float, default=10.0, help="sampled frames per second")
    parser.add_argument("--stride", type=int, default=8, help="frames between window starts")
    parser.add_argument("--detect-every", type=int, default=2,
                        help="run the face detector on every k-th sampled frame")
    if keyframes:  # not for every face's tracks (timeline, align): every k-th frame
        parser.add_argument("--keyframes", default="adaptive", choices=["adaptive", "fixed"],
                            help="adaptive (the default): run the detector on every 2k-th "
                                 "sampled frame, and on the k-th between two only where the "
                                 "faces moved (~7%% faster, the same clip labels; README, "
                                 "Speed); fixed: on every k-th")
    parser.add_argument("--backend", default="auto",
                        choices=["auto", "keras", "litert", "litert-int8"],
                        help="where the network runs: auto (the default: litert-int8 "
                             "when exported, else litert, else keras), litert-int8 (int8 "
                             "weights: ~2.4x the float graph's speed, probabilities within "
                             "~0.01, every probe within 0.2 points; README, Speed), litert "
                             "(float, equal to Keras within 1e-4; no TensorFlow, fast "
                             "start; fetch-models --litert exports both) or keras")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="do not average each clip with its mirror image: ~1.9x the "
                             "network's speed, slightly less accurate (README, Speed)")


def _batch_arguments(parser: argparse.ArgumentParser) -> None:
    """Where a batch run (``tag``, ``export-features``) runs: workers, engine, Ray cluster."""
    parser.add_argument("--workers", type=int, default=1,
                        help="processes (or Ray actors), each loading the model once (default: 1)")
    parser.add_argument("--engine", default="local", choices=["local", "ray"],
                        help="local processes, or Ray Data actors (pip install "
                             "'emotion-encoder[ray]'); default: local")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help="Ray cluster to run on (default: $RAY_ADDRESS, else a local runtime)")


def _video_command(sub, name: str, run, help: str, sampling: bool = True,
                   tracking: bool = False) -> argparse.ArgumentParser:
    """A command on one video: the video argument, the encoder's options, then its own."""
    parser = sub.add_parser(name, help=help)
    parser.set_defaults(run=run)
    parser.add_argument("video", help="video file (any container ffmpeg reads)")
    _encoder_options(parser, keyframes=not tracking)
    if sampling:
        parser.add_argument("--sampling", default="sliding", choices=["sliding", "fixed"],
                            help="sliding windows (timeline) or one fixed-interval clip (paper)")
    if tracking:
        parser.add_argument("--no-smooth", dest="smooth", action="store_false",
                            help="keep raw clip probabilities (no HMM smoothing per shot)")
        parser.add_argument("-o", "--output", type=Path, required=True, help="output file")
    return parser


def _command(sub, name: str, run, help: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help)
    parser.set_defaults(run=run)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Every command with its options (each declared once, with the function it runs)."""
    parser = argparse.ArgumentParser(prog="emotion-encoder", description=(
        "Facial emotion encoder for visual voice cloning: emotions and embeddings per clip."))
    sub = parser.add_subparsers(dest="command", required=True)

    predict = _video_command(sub, "predict", cmd_predict,
                             "emotions per clip and for the whole video")
    predict.add_argument("--json", action="store_true", help="print JSON")
    predict.add_argument("-o", "--output", type=Path, help="also write the JSON to this file")

    embed = _video_command(sub, "embed", cmd_embed,
                           "write the clips' timeline with fused embeddings to .npz")
    embed.add_argument("-o", "--output", type=Path, required=True, help="output .npz file")

    frames = _video_command(sub, "frames", cmd_frames,
                            "one row per video frame (time, face, probabilities, embedding) "
                            "to .npz")
    frames.add_argument("-o", "--output", type=Path, required=True, help="output .npz file")
    frames.add_argument("--frame-fps", type=float, default=25.0,
                        help="rows per second (default 25, as dubbing models read; 0: the "
                             "video's own frame rate)")
    frames.add_argument("--labels", default="model", choices=["model", "v2c"],
                        help="probability columns: the model's labels, or V2C-Animation's 8 "
                             "(angry ... surprise, others: zero unless the model has it)")
    frames.add_argument("--mode", default="linear", choices=["linear", "nearest", "hold"],
                        help="how clips become frames (default linear: no steps at clip "
                             "boundaries)")

    timeline = _video_command(sub, "timeline", cmd_timeline,
                              "emotion timeline of the speaker (and of every face) as json, "
                              "csv, srt, vtt or TextGrid", sampling=False, tracking=True)
    timeline.add_argument("-f", "--format", choices=sorted(set(TIMELINE_FORMATS.values())),
                          help="output format (default: from the output's extension)")
    timeline.add_argument("--faces", default="speaker", choices=["speaker", "all"],
                          help="the speaker only, or also one tier per tracked face")

    align = _video_command(sub, "align", cmd_align,
                           "align the speaker's emotions to mel frames (.npz) or to subtitle "
                           "lines / words (json, csv, srt, ...)", sampling=False, tracking=True)
    given = align.add_mutually_exclusive_group()
    given.add_argument("--subtitles", type=Path, help="SRT or WebVTT file: one vector per line")
    given.add_argument("--textgrid", type=Path, help="Praat TextGrid: one vector per interval")
    given.add_argument("--words", type=Path, help="whisper / whisperX JSON: one per word")
    align.add_argument("--tier", help="TextGrid tier (default: words)")
    align.add_argument("--pool", default="mean", choices=["mean", "confidence", "attention"])
    align.add_argument("--sr", type=int, default=22050, help="audio sample rate of the mels")
    align.add_argument("--hop", type=int, default=256, help="hop length of the mels")
    align.add_argument("--n-fft", type=int, default=1024, help="FFT size of the mels")
    align.add_argument("--interpolation", default="linear",
                       choices=["nearest", "linear", "hold"])

    tag = _command(sub, "tag", cmd_tag, "tag many videos: one result JSON each, plus an index")
    tag.add_argument("inputs", nargs="+", metavar="INPUT",
                     help="video files, folders (searched recursively) or globs")
    tag.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    _encoder_options(tag)
    tag.add_argument("--sampling", default="sliding", choices=["sliding", "fixed"])
    _batch_arguments(tag)
    tag.add_argument("--embeddings", action="store_true",
                     help="also write each video's clip timeline with embeddings (.npz)")

    export = _command(sub, "export-features", cmd_export_features,
                      "per-frame features of many clips in a dubbing model's layout "
                      "(HPMDubbing, StyleDubber, ProDubber) or as .npz")
    export.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="video files, folders (searched recursively) or globs")
    export.add_argument("-o", "--output", type=Path, required=True,
                        help="the dataset's preprocessed folder (VA_feature/, emos/ go in it)")
    export.add_argument("--layout", required=True,
                        choices=["hpmdubbing", "styledubber", "styledubber-grid", "produbber",
                                 "npz"])
    export.add_argument("--speaker", help="speaker of every clip (default: V2C's name rule, "
                                          "else the clip's folder name)")
    export.add_argument("--frame-fps", type=float, default=25.0,
                        help="rows per second (default 25, what these models read)")
    export.add_argument("--lengths-from", type=Path, metavar="LIP_DIR",
                        help="folder of the clips' lip features ({speaker}-face-{basename}"
                             ".npy): as many rows as each has")
    export.add_argument("--mode", default="linear", choices=["linear", "nearest", "hold"],
                        help="how clips become frames (default linear)")
    export.add_argument("--labels", default="model", choices=["model", "v2c"],
                        help="probability columns of the npz layout")
    _encoder_options(export)
    _batch_arguments(export)

    train = _command(sub, "train", cmd_train, "run (or resume) a training config")
    train.add_argument("config", type=Path,
                       help="YAML/JSON config, e.g. configs/default.yaml of the source repository")
    train.add_argument("--out", type=Path, help="run folder (default: the config's 'out')")

    evaluate = _command(sub, "evaluate", cmd_evaluate,
                        "accuracy, per-class recall, confusion matrix")
    evaluate.add_argument("model", help="preset name or .keras file (e.g. runs/x/model.keras)")
    evaluate.add_argument("data", type=Path, help="manifest .csv or dataset folder")
    evaluate.add_argument("-o", "--output", type=Path,
                          help="report folder (default: <model folder>/eval/<data>)")
    evaluate.add_argument("--split", help="FER2013 / FER+: train, validation or test; other "
                          "sets with subjects: that identity-disjoint part (70/10/20%%)")
    evaluate.add_argument("--sampling", choices=["fixed", "sliding"], default="fixed",
                          help="one fixed-interval clip per sample (the paper's protocol) or "
                               "the mean over sliding windows (predict's video label)")
    evaluate.add_argument("--no-mirror", dest="mirror", action="store_false",
                          help="do not average with the mirrored clip")
    evaluate.add_argument("--restrict", action="store_true",
                          help="predict among the data's labels only (e.g. 6-class view)")
    evaluate.add_argument("--zoom", type=float,
                          help="show the network the central 1/ZOOM of each face crop "
                               "(default: the preset's; 1 for .keras files)")
    evaluate.add_argument("--backend", choices=["keras", "litert", "litert-int8"],
                          default="keras", help="score the Keras model (default) or a "
                          "preset's exported LiteRT graph (float or int8 weights)")
    evaluate.add_argument("--contempt", choices=["keep", "drop"], default="keep")
    evaluate.add_argument("--others", choices=["keep", "drop"], default="keep")
    evaluate.add_argument("--unknown", choices=["error", "drop"], default="error",
                          help="labels that are no emotion (Yale's sleepy, wink): stop with "
                               "an error that lists them, or drop those samples")

    add_demo_arguments(_command(sub, "demo", cmd_demo, "start the Gradio demo app on localhost"))
    _command(sub, "info", cmd_info, "versions, presets, backend, oneDNN state, model cache")
    example = _command(sub, "example", cmd_example, "write a short example video (a real face); "
                       "a .png/.jpg name writes the photo itself")
    example.add_argument("output", type=Path, nargs="?", default=Path("example.mp4"))
    fetch = _command(sub, "fetch-models", cmd_fetch_models,
                     "download and verify the face detector models")
    fetch.add_argument("--force", action="store_true", help="download again even if cached")
    fetch.add_argument("--litert", action="store_true",
                       help="also export the presets' LiteRT graphs, float and int8 weights "
                            "(loads TensorFlow once)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = lambda message, *_a, **_k: print(
        f"emotion-encoder: warning: {message}", file=sys.stderr)
    try:
        with _runtime.native_logs_off():  # TF / MediaPipe C++ logs would drown our lines
            return args.run(args)
    except EmotionEncoderError as exc:
        print(f"emotion-encoder: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("emotion-encoder: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
