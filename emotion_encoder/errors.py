"""Errors raised for bad input. Each message names the file and the problem.

>>> raise VideoError("clip.mp4", "file is empty")
Traceback (most recent call last):
emotion_encoder.errors.VideoError: clip.mp4: file is empty
"""

from __future__ import annotations

import os


class EmotionEncoderError(Exception):
    """Base class: an error a user can act on, shown without a traceback by the CLI.

    Its message is one line: a control character that came from a file or an argument (a
    newline inside a quoted CSV path, say) is shown escaped.

    >>> print(EmotionEncoderError("clips.csv:3: a\\nb.jpg: file not found"))
    clips.csv:3: a\\nb.jpg: file not found
    """

    def __str__(self) -> str:
        return "".join(c if c.isprintable() else repr(c)[1:-1] for c in super().__str__())


class FileProblem(EmotionEncoderError):
    """An error about one file: the message is ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike | None, problem: str):
        self.path = None if path is None else os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}" if self.path else problem)


class VideoError(FileProblem):
    """A video cannot be read: missing, empty, not a video, truncated to nothing."""


class AlignmentError(FileProblem):
    """A track, transcript or media file cannot be used: a malformed track, a subtitle
    cue that ends before it starts, an audio file without samples (used by ``v2c_bridge``)."""


class OptionError(EmotionEncoderError, ValueError):
    """An option out of its range (``stride=0``, ``sample_fps=-1``): one line on the CLI."""


class ModelFileError(EmotionEncoderError):
    """A face-detector model file is missing and could not be fetched."""


class PresetError(EmotionEncoderError):
    """An unknown preset name or an unreadable model file."""


class DatasetError(EmotionEncoderError):
    """A dataset on disk is malformed: missing files or columns, unknown labels, bad values.

    >>> str(DatasetError("clips.csv", "missing column 'label'", line=1))
    "clips.csv:1: missing column 'label'"
    """

    def __init__(self, path: str | os.PathLike, problem: str, line: int | None = None):
        self.path = os.fspath(path)
        self.problem = problem
        self.line = line
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {problem}")


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message (type name first for unexpected errors).

    >>> one_line(VideoError("a.mp4", "file is empty")), one_line(KeyError("x"))
    ('a.mp4: file is empty', "KeyError: 'x'")
    """
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, EmotionEncoderError) else f"{type(exc).__name__}: {text}"
