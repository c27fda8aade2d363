"""Calibration of a model: fit its temperature on validation data, measure the expected
calibration error (ECE) on every probe before and after, draw the reliability diagram.

    python benchmarks/calibration.py                 # the shipped default preset
    python benchmarks/calibration.py --model fast
    python benchmarks/calibration.py --model runs/x/model.keras

The temperature is fitted (NLL, :func:`emotion_encoder.calibration.fit_temperature`) on
the validation parts only, each set weighing the same: FER+ majority validation (FER2013's
public test split), CK+ validation subjects and LFW validation people (the parts the
training recipe selects its epoch on). The probes (JAFFE's held-out people and Yale's
validation people, the parts the shipped recipe does not train on; LFW and CK+ held-out
people, FER2013 test, FER+ majority test) are never used for fitting. Everything is
measured at temperature 1 (the network's own probabilities) and then re-scaled, so the
"before" column is the uncalibrated network whatever the model ships with. Writes
``runs/calibration/<model>/calibration.json``, ``calibration.md`` and
``reliability.png`` (``--png`` copies the diagram elsewhere, e.g. for the model card).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from emotion_encoder.calibration import (apply_temperature, expected_calibration_error,
                                         fit_temperature, negative_log_likelihood, reliability)
from emotion_encoder.evaluation import evaluate

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

FIT = (("FER+ majority validation", "ferplus/votes.csv", "validation", {"contempt": "drop"}),
       ("CK+ validation subjects", "ckplus", "validation", {"contempt": "drop"}),
       ("LFW validation people", "lfw_expressions/labels.csv", "validation",
        {"contempt": "drop"}))
PROBES = (("JAFFE held-out people", "jaffe/labels.csv", "test", {}),
          ("Yale validation people", "yale_expressions/labels.csv", "validation",
           {"unknown": "drop"}),
          ("LFW held-out people", "lfw_expressions/labels.csv", "test", {"contempt": "drop"}),
          ("CK+ held-out subjects", "ckplus", "test", {"contempt": "drop"}),
          ("FER2013 test", "fer2013", "test", {}),
          ("FER+ majority test", "ferplus/votes.csv", "test", {"contempt": "drop"}))


def scored(model: str, sets, out: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each set's probabilities at temperature 1 and true label indices."""
    result = {}
    for name, path, split, options in sets:
        slug = name.split(" (")[0].lower().replace(" ", "-").replace("+", "plus")
        report = evaluate(model, DATA / path, out / slug, split=split, temperature=1.0,
                          **options)
        result[name] = (report.probs, report.y_true)
        print(f"{name}: {len(report.y_true)} samples", flush=True)
    return result


def reliability_png(pooled: dict[str, tuple[np.ndarray, np.ndarray]], temperature: float,
                    title: str) -> bytes:
    """Two reliability diagrams (before, after) of the pooled probe samples."""
    figure = Figure(figsize=(9, 4.2), dpi=110)
    probs = np.concatenate([p for p, _ in pooled.values()])
    labels = np.concatenate([y for _, y in pooled.values()])
    for k, (t, name) in enumerate(((1.0, "network (T = 1)"),
                                   (temperature, f"calibrated (T = {temperature:.2f})"))):
        axes = figure.add_subplot(1, 2, k + 1)
        scaled = apply_temperature(probs, t)
        conf, acc, counts = reliability(scaled, labels)
        edges = np.linspace(0, 1, len(conf) + 1)
        seen = counts > 0
        axes.bar(edges[:-1][seen], acc[seen], width=np.diff(edges)[seen], align="edge",
                 edgecolor="black", color="#4a90d9", label="accuracy")
        axes.plot([0, 1], [0, 1], "k--", label="perfect calibration")
        axes.plot(conf[seen], acc[seen], "o", color="#d9534f", markersize=3,
                  label="mean confidence")
        ece = expected_calibration_error(scaled, labels)
        axes.set_title(f"{name}: ECE {ece:.3f}")
        axes.set_xlabel("confidence (top probability)")
        axes.set_ylabel("accuracy")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.legend(loc="upper left", fontsize=7)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default", help="preset name or .keras file")
    parser.add_argument("-o", "--out", type=Path, help="report folder")
    parser.add_argument("--png", type=Path, help="also copy the reliability diagram here")
    args = parser.parse_args()
    out = args.out or Path("runs") / "calibration" / Path(args.model).stem
    out.mkdir(parents=True, exist_ok=True)
    fit = scored(args.model, FIT, out / "eval")
    probs = np.concatenate([p for p, _ in fit.values()])
    labels = np.concatenate([y for _, y in fit.values()])
    weights = np.concatenate([np.full(len(y), 1.0 / len(y)) for _, y in fit.values()])
    temperature = fit_temperature(probs, labels, weights)
    probes = scored(args.model, PROBES, out / "eval")
    rows = []
    for name, (p, y) in {**fit, **probes}.items():
        after = apply_temperature(p, temperature)
        rows.append({"set": name, "n": int(len(y)), "fitted_on": name in fit,
                     "accuracy": float(np.mean(p.argmax(1) == y)),
                     "ece_before": expected_calibration_error(p, y),
                     "ece_after": expected_calibration_error(after, y),
                     "nll_before": negative_log_likelihood(p, y),
                     "nll_after": negative_log_likelihood(after, y),
                     "confidence_before": float(p.max(1).mean()),
                     "confidence_after": float(after.max(1).mean())})
    lines = [f"Temperature fitted on the validation parts: **T = {temperature:.3f}** "
             f"(`python benchmarks/calibration.py --model {args.model}`)", "",
             "| set | n | accuracy | mean confidence before / after | ECE before | ECE after "
             "| NLL before | NLL after |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        tag = " (fit)" if r["fitted_on"] else ""
        lines.append(f"| {r['set']}{tag} | {r['n']} | {r['accuracy']:.1%} | "
                     f"{r['confidence_before']:.3f} / {r['confidence_after']:.3f} | "
                     f"{r['ece_before']:.3f} | **{r['ece_after']:.3f}** | "
                     f"{r['nll_before']:.3f} | {r['nll_after']:.3f} |")
    table = "\n".join(lines) + "\n"
    print(table)
    (out / "calibration.md").write_text(table)
    (out / "calibration.json").write_text(json.dumps(
        {"model": args.model, "temperature": temperature, "rows": rows}, indent=2))
    png = reliability_png(probes, temperature,
                          f"{args.model}: every probe sample pooled ({sum(r['n'] for r in rows if not r['fitted_on'])}"
                          " faces, none used for fitting)")
    (out / "reliability.png").write_bytes(png)
    if args.png:
        args.png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "reliability.png", args.png)
    print(f"report: {out}")


if __name__ == "__main__":
    main()
