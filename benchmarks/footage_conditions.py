"""The labelled videos as films and uploads deliver them: does each reading hold when a clip
is compressed, small, dark, graded, grainy, soft, side-lit, tilted, stuttering or
letterboxed?

    python benchmarks/footage_conditions.py                  # every condition, `fer` beside
    python benchmarks/footage_conditions.py --only dark,roll --no-fer

Every labelled video of the probe panel (the two MEAD clips of ``../shared/data`` and any
fetched corpus under ``runs/probe-videos``, ``benchmarks/fetch_cremad_sample.py``) is
re-encoded through ffmpeg once per condition (H.264, its own filter chain below) into
``--out``, then read by ``emotion-encoder predict``'s whole-video label and, with
``--fer``, by the `fer` package as the panel reads it. Prints a markdown table: per
condition, how many videos each model reads right, the model's probability of the true
emotion for each video (in the order printed above the table), what it read instead
and how many results carry a warning (faces too small to read, no face)
(``as delivered`` is the same re-encoding without a filter: the baseline of this run).
"""

from __future__ import annotations

import argparse
import subprocess
import time
from pathlib import Path

from emotion_encoder import EmotionEncoder
from emotion_encoder.video.reader import ffmpeg_binary
from probes import FerPackage, labelled_videos, peer_video_label

CONDITIONS: dict[str, tuple[str, str]] = {
    "as delivered": ("", "re-encoded, H.264 CRF 18"),
    "compressed": ("", "H.264 CRF 40 (a small web upload)"),
    "small": ("scale=trunc(iw/8)*2:-2", "a quarter of the size (a 256 px face crop: 64 px)"),
    "tiny": ("scale=trunc(iw/16)*2:-2", "an eighth of the size (a 256 px face crop: 32 px)"),
    "dark": ("curves=all='0/0 1/0.3',noise=alls=8:allf=t",
             "under-exposed 1.7 stops, sensor noise"),
    "graded": ("colorbalance=rs=-0.15:bs=0.2:rh=0.2:bh=-0.15,eq=contrast=1.2:saturation=1.3",
               "teal-and-orange film grade, more contrast"),
    "very dark": ("curves=all='0/0 1/0.1',noise=alls=8:allf=t",
                  "under-exposed 3.3 stops, sensor noise"),
    "grain": ("noise=alls=30:allf=t+u", "heavy film grain"),
    "soft": ("gblur=sigma=2.5", "out of focus (Gaussian blur, sigma 2.5 px)"),
    "side-lit": ("geq=lum='lum(X,Y)*(0.25+0.75*X/W)':cb='cb(X,Y)':cr='cr(X,Y)'",
                 "light from one side, the far cheek at a quarter"),
    "roll": ("rotate=15*PI/180:fillcolor=black", "head tilted 15 degrees"),
    "mirrored": ("hflip", "mirrored left to right"),
    "12 fps": ("fps=12", "12 frames a second (animation, stutter)"),
    "letterboxed": ("pad=iw*16/9:ih+ih/3:(ow-iw)/2:ih/6,setsar=1",
                    "inside black bars, 16:9"),
}


def render(source: Path, condition: str, out: Path) -> Path:
    """``source`` re-encoded under ``condition`` into ``out`` (kept; made once)."""
    target = out / condition.replace(" ", "-") / f"{source.parent.name}-{source.stem}.mp4"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    chain, _ = CONDITIONS[condition]
    crf = "40" if condition == "compressed" else "18"
    partial = target.with_suffix(".part.mp4")
    cmd = [ffmpeg_binary(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-i", str(source), "-an", *(["-vf", chain] if chain else []), "-c:v", "libx264",
           "-crf", crf, "-pix_fmt", "yuv420p", str(partial)]
    subprocess.run(cmd, check=True)
    partial.rename(target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="a preset or a .keras file")
    parser.add_argument("--backend", default="keras")
    parser.add_argument("--only", help="comma-separated conditions (default: all)")
    parser.add_argument("--no-fer", dest="fer", action="store_false",
                        help="leave out the `fer` package")
    parser.add_argument("--out", type=Path, default=Path("runs/footage-conditions"),
                        help="where the re-encoded videos are kept")
    args = parser.parse_args()

    names = list(CONDITIONS) if not args.only else [c.strip() for c in args.only.split(",")]
    unknown = [name for name in names if name not in CONDITIONS]
    if unknown:
        parser.error(f"unknown condition(s) {', '.join(unknown)}; known: {', '.join(CONDITIONS)}")
    if "as delivered" not in names:
        names.insert(0, "as delivered")
    videos = labelled_videos()
    encoder = EmotionEncoder(args.model, backend=args.backend)
    fer = FerPackage() if args.fer else None
    started = time.perf_counter()
    print(f"{len(videos)} labelled videos, model {args.model} ({args.backend}): "
          f"{', '.join(f'{path.stem} ({truth})' for path, truth in videos)}\n")
    print("| condition | what | right | p(true) per video | read otherwise | warned | `fer` right |"
          "\n|---|---|---|---|---|---|---|")
    for name in names:
        right, fer_right, warned, p_true, wrong = 0, 0, 0, [], []
        for source, truth in videos:
            path = render(source, name, args.out)
            result = encoder.predict(path)
            probs = result.video_probs or {}
            p_true.append(probs.get(truth, 0.0))
            warned += bool(result.warnings)
            if result.video_label == truth:
                right += 1
            else:
                wrong.append(f"{source.stem} {result.video_label}")
            if fer is not None:
                fer_right += peer_video_label(fer, path) == truth
        print(f"| {name} | {CONDITIONS[name][1]} | {right} / {len(videos)} | "
              f"{' '.join(f'{p:.2f}' for p in p_true)} | {'; '.join(wrong) or '-'} | {warned} | "
              f"{f'{fer_right} / {len(videos)}' if fer is not None else '-'} |", flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
