"""The probe panel's statistics (``benchmarks/probes.py``): how far a probe can tell, and
whether one model's lead over another on the same faces is more than chance."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import probes  # noqa: E402


def test_wilson_interval_matches_the_formula_worked_by_hand():
    lo, hi = probes.wilson(23, 43)  # JAFFE's held-out people: 23 of 43 right
    assert (lo, hi) == pytest.approx((0.3892, 0.6749), abs=1e-4)
    assert probes.wilson(2, 2)[1] == pytest.approx(1.0) and probes.wilson(0, 0) == (0.0, 1.0)
    small, large = probes.wilson(6, 12), probes.wilson(600, 1200)
    assert small[1] - small[0] > 4 * (large[1] - large[0])  # 100x the faces: 10x narrower


def test_mcnemar_is_the_exact_two_sided_binomial_test(tmp_path):
    assert probes.mcnemar(9, 2) == pytest.approx(2 * (1 + 11 + 55) / 2 ** 11)
    assert probes.mcnemar(5, 0) == probes.mcnemar(0, 5) == pytest.approx(2 / 32)
    assert probes.mcnemar(3, 3) == 1.0 and probes.mcnemar(0, 0) == 1.0
    model, fer = tmp_path / "model", tmp_path / "fer"
    model.mkdir(), fer.mkdir()
    (model / "predictions.csv").write_text(
        "sample,predicted,true,p_anger\na.png,anger,anger,0.9\n\"b,1.png\",fear,anger,0.1\n"
        "c.png,anger,anger,0.8\n")
    (fer / "fer-predictions.csv").write_text(
        "sample,predicted,true\n\"b,1.png\",anger,anger\nc.png,anger,anger\n")  # a: no face
    assert probes.paired(model / "predictions.csv", fer / "fer-predictions.csv") == \
        {"only_a": 1, "only_b": 1, "p": 1.0}
    assert probes.paired(model / "predictions.csv", tmp_path / "none.csv") is None
