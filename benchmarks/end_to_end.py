"""End-to-end speed on a 60 s 640x360 25 fps video: real-time factor, per-stage frames/s,
peak memory.

    python benchmarks/end_to_end.py                    # 60 s, default preset
    python benchmarks/end_to_end.py --seconds 20 --json
    python benchmarks/end_to_end.py --video my_clip.mp4

The video is made from ``../shared/data/videos/*.mp4`` (or ``--source-dir``), scaled
and padded to 640x360 at 25 fps and concatenated/looped to the length; without source
videos it loops the bundled astronaut example. Stages, each timed on its own:

* decode: ffmpeg decoding and resampling to the sampled fps (frames/s of sampled frames);
* faces: decode + face detection/tracking + crops (sampled frames/s);
* model: the network alone on as many clips as the video has (clips/s);
* end to end: :func:`emotion_encoder.tagging.analyze` (prediction and embeddings in one
  pass), as the ``tag`` command runs it: real-time factor = wall time / video duration;
  once serial (``overlap=False``) and once with decoding and faces in a background thread
  beside the network (the default), with CPU use and whether both results are equal;
* render: the demo's annotated H.264 video (output frames/s);
* whole commands, process start to exit (wall time and the command's peak RSS): ``tag``
  of the video, ``predict`` of its first 4 s, with the defaults as a user runs them
  (``--backend auto``, adaptive keyframes), the defaults with ``--keyframes fixed``, on
  the Keras and (when exported) the LiteRT backends, float and
  int8 weights (``--backend litert-int8``), each also with ``--no-mirror`` (each clip
  through the network once), with int8 weights also with the faces on mediapipe's runtime
  (the reference detector) and with the detector on every 4th sampled frame, and
  ``--help``;
* the peer: the ``fer`` package's pipeline on every second frame (when installed).

The inner loop's peak RSS is ``resource.getrusage`` of this process (the Keras model;
ffmpeg children not included); a whole command's is its own, from ``os.wait4`` in a
small parent process.
Weights do not change speed, so untrained presets measure the same.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED_VIDEOS = str(Path(__file__).resolve().parents[2] / "shared" / "data" / "videos")
WIDTH, HEIGHT, FPS = 640, 360, 25


def _ffmpeg() -> str:
    from moviepy.config import FFMPEG_BINARY

    return FFMPEG_BINARY


def build_video(out: Path, seconds: float, source_dir: str | None = SHARED_VIDEOS) -> str:
    """Write the benchmark video; returns a description of what it was made from."""
    sources = sorted(glob.glob(os.path.join(source_dir, "*.mp4"))) if source_dir else []
    if not sources:
        from emotion_encoder.examples import write_example_video

        example = out.with_name("example_4s.mp4")
        write_example_video(example, seconds=4.0, fps=FPS, size=(WIDTH, HEIGHT))
        sources, origin = [str(example)], "the astronaut example, looped"
    else:
        origin = f"{len(sources)} videos from {source_dir}, concatenated and looped"
    from emotion_encoder.video import probe_video

    durations = [max(0.1, probe_video(s).duration) for s in sources]
    inputs: list[str] = []
    total, i = 0.0, 0
    while total < seconds + 1:
        inputs.append(sources[i % len(sources)])
        total += durations[i % len(sources)]
        i += 1
    norm = (f"scale={WIDTH}:{HEIGHT}:force_original_aspect_ratio=decrease,"
            f"pad={WIDTH}:{HEIGHT}:(ow-iw)/2:(oh-ih)/2,fps={FPS},setsar=1,format=yuv420p")
    parts = ";".join(f"[{k}:v:0]{norm}[v{k}]" for k in range(len(inputs)))
    concat = "".join(f"[v{k}]" for k in range(len(inputs)))
    cmd = [_ffmpeg(), "-y", "-hide_banner", "-nostdin", "-loglevel", "error"]
    for path in inputs:
        cmd += ["-i", path]
    cmd += ["-filter_complex", f"{parts};{concat}concat=n={len(inputs)}:v=1:a=0[out]",
            "-map", "[out]", "-t", f"{seconds}", "-c:v", "libx264", "-preset", "veryfast",
            "-crf", "23", "-an", str(out)]
    subprocess.run(cmd, check=True)
    return origin


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports kB). Children (ffmpeg) are left
    out: ``RUSAGE_CHILDREN`` counts the parent's pages a child held between fork and exec."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(video: str, preset: str, sample_fps: float, stride: int, render: bool,
        detect_every: int = 2) -> dict:
    import numpy as np

    from emotion_encoder.tagging import analyze, load_encoder
    from emotion_encoder.video import open_source, probe_video

    info = probe_video(video)
    result: dict = {"video": {"path": video, "duration_s": info.duration, "fps": info.fps,
                              "width": info.width, "height": info.height,
                              "frames": info.n_frames},
                    "preset": preset, "sample_fps": sample_fps, "stride": stride,
                    "detect_every": detect_every,
                    "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}}
    t = time.perf_counter()
    encoder = load_encoder(preset, sample_fps=sample_fps, stride=stride,
                           detect_every=detect_every)
    result["load_s"] = round(time.perf_counter() - t, 2)
    result["backend"] = encoder.backend

    # warm-up: trace the model and start the detector on a second of video
    warm = encoder.window
    classifier = encoder.classifier
    classifier.forward(np.zeros((1,) + classifier.input_shape, np.float32))
    stages: dict[str, dict] = {}

    t = time.perf_counter()
    n = sum(1 for _ in open_source(video).frames(sample_fps))
    dt = time.perf_counter() - t
    stages["decode"] = {"frames": n, "seconds": round(dt, 2), "frames_per_s": round(n / dt, 1)}

    t = time.perf_counter()
    crops: list = []
    _, clips = encoder.face_clips(video, on_frame=lambda f: crops.append(f.crop is not None))
    for _ in clips:  # decode, detect and track, cut windows; no network
        pass
    dt = time.perf_counter() - t
    stages["decode+faces"] = {"frames": len(crops), "with_face": sum(crops),
                              "seconds": round(dt, 2), "frames_per_s": round(len(crops) / dt, 1)}

    serial = load_encoder(preset, sample_fps=sample_fps, stride=stride,
                          detect_every=detect_every, overlap=False)
    for name, enc in (("end_to_end_serial", serial), ("end_to_end", encoder)):
        cpu, t = _cpu_seconds(), time.perf_counter()
        analysis = analyze(enc, video)
        dt = time.perf_counter() - t
        clips = len(analysis.prediction.clips)
        stages[name] = {"clips": clips, "seconds": round(dt, 2),
                        "sampled_frames_per_s": round(n / dt, 1),
                        "video_frames_per_s": round(info.n_frames / dt, 1),
                        "cpu_percent": round(100 * (_cpu_seconds() - cpu) / dt)}
        if name == "end_to_end_serial":
            serial_json = analysis.prediction.to_json()
    result["overlap_speedup"] = round(stages["end_to_end_serial"]["seconds"]
                                      / stages["end_to_end"]["seconds"], 2)
    result["overlap_same_result"] = serial_json == analysis.prediction.to_json()
    del serial

    batch = np.random.default_rng(0).random((encoder.batch_size,) + classifier.input_shape,
                                            np.float32)
    batches = max(1, -(-clips // encoder.batch_size))
    t = time.perf_counter()
    for _ in range(batches):
        classifier.forward(batch)
    dt = time.perf_counter() - t
    done = batches * encoder.batch_size
    stages["model"] = {"clips": done, "seconds": round(dt, 2), "clips_per_s": round(done / dt, 1),
                       "frames_per_s": round(done * warm / dt, 1)}

    if render:
        from demo.app import render_annotated

        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            out = render_annotated(video, analysis.prediction.track, Path(tmp) / "annotated.mp4",
                                   frame_boxes=analysis.frame_boxes)
            dt = time.perf_counter() - t
            frames = probe_video(out).n_frames
        stages["render"] = {"frames": frames, "seconds": round(dt, 2),
                            "frames_per_s": round(frames / dt, 1)}

    commands = whole_commands(video, preset, sample_fps, stride, detect_every)
    peer = fer_pipeline(video, every=2)
    total = stages["end_to_end"]["seconds"]
    result["stages"] = stages
    result["commands"] = commands
    result["fer_peer"] = peer
    result["real_time_factor"] = round(total / info.duration, 3) if info.duration else None
    result["x_real_time"] = round(info.duration / total, 2) if total else None
    result["peak_rss_mb"] = peak_rss_mb()
    return result


# Runs a command and writes its wall seconds and peak RSS (kB): the command is forked from
# this small process, not from the benchmark's (whose Keras model a child's peak would
# otherwise include: Linux keeps a forked process's high-water mark across exec).
_MEASURE = ("import os, subprocess, sys, time; t = time.perf_counter(); "
            "p = subprocess.Popen(sys.argv[2:], stdout=subprocess.DEVNULL); "
            "_, status, usage = os.wait4(p.pid, 0); s = time.perf_counter() - t; "
            "open(sys.argv[1], 'w').write(f'{s} {usage.ru_maxrss}'); "
            "sys.exit(os.waitstatus_to_exitcode(status))")


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``cmd``, process start to exit."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "measured"
        proc = subprocess.run([sys.executable, "-c", _MEASURE, str(report), *cmd],
                              capture_output=True, text=True)
        if proc.returncode not in (0, 3):
            raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()[-300:]}")
        seconds, rss_kb = report.read_text().split()
    return float(seconds), round(int(rss_kb) / 1024, 1)


def whole_commands(video: str, preset: str, sample_fps: float, stride: int,
                   detect_every: int = 2) -> dict:
    """What a user waits for, shell prompt to prompt: ``tag`` of the whole video and
    ``predict`` of its first 4 s (a fresh process each: imports, model, detector, work),
    with the defaults (adaptive keyframes), the defaults with the detector on every
    ``detect_every``-th frame (``--keyframes fixed``) and on each network backend (LiteRT
    when its graphs are exported: ``fetch-models --litert``; there also without mirror
    averaging)."""
    from emotion_encoder.faces.model_files import cache_dir
    from emotion_encoder.litert_classifier import cached_graph, litert_installed
    from emotion_encoder.video import probe_video

    runs = {"defaults": [], "defaults, fixed keyframes": ["--keyframes", "fixed"],
            "keras": ["--backend", "keras"]}
    for backend in ("litert", "litert-int8"):
        if litert_installed() and cached_graph(preset, cache_dir(), backend == "litert-int8"):
            runs.update({backend: ["--backend", backend],
                         f"{backend}-no-mirror": ["--backend", backend, "--no-mirror"]})
    if "litert-int8" in runs:
        # the faces on mediapipe's runtime (the default detector until 2026-12-03), and
        # the detector on every 4th sampled frame (batch tagging)
        runs["litert-int8, faces on mediapipe"] = ["--backend", "litert-int8", "--detector",
                                                   "blazeface-mediapipe"]
        runs["litert-int8-no-mirror, detect every 4"] = ["--backend", "litert-int8",
                                                         "--no-mirror", "--detect-every", "4"]
    cli = [sys.executable, "-m", "emotion_encoder"]
    opts = ["--preset", preset, "--fps", str(sample_fps), "--stride", str(stride),
            "--detect-every", str(detect_every)]
    result: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        short = str(Path(tmp) / "first_4s.mp4")
        subprocess.run([_ffmpeg(), "-loglevel", "error", "-i", video, "-t", "4", "-c", "copy",
                        short], check=True)
        duration = probe_video(video).duration
        short_duration = probe_video(short).duration
        for backend, options in runs.items():
            more = opts + options
            out = str(Path(tmp) / f"tags-{len(result)}")
            tag_s, tag_rss = _timed(cli + ["tag", video, "-o", out] + more)
            predict_s, _ = _timed(cli + ["predict", short, "--json"] + more)
            result[backend] = {
                "tag": {"seconds": round(tag_s, 2), "x_real_time": round(duration / tag_s, 2),
                        "peak_rss_mb": tag_rss},
                "predict_4s": {"seconds": round(predict_s, 2),
                               "video_s": round(short_duration, 2)}}
        result["help"] = {"seconds": round(_timed(cli + ["--help"])[0], 2)}
    return result


def fer_pipeline(video: str, every: int = 2) -> dict | None:
    """The peer: the ``fer`` package's own pipeline (its Haar cascade and mini-Xception,
    ``FER().detect_emotions``) on every ``every``-th frame of the same video; None when
    ``fer`` is not installed (``pip install --no-deps fer``)."""
    try:
        from fer.fer import FER
    except ImportError:
        return None
    from emotion_encoder.video import iter_frames, probe_video

    detector = FER()
    t, frames = time.perf_counter(), 0
    for i, (_, frame) in enumerate(iter_frames(video)):
        if i % every == 0:
            detector.detect_emotions(frame[:, :, ::-1])  # fer reads BGR, as OpenCV does
            frames += 1
    dt = time.perf_counter() - t
    duration = probe_video(video).duration
    return {"frames": frames, "every": every, "seconds": round(dt, 2),
            "x_real_time": round(duration / dt, 2)}


def print_report(r: dict) -> None:
    v = r["video"]
    print(f"video: {v['duration_s']:.1f} s, {v['width']}x{v['height']} @ {v['fps']:.0f} fps "
          f"({v['frames']} frames; {r.get('origin', v['path'])})")
    print(f"preset {r['preset']}, sampled {r['sample_fps']:g} fps, stride {r['stride']}, "
          f"detector on every {r['detect_every']} sampled frame(s), "
          f"{r['machine']['cpus']} CPUs; network on {r['backend']}, model load "
          f"{r['load_s']:.1f} s")
    print(f"{'stage':<14} {'seconds':>8}  throughput")
    for name, s in r["stages"].items():
        if name == "model":
            rate = f"{s['clips_per_s']:.1f} clips/s ({s['frames_per_s']:.0f} frames/s)"
        elif name.startswith("end_to_end"):
            rate = (f"{s['sampled_frames_per_s']:.1f} sampled frames/s, "
                    f"{s['video_frames_per_s']:.1f} video frames/s, {s['clips']} clips, "
                    f"CPU {s['cpu_percent']}% (of {100 * r['machine']['cpus']}%)")
        else:
            rate = f"{s['frames_per_s']:.1f} frames/s"
        print(f"{name:<14} {s['seconds']:8.2f}  {rate}")
    print(f"overlap (decode + faces in a thread beside the network): "
          f"{r['overlap_speedup']:.2f}x the serial pipeline, same result: "
          f"{r['overlap_same_result']}")
    c = r["commands"]
    for backend, b in c.items():
        if backend != "help":
            print(f"whole command on {backend} (process start to exit): tag "
                  f"{b['tag']['seconds']:.1f} s = {b['tag']['x_real_time']:.1f}x real time, "
                  f"peak RSS {b['tag']['peak_rss_mb']:.0f} MB; predict of a "
                  f"{b['predict_4s']['video_s']:.0f} s clip {b['predict_4s']['seconds']:.1f} s")
    if "litert" in c:
        print(f"litert vs keras, same run: tag {c['keras']['tag']['seconds'] / c['litert']['tag']['seconds']:.2f}x, "
              f"predict {c['keras']['predict_4s']['seconds'] / c['litert']['predict_4s']['seconds']:.2f}x faster")
        print(f"--no-mirror vs mirror averaging on litert, same run: tag "
              f"{c['litert']['tag']['seconds'] / c['litert-no-mirror']['tag']['seconds']:.2f}x "
              "faster")
    if "litert" in c and "litert-int8" in c:
        print(f"int8 vs float weights on litert, same run: tag "
              f"{c['litert']['tag']['seconds'] / c['litert-int8']['tag']['seconds']:.2f}x, "
              f"with --no-mirror "
              f"{c['litert-no-mirror']['tag']['seconds'] / c['litert-int8-no-mirror']['tag']['seconds']:.2f}x "
              "faster")
    if "litert-int8, faces on mediapipe" in c:
        print(f"faces on LiteRT vs mediapipe's runtime (int8 network), same run: tag "
              f"{c['litert-int8, faces on mediapipe']['tag']['seconds'] / c['litert-int8']['tag']['seconds']:.2f}x, "
              f"predict {c['litert-int8, faces on mediapipe']['predict_4s']['seconds'] / c['litert-int8']['predict_4s']['seconds']:.2f}x "
              "faster")
    if "defaults, fixed keyframes" in c:
        print(f"adaptive vs fixed keyframes (defaults), same run: tag "
              f"{c['defaults, fixed keyframes']['tag']['seconds'] / c['defaults']['tag']['seconds']:.2f}x "
              "faster")
    print(f"--help {c['help']['seconds']:.2f} s")
    peer = r["fer_peer"]
    if peer:
        print(f"peer: fer package, every {peer['every']}nd frame: {peer['seconds']:.1f} s = "
              f"{peer['x_real_time']:.1f}x real time; inner loop here is "
              f"{r['x_real_time'] / peer['x_real_time']:.1f}x fer's speed")
    print(f"real-time factor {r['real_time_factor']:.3f} "
          f"({r['x_real_time']:.1f}x real time); peak RSS {r['peak_rss_mb']:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--video", help="benchmark this file instead of building one")
    parser.add_argument("--source-dir", default=SHARED_VIDEOS,
                        help="videos to build from (default: %(default)s)")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--fps", type=float, default=10.0, help="sampled fps")
    parser.add_argument("--stride", type=int, default=8)
    parser.add_argument("--detect-every", type=int, default=2,
                        help="run the face detector on every k-th sampled frame")
    parser.add_argument("--no-render", action="store_true", help="skip the annotated video")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # demo/ for the render stage
    with tempfile.TemporaryDirectory() as tmp:
        if args.video:
            video, origin = args.video, args.video
        else:
            video = str(Path(tmp) / f"bench_{int(args.seconds)}s.mp4")
            origin = build_video(Path(video), args.seconds, args.source_dir)
        result = run(video, args.preset, args.fps, args.stride, not args.no_render,
                     args.detect_every)
        result["origin"] = origin
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
