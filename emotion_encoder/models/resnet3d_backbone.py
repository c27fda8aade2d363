"""3D-ResNet backbone (R3D) that keeps a real temporal axis.

The paper's backbone is a 3D-ResNet34: a 3D convolution stem and BasicBlocks in four
stages of [3, 4, 6, 3] blocks. Usual R3D strides shrink 16 frames to 1 by the last stage;
here each stage has its own temporal stride (default ``(1, 1, 2, 2)``: 16 frames -> 4 time
steps) so the ConvLSTM and the Transformer downstream see a sequence.

Layer names are the same for every configuration, and ``dims=2`` builds the 2D twin of
the network, so 2D weights (trained on still faces) inflate into the 3D net one-to-one.

>>> backbone = ResNet3DBackbone(stackwise_num_filters=(8, 16, 32, 64), stem_filters=8,
...                             num_frames=8, image_size=32, channels=1)
>>> backbone.output_shape
(None, 2, 1, 1, 64)
"""

from __future__ import annotations

from typing import Sequence

from emotion_encoder import _runtime  # noqa: F401  (oneDNN before TF)
import keras
from keras import layers, ops

from emotion_encoder.models.style_mixing import StyleMixing

_BN = {"epsilon": 1e-5, "momentum": 0.9}


@keras.saving.register_keras_serializable(package="emotion_encoder")
class FrameConv3D(layers.Conv3D):
    """A bias-free "same" Conv3D computed as one 2D convolution per output frame: the
    ``t`` input frames its kernel spans (temporally strided and zero-padded as Conv3D
    pads them) are stacked on the channel axis, and the kernel is laid out to match. The
    same weights (in the same order) and outputs as Conv3D, and TFLite's fast CONV_2D
    instead of its CONV_3D (3.6x slower than Keras on the ``fast`` preset). Only the graph
    exported for LiteRT is built with it (``frame_convs=True``); the Keras weights files
    keep plain Conv3D layers. ``keep_every=k`` computes only every k-th output frame
    (0, k, 2k, ...) of the same convolution: what a later temporal stride keeps.

    >>> import numpy as np
    >>> x = np.random.default_rng(0).normal(size=(2, 5, 9, 9, 3)).astype("float32")
    >>> for kernel, strides in (((1, 3, 3), (2, 2, 2)), ((3, 3, 3), (2, 1, 1)),
    ...                         ((3, 7, 7), (1, 2, 2))):
    ...     a = FrameConv3D(4, kernel, strides, padding="same", use_bias=False)
    ...     b = layers.Conv3D(4, kernel, strides, padding="same", use_bias=False)
    ...     _ = a(x), b(x); b.set_weights(a.get_weights())
    ...     print(bool(np.allclose(a(x), b(x), atol=1e-5)), tuple(a(x).shape))
    True (2, 3, 5, 5, 4)
    True (2, 3, 9, 9, 4)
    True (2, 5, 5, 5, 4)
    >>> c = FrameConv3D(4, (3, 3, 3), padding="same", use_bias=False, keep_every=2)
    >>> _ = c(x); b = layers.Conv3D(4, (3, 3, 3), padding="same", use_bias=False)
    >>> _ = b(x); b.set_weights(c.get_weights())
    >>> bool(np.allclose(c(x), b(x)[:, ::2], atol=1e-5)), tuple(c(x).shape)
    (True, (2, 3, 9, 9, 4))
    """

    def __init__(self, *args, keep_every: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep_every = int(keep_every)

    def get_config(self) -> dict:
        return {**super().get_config(), "keep_every": self.keep_every}

    def compute_output_shape(self, input_shape):
        batch, frames, *rest = super().compute_output_shape(input_shape)
        return (batch, frames if frames is None else -(-frames // self.keep_every), *rest)

    def call(self, inputs):
        if self.use_bias or self.padding != "same" or any(d != 1 for d in self.dilation_rate):
            if self.keep_every != 1:
                raise ValueError("keep_every needs a bias-free, undilated 'same' convolution")
            return super().call(inputs)
        taps = self.kernel_size[0]
        step, *spatial = self.strides
        frames_in = inputs.shape[1]
        steps = -(-frames_in // step)  # "same": ceil(frames / stride) output frames
        pad = max((steps - 1) * step + taps - frames_in, 0)
        x = ops.pad(inputs, [(0, 0), (pad // 2, pad - pad // 2), (0, 0), (0, 0), (0, 0)]) \
            if pad else inputs
        step, steps = step * self.keep_every, -(-steps // self.keep_every)
        last = (steps - 1) * step + 1
        x = ops.concatenate([x[:, t:t + last:step] for t in range(taps)], axis=-1) \
            if taps > 1 else x[:, :last:step]
        height, width, channels = x.shape[2:]
        kh, kw, c_in, c_out = self.kernel.shape[1:]
        kernel = ops.reshape(ops.transpose(self.kernel, (1, 2, 0, 3, 4)),
                             (kh, kw, taps * c_in, c_out))
        y = ops.conv(ops.reshape(x, (-1, height, width, channels)), kernel,
                     strides=tuple(spatial), padding="same")
        return self.activation(ops.reshape(y, (-1, steps) + tuple(y.shape[1:])))


def _conv(dims: int, filters: int, kernel: Sequence[int], strides: Sequence[int], name: str,
          frame_convs: bool = False, keep_every: int = 1):
    """A bias-free convolution; ``kernel``/``strides`` are (t, h, w) and lose ``t`` in 2D;
    with ``frame_convs`` a 3D kernel is a :class:`FrameConv3D` (``keep_every``: see it)."""
    if dims == 2:
        return layers.Conv2D(filters, tuple(kernel[1:]), tuple(strides[1:]), padding="same",
                             use_bias=False, kernel_initializer="he_normal", name=name)
    if frame_convs:
        return FrameConv3D(filters, tuple(kernel), tuple(strides), padding="same",
                           use_bias=False, kernel_initializer="he_normal", name=name,
                           keep_every=keep_every)
    return layers.Conv3D(filters, tuple(kernel), tuple(strides), padding="same",
                         use_bias=False, kernel_initializer="he_normal", name=name)


def unused_frame_stride(stage_kernels: Sequence[int], temporal_strides: Sequence[int],
                        spatial_strides: Sequence[int], filters: Sequence[int],
                        stem_filters: int) -> tuple[int, int]:
    """``(stage, stride)`` when the first temporal stride of the network (``stride`` at the
    first block of ``stage``) only drops frames that per-frame layers computed: every
    convolution from the stem's output to it has a temporal kernel of 1, so the frames it
    drops fed nothing else. The stem can then compute only the kept frames and the stage
    run with a temporal stride of 1, with the same weights and outputs. ``(-1, 1)`` when
    not (a temporal kernel in the way, or a block that would lose its projection).

    >>> unused_frame_stride([1, 1, 3, 1], [1, 2, 2, 1], [1, 2, 2, 2],
    ...                     [32, 64, 128, 256], 32)                      # default's layout
    (1, 2)
    >>> unused_frame_stride([3, 3, 3, 3], [1, 1, 2, 2], [1, 2, 2, 2],
    ...                     [16, 32, 64, 128], 16)                       # fast's: none
    (-1, 1)
    """
    for stage, (t_kernel, t_stride) in enumerate(zip(stage_kernels, temporal_strides)):
        if t_kernel != 1:
            return -1, 1
        if t_stride != 1:
            width_in = filters[stage - 1] if stage else stem_filters
            keeps_projection = spatial_strides[stage] != 1 or width_in != filters[stage]
            return (stage, t_stride) if keeps_projection else (-1, 1)
    return -1, 1


def basic_block(x, filters: int, strides: Sequence[int], temporal_kernel: int, dims: int,
                name: str, frame_convs: bool = False):
    """Two 3x3(x3) convolutions with batch norm and an identity or projection shortcut."""
    kernel = (temporal_kernel, 3, 3)
    shortcut = x
    if any(s != 1 for s in strides) or x.shape[-1] != filters:
        shortcut = _conv(dims, filters, (1, 1, 1), strides, f"{name}_proj", frame_convs)(x)
        shortcut = layers.BatchNormalization(**_BN, name=f"{name}_proj_bn")(shortcut)
    y = _conv(dims, filters, kernel, strides, f"{name}_conv1", frame_convs)(x)
    y = layers.BatchNormalization(**_BN, name=f"{name}_bn1")(y)
    y = layers.ReLU(name=f"{name}_relu1")(y)
    y = _conv(dims, filters, kernel, (1, 1, 1), f"{name}_conv2", frame_convs)(y)
    y = layers.BatchNormalization(**_BN, gamma_initializer="zeros", name=f"{name}_bn2")(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


@keras.saving.register_keras_serializable(package="emotion_encoder")
class ResNet3DBackbone(keras.Model):
    """R3D backbone mapping ``(batch, frames, size, size, channels)`` clips to feature maps.

    Args:
        stackwise_num_blocks: BasicBlocks per stage; ``(3, 4, 6, 3)`` is ResNet34.
        stackwise_num_filters: widths per stage; the paper uses ``(64, 128, 256, 512)``.
        stackwise_spatial_strides: spatial stride of each stage's first block.
        stackwise_temporal_strides: temporal stride of each stage's first block.
        stem_filters: width of the stem convolution.
        stem_kernel: stem kernel as ``(t, h, w)``.
        stem_spatial_stride: spatial stride of the stem convolution.
        stem_pool: add a 3x3 spatial max-pool with stride 2 after the stem.
        temporal_kernel: temporal extent of the block convolutions, for every stage or
            one per stage (``(1, 1, 3, 1)``: per-frame convolutions where the maps are
            large, temporal ones only in stage 3; cheaper, as in Tran et al.'s MC nets).
        num_frames, image_size, channels: the clip shape.
        dims: 3 for the video network, 2 for its still-image twin (weights inflate 2D->3D).
        frame_convs: build the 3D convolutions as :class:`FrameConv3D` (the exported
            LiteRT graph; not saved in the config, weights load by order), computing no
            frame that is dropped unused (:func:`unused_frame_stride`): the same outputs.
        style_mixing: in training, the probability per batch of mixing the faces' feature
            statistics after stages 1 and 2 (:class:`StyleMixing`; 0: no such layer).
    """

    def __init__(
        self,
        stackwise_num_blocks: Sequence[int] = (3, 4, 6, 3),
        stackwise_num_filters: Sequence[int] = (64, 128, 256, 512),
        stackwise_spatial_strides: Sequence[int] = (1, 2, 2, 2),
        stackwise_temporal_strides: Sequence[int] = (1, 1, 2, 2),
        stem_filters: int = 64,
        stem_kernel: Sequence[int] = (3, 7, 7),
        stem_spatial_stride: int = 2,
        stem_pool: bool = True,
        temporal_kernel: int | Sequence[int] = 3,
        num_frames: int = 16,
        image_size: int = 112,
        channels: int = 3,
        dims: int = 3,
        frame_convs: bool = False,
        style_mixing: float = 0.0,
        **kwargs,
    ):
        if dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {dims}")
        if len({len(stackwise_num_blocks), len(stackwise_num_filters),
                len(stackwise_spatial_strides), len(stackwise_temporal_strides)}) != 1:
            raise ValueError("the stackwise_* arguments must all have one entry per stage")
        stage_kernels = [temporal_kernel] * len(stackwise_num_blocks) \
            if isinstance(temporal_kernel, int) else list(temporal_kernel)
        if len(stage_kernels) != len(stackwise_num_blocks):
            raise ValueError("temporal_kernel needs one entry per stage or a single int")
        shape = (num_frames, image_size, image_size, channels)
        inputs = keras.Input(shape=shape if dims == 3 else shape[1:], name="frames")
        # the export computes no frame that a later temporal stride would drop unused
        hoisted, hoisted_stride = unused_frame_stride(
            stage_kernels, stackwise_temporal_strides, stackwise_spatial_strides,
            stackwise_num_filters, stem_filters) if frame_convs and dims == 3 else (-1, 1)
        x = _conv(dims, stem_filters, stem_kernel, (1, stem_spatial_stride, stem_spatial_stride),
                  "stem_conv", frame_convs, keep_every=hoisted_stride)(inputs)
        x = layers.BatchNormalization(**_BN, name="stem_bn")(x)
        x = layers.ReLU(name="stem_relu")(x)
        if stem_pool:
            pool = layers.MaxPooling3D((1, 3, 3), (1, 2, 2), padding="same", name="stem_pool") \
                if dims == 3 else layers.MaxPooling2D(3, 2, padding="same", name="stem_pool")
            x = pool(x)
        for stage, (blocks, filters, s_stride, t_stride, t_kernel) in enumerate(zip(
                stackwise_num_blocks, stackwise_num_filters,
                stackwise_spatial_strides, stackwise_temporal_strides, stage_kernels)):
            t_stride = 1 if stage == hoisted else t_stride
            for block in range(blocks):
                strides = (t_stride, s_stride, s_stride) if block == 0 else (1, 1, 1)
                x = basic_block(x, filters, strides, t_kernel, dims,
                                name=f"stage{stage + 1}_block{block + 1}",
                                frame_convs=frame_convs)
            if style_mixing and stage < 2:
                x = StyleMixing(style_mixing, name=f"stage{stage + 1}_style_mixing")(x)
        super().__init__(inputs=inputs, outputs=x, **kwargs)
        self.stackwise_num_blocks = tuple(stackwise_num_blocks)
        self.stackwise_num_filters = tuple(stackwise_num_filters)
        self.stackwise_spatial_strides = tuple(stackwise_spatial_strides)
        self.stackwise_temporal_strides = tuple(stackwise_temporal_strides)
        self.stem_filters = stem_filters
        self.stem_kernel = tuple(stem_kernel)
        self.stem_spatial_stride = stem_spatial_stride
        self.stem_pool = stem_pool
        self.temporal_kernel = temporal_kernel if isinstance(temporal_kernel, int) \
            else tuple(temporal_kernel)
        self.num_frames = num_frames
        self.image_size = image_size
        self.channels = channels
        self.dims = dims
        self.style_mixing = float(style_mixing)

    @property
    def output_steps(self) -> int:
        """Time steps left at the last stage (what the ConvLSTM and Transformer see)."""
        return int(self.output_shape[1]) if self.dims == 3 else 1

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "stackwise_num_blocks": list(self.stackwise_num_blocks),
            "stackwise_num_filters": list(self.stackwise_num_filters),
            "stackwise_spatial_strides": list(self.stackwise_spatial_strides),
            "stackwise_temporal_strides": list(self.stackwise_temporal_strides),
            "stem_filters": self.stem_filters,
            "stem_kernel": list(self.stem_kernel),
            "stem_spatial_stride": self.stem_spatial_stride,
            "stem_pool": self.stem_pool,
            "temporal_kernel": self.temporal_kernel if isinstance(self.temporal_kernel, int)
            else list(self.temporal_kernel),
            "num_frames": self.num_frames,
            "image_size": self.image_size,
            "channels": self.channels,
            "dims": self.dims,
            **({"style_mixing": self.style_mixing} if self.style_mixing else {}),
        }

    @classmethod
    def from_config(cls, config: dict) -> "ResNet3DBackbone":
        return cls(**config)
