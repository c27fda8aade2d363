"""Confidence that means what it says: temperature scaling (Guo et al. 2017) and the
expected calibration error.

A network's softmax is often over- or under-confident. Temperature scaling divides the
log-probabilities by one number ``T`` fitted on held-out data (the NLL-minimising ``T``),
which changes no argmax but makes "0.8" mean right about 80% of the time. The presets
carry the ``T`` fitted on their validation data (``benchmarks/calibration.py``), and
:class:`~emotion_encoder.clip_classifier.ClipClassifier` applies it, so every probability
the library returns (clips, smoothing, pooling, exports) is the calibrated one.

>>> p = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 0.0]])
>>> apply_temperature(p, 2.0).astype(float).round(3).tolist()  # softer; no-face row: zero
[[0.523, 0.279, 0.198], [0.0, 0.0, 0.0]]
>>> y = np.array([0, 0, 1, 1])
>>> probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])
>>> round(expected_calibration_error(probs, y), 3)   # 0.9 sure but 2 of 3 right; 0.8 and right
0.225
"""

from __future__ import annotations

import math

import numpy as np


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(probs) / temperature)`` row by row (float32); rows of zeros (no face)
    stay zeros, ``temperature == 1`` returns ``probs`` unchanged."""
    if not temperature > 0:
        raise ValueError(f"temperature must be above 0, got {temperature}")
    probs = np.asarray(probs, np.float32)
    if temperature == 1.0 or probs.size == 0:
        return probs
    logp = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    out = np.exp(logp)
    out /= out.sum(axis=-1, keepdims=True)
    return np.where(probs.sum(axis=-1, keepdims=True) > 0, out, 0.0).astype(np.float32)


def negative_log_likelihood(probs: np.ndarray, labels: np.ndarray,
                            weights: np.ndarray | None = None) -> float:
    """Mean ``-log p(true label)`` (weighted by ``weights`` when given)."""
    picked = np.asarray(probs)[np.arange(len(labels)), np.asarray(labels)]
    return float(-np.average(np.log(np.clip(picked, 1e-12, 1.0)), weights=weights))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None,
                    low: float = 0.05, high: float = 20.0) -> float:
    """The temperature in ``[low, high]`` that minimises the (``weights``-weighted) NLL of
    ``labels`` (golden-section search on ``log T``; the NLL is convex in ``1 / T``).

    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(2000, 4)) * 3
    >>> y = np.array([rng.choice(4, p=np.exp(l) / np.exp(l).sum()) for l in logits / 2])
    >>> p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    >>> abs(fit_temperature(p, y) - 2.0) < 0.2    # the labels were drawn at temperature 2
    True
    """
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2

    def cost(log_t: float) -> float:
        return negative_log_likelihood(apply_temperature(probs, math.exp(log_t)), labels,
                                       weights)

    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = cost(c), cost(d)
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = cost(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = cost(d)
    return float(math.exp(0.5 * (a + b)))


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 15
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per confidence bin (``bins`` equal bins of the top probability): mean confidence,
    accuracy and count (NaN where a bin is empty)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(which, confidence, bins) / counts
        acc = np.bincount(which, correct.astype(float), bins) / counts
    return conf, acc, counts


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over the bins."""
    conf, acc, counts = reliability(probs, labels, bins)
    seen = counts > 0
    return float(np.sum(counts[seen] * np.abs(conf[seen] - acc[seen])) / counts.sum())
