"""Expression transfer (``benchmarks/expression_transfer.py``): the geometry that moves a
posed expression from one face onto another, on synthetic points and images (the face
mesh itself needs the detector's model files and real faces)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import expression_transfer as xt  # noqa: E402


def _face(rng: np.random.Generator, side: int = 160) -> np.ndarray:
    """468 points spread over a face-sized disc, the eye corners 33 and 263 level."""
    angle = rng.uniform(0, 2 * np.pi, 468)
    radius = side * 0.3 * np.sqrt(rng.uniform(0.05, 1, 468))
    p = side / 2 + np.stack([np.cos(angle), np.sin(angle)], 1) * radius[:, None]
    p[33], p[263] = [side * 0.35, side * 0.42], [side * 0.65, side * 0.42]
    return p


def _rotate(p: np.ndarray, scale: float, degrees: float, shift) -> np.ndarray:
    a = np.deg2rad(degrees)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return p @ (scale * r).T + shift


def test_similarity_recovers_scale_rotation_and_shift():
    p = _face(np.random.default_rng(0))
    scale, rot, shift = xt.similarity(p, _rotate(p, 1.7, 20, [5.0, -3.0]))
    assert abs(scale - 1.7) < 1e-9
    assert np.allclose(rot, _rotate(np.eye(2), 1, 20, 0).T, atol=1e-9)
    assert np.allclose(p @ (scale * rot).T + shift, _rotate(p, 1.7, 20, [5.0, -3.0]))


def test_displacement_ignores_head_motion_and_face_size():
    rng = np.random.default_rng(1)
    neutral = _face(rng)
    expressive = neutral.copy()
    expressive[[70, 63, 105]] += [0.0, 6.0]  # three brow-like points lowered by 6 px
    d = xt.displacement(neutral, expressive)
    eye_distance = np.linalg.norm(neutral[263] - neutral[33])
    assert np.allclose(d[[70, 63, 105], 1], 6.0 / eye_distance, atol=0.02)
    assert np.abs(np.delete(d, [70, 63, 105], 0)).max() < 0.02
    # the same expression, the head turned, moved and twice the size: the same field
    moved = xt.displacement(_rotate(neutral, 2.0, 15, [30, 10]),
                            _rotate(expressive, 2.0, 15, [30, 10]))
    assert np.allclose(moved, d, atol=1e-6)
    assert np.abs(xt.displacement(neutral, _rotate(neutral, 0.8, -10, [4, 4]))).max() < 1e-9


def test_warp_moves_a_point_by_its_displacement_and_nothing_without_one():
    rng = np.random.default_rng(2)
    side = 160
    target = _face(rng, side)
    image = (rng.uniform(0, 255, (side, side))).astype(np.uint8)
    image = np.asarray(xt.cv2.GaussianBlur(image, (0, 0), 3))
    assert np.array_equal(xt.warp(image, target, np.zeros((468, 2))), image)
    k = 200
    d = np.zeros((468, 2))
    eye_distance = np.linalg.norm(target[263] - target[33])
    d[k] = [0.0, 5.0 / eye_distance]  # point k 5 px down, its neighbours still
    out = xt.warp(image, target, d)
    x, y = np.round(target[k]).astype(int)
    src = xt.cv2.remap(image, np.float32([[target[k][0]]]), np.float32([[target[k][1]]]),
                       xt.cv2.INTER_LINEAR)[0, 0]
    assert abs(int(xt.cv2.remap(out, np.float32([[target[k][0]]]),
                                np.float32([[target[k][1] + 5.0]]),
                                xt.cv2.INTER_LINEAR)[0, 0]) - int(src)) <= 2
    far = np.linalg.norm(np.mgrid[0:side, 0:side][::-1].transpose(1, 2, 0) - target[k], axis=2)
    assert np.array_equal(out[far > 0.45 * side], image[far > 0.45 * side])
    assert not np.array_equal(out, image)
