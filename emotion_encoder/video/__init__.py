"""Video input: probe and stream files, and wrap files, arrays or iterables of frames."""

from emotion_encoder.video.reader import (VideoInfo, frame_times, iter_frames, probe_video,
                                          scaled_size)
from emotion_encoder.video.source import FrameSource, as_rgb_uint8, open_source

__all__ = ["FrameSource", "VideoInfo", "as_rgb_uint8", "frame_times", "iter_frames", "open_source",
           "probe_video", "scaled_size"]
