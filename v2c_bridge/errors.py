"""Errors for bad alignment input; each message names the file (or source) and the problem.

>>> raise AlignmentError("clip.srt", "line 4: cue ends before it starts")
Traceback (most recent call last):
emotion_encoder.errors.AlignmentError: clip.srt: line 4: cue ends before it starts
"""

from __future__ import annotations

from emotion_encoder.errors import AlignmentError

__all__ = ["AlignmentError", "TranscriptWarning"]


class TranscriptWarning(UserWarning):
    """Entries of a transcript were skipped (e.g. whisperX words without times)."""
