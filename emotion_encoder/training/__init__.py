"""Training: the still-face recipe of the shipped default (2D pretraining on stills, then
3D temporal heads on clips), fine-tuning and K-fold protocols on labelled clips, and the
face-crop cache and clip pipeline they share. One entry point: ``emotion-encoder train``.
"""

from emotion_encoder import _runtime  # noqa: F401,E402  (oneDNN on before TensorFlow loads)
