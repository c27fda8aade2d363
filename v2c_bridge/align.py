"""The one-call API, in two steps as in whisperX: load a track, then align it.

>>> track = load_track("clip.npz")    # an EmotionTrack.save file (embed, tag)  # doctest: +SKIP
>>> cond = align(track, mel_frames_for="clip.mp4", sr=22050, hop_length=256)  # doctest: +SKIP
>>> cond.values.shape, cond.mask.mean()        # doctest: +SKIP
((1399, 512), 0.93)
>>> lines = align(track, subtitles="clip.srt", pool="confidence")            # doctest: +SKIP
>>> lines[0].text, lines[0].label, lines[0].face_ratio                        # doctest: +SKIP
('Where were you?', 'anger', 1.0)
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from v2c_bridge.errors import AlignmentError
from v2c_bridge import mel
from emotion_encoder.face_tracks import FaceTrack, FaceTracks
from v2c_bridge.mel import MelConditioning, align_to_mel, mel_frame_count, mel_frame_times
from v2c_bridge.pooling import AlignedInterval, Pool, pool_intervals
from emotion_encoder.timeline import EmotionTrack, SampleMode
from v2c_bridge.transcripts import Interval, read_subtitles, read_textgrid, read_words

TrackSource = EmotionTrack | FaceTracks | FaceTrack | str | os.PathLike
TranscriptSource = str | os.PathLike | Sequence[Interval]


def load_track(source: TrackSource) -> EmotionTrack:
    """An :class:`EmotionTrack` from a track or its ``.npz`` (:meth:`EmotionTrack.save`),
    a :class:`FaceTrack`, or :class:`FaceTracks` (its speaker track)."""
    if isinstance(source, EmotionTrack):
        return source
    if isinstance(source, FaceTracks):
        return source.speaker
    if isinstance(source, FaceTrack):
        return source.track
    try:
        return EmotionTrack.load(source)
    except FileNotFoundError:
        raise AlignmentError(source, "file not found") from None
    except KeyError as e:
        raise AlignmentError(source, f"not an emotion track .npz (no {e.args[0]!r} array)") \
            from None
    except (OSError, ValueError, TypeError) as e:
        raise AlignmentError(source, f"not an emotion track .npz ({e})") from None


def _intervals(subtitles: TranscriptSource | None, textgrid: TranscriptSource | None,
               words: TranscriptSource | None, tier: str | None) -> list[Interval]:
    given = {k: v for k, v in (("subtitles", subtitles), ("textgrid", textgrid),
                               ("words", words)) if v is not None}
    if len(given) != 1:
        raise ValueError("give one of subtitles=, textgrid= and words=")
    (kind, source), = given.items()
    if tier is not None and kind != "textgrid":
        raise ValueError("tier= selects a TextGrid tier; it needs textgrid=")
    if not isinstance(source, (str, os.PathLike)):
        return list(source)
    if kind == "subtitles":
        return read_subtitles(source)
    if kind == "words":
        return read_words(source)
    return read_textgrid(source, tier or "words")


def align(track: TrackSource, *, mel_frames_for: str | os.PathLike | np.ndarray | None = None,
          sr: int = 22050, hop_length: int = 256, n_fft: int = 1024, center: bool = True,
          n_mel_frames: int | None = None, subtitles: TranscriptSource | None = None,
          textgrid: TranscriptSource | None = None, words: TranscriptSource | None = None,
          tier: str | None = None, pool: Pool = "mean",
          interpolation: SampleMode = "linear",
          audio_start: float | None = None) -> MelConditioning | list[AlignedInterval]:
    """Align an emotion track to mel frames, or to words / phones / subtitle lines.

    Mel frames: give ``mel_frames_for`` (a video or audio file, or its samples at ``sr``)
    or ``n_mel_frames``; returns a :class:`MelConditioning` sampled with
    ``interpolation`` ("nearest", "linear", "hold"). Intervals: give one of ``subtitles``
    (SRT/WebVTT), ``textgrid`` (tier ``tier``, default "words") or ``words`` (whisper /
    whisperX JSON) as a path or a list of :class:`Interval`; returns one
    :class:`AlignedInterval` per interval, pooled with ``pool``.

    ``audio_start``: where the audio that the mel frames, words or TextGrid count from
    starts on the video's clock, in seconds (:func:`v2c_bridge.mel.audio_start`; 0 in most
    files). By default it is read from the file ``mel_frames_for``, or for words and
    TextGrids from the track's own video file; subtitles are timed on the video's clock.
    """
    track = load_track(track)
    wants_mel = mel_frames_for is not None or n_mel_frames is not None
    if wants_mel == any(x is not None for x in (subtitles, textgrid, words)):
        raise ValueError("give mel_frames_for= or n_mel_frames= (mel frames), or one of "
                         "subtitles=, textgrid=, words= (intervals)")
    if not wants_mel:
        intervals = _intervals(subtitles, textgrid, words, tier)
        if audio_start is None:
            from_audio = subtitles is None and track.video and os.path.isfile(track.video)
            audio_start = mel.audio_start(track.video) if from_audio else 0.0
        return pool_intervals(track, intervals, pool, shift=audio_start)
    if mel_frames_for is not None and n_mel_frames is not None:
        raise ValueError("give mel_frames_for= or n_mel_frames=, not both")
    fps = None
    if isinstance(mel_frames_for, np.ndarray):
        n_mel_frames = mel_frame_count(len(mel_frames_for), sr, hop_length, n_fft, center)
    elif mel_frames_for is not None:
        n_mel_frames = mel.mel_frames_for(mel_frames_for, sr, hop_length, n_fft, center)
        fps = mel.probe(mel_frames_for).get("video_fps")
        if audio_start is None:
            audio_start = mel.audio_start(mel_frames_for)
    audio_start = audio_start or 0.0
    values, mask = align_to_mel(track, n_mel_frames, sr=sr, hop_length=hop_length,
                                n_fft=n_fft, center=center, mode=interpolation,
                                audio_start=audio_start)
    times = mel_frame_times(n_mel_frames, sr, hop_length, n_fft, center)
    return MelConditioning(values, mask, times, sr, hop_length, n_fft, center, interpolation,
                           fps, track.labels, track.preset, track.video,
                           audio_start=audio_start)
