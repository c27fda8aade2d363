"""Turn face crops into model input: resize, colour to grey when needed, standardise.

The one preprocessing path of the project: the encoder, evaluation, the face cache and
every training stage call these functions. Each frame is standardised on its own (zero
mean, unit variance), which removes most of the lighting difference between film footage
and the training sets; grey crops feed RGB networks as three copies. An optional local
contrast equalisation (CLAHE, :func:`equalize`) comes before it.

>>> import numpy as np
>>> pre = FacePreprocessor(image_size=48, channels=1)
>>> pre(np.zeros((16, 64, 64, 3), np.uint8)).shape
(16, 48, 48, 1)
>>> x = np.asarray(standardize(np.arange(8.0).reshape(2, 2, 2, 1)))
>>> x.mean(axis=(1, 2, 3)).round(6).tolist(), tuple(to_channels(x, 3).shape)
([0.0, 0.0], (2, 2, 2, 3))
"""

from __future__ import annotations

import cv2
import numpy as np


def standardize(x):
    """Per-frame standardisation of ``(..., h, w, c)`` frames: zero mean, unit variance over
    each frame. A numpy array stays numpy (no TensorFlow: the LiteRT backend runs on it);
    a tensor (tf.data in training) goes through Keras ops."""
    if isinstance(x, np.ndarray):
        x = x.astype(np.float32)
        mean = x.mean(axis=(-3, -2, -1), keepdims=True)
        var = x.var(axis=(-3, -2, -1), keepdims=True)
        return (x - mean) / np.sqrt(var + np.float32(1e-6))
    from keras import ops  # tensors only: keep this module free of TensorFlow

    x = ops.cast(x, "float32")
    mean = ops.mean(x, axis=(-3, -2, -1), keepdims=True)
    var = ops.var(x, axis=(-3, -2, -1), keepdims=True)
    return (x - mean) / ops.sqrt(var + 1e-6)


def to_channels(x, channels: int):
    """Grey frames ``(..., 1)`` as ``channels`` copies (RGB networks); others unchanged."""
    have = x.shape[-1]
    if have == channels:
        return x
    if isinstance(x, np.ndarray):
        return np.repeat(x, channels // have, axis=-1)
    from keras import ops  # tensors only, as in standardize

    return ops.repeat(x, channels // have, axis=-1)


def zoom_center(image: np.ndarray, zoom: float) -> np.ndarray:
    """The central ``1 / zoom`` of ``image`` (same aspect), not resized.

    >>> zoom_center(np.zeros((48, 48, 1)), 48 / 44).shape
    (44, 44, 1)
    """
    if zoom == 1.0:
        return image
    h, w = image.shape[:2]
    ch, cw = round(h / zoom), round(w / zoom)
    top, left = (h - ch) // 2, (w - cw) // 2
    return image[top:top + ch, left:left + cw]


def equalize(faces: np.ndarray, clip_limit: float) -> np.ndarray:
    """Grey uint8 faces ``(..., h, w, 1)`` after contrast-limited adaptive histogram
    equalisation (OpenCV's CLAHE, clip limit ``clip_limit``, 4 x 4 tiles): each region's
    contrast evened out, as cross-dataset expression work often preprocesses faces.

    >>> flat = np.full((1, 48, 48, 1), 100, np.uint8); flat[0, :24] = 110
    >>> int(np.ptp(equalize(flat, 2.0))) > int(np.ptp(flat))
    True
    """
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.shape[-1] != 1:
        raise ValueError(f"CLAHE takes grey uint8 faces (..., h, w, 1), got {faces.dtype} "
                         f"{faces.shape}")
    clahe = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(4, 4))
    flat = faces.reshape((-1,) + faces.shape[-3:])
    return np.stack([clahe.apply(face[..., 0])[..., None] for face in flat]).reshape(
        faces.shape)


def fit_crop(image: np.ndarray, size: int, channels: int, zoom: float = 1.0) -> np.ndarray:
    """An RGB crop's central ``1 / zoom`` at ``size x size``, grey when ``channels == 1``.

    >>> fit_crop(np.zeros((96, 96, 3), np.uint8), 48, 1, zoom=1.09).shape
    (48, 48, 1)
    """
    image = zoom_center(image, zoom)
    if image.shape[:2] != (size, size):
        image = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[..., None]
    return image


class FacePreprocessor:
    """Face crops ``(..., H, W, 3)`` uint8 RGB -> ``(..., size, size, channels)`` float32.

    Args:
        image_size: side of the square model input.
        channels: 1 (grey, the default preset) or 3 (RGB).
        face_margin: margin around the detected face box, as a fraction of its side.
        face_offset: vertical shift of the crop, as a fraction of its side (negative: up).
            Margin and offset make crops of BlazeFace boxes look like the training crops
            (measured on FER2013: the box covers ~0.85 of the crop, centred ~5% low).
        zoom: the network sees the central ``1 / zoom`` of each crop (:func:`zoom_center`).
            Training crops 80-100% of each face image, so a net can expect faces a little
            closer than the crop shows (Touvron et al. 2019); the presets set the zoom
            chosen on FER2013's validation split.
        clahe: when > 0, grey crops are equalised by :func:`equalize` at this clip limit
            before standardisation (a network trained so must be read so).
    """

    def __init__(self, image_size: int = 48, channels: int = 1, face_margin: float = 0.2,
                 face_offset: float = -0.05, zoom: float = 1.0, clahe: float = 0.0):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if clahe < 0:
            raise ValueError(f"clahe must be 0 (off) or a positive clip limit, got {clahe}")
        if not 1.0 <= zoom <= 2.0:
            raise ValueError(f"zoom must be between 1 and 2, got {zoom}")
        self.image_size = image_size
        self.channels = channels
        self.face_margin = face_margin
        self.face_offset = face_offset
        self.zoom = zoom
        self.clahe = clahe

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """RGB face crops of any size -> standardised model input."""
        crops = np.asarray(crops)
        lead, (h, w) = crops.shape[:-3], crops.shape[-3:-1]
        flat = crops.reshape((-1, h, w, crops.shape[-1]))
        fitted = np.stack([self.fit(frame) for frame in flat])
        return self.normalize(fitted.reshape(lead + fitted.shape[1:]))

    def fit(self, crop: np.ndarray) -> np.ndarray:
        """One RGB crop as the model's uint8 ``(size, size, channels)`` (zoom, resize, grey)."""
        return fit_crop(crop, self.image_size, self.channels, self.zoom)

    def normalize(self, fitted: np.ndarray) -> np.ndarray:
        """Fitted uint8 crops ``(..., size, size, c)`` -> standardised float32 input with the
        model's channels (cached grey crops feed an RGB model as three copies)."""
        if self.clahe:
            fitted = equalize(fitted, self.clahe)
        return np.asarray(to_channels(standardize(fitted), self.channels))

    def with_zoom(self, zoom: float) -> "FacePreprocessor":
        """The same preprocessor with another ``zoom``.

        >>> FacePreprocessor(zoom=1.09).with_zoom(1.0).zoom
        1.0
        """
        return FacePreprocessor(**{**self.get_config(), "zoom": float(zoom)})

    def get_config(self) -> dict:
        return {"image_size": self.image_size, "channels": self.channels,
                "face_margin": self.face_margin, "face_offset": self.face_offset,
                "zoom": self.zoom, **({"clahe": self.clahe} if self.clahe else {})}

    @classmethod
    def from_config(cls, config: dict) -> "FacePreprocessor":
        return cls(**config)
