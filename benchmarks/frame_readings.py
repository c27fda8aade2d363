"""Each frame of labelled videos read on its own: what the network sees over a talking clip
before any clip or video aggregation.

    python benchmarks/frame_readings.py runs/probe-videos/cremad-sample
    python benchmarks/frame_readings.py runs/probe-videos/cremad-sample \
        --weights runs/default-fer2013/default.weights.h5      # stage A's weights

``DATA`` is anything ``emotion-encoder evaluate`` reads (a corpus folder, a manifest CSV).
Each sample's frames are sampled at 10 per second and cut as the probe panel cuts them,
then each is read as a static clip through the whole network with mirror averaging (as
the panel reads stills). Prints, per sample, the label of the mean probabilities (the
panel's ``frames: mean`` reading), each class's largest probability over the frames and
how many frames each class tops; ``--frames`` prints every frame's probabilities too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from emotion_encoder.models.emotion_classifier import mirror_averaged
from emotion_encoder.models.loading import load_encoder_model
from emotion_encoder.training.ablation import held_out_sequences
from emotion_encoder.training.mixture import LABELS


def summary(probs: np.ndarray) -> dict:
    """The mean reading of ``(frames, classes)`` probabilities, each class's maximum and
    the number of frames each class tops.

    >>> s = summary(np.array([[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]]))
    >>> int(s["mean_label"]), s["max"].round(2).tolist(), s["tops"].tolist()
    (0, [0.8, 0.6], [2, 1])
    """
    return {"mean_label": int(probs.mean(axis=0).argmax()), "mean": probs.mean(axis=0),
            "max": probs.max(axis=0),
            "tops": np.bincount(probs.argmax(axis=1), minlength=probs.shape[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", help="labelled videos: a corpus folder or a manifest CSV")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--weights", type=Path,
                        help="a .weights.h5 file of the preset's network (e.g. stage A's)")
    parser.add_argument("--cache", type=Path, default=Path("runs/probe-crops"),
                        help="the panel's face-crop cache")
    parser.add_argument("--frames", action="store_true", help="print every frame too")
    args = parser.parse_args()

    encoder_model = load_encoder_model(args.preset)
    network = encoder_model.model
    if args.weights is not None:
        network.load_weights(args.weights)
    length = network.backbone.num_frames
    read = mirror_averaged(lambda x: {"probs": network(np.repeat(x, length, axis=1),
                                                       training=False)["probs"]})
    pre = encoder_model.preprocessor
    sequences, found, _, samples = held_out_sequences({"path": args.data}, pre, args.cache)
    short = [label[:4] for label in LABELS]
    print(f"| sample | truth | mean reading | largest per frame ({' '.join(short)}) | "
          f"frames topped ({' '.join(short)}) |\n|---|---|---|---|---|")
    right = 0
    for sequence, truth, sample in zip(sequences, found, samples):
        probs = np.concatenate([np.asarray(read(pre.normalize(sequence[i:i + 16])[:, None])
                                           ["probs"]) for i in range(0, len(sequence), 16)])
        s = summary(probs)
        right += s["mean_label"] == truth
        name = Path(sample.sequence or sample.video or sample.frames[0]).name
        print(f"| {name} | {LABELS[truth]} | {LABELS[s['mean_label']]} "
              f"({s['mean'][s['mean_label']]:.2f}) | {' '.join(f'{v:.2f}' for v in s['max'])} | "
              f"{' '.join(str(n) for n in s['tops'])} |")
        if args.frames:
            for row in probs:
                print("|  |  | " + " ".join(f"{v:.2f}" for v in row) + " |  |  |")
    print(f"\nmean reading right: {right} / {len(found)} (samples without a face: "
          f"not listed)")


if __name__ == "__main__":
    main()
