"""Open a dataset from a path alone, recognising its layout.

=================================================  ==========================  =========
path                                               loader                      cropped
=================================================  ==========================  =========
FER+ ``votes.csv`` (beside ``fer2013/``)            :func:`load_ferplus`        yes
``*.csv`` (``path,label[,subject,start,end]``)     :func:`load_manifest`       no
``sequences.csv`` or a folder holding it           :func:`load_ckplus_cutdown` yes
folder with ``cohn-kanade-images/``                :func:`load_ckplus`         no
folder with ``OriginalImg/``                       :func:`load_oulu_casia`     no
folder with ``train/ validation/ test/``           :func:`load_fer2013`        yes
RAVDESS (``Actor_XX/01-01-EE-..-AA.mp4``)          :func:`load_ravdess`        no
CREMA-D (``VideoFlash/1001_DFA_ANG_XX.flv``)       :func:`load_crema_d`        no
MEAD (``<actor>/video/front/<emotion>/level_1/``)  :func:`load_mead`           no
KDEF (``AF01/AF01ANS.JPG``)                        :func:`load_kdef`           no
RaFD (``Rafd090_01_..._angry_frontal.jpg``)        :func:`load_rafd`           no
folder of ``<class>/`` clips, stills, frames       :func:`load_video_folder`   no
=================================================  ==========================  =========

"cropped" says the images are face crops already (faces are not detected again).

>>> ck, cropped = open_dataset("../shared/data/ckplus", contempt="drop")   # doctest: +SKIP
>>> len(ck), cropped                                                        # doctest: +SKIP
(309, True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.ckplus import load_ckplus, load_ckplus_cutdown
from emotion_encoder.data.dataset import Dataset, LabelOptions
from emotion_encoder.data.fer2013 import FER2013_SPLITS, load_fer2013
from emotion_encoder.data.ferplus import is_votes_csv, load_ferplus
from emotion_encoder.data.manifest import load_manifest
from emotion_encoder.data.oulu import load_oulu_casia
from emotion_encoder.data.posed_stills import load_kdef, load_rafd, posed_still_layout
from emotion_encoder.data.protocols import SUBJECT_PARTS, subject_split
from emotion_encoder.data.talking_faces import (load_crema_d, load_mead, load_ravdess,
                                                talking_face_layout)
from emotion_encoder.data.videos import load_video_folder
from emotion_encoder.errors import DatasetError


def open_dataset(path: str | os.PathLike, split: str | None = None,
                 **options: Unpack[LabelOptions]) -> tuple[Dataset, bool]:
    """The dataset at ``path`` and whether its images are face crops already.

    ``split`` picks a FER2013 or FER+ split (default ``test``); for every other layout
    it picks that identity-disjoint part of the subjects (:func:`subject_split`).
    """
    path = Path(path)
    if not path.exists():
        raise DatasetError(path, "dataset not found")
    if path.is_dir() and (path / "sequences.csv").is_file():
        path = path / "sequences.csv"
    if path.name == "sequences.csv":
        return _part(load_ckplus_cutdown(path.parent, **options), split), True
    if is_votes_csv(path):
        return load_ferplus(path, split or "test", **options), True
    if path.suffix.lower() == ".csv":
        return _part(load_manifest(path, **options), split), False
    if not path.is_dir():
        raise DatasetError(path, "not a dataset: expected a manifest .csv or a dataset folder")
    if all((path / name).is_dir() for name in FER2013_SPLITS):
        return load_fer2013(path, split or "test", **options), True
    if (path / "cohn-kanade-images").is_dir() or any(path.glob("*/cohn-kanade-images")):
        return _part(load_ckplus(path, **options), split), False
    if (path / "OriginalImg").is_dir():
        return _part(load_oulu_casia(path, **options), split), False
    corpus = talking_face_layout(path)
    if corpus is not None:
        loader = {"ravdess": load_ravdess, "crema_d": load_crema_d, "mead": load_mead}[corpus]
        return _part(loader(path, **options), split), False
    corpus = posed_still_layout(path)
    if corpus is not None:
        loader = {"kdef": load_kdef, "rafd": load_rafd}[corpus]
        return _part(loader(path, **options), split), False
    return _part(load_video_folder(path, **options), split), False


def _part(dataset: Dataset, split: str | None) -> Dataset:
    """``dataset``, or its identity-disjoint part ``split``."""
    if split is None:
        return dataset
    if split not in SUBJECT_PARTS:
        raise DatasetError(dataset.name, f"split={split!r}: expected one of "
                                         f"{', '.join(SUBJECT_PARTS)}")
    return subject_split(dataset, split)
