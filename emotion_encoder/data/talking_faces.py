"""Acted talking-face video corpora in their native layouts: RAVDESS, CREMA-D and MEAD.

Each clip is one whole-video sample of an actor speaking a sentence with an emotion; the
subject is the actor, so :func:`~emotion_encoder.data.protocols.subject_split` keeps every
actor in one part.

* **RAVDESS** (Livingstone & Russo 2018): ``Actor_XX/MM-VV-EE-II-SS-RR-AA.mp4``, the
  seven two-digit fields modality (01 audio-video, 02 video only, 03 audio only), vocal
  channel (01 speech, 02 song), emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
  06 fearful, 07 disgust, 08 surprised), intensity (01 normal, 02 strong), statement,
  repetition and actor. Calm is read as neutral (``calm="drop"`` leaves it out).
* **CREMA-D** (Cao et al. 2014): ``VideoFlash/AAAA_SSS_EEE_LL.flv`` (actor, sentence,
  emotion ANG, DIS, FEA, HAP, NEU or SAD, level LO, MD, HI or XX), or the same names as mp4.
* **MEAD** (Wang et al. 2020): ``<actor>/video/<view>/<emotion>/level_<n>/<clip>.mp4``
  (views front, down, top, left_30, left_60, right_30, right_60; eight emotions with
  contempt; levels 1-3, neutral level 1 only).

>>> ravdess_fields("01-01-06-02-01-02-12.mp4")
{'modality': '01', 'channel': 'speech', 'emotion': 'fearful', 'intensity': 'strong', 'actor': '12'}
>>> crema_fields("1001_DFA_ANG_XX.flv")
{'actor': '1001', 'sentence': 'DFA', 'emotion': 'ANG', 'level': 'XX'}
>>> load_ravdess("datasets/RAVDESS", intensity="strong")           # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Unpack

from emotion_encoder.data.dataset import Dataset, LabelOptions, Sample, corpus_dataset
from emotion_encoder.data.files import VIDEO_SUFFIXES, existing_dir, files_under
from emotion_encoder.errors import DatasetError
from emotion_encoder.labels import normalize_label

RAVDESS_NAME = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)\.\w+$")
RAVDESS_EMOTIONS = ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
                    "surprised")
CREMA_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})\.\w+$")
MEAD_VIEWS = ("front", "down", "top", "left_30", "left_60", "right_30", "right_60")


def ravdess_fields(name: str) -> dict[str, str] | None:
    """What a RAVDESS file name says (None if it is not one)."""
    m = RAVDESS_NAME.match(name)
    if m is None:
        return None
    modality, channel, emotion, intensity, _, _, actor = m.groups()
    return {"modality": modality, "channel": "speech" if channel == "01" else "song",
            "emotion": RAVDESS_EMOTIONS[int(emotion) - 1],
            "intensity": "normal" if intensity == "01" else "strong", "actor": actor}


def crema_fields(name: str) -> dict[str, str] | None:
    """What a CREMA-D file name says (None if it is not one)."""
    m = CREMA_NAME.match(name)
    return None if m is None else dict(zip(("actor", "sentence", "emotion", "level"),
                                           m.groups()))


def load_ravdess(root: str | os.PathLike, channel: str = "speech", intensity: str = "all",
                 calm: str = "neutral", **options: Unpack[LabelOptions]) -> Dataset:
    """RAVDESS's video clips under ``root`` (any depth), audio-only files skipped and a
    video-only twin of an audio-video clip counted once. ``channel``: speech, song or all;
    ``intensity``: normal, strong or all; ``calm``: neutral or drop."""
    root = existing_dir(root)
    for value, allowed in ((channel, ("speech", "song", "all")),
                           (intensity, ("normal", "strong", "all")),
                           (calm, ("neutral", "drop"))):
        if value not in allowed:
            raise DatasetError(root, f"{value!r}: expected one of {', '.join(allowed)}")
    chosen: dict[str, tuple[str, Path, dict]] = {}
    for path in files_under(root, VIDEO_SUFFIXES):
        fields = ravdess_fields(path.name)
        if fields is None or fields["modality"] == "03":
            continue
        if channel != "all" and fields["channel"] != channel:
            continue
        if intensity != "all" and fields["intensity"] != intensity:
            continue
        if calm == "drop" and fields["emotion"] == "calm":
            continue
        key = path.name[3:]  # the same take as audio-video (01) or video only (02)
        if key not in chosen or fields["modality"] < chosen[key][0]:
            chosen[key] = (fields["modality"], path, fields)
    samples = [Sample(label=normalize_label(fields["emotion"]), dataset="ravdess", video=path,
                      subject=f"actor{fields['actor']}", sequence=path.stem)
               for _, path, fields in sorted(chosen.values(),
                                             key=lambda c: (c[2]["actor"], c[1].name))]
    return corpus_dataset("ravdess", root, samples,
                          "RAVDESS (Actor_XX/01-01-EE-II-SS-RR-AA.mp4) clips", **options)


def load_crema_d(root: str | os.PathLike, level: str = "all",
                 **options: Unpack[LabelOptions]) -> Dataset:
    """CREMA-D's video clips under ``root`` (``VideoFlash/`` or any folder of its file
    names); ``level``: LO, MD, HI, XX (unspecified) or all."""
    root = existing_dir(root)
    if level not in ("LO", "MD", "HI", "XX", "all"):
        raise DatasetError(root, f"level {level!r}: expected LO, MD, HI, XX or all")
    samples = []
    for path in files_under(root, VIDEO_SUFFIXES):
        fields = crema_fields(path.name)
        if fields is None or (level != "all" and fields["level"] != level):
            continue
        samples.append(Sample(label=normalize_label(fields["emotion"]), dataset="crema_d",
                              video=path, subject=fields["actor"], sequence=path.stem))
    return corpus_dataset("crema_d", root, samples,
                          "CREMA-D (VideoFlash/1001_DFA_ANG_XX.flv) clips", **options)


def load_mead(root: str | os.PathLike, view: str = "front", level: str = "all",
              **options: Unpack[LabelOptions]) -> Dataset:
    """MEAD's clips of one camera ``view`` under ``root`` (one actor's folder or a folder
    of them); ``level``: 1, 2, 3 or all. Subject = the actor (the folder above
    ``video/``)."""
    root = existing_dir(root)
    if view not in MEAD_VIEWS:
        raise DatasetError(root, f"view {view!r}: expected one of {', '.join(MEAD_VIEWS)}")
    if level not in ("1", "2", "3", "all"):
        raise DatasetError(root, f"level {level!r}: expected 1, 2, 3 or all")
    samples = []
    for path in files_under(root, VIDEO_SUFFIXES):
        parts = path.relative_to(root).parts
        if len(parts) < 5 or parts[-5] != "video" or parts[-4] != view \
                or not re.fullmatch(r"level_[123]", parts[-2]):
            continue
        if level != "all" and parts[-2] != f"level_{level}":
            continue
        actor = parts[-6] if len(parts) >= 6 else root.name
        samples.append(Sample(label=normalize_label(parts[-3]), dataset="mead", video=path,
                              subject=actor,
                              sequence=f"{actor}_{parts[-3]}_{parts[-2]}_{path.stem}"))
    return corpus_dataset("mead", root, samples,
                          f"MEAD (<actor>/video/{view}/<emotion>/level_<n>/NNN.mp4) clips",
                          **options)


def talking_face_layout(root: Path) -> str | None:
    """``"ravdess"``, ``"crema_d"`` or ``"mead"`` when ``root``'s first levels look like
    that corpus (a few directory listings, no deep scan), else None."""
    near = list(root.iterdir())
    near += [q for p in near if p.is_dir() for q in p.iterdir()]
    if any(p.name == "video" and p.is_dir() for p in near):
        return "mead"
    if any(re.fullmatch(r"Actor_\d\d", p.name) for p in near) or \
            any(ravdess_fields(p.name) for p in near):
        return "ravdess"
    if any(p.name == "VideoFlash" for p in near) or any(crema_fields(p.name) for p in near):
        return "crema_d"
    return None
