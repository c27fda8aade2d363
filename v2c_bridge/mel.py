"""Mel frames: librosa's exact frame arithmetic, the audio track of a video, and the emotion
track resampled onto mel frames.

Mel frame ``i`` analyses ``n_fft`` samples starting at ``i*hop_length - n_fft//2`` when
``center`` (librosa pads ``n_fft//2`` zeros on each side) or at ``i*hop_length`` otherwise;
its time is that of its centre sample, as ``librosa.frames_to_time`` gives. Counts and
times are computed from integer sample positions, so any ``sr`` / ``hop_length`` /
video fps ratio (22050/256 mel frames per second against 30000/1001 video frames) is exact.

>>> mel_frame_count(22050, sr=22050, hop_length=256, n_fft=1024, center=True)
87
>>> mel_frame_times(3, sr=22050, hop_length=256).round(4).tolist()
[0.0, 0.0116, 0.0232]
>>> video_frame_indices(4, fps="30000/1001", sr=22050, hop_length=256).tolist()
[0, 0, 0, 1]
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from emotion_encoder import __version__
from v2c_bridge.errors import AlignmentError
from emotion_encoder.timeline import EmotionTrack, SampleMode, SlidingWindow


def _check_stft(sr: float, hop_length: int, n_fft: int) -> None:
    if not sr > 0 or hop_length < 1 or n_fft < 1:
        raise ValueError(f"need sr > 0, hop_length >= 1 and n_fft >= 1, "
                         f"got sr={sr}, hop_length={hop_length}, n_fft={n_fft}")


def mel_frame_count(n_samples: int, sr: int = 22050, hop_length: int = 256, n_fft: int = 1024,
                    center: bool = True) -> int:
    """Frames of ``librosa.feature.melspectrogram`` on ``n_samples`` samples (``shape[-1]``).

    ``center``: ``1 + (n_samples + 2*(n_fft//2) - n_fft) // hop_length``, i.e.
    ``1 + n_samples // hop_length`` for an even ``n_fft``; otherwise
    ``1 + (n_samples - n_fft) // hop_length``. Where the (padded) signal is shorter than
    ``n_fft`` librosa raises; this returns 0.
    """
    _check_stft(sr, hop_length, n_fft)
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    padded = n_samples + (2 * (n_fft // 2) if center else 0)
    return 0 if padded < n_fft else 1 + (padded - n_fft) // hop_length


def _centre_samples(n_frames: int, hop_length: int, n_fft: int, center: bool) -> np.ndarray:
    return np.arange(n_frames, dtype=np.int64) * hop_length + (0 if center else n_fft // 2)


def mel_frame_times(n_frames: int, sr: int = 22050, hop_length: int = 256, n_fft: int = 1024,
                    center: bool = True) -> np.ndarray:
    """Centre time in seconds of each frame (``librosa.frames_to_time``, with ``n_fft`` when
    not ``center``)."""
    _check_stft(sr, hop_length, n_fft)
    return _centre_samples(n_frames, hop_length, n_fft, center) / float(sr)


def mel_window(sr: int = 22050, hop_length: int = 256, n_fft: int = 1024,
               center: bool = True) -> SlidingWindow:
    """The mel frames as a :class:`SlidingWindow` of ``n_fft / sr`` seconds centred on
    :func:`mel_frame_times` (``window.crop(word, "center")`` gives a word's frames)."""
    _check_stft(sr, hop_length, n_fft)
    offset = 0 if center else n_fft // 2
    return SlidingWindow(start=(offset - n_fft / 2) / sr, duration=n_fft / sr,
                         step=hop_length / sr)


def as_fraction(fps: float | str | Fraction) -> Fraction:
    """A frame rate as an exact fraction: ``"30000/1001"``, ``29.97`` (= 2997/100), or the
    float ``29.97002997...`` that readers report for NTSC (= 30000/1001)."""
    try:
        rate = Fraction(fps) if isinstance(fps, (str, Fraction, int)) \
            else Fraction(float(fps)).limit_denominator(10_000)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not a frame rate: {fps!r}") from None
    if rate <= 0:
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    return rate


def video_frame_indices(n_frames: int, fps: float | str | Fraction, sr: int = 22050,
                        hop_length: int = 256, n_fft: int = 1024,
                        center: bool = True) -> np.ndarray:
    """For each mel frame, the video frame shown at its centre time (``floor(t * fps)``),
    in exact integer arithmetic."""
    _check_stft(sr, hop_length, n_fft)
    if int(sr) != sr:
        raise ValueError(f"sr must be a whole number of samples per second, got {sr}")
    rate = as_fraction(fps)
    centres = _centre_samples(n_frames, hop_length, n_fft, center)
    return (centres * rate.numerator) // (rate.denominator * int(sr))


def align_to_mel(track: EmotionTrack, n_frames: int | None = None, *,
                 n_samples: int | None = None, sr: int = 22050, hop_length: int = 256,
                 n_fft: int = 1024, center: bool = True, mode: SampleMode = "linear",
                 audio_start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The track at each mel frame's centre: ``(values (n_mel, d) float32, mask (n_mel,))``.

    Give ``n_frames``, or ``n_samples`` of the audio to count them; ``audio_start``: where
    the audio starts on the track's clock (:func:`audio_start`). Frames in a no-face gap,
    or outside the track, are NaN with a False mask (see :meth:`EmotionTrack.at`).
    """
    if (n_frames is None) == (n_samples is None):
        raise ValueError("give exactly one of n_frames and n_samples")
    if n_frames is None:
        n_frames = mel_frame_count(n_samples, sr, hop_length, n_fft, center)
    if n_frames < 0:
        raise ValueError(f"n_frames must be >= 0, got {n_frames}")
    return track.at(mel_frame_times(n_frames, sr, hop_length, n_fft, center) + audio_start, mode)


@dataclass(frozen=True, eq=False)
class MelConditioning:
    """The emotion track on mel frames, ready to condition a TTS / dubbing decoder.

    ``values`` (n_mel, d) float32 are NaN where ``mask`` is False (no face); ``times``
    are the frames' centre times on the audio's clock (0: its first sample), read from
    the video at ``audio_start + times`` (:func:`audio_start`: where the audio track
    starts in its file, 0 in most files); ``fps`` is the video's frame rate when known.
    """

    values: np.ndarray
    mask: np.ndarray
    times: np.ndarray
    sr: int
    hop_length: int
    n_fft: int
    center: bool
    mode: str
    fps: float | None = None
    labels: tuple[str, ...] = ()
    preset: str = ""
    video: str | None = None
    version: str = __version__
    audio_start: float = 0.0

    @property
    def n_frames(self) -> int:
        return len(self.values)

    @property
    def window(self) -> SlidingWindow:
        return mel_window(self.sr, self.hop_length, self.n_fft, self.center)

    def filled(self, value: float = 0.0) -> np.ndarray:
        """``values`` with ``value`` in the masked frames (what a model can take)."""
        return np.where(self.mask[:, None], self.values, np.float32(value))

    def video_frames(self) -> np.ndarray:
        """For each mel frame, the index of the video frame shown at its centre."""
        if self.fps is None:
            raise ValueError("the video frame rate is unknown (align from a video file)")
        if self.audio_start:
            return np.floor((self.times + self.audio_start) * self.fps + 1e-9).astype(np.int64)
        return video_frame_indices(self.n_frames, self.fps, self.sr, self.hop_length,
                                   self.n_fft, self.center)


# ---------------------------------------------------------------- audio of a video

def probe(path: str | os.PathLike) -> dict[str, Any]:
    """What moviepy's ffmpeg reports about a media file (streams, fps, duration)."""
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos

    if not Path(path).is_file():
        raise AlignmentError(path, "file not found")
    try:
        return ffmpeg_parse_infos(os.fspath(path))
    except (OSError, IndexError, KeyError, ValueError) as e:
        lines = [line for line in str(e).splitlines() if line.strip()]
        raise AlignmentError(path, "not a readable audio or video file"
                                   + (f" ({lines[-1].strip()})" if lines else "")) from None


def _read_wav_header(stream: IO[bytes]) -> tuple[int, int] | None:
    """``(sample rate, channels)`` from a streamed WAV header, stopping at the data chunk."""
    riff = stream.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        return None
    rate = channels = None
    while len(head := stream.read(8)) == 8:
        size = int.from_bytes(head[4:], "little")
        if head[:4] == b"data":
            return (rate, channels) if rate and channels else None
        body = stream.read(size + size % 2)
        if head[:4] == b"fmt ":
            channels = int.from_bytes(body[2:4], "little")
            rate = int.from_bytes(body[4:8], "little")
    return None


def _decode(path: str | os.PathLike, sink: Callable[[bytes], None]) -> tuple[int, int]:
    """Stream the audio track as float32 samples at its own rate into ``sink``;
    return ``(sample rate, channels)``."""
    from moviepy.config import FFMPEG_BINARY

    if not probe(path).get("audio_found"):
        raise AlignmentError(path, "has no audio track")
    cmd = [FFMPEG_BINARY, "-nostdin", "-v", "error", "-i", os.fspath(path), "-vn", "-sn", "-dn",
           "-f", "wav", "-acodec", "pcm_f32le", "-"]
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=errors)
        with proc:
            header = _read_wav_header(proc.stdout)
            while header and (chunk := proc.stdout.read(1 << 20)):
                sink(chunk)
            proc.stdout.read()  # let ffmpeg finish if the header was bad
        if proc.returncode or header is None:
            errors.seek(0)
            said = [x for x in errors.read().decode(errors="replace").splitlines() if x.strip()]
            reason = said[-1].strip() if said else f"exit code {proc.returncode}"
            raise AlignmentError(path, f"ffmpeg could not decode the audio track ({reason})")
    return header


def audio_of_video(path: str | os.PathLike, sr: int = 22050) -> np.ndarray:
    """The audio track of a video (or audio) file as mono float32 at ``sr``, as
    ``librosa.load(path, sr=sr)`` would give it: channels averaged, then
    ``librosa.resample`` (soxr_hq) from the track's own rate.

    Decoded with moviepy's ffmpeg to the end of the audio stream: moviepy's
    ``to_soundarray`` instead sizes the array from the container's duration (padding
    zeros when the video outlasts the audio, or dropping a sample to float rounding).
    """
    import librosa

    data = bytearray()
    native, channels = _decode(path, data.extend)
    frames = len(data) // (4 * channels)
    y = np.frombuffer(data, np.float32, count=frames * channels).reshape(frames, channels)
    y = y.mean(axis=1, dtype=np.float32)
    if native != sr:
        y = librosa.resample(y, orig_sr=native, target_sr=sr)
    return y.astype(np.float32, copy=False)


_CONTAINER_START = re.compile(r"^\s+Duration: .*?, start: (-?\d+(?:\.\d+)?)", re.M)
_AUDIO_STREAM = re.compile(r"^\s+Stream #0:\d+\S*: Audio: (.*)$", re.M)
_STREAM_START = re.compile(r", start (-?\d+(?:\.\d+)?)")


def audio_start(path: str | os.PathLike) -> float:
    """Where the audio track's first sample plays on its file's clock, in seconds after the
    file's start (the clock the video frames are read on: ffmpeg starts them there). 0 in
    most files; a recording or a stream cut without re-encoding can start its audio later,
    and a mel spectrogram or a transcript made from the audio then counts from there.

    >>> audio_start("missing.mp4")
    Traceback (most recent call last):
    emotion_encoder.errors.AlignmentError: missing.mp4: file not found
    """
    from moviepy.config import FFMPEG_BINARY

    if not Path(path).is_file():
        raise AlignmentError(path, "file not found")
    log = subprocess.run([FFMPEG_BINARY, "-hide_banner", "-nostdin", "-i", os.fspath(path)],
                         capture_output=True, text=True, errors="replace").stderr
    return header_audio_start(log)


def header_audio_start(log: str) -> float:
    r""":func:`audio_start` from ffmpeg's log of the file (its first audio stream).

    >>> header_audio_start("  Duration: 00:00:04.00, start: 0.000000, bitrate: 282 kb/s\n"
    ...                    "  Stream #0:0: Video: h264, 320x240, 25 fps\n"
    ...                    "  Stream #0:1: Audio: aac (LC), 44100 Hz, mono, start 0.476780")
    0.47678
    >>> header_audio_start("  Duration: 00:00:04.00, start: 0.000000\n  Stream #0:0: Audio: aac")
    0.0
    """
    container, audio = _CONTAINER_START.search(log), _AUDIO_STREAM.search(log)
    if container is None or audio is None:
        return 0.0
    start = _STREAM_START.search(audio.group(1))
    if start is None:  # ffmpeg names a stream's start where it is not 0
        return max(0.0, -float(container.group(1)))
    return round(max(0.0, float(start.group(1)) - float(container.group(1))), 6)


def mel_frames_for(video_path: str | os.PathLike, sr: int = 22050, hop_length: int = 256,
                   n_fft: int = 1024, center: bool = True) -> int:
    """Mel frames of the file's audio track at ``sr`` — the ``shape[-1]`` of librosa's
    mel spectrogram of :func:`audio_of_video` — counted without keeping the audio."""
    _check_stft(sr, hop_length, n_fft)
    size = [0]
    native, channels = _decode(video_path, lambda chunk: size.__setitem__(0, size[0] + len(chunk)))
    n = size[0] // (4 * channels)
    if native != sr:
        n = int(np.ceil(n * (float(sr) / native)))  # librosa.resample's output length
    return mel_frame_count(n, sr, hop_length, n_fft, center)
