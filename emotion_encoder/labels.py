"""Canonical emotion labels and the aliases that datasets use for them.

>>> normalize_label("Happy")
'happiness'
>>> normalize_label("surprised")
'surprise'
>>> normalize_label("DIS"), normalize_label("AF")
('disgust', 'fear')
"""

from __future__ import annotations

CANONICAL_LABELS: tuple[str, ...] = (
    "anger",
    "disgust",
    "fear",
    "happiness",
    "sadness",
    "surprise",
    "neutral",
)
"""The seven labels of the shipped model, in output order."""

EXTRA_LABELS: tuple[str, ...] = ("contempt",)
"""Labels some datasets add (CK+ has contempt)."""

ALIASES: dict[str, str] = {
    "angry": "anger",
    "anger": "anger",
    "mad": "anger",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happiness",
    "happiness": "happiness",
    "joy": "happiness",
    "sad": "sadness",
    "sadness": "sadness",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
    "contempt": "contempt",
    "contemptuous": "contempt",
    # the codes of CREMA-D (ANG, DIS, ...), KDEF (AF, AN, ...) and JAFFE (FE, HA, ...)
    "ang": "anger", "an": "anger",
    "dis": "disgust", "di": "disgust",
    "fea": "fear", "fe": "fear", "af": "fear",
    "hap": "happiness", "ha": "happiness",
    "sa": "sadness",
    "sur": "surprise", "su": "surprise",
    "neu": "neutral", "ne": "neutral",
}


def normalize_label(name: str) -> str:
    """Map a dataset's label name onto the canonical label; unknown names pass through lower-cased."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)
