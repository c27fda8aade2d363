"""Posed still-photo corpora in their native layouts: KDEF and RaFD.

Each photo is one still sample of a person posing an emotion; the subject is the person, so
:func:`~emotion_encoder.data.protocols.subject_split` keeps everyone in one part. These
are the usual cross-dataset probes of posed expressions by people unlike FER2013's (the
shared data has neither: the loaders read the published file names).

* **KDEF** (Lundqvist, Flykt & Öhman 1998): ``AF01/AF01ANS.JPG``, the name being session
  (A, B), sex (F, M), person (01-35), expression (AF afraid, AN angry, DI disgusted, HA
  happy, NE neutral, SA sad, SU surprised) and angle (S straight, HL / HR half left /
  right, FL / FR full profile). Straight photos only by default (``angle="all"``: every
  angle); subject = sex and number (``F01``), the same person in both sessions.
* **RaFD** (Langner et al. 2010): ``Rafd090_01_Caucasian_female_angry_frontal.jpg``: the
  camera's angle (000-180, 090 frontal), person, ethnicity, sex, expression (with
  contemptuous) and gaze (frontal, left, right). The frontal camera by default, every gaze.

>>> kdef_fields("AF01ANS.JPG")
{'session': 'A', 'person': 'F01', 'emotion': 'AN', 'angle': 'S'}
>>> rafd_fields("Rafd090_01_Caucasian_female_angry_frontal.jpg")["emotion"]
'angry'
>>> load_kdef("datasets/KDEF")                                          # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, corpus_dataset
from emotion_encoder.data.files import IMAGE_SUFFIXES, existing_dir, files_under
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label

KDEF_NAME = re.compile(r"^([AB])([FM])(\d\d)(AF|AN|DI|HA|NE|SA|SU)(S|HL|HR|FL|FR)\.\w+$",
                       re.IGNORECASE)
KDEF_EMOTIONS = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happiness",
                 "NE": "neutral", "SA": "sadness", "SU": "surprise"}
KDEF_ANGLES = ("S", "HL", "HR", "FL", "FR")
RAFD_NAME = re.compile(r"^Rafd(\d{3})_(\d+)_([A-Za-z]+)_(female|male)_([a-z]+)_"
                       r"(frontal|left|right)\.\w+$", re.IGNORECASE)
RAFD_CAMERAS = ("000", "045", "090", "135", "180")


def kdef_fields(name: str) -> dict[str, str] | None:
    """What a KDEF file name says (None if it is not one)."""
    m = KDEF_NAME.match(name)
    if m is None:
        return None
    session, sex, number, emotion, angle = (g.upper() for g in m.groups())
    return {"session": session, "person": sex + number, "emotion": emotion, "angle": angle}


def rafd_fields(name: str) -> dict[str, str] | None:
    """What a RaFD file name says (None if it is not one)."""
    m = RAFD_NAME.match(name)
    if m is None:
        return None
    camera, person, ethnicity, sex, emotion, gaze = m.groups()
    return {"camera": camera, "person": person, "ethnicity": ethnicity, "sex": sex.lower(),
            "emotion": emotion.lower(), "gaze": gaze.lower()}


def load_kdef(root: str | os.PathLike, angle: str = "S",
              **options: Unpack[LabelOptions]) -> Dataset:
    """KDEF's photos under ``root`` (any depth) taken from ``angle`` (S, HL, HR, FL, FR or
    all); subject = the person (both sessions)."""
    root = existing_dir(root)
    if angle not in KDEF_ANGLES + ("all",):
        raise DatasetError(root, f"angle {angle!r}: expected one of "
                                 f"{', '.join(KDEF_ANGLES)}, all")
    samples = []
    for path in files_under(root, IMAGE_SUFFIXES):
        fields = kdef_fields(path.name)
        if fields is None or (angle != "all" and fields["angle"] != angle):
            continue
        samples.append(Sample(label=KDEF_EMOTIONS[fields["emotion"]], dataset="kdef",
                              frames=(path,), subject=fields["person"], sequence=path.stem))
    return corpus_dataset("kdef", root, samples, "KDEF (AF01/AF01ANS.JPG) photos", **options)


def load_rafd(root: str | os.PathLike, camera: str = "090", gaze: str = "all",
              **options: Unpack[LabelOptions]) -> Dataset:
    """RaFD's photos under ``root`` (any depth) from ``camera`` (000, 045, 090, 135, 180 or
    all) with ``gaze`` (frontal, left, right or all); subject = the person."""
    root = existing_dir(root)
    if camera not in RAFD_CAMERAS + ("all",):
        raise DatasetError(root, f"camera {camera!r}: expected one of "
                                 f"{', '.join(RAFD_CAMERAS)}, all")
    if gaze not in ("frontal", "left", "right", "all"):
        raise DatasetError(root, f"gaze {gaze!r}: expected frontal, left, right or all")
    samples = []
    for path in files_under(root, IMAGE_SUFFIXES):
        fields = rafd_fields(path.name)
        if fields is None or (camera != "all" and fields["camera"] != camera) or \
                (gaze != "all" and fields["gaze"] != gaze):
            continue
        samples.append(Sample(label=normalize_label(fields["emotion"]), dataset="rafd",
                              frames=(path,), subject=f"rafd{fields['person']}",
                              sequence=path.stem))
    return corpus_dataset("rafd", root, samples,
                          "RaFD (Rafd090_01_Caucasian_female_angry_frontal.jpg) photos",
                          **options)


def posed_still_layout(root: Path) -> str | None:
    """``"kdef"`` or ``"rafd"`` when ``root``'s first two levels hold that corpus's file
    names (a few directory listings, no deep scan), else None."""
    near = list(root.iterdir())
    near += [q for p in near if p.is_dir() for q in p.iterdir()]
    if any(kdef_fields(p.name) for p in near):
        return "kdef"
    if any(rafd_fields(p.name) for p in near):
        return "rafd"
    return None
