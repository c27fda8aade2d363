"""The files expressive dubbing models read their visual emotion features from.

HPMDubbing, StyleDubber and ProDubber read, for each clip ``basename`` of a ``speaker``,
a per-frame face feature and (StyleDubber, ProDubber, and V2C-Net's scene vector that
HPMDubbing's feature script writes) a per-clip vector, both plain ``.npy`` files in flat
folders of the dataset's preprocessed root:

* ``VA_feature/{speaker}-feature-{basename}.npy``: float32 ``(T, 256)``, one row per
  25 fps video frame; the loaders pad it with zeros and mask it with the clip's lip
  feature length, so ``T`` must equal the rows of ``{speaker}-face-{basename}.npy`` (the
  lip features, extracted at 25 fps; ProDubber asserts it).
* ``emos/{speaker}-emo-{basename}.npy``: float32 ``(256,)``, one vector per clip.

This library fills them with its 256-d fused embedding: each frame's row interpolates
the face clips around it (:mod:`emotion_encoder.frames`), a frame without a face is a
zero row (what the loaders pad with), and the clip vector is the mean of the rows that
have a face (zeros when none has). Where each system reads what, with file and line, is
in :data:`LAYOUTS` and in ``tests/test_export_features.py``. The ``npz`` layout writes
this library's own per-frame file (:class:`~emotion_encoder.frames.FrameFeatures`).

>>> speaker, basename = clip_names("V2C/Toy@Buzz_00_0315_00.mp4")
>>> LAYOUTS["styledubber"].files(speaker, basename)["frames"]
'VA_feature/Toy@Buzz-feature-Toy@Buzz_00_0315_00.npy'
>>> clip_names("GRID/s2/lwbz4s.mpg"), clip_names("clips/a.mp4", speaker="ann")
(('s2', 'lwbz4s'), ('ann', 'a'))
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

V2C_NAME = re.compile(r"^(?P<speaker>.+?)_\d{2}_\d{4}_\d{2}$")
"""V2C-Animation's clip names, ``{movie}@{character}_{nn}_{nnnn}_{nn}``: the speaker is the
part before the first ``_00`` (the loaders' ``basename.split('_00')[0]``)."""


def clip_names(video: str | os.PathLike, speaker: str | None = None) -> tuple[str, str]:
    """``(speaker, basename)`` of a clip file: the basename is the file's stem; the speaker
    is ``speaker`` if given, else V2C's rule for V2C names, else the parent folder's name
    (GRID's ``s2/lwbz4s.mpg`` is speaker ``s2``)."""
    path = Path(video)
    basename = path.stem
    if speaker:
        return speaker, basename
    match = V2C_NAME.match(basename)
    if match:
        return match.group("speaker"), basename
    return (Path(os.path.abspath(path)).parent.name or "speaker"), basename


@dataclass(frozen=True)
class FeatureLayout:
    """One system's files: folders and name patterns, the frame rate of its visual rows,
    its mel settings (for the length check), a row limit, and where its loader says so."""

    name: str
    frame_folder: str | None = "VA_feature"
    clip_folder: str | None = "emos"
    fps: float = 25.0
    sample_rate: int | None = None
    hop_length: int | None = None
    max_rows: int | None = None
    source: str = ""

    def files(self, speaker: str, basename: str) -> dict[str, str]:
        """The files of one clip, relative to the output folder, by kind."""
        if self.name == "npz":
            return {"npz": f"{speaker}-frames-{basename}.npz"}
        files = {}
        if self.frame_folder:
            files["frames"] = f"{self.frame_folder}/{speaker}-feature-{basename}.npy"
        if self.clip_folder:
            files["clip"] = f"{self.clip_folder}/{speaker}-emo-{basename}.npy"
        return files

    def lip_file(self, speaker: str, basename: str) -> str:
        """The name of the clip's lip-feature file, whose rows ``T`` must match."""
        return f"{speaker}-face-{basename}.npy"

    def problems(self, rows: int) -> list[str]:
        """What this system's model would refuse about a clip of ``rows`` frames."""
        if self.max_rows is not None and rows > self.max_rows:
            return [f"{rows} rows: {self.name}'s positional encodings hold {self.max_rows} "
                    f"({self.max_rows / self.fps:g} s at {self.fps:g} fps); cut the clip"]
        return []


LAYOUTS = {
    "hpmdubbing": FeatureLayout(
        "hpmdubbing", sample_rate=22050, hop_length=220,
        source="GalaxyCong/HPMDubbing dataset.py Dataset.__getitem__ (VA_feature, "
               "'{}-feature-{}.npy', lines 124-129); mel frames = 4 x video frames "
               "(HPM_Dubbing.py line 61, Synchronization_coefficient = 4; preprocess.yaml "
               "sampling_rate 22050, hop_length 220); emos (256,) as written by its "
               "emotion_encoder/video_features/emotion_encoder.py line 65"),
    "styledubber": FeatureLayout(
        "styledubber", sample_rate=22050, hop_length=256,
        source="GalaxyCong/StyleDubber dataset.py Dataset_denoise2_V2Cdataset "
               "(VA_feature '{}-feature-{}.npy' lines 106-107, emos '{}-emo-{}.npy' lines "
               "112-113, pad_2D of (T, 256)); face rows masked by lip rows "
               "(MultimodalTransformer/src/models_16_5_Face2_same.py lines 183-187)"),
    "styledubber-grid": FeatureLayout(
        "styledubber-grid", frame_folder="Grid_VA_feature", clip_folder=None,
        sample_rate=22050, hop_length=256,
        source="GalaxyCong/StyleDubber dataset.py Dataset_GRIDdataset ('Grid_VA_feature', "
               "'{}-feature-{}.npy' with the speaker prefix cut from the basename)"),
    "produbber": FeatureLayout(
        "produbber", sample_rate=24000, hop_length=300, max_rows=200,
        source="ZZDoog/ProDubber meldataset.py FilePathDataset (VA_feature "
               "'{}-feature-{}.npy' lines 222-241, emos '{}-emo-{}.npy' lines 244-270), "
               "Collater: assert lip_feature.size(0) == emotion_feature.size(0) (line 339), "
               "(B, T, 256) and (B, 256) (lines 321-323); models.py PositionalEncoding "
               "max_len=200"),
    "npz": FeatureLayout(
        "npz", frame_folder=None, clip_folder=None,
        source="this library's FrameFeatures.save / FrameFeatures.load"),
}
"""Every layout ``export-features --layout`` writes, by name."""


def layout_arrays(embeddings: np.ndarray, has_face: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays of one clip from its per-frame rows: ``frames`` float32 ``(T, d)`` (zero
    rows where ``has_face`` is False) and ``clip`` float32 ``(d,)``, the mean of the rows
    with a face (zeros when none has).

    >>> a = layout_arrays(np.array([[1.0, 3.0], [9.0, 9.0], [3.0, 5.0]]), np.array([1, 0, 1], bool))
    >>> a["frames"].tolist(), a["clip"].tolist()
    ([[1.0, 3.0], [0.0, 0.0], [3.0, 5.0]], [2.0, 4.0])
    """
    has_face = np.asarray(has_face, bool)
    frames = np.where(has_face[:, None], np.asarray(embeddings, np.float32), 0.0)
    frames = frames.astype(np.float32)
    clip = frames[has_face].mean(axis=0) if has_face.any() else np.zeros(frames.shape[1])
    return {"frames": frames, "clip": clip.astype(np.float32)}
