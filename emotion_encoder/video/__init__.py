"""Video input: probe and stream files (still images as one-frame videos), and wrap files,
arrays or iterables of frames."""

from emotion_encoder.video.reader import (VideoInfo, frame_times, iter_frames, probe_video,
                                          scaled_size)
from emotion_encoder.video.source import FrameSource, as_rgb_uint8, open_source, probe_file
from emotion_encoder.video.still import probe_still, read_still

__all__ = ["FrameSource", "VideoInfo", "as_rgb_uint8", "frame_times", "iter_frames", "open_source",
           "probe_file", "probe_still", "probe_video", "read_still", "scaled_size"]
