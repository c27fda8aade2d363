"""Issue 14, test-time adaptation: the network's batch-norm statistics measured again on
a probe's own faces (AdaBN; labels unused), then the probe read, beside the shipped
statistics.

    python benchmarks/adapt_bn.py                        # every probe, ~17 min here
    python benchmarks/adapt_bn.py --only jaffe-test,posed-sample
    python benchmarks/adapt_bn.py --gamma 0.6             # shading instead: no adaptation
    python benchmarks/adapt_bn.py --clahe 2.0             # local contrast equalised instead

A collection of new people (a film's cast, a corpus) could be read this way by a batch
job. Each probe's faces (cached crops, the model's framing) go through the whole network
as static clips with mirror averaging, as the panel reads stills. The statistics are
measured on the faces of the set the probe's people belong to and their mirror images:
all of JAFFE (213) for its held-out people, all 60 Yale stills for its validation people,
the probe itself for LFW's held-out people, CK+'s held-out subjects, FER2013 test and the
twelve posed stills (``benchmarks/fetch_posed_sample.py``). No face = a miss.

With ``--gamma G`` the second column reads every face through the gamma curve
``255 (v / 255) ** G`` (G < 1 lifts shadows) with the shipped statistics instead: how much
the network leans on how dark a face's shadows are. With ``--clahe L`` every face is read
after contrast-limited adaptive histogram equalisation at clip limit ``L`` (the
preprocessor's ``clahe``) with the shipped weights, which never trained on such faces.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emotion_encoder.models.emotion_classifier import mirror_averaged
from emotion_encoder.models.loading import load_encoder_model
from emotion_encoder.models.preprocessor import equalize
from emotion_encoder.training.ablation import held_out_faces
from emotion_encoder.training.selection import balanced_accuracy
from emotion_encoder.training.soup import recalibrate_batch_norm

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PROBES = {  # key: (path under DATA or absolute, split adapted on, split scored, options)
    "jaffe-test": ("jaffe/labels.csv", None, "test", {}),
    "yale-validation": ("yale_expressions/labels.csv", None, "validation", {"unknown": "drop"}),
    "lfw-test": ("lfw_expressions/labels.csv", "test", "test", {"contempt": "drop"}),
    "ckplus-test": ("ckplus", "test", "test", {"contempt": "drop"}),
    "fer2013-test": ("fer2013", "test", "test", {}),
    "posed-sample": (str(Path("runs/probe-stills/posed-sample/labels.csv").resolve()), None,
                     None, {}),
}


def probe_faces(path: str, split: str | None, options: dict, pre, crops: Path,
                gamma: float | None = None, clahe: float | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """The network's input for each face found ``(n, h, w, c)`` (through the curve
    ``255 (v / 255) ** gamma`` or CLAHE at clip limit ``clahe`` when given) and the labels
    of every sample, those without a face last (their places in the first array are
    missing)."""
    spec = {"path": path if Path(path).is_absolute() else DATA / path, "split": split,
            "options": options}
    x, found, missing, _ = held_out_faces(spec, pre, crops)
    if gamma:
        x = (255.0 * (x / 255.0) ** gamma).astype(np.uint8)
    if clahe:
        x = equalize(x, clahe)
    return pre.normalize(x), np.concatenate([found, missing])


def read(network, x: np.ndarray) -> np.ndarray:
    """Probabilities of still faces read as static clips, mirror-averaged."""
    frames = network.backbone.num_frames
    forward = mirror_averaged(lambda clips: network(clips, training=False))
    return np.concatenate([np.asarray(forward(np.repeat(x[i:i + 32, None], frames, axis=1))
                                      ["probs"]) for i in range(0, len(x), 32)])


def adapt(network, x: np.ndarray) -> None:
    """Batch-norm statistics measured again on ``x`` and its mirror images (shuffled)."""
    both = np.concatenate([x, x[:, :, ::-1]])
    both = both[np.random.default_rng(0).permutation(len(both))]
    recalibrate_batch_norm(network, np.repeat(both[:, None], network.backbone.num_frames,
                                              axis=1), batch_size=32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="a preset or a .keras file")
    parser.add_argument("--only", help="comma-separated probe keys")
    parser.add_argument("--crops", type=Path, default=Path("runs/probe-crops"))
    shading = parser.add_mutually_exclusive_group()
    shading.add_argument("--gamma", type=float, help="read through this gamma curve instead")
    shading.add_argument("--clahe", type=float, help="read after CLAHE at this clip limit instead")
    args = parser.parse_args()
    keys = args.only.split(",") if args.only else list(PROBES)
    second = (f"faces read at gamma {args.gamma:g}" if args.gamma else
              f"faces read after CLAHE {args.clahe:g}" if args.clahe else
              "adapted to the probe's set")
    print(f"| probe | n | shipped statistics | {second} |\n|---|---|---|---|")
    for key in keys:
        path, adapt_split, split, options = PROBES[key]
        cells = []
        for adapted in (False, True):
            network = load_encoder_model(args.model).model
            x, truth = probe_faces(path, split, options, network.preprocessor, args.crops,
                                   args.gamma if adapted else None,
                                   args.clahe if adapted else None)
            if adapted and not (args.gamma or args.clahe):
                adapt(network, probe_faces(path, adapt_split, options, network.preprocessor,
                                           args.crops)[0])
            predicted = np.full(len(truth), -1)
            predicted[:len(x)] = read(network, x).argmax(1)
            cells.append(f"{np.mean(predicted == truth):.1%} "
                         f"({balanced_accuracy(truth, predicted):.1%})")
        print(f"| {key} | {len(truth)} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
