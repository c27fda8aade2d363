"""Batch tagging: one pass per video for prediction and embeddings, over many videos.

Modules by job: ``inputs`` (what to tag), ``worker`` (one video), ``local_engine`` and
``ray_engine`` (where the videos run), ``index`` (result files and the clip index),
``progress`` (the progress line), ``run`` (:func:`tag`, the batch), ``export``
(:func:`export_features`: dubbing models' feature files, on the same batch machinery).
"""

from emotion_encoder.errors import one_line
from emotion_encoder.tagging.export import export_features
from emotion_encoder.tagging.index import index_rows, read_results, write_index
from emotion_encoder.tagging.inputs import TagInputError, expand_inputs, result_name
from emotion_encoder.tagging.run import tag
from emotion_encoder.tagging.worker import analyze, load_encoder, tag_video

__all__ = ["TagInputError", "analyze", "expand_inputs", "export_features", "index_rows", "load_encoder",
           "one_line", "read_results", "result_name", "tag", "tag_video", "write_index"]
