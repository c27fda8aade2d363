"""The dataset layer of the training recipe: every loader returns a :class:`Dataset` of
:class:`Sample` records with canonical labels.

>>> from emotion_encoder.data import load_ckplus_cutdown, subject_kfold
>>> ck = load_ckplus_cutdown("../shared/data/ckplus", contempt="drop")  # doctest: +SKIP
>>> train, test = subject_kfold(ck, k=10)[0]                             # doctest: +SKIP
"""

from __future__ import annotations

from emotion_encoder.data.ckplus import load_ckplus, load_ckplus_cutdown
from emotion_encoder.data.dataset import KNOWN_LABELS, Dataset, LabelOptions, Sample
from emotion_encoder.data.fer2013 import load_fer2013, load_image_folder
from emotion_encoder.data.manifest import load_manifest
from emotion_encoder.data.oulu import load_oulu_casia
from emotion_encoder.data.posed_stills import load_kdef, load_rafd
from emotion_encoder.data.protocols import (CVSummary, Fer2013Splits, fer2013_splits,
                                            oulu_casia_folds, subject_kfold, summarize_folds)
from emotion_encoder.data.talking_faces import load_crema_d, load_mead, load_ravdess
from emotion_encoder.data.videos import load_video_folder

__all__ = ["CVSummary", "Dataset", "Fer2013Splits", "KNOWN_LABELS", "LabelOptions", "Sample",
           "fer2013_splits", "load_ckplus", "load_ckplus_cutdown", "load_crema_d",
           "load_fer2013", "load_image_folder", "load_kdef", "load_manifest", "load_mead",
           "load_oulu_casia", "load_rafd", "load_ravdess", "load_video_folder",
           "oulu_casia_folds", "subject_kfold", "summarize_folds"]
