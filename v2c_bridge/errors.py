"""Errors for bad alignment input; each message names the file (or source) and the problem.

>>> raise AlignmentError("clip.srt", "line 4: cue ends before it starts")
Traceback (most recent call last):
v2c_bridge.errors.AlignmentError: clip.srt: line 4: cue ends before it starts
"""

from __future__ import annotations

import os

from emotion_encoder.errors import EmotionEncoderError


class AlignmentError(EmotionEncoderError):
    """A track, transcript or media file cannot be used for alignment."""

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}" if self.source else problem)


class TranscriptWarning(UserWarning):
    """Entries of a transcript were skipped (e.g. whisperX words without times)."""
