"""Oulu-CASIA NIR&VIS in its native layout ``OriginalImg/VL/Strong/P###/<Emotion>/###.jpeg``.

Six classes (Anger, Disgust, Fear, Happiness, Sadness, Surprise); each sequence runs from
neutral to the apex. ``imaging`` picks visible light (``VL``) or near infrared (``NI``),
``illumination`` the lighting (``Strong``, ``Weak``, ``Dark``).

>>> oulu = load_oulu_casia("datasets/Oulu-CASIA")                       # doctest: +SKIP
>>> len(oulu), oulu.labels                                              # doctest: +SKIP
(480, ('anger', 'disgust', 'fear', 'happiness', 'sadness', 'surprise'))
"""

from __future__ import annotations

import os
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, make_dataset
from emotion_encoder.data.files import class_folders, existing_dir, image_frames
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label


def load_oulu_casia(root: str | os.PathLike, imaging: str = "VL", illumination: str = "Strong",
                    variant: str = "OriginalImg", **options: Unpack[LabelOptions]) -> Dataset:
    """Each ``P###/<Emotion>/`` folder as one sample of its frames; subject = ``P###``.

    ``root`` holds ``variant/imaging/illumination/`` (``OriginalImg/VL/Strong/`` by default).
    """
    folder = existing_dir(root) / variant / imaging / illumination
    if not folder.is_dir():
        raise DatasetError(root, f"no {variant}/{imaging}/{illumination}/ folder "
                                 "(imaging: VL or NI; illumination: Strong, Weak or Dark)")
    samples = [Sample(label=normalize_label(emotion_dir.name), dataset="oulu_casia",
                      frames=image_frames(emotion_dir), subject=subject_dir.name,
                      sequence=f"{subject_dir.name}_{emotion_dir.name}")
               for subject_dir in class_folders(folder)
               for emotion_dir in class_folders(subject_dir)]
    if not samples:
        raise DatasetError(folder, "no P###/<Emotion>/ folders")
    return make_dataset("oulu_casia", folder, samples, **options)
