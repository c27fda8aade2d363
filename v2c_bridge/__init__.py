"""Alignment of emotion timelines to speech: mel frames, phonemes/words and subtitle lines.

The encoder's ``EmotionEncoder().embed(video)`` gives overlapping clips with start/end
times; this package turns them into what a dubbing / TTS model consumes. Two steps, as in
whisperX — load the clips as a track, then align it:

>>> from v2c_bridge import align, load_track
>>> track = load_track(embeddings)                  # doctest: +SKIP
>>> cond = align(track, mel_frames_for="clip.mp4")  # doctest: +SKIP
>>> cond.values.shape, cond.mask.mean()             # doctest: +SKIP
((1399, 512), 0.93)
>>> words = align(track, textgrid="clip.TextGrid", pool="attention")  # doctest: +SKIP
>>> words[0].text, words[0].label                   # doctest: +SKIP
('hello', 'happiness')

The bridge reads the encoder's result types only (``emotion_encoder.timeline``:
SlidingWindow, EmotionTrack; ``emotion_encoder.face_tracks``: FaceTrack, FaceTracks;
``emotion_encoder.smoothing``), re-exported here; importing it loads neither TensorFlow
nor MediaPipe. Modules: ``mel`` (frame arithmetic, audio, MelConditioning),
``transcripts`` (TextGrid, whisper JSON, SRT/WebVTT readers), ``pooling`` (one vector per
interval, label runs), ``align``, ``export`` (writers/readers). No-face time is a gap: NaN
with a False mask on mel frames, a zero vector without a label for intervals — never
interpolated across.
"""

from __future__ import annotations

from emotion_encoder.face_tracks import FaceTrack, FaceTracks
from emotion_encoder.smoothing import smooth_track, track_viterbi, viterbi_path
from emotion_encoder.timeline import EmotionTrack, SlidingWindow
from emotion_encoder.timing import Segment
from v2c_bridge.align import align, load_track
from v2c_bridge.errors import AlignmentError, TranscriptWarning
from v2c_bridge.export import (read_json, read_npz, write_csv, write_intervals_npz, write_json,
                               write_npz, write_srt, write_textgrid, write_vtt)
from v2c_bridge.mel import (MelConditioning, align_to_mel, audio_of_video, audio_start,
                            mel_frame_count, mel_frame_times, mel_frames_for, mel_window,
                            video_frame_indices)
from v2c_bridge.pooling import AlignedInterval, emotion_runs, pool_interval, pool_intervals
from v2c_bridge.transcripts import Interval, read_subtitles, read_textgrid, read_words

__all__ = [
    "AlignedInterval", "AlignmentError", "EmotionTrack", "FaceTrack", "FaceTracks", "Interval",
    "MelConditioning", "Segment", "SlidingWindow", "TranscriptWarning", "align",
    "align_to_mel", "audio_of_video", "audio_start", "emotion_runs", "load_track",
    "mel_frame_count", "mel_frame_times", "mel_frames_for", "mel_window", "pool_interval",
    "pool_intervals",
    "read_json", "read_npz", "read_subtitles", "read_textgrid", "read_words", "smooth_track",
    "track_viterbi", "video_frame_indices", "viterbi_path", "write_csv", "write_intervals_npz",
    "write_json",
    "write_npz", "write_srt", "write_textgrid", "write_vtt",
]
