"""Errors for bad alignment input; each message names the file (or source) and the problem.

>>> raise AlignmentError("clip.srt", "line 4: cue ends before it starts")
Traceback (most recent call last):
v2c_bridge.errors.AlignmentError: clip.srt: line 4: cue ends before it starts
"""

from __future__ import annotations

from emotion_encoder.errors import FileProblem


class AlignmentError(FileProblem):
    """A track, transcript or media file cannot be used for alignment."""


class TranscriptWarning(UserWarning):
    """Entries of a transcript were skipped (e.g. whisperX words without times)."""
