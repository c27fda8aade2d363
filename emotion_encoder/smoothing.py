"""Temporal smoothing of a track's clip probabilities with a hidden Markov model.

The hidden state is the emotion; each clip's probabilities are its (scaled) emission
likelihoods; a clip keeps the previous clip's emotion with probability ``1 - switch_prob``
and moves to each other emotion with ``switch_prob / (n_labels - 1)``. The chain restarts
(uniform prior) at every break: a shot cut, a no-face clip, a time gap between clips, or
any time given in ``breaks``. Gaps stay gaps: no-face clips are left as they are.

- :func:`smooth_probs` / :func:`smooth_track`: forward-backward posteriors, i.e. each
  clip's probability of each emotion given the whole chain — confidences that account
  for the neighbours, and labels that minimise the expected number of wrong clips;
- :func:`viterbi_path` / :func:`track_viterbi`: the single most probable label sequence.

>>> probs = np.array([[0.8, 0.2], [0.8, 0.2], [0.3, 0.7], [0.8, 0.2], [0.8, 0.2]])
>>> viterbi_path(probs).tolist()                         # the one-clip flip is removed
[0, 0, 0, 0, 0]
>>> smooth_probs(probs).argmax(axis=1).tolist()
[0, 0, 0, 0, 0]
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from emotion_encoder.timeline import EmotionTrack

DEFAULT_SWITCH_PROB = 0.2
"""Probability that the emotion changes from one clip to the next (clips every ~0.8 s)."""

_FLOOR = 1e-6  # probabilities are floored so that one clip can never veto a label


def _log_terms(probs: np.ndarray, switch_prob: float) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or probs.shape[1] < 1:
        raise ValueError(f"probs must be (n_clips, n_labels), got shape {probs.shape}")
    if not 0.0 <= switch_prob < 1.0:
        raise ValueError(f"switch_prob must be in [0, 1), got {switch_prob}")
    k = probs.shape[1]
    emission = np.log(np.maximum(probs / np.maximum(probs.sum(1, keepdims=True), _FLOOR),
                                 _FLOOR))
    other = switch_prob / (k - 1) if k > 1 else 0.0
    with np.errstate(divide="ignore"):
        transition = np.log(np.where(np.eye(k, dtype=bool), 1.0 - switch_prob if k > 1 else 1.0,
                                     other))
    return emission, transition


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    top = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(top, axis) + np.log(np.sum(np.exp(a - top), axis=axis))


def viterbi_path(probs: np.ndarray, switch_prob: float = DEFAULT_SWITCH_PROB) -> np.ndarray:
    """Most probable label index sequence ``(n,)`` of one chain of clip probabilities."""
    emission, transition = _log_terms(probs, switch_prob)
    n = len(emission)
    if n == 0:
        return np.zeros(0, int)
    back = np.zeros(emission.shape, int)
    score = emission[0].copy()
    for i in range(1, n):
        cand = score[:, None] + transition
        back[i] = cand.argmax(axis=0)
        score = cand.max(axis=0) + emission[i]
    path = np.zeros(n, int)
    path[-1] = int(score.argmax())
    for i in range(n - 1, 0, -1):
        path[i - 1] = back[i, path[i]]
    return path


def smooth_probs(probs: np.ndarray, switch_prob: float = DEFAULT_SWITCH_PROB) -> np.ndarray:
    """Forward-backward posteriors ``(n, k)`` of one chain of clip probabilities."""
    emission, transition = _log_terms(probs, switch_prob)
    n = len(emission)
    if n == 0:
        return np.zeros(emission.shape, np.float32)
    forward = np.zeros(emission.shape)
    backward = np.zeros(emission.shape)
    forward[0] = emission[0]
    for i in range(1, n):
        forward[i] = _logsumexp(forward[i - 1][:, None] + transition, axis=0) + emission[i]
    for i in range(n - 2, -1, -1):
        backward[i] = _logsumexp(transition + (emission[i + 1] + backward[i + 1])[None, :],
                                 axis=1)
    post = forward + backward
    post = np.exp(post - post.max(axis=1, keepdims=True))
    return (post / post.sum(axis=1, keepdims=True)).astype(np.float32)


def chains(track: EmotionTrack, breaks: Iterable[float] = ()) -> list[np.ndarray]:
    """Row indices of the runs of face clips smoothed together.

    A run ends at a no-face clip, where the next clip starts after this one ends, and
    where a break time ``b`` falls between two clips' middles (``m_prev < b <= m_next``).
    """
    cuts = np.sort(np.asarray(list(breaks), np.float64))
    middles = 0.5 * (track.starts + track.ends)
    runs: list[list[int]] = []
    for i in range(len(track)):
        if not track.has_face[i]:
            continue
        j = runs[-1][-1] if runs else -2
        joined = (j == i - 1 and track.starts[i] <= track.ends[j]
                  and not np.any((cuts > middles[j]) & (cuts <= middles[i])))
        if joined:
            runs[-1].append(i)
        else:
            runs.append([i])
    return [np.array(r, int) for r in runs]


def smooth_track(track: EmotionTrack, breaks: Iterable[float] = (),
                 switch_prob: float = DEFAULT_SWITCH_PROB) -> EmotionTrack:
    """The track with each face clip's probabilities replaced by its HMM posterior.

    Embeddings, attention and no-face rows are unchanged.

    >>> from emotion_encoder.timeline import SlidingWindow
    >>> track = EmotionTrack.from_window(np.ones((5, 2), np.float32),
    ...     SlidingWindow(0.0, 1.6, 0.8), labels=("anger", "joy"),
    ...     probs=[[0.8, 0.2], [0.8, 0.2], [0.3, 0.7], [0.8, 0.2], [0.8, 0.2]])
    >>> track.clip_labels[2], smooth_track(track).clip_labels[2]
    ('joy', 'anger')
    """
    breaks = list(breaks)
    probs = track.probs.copy()
    if track.labels:
        for run in chains(track, breaks):
            probs[run] = smooth_probs(track.probs[run], switch_prob)
    return track.replace(probs=probs)


def track_viterbi(track: EmotionTrack, breaks: Iterable[float] = (),
                  switch_prob: float = DEFAULT_SWITCH_PROB) -> list[str | None]:
    """The Viterbi label of every clip of ``track`` (None for no-face clips)."""
    labels: list[str | None] = [None] * len(track)
    if not track.labels:
        return labels
    for run in chains(track, list(breaks)):
        for i, k in zip(run, viterbi_path(track.probs[run], switch_prob)):
            labels[i] = track.labels[k]
    return labels
