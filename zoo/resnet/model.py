"""Residual networks (He et al. 2015, "Deep Residual Learning for Image Recognition", arXiv 1512.03385).

One configurable class, `ResNet`, covers both networks of the seed's ResNet experiments:

- ResNet-34 for 32x32 CIFAR-10 images: basic blocks [3, 4, 6, 3], a 3x3 stride-1 stem and no max-pool, so the four
  stages see 32, 16, 8 and 4 pixel feature maps (`build_resnet34`).
- ResNet-50 v1 for 224x224 ImageNet images: bottleneck blocks [3, 4, 6, 3] with the stride on the first 1x1
  convolution, a 7x7 stride-2 stem and a 3x3 stride-2 max-pool (`build_resnet50`). With `conv_bias=True` and a
  1000-class head its layers, layer names and parameter count (25,636,712) are those of
  `keras.applications.ResNet50(weights=None)`.

Both take a width multiplier and per-stage block counts for CPU-sized variants, a dropout rate before the classifier
(the seed's "dropout + gradient noise" setting) and SGD-style weight decay. The network is written with Keras layers
only, so it runs on the TensorFlow and the JAX backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from zoo.config import TrainConfig

_PACKAGE = "keras_gradnoise_zoo"

# Per-channel statistics of the 0-255 pixel values, applied inside the model so that a saved model takes raw
# images. CIFAR-10: the 50,000 training images; ImageNet: the usual torchvision/Caffe values.
INPUT_STATISTICS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "cifar10": ((125.307, 122.950, 113.865), (62.993, 62.089, 66.705)),
    "imagenet": ((123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
}
_BLOCK_TYPES = ("basic", "bottleneck")
_STEMS = ("cifar", "imagenet")
_BASE_WIDTHS = (64, 128, 256, 512)
# keras.applications' value; the ResNet-50 equivalence test relies on the two models computing the same thing.
_BN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ResNet(keras.Model):
    """A v1 residual network (post-activation blocks, projection shortcuts where the shape changes).

    Reference: He, Zhang, Ren, Sun 2015, "Deep Residual Learning for Image Recognition" (arXiv 1512.03385); the
    CIFAR variant with a 3x3 stem and the ImageNet stage widths is the common ResNet-34-on-CIFAR layout.

    Args:
        num_classes: size of the classifier; the model outputs logits of shape (batch, num_classes).
        input_shape: (height, width, channels) of the images. Pixel values are expected in [0, 255].
        block_type: "basic" (two 3x3 convolutions, ResNet-18/34) or "bottleneck" (1x1, 3x3, 1x1 with 4x expansion,
            ResNet-50/101/152).
        stage_blocks: number of residual blocks in each stage; stage k (k >= 1) halves the resolution.
        width_multiplier: scales the stage widths 64, 128, 256, 512 (0.25 gives 16, 32, 64, 128).
        stem: "cifar" (3x3 stride-1 convolution, no pooling) or "imagenet" (7x7 stride-2 convolution and 3x3
            stride-2 max-pool).
        dropout: dropout rate applied to the pooled features before the classifier; 0 disables it.
        weight_decay: SGD-style weight decay coefficient lambda: an L2 penalty (lambda / 2) * ||w||^2 on every
            convolution and dense kernel, so the gradient gains lambda * w exactly as in He et al. (and in
            PyTorch's SGD `weight_decay`). Batch-norm parameters and biases are not decayed.
        conv_bias: whether convolutions have a bias. False is the usual choice (batch norm follows every
            convolution); True reproduces the keras.applications / Caffe ResNet-50 parameter layout.
        bn_momentum: batch-norm moving-average momentum (0.9 keeps the statistics current in short runs).
        input_normalization: "cifar10", "imagenet" or None: which per-channel mean/std the model subtracts and
            divides by on its own input; None leaves the input as given.
        **kwargs: `name`, `trainable`, `dtype` of keras.Model.

    The defaults are the CIFAR ResNet-34 of `build_resnet34`.

    Raises:
        ValueError: naming the argument that is out of range.
    """

    def __init__(
        self,
        num_classes: int = 10,
        input_shape: Sequence[int] = (32, 32, 3),
        block_type: str = "basic",
        stage_blocks: Sequence[int] = (3, 4, 6, 3),
        width_multiplier: float = 1.0,
        stem: str = "cifar",
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        conv_bias: bool = False,
        bn_momentum: float = 0.9,
        input_normalization: str | None = "cifar10",
        **kwargs: Any,
    ) -> None:
        input_shape = tuple(int(d) for d in input_shape)
        stage_blocks = tuple(stage_blocks)
        _validate(
            num_classes,
            input_shape,
            block_type,
            stage_blocks,
            width_multiplier,
            stem,
            dropout,
            weight_decay,
            bn_momentum,
            input_normalization,
        )
        builder = _LayerFactory(weight_decay=weight_decay, conv_bias=conv_bias, bn_momentum=bn_momentum)
        inputs = keras.Input(shape=input_shape, name="images")
        x = inputs
        if input_normalization is not None:
            mean, std = INPUT_STATISTICS[input_normalization]
            x = keras.layers.Normalization(
                mean=list(mean), variance=[s * s for s in std], name="input_normalization"
            )(x)
        if stem == "imagenet":
            x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(x)
            x = builder.conv(x, _width(64, width_multiplier), 7, 2, "conv1_conv", padding="valid")
            x = builder.norm(x, "conv1_bn")
            x = keras.layers.Activation("relu", name="conv1_relu")(x)
            x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
            x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
        else:
            x = builder.conv(x, _width(64, width_multiplier), 3, 1, "conv1_conv")
            x = builder.norm(x, "conv1_bn")
            x = keras.layers.Activation("relu", name="conv1_relu")(x)
        block = _basic_block if block_type == "basic" else _bottleneck_block
        for stage, blocks in enumerate(stage_blocks):
            width = _width(_BASE_WIDTHS[min(stage, 3)] * 2 ** max(stage - 3, 0), width_multiplier)
            for index in range(blocks):
                stride = 2 if stage > 0 and index == 0 else 1
                x = block(builder, x, width, stride, f"conv{stage + 2}_block{index + 1}")
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout > 0:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        outputs = keras.layers.Dense(
            num_classes,
            kernel_initializer="he_normal",
            kernel_regularizer=builder.regularizer(),
            name="logits",
        )(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.num_classes = num_classes
        self.image_shape = input_shape
        self.block_type = block_type
        self.stage_blocks = stage_blocks
        self.width_multiplier = width_multiplier
        self.stem = stem
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.conv_bias = conv_bias
        self.bn_momentum = bn_momentum
        self.input_normalization = input_normalization

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "num_classes": self.num_classes,
            "input_shape": list(self.image_shape),
            "block_type": self.block_type,
            "stage_blocks": list(self.stage_blocks),
            "width_multiplier": self.width_multiplier,
            "stem": self.stem,
            "dropout": self.dropout,
            "weight_decay": self.weight_decay,
            "conv_bias": self.conv_bias,
            "bn_momentum": self.bn_momentum,
            "input_normalization": self.input_normalization,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ResNet:
        return cls(**config)


def build_resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34 for 32x32 images (CIFAR-10): basic blocks [3, 4, 6, 3], 3x3 stem, no max-pool.

    Args:
        **kwargs: any `ResNet` argument; those not given take the CIFAR ResNet-34 values, which are `ResNet`'s
            own defaults.

    Returns:
        An uncompiled `ResNet` outputting logits.
    """
    return ResNet(**{"name": "resnet34", **kwargs})


def build_resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50 v1 for 224x224 images (ImageNet): bottleneck blocks [3, 4, 6, 3], 7x7 stem, max-pool.

    With the defaults the layer names, shapes and parameter count (25,636,712) equal
    `keras.applications.ResNet50(weights=None)`: v1 layout, conv biases, projection shortcuts.

    Args:
        **kwargs: any `ResNet` argument; those not given take the ImageNet ResNet-50 values.

    Returns:
        An uncompiled `ResNet` outputting logits.
    """
    # Where ResNet-50 differs from `ResNet`'s defaults (the CIFAR ResNet-34); the stage blocks are the same.
    imagenet_resnet50: dict[str, Any] = {
        "num_classes": 1000,
        "input_shape": (224, 224, 3),
        "block_type": "bottleneck",
        "stem": "imagenet",
        "conv_bias": True,
        "input_normalization": "imagenet",
        "name": "resnet50",
    }
    return ResNet(**{**imagenet_resnet50, **kwargs})


def compile_kwargs(config: TrainConfig) -> dict[str, Any]:
    """Logit outputs and integer labels: cross-entropy from logits, accuracy (and top-5 on ImageNet)."""
    metrics: list[Any] = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    if config.data_kwargs.get("dataset") == "imagenet2012":
        metrics.append(keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="top5_accuracy"))
    return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": metrics}


class _LayerFactory:
    """Makes the convolution and batch-norm layers of one network with its shared settings."""

    def __init__(self, weight_decay: float, conv_bias: bool, bn_momentum: float) -> None:
        self.weight_decay = weight_decay
        self.conv_bias = conv_bias
        self.bn_momentum = bn_momentum

    def regularizer(self) -> keras.regularizers.Regularizer | None:
        # Keras' L2(l) adds l * sum(w^2), whose gradient is 2 l w; halving gives SGD weight decay lambda * w.
        return keras.regularizers.L2(self.weight_decay / 2) if self.weight_decay > 0 else None

    def conv(self, x: Any, filters: int, kernel: int, stride: int, name: str, padding: str = "same") -> Any:
        return keras.layers.Conv2D(
            filters,
            kernel,
            strides=stride,
            padding=padding,
            use_bias=self.conv_bias,
            kernel_initializer="he_normal",
            kernel_regularizer=self.regularizer(),
            name=name,
        )(x)

    def norm(self, x: Any, name: str) -> Any:
        return keras.layers.BatchNormalization(momentum=self.bn_momentum, epsilon=_BN_EPSILON, name=name)(x)


def _basic_block(builder: _LayerFactory, x: Any, width: int, stride: int, name: str) -> Any:
    shortcut = _shortcut(builder, x, width, stride, name)
    y = builder.conv(x, width, 3, stride, f"{name}_1_conv")
    y = builder.norm(y, f"{name}_1_bn")
    y = keras.layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = builder.conv(y, width, 3, 1, f"{name}_2_conv")
    y = builder.norm(y, f"{name}_2_bn")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _bottleneck_block(builder: _LayerFactory, x: Any, width: int, stride: int, name: str) -> Any:
    # v1: the stride sits on the first 1x1 convolution (He et al. 2015, keras.applications), not the 3x3 ("v1.5").
    shortcut = _shortcut(builder, x, 4 * width, stride, name)
    y = builder.conv(x, width, 1, stride, f"{name}_1_conv")
    y = builder.norm(y, f"{name}_1_bn")
    y = keras.layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = builder.conv(y, width, 3, 1, f"{name}_2_conv")
    y = builder.norm(y, f"{name}_2_bn")
    y = keras.layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = builder.conv(y, 4 * width, 1, 1, f"{name}_3_conv")
    y = builder.norm(y, f"{name}_3_bn")
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return keras.layers.Activation("relu", name=f"{name}_out")(y)


def _shortcut(builder: _LayerFactory, x: Any, out_channels: int, stride: int, name: str) -> Any:
    """Identity when the shape is kept, else a 1x1 projection with batch norm (He et al.'s option B)."""
    if stride == 1 and x.shape[-1] == out_channels:
        return x
    y = builder.conv(x, out_channels, 1, stride, f"{name}_0_conv")
    return builder.norm(y, f"{name}_0_bn")


def _width(base: int, multiplier: float) -> int:
    return max(1, int(round(base * multiplier)))


def _validate(
    num_classes: Any,
    input_shape: tuple[int, ...],
    block_type: Any,
    stage_blocks: tuple[Any, ...],
    width_multiplier: Any,
    stem: Any,
    dropout: Any,
    weight_decay: Any,
    bn_momentum: Any,
    input_normalization: Any,
) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an integer >= 2; got {num_classes!r}.")
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ValueError(
            f"input_shape must be (height, width, channels) with positive sizes; got {input_shape!r}."
        )
    if block_type not in _BLOCK_TYPES:
        raise ValueError(f"block_type must be one of {_BLOCK_TYPES}; got {block_type!r}.")
    if not stage_blocks or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in stage_blocks):
        raise ValueError(
            f"stage_blocks must be a non-empty sequence of positive integers; got {stage_blocks!r}."
        )
    if (
        isinstance(width_multiplier, bool)
        or not isinstance(width_multiplier, (int, float))
        or width_multiplier <= 0
    ):
        raise ValueError(f"width_multiplier must be a number > 0; got {width_multiplier!r}.")
    if stem not in _STEMS:
        raise ValueError(f"stem must be one of {_STEMS}; got {stem!r}.")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"dropout must be a number in [0, 1); got {dropout!r}.")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or weight_decay < 0:
        raise ValueError(f"weight_decay must be a number >= 0; got {weight_decay!r}.")
    if isinstance(bn_momentum, bool) or not isinstance(bn_momentum, (int, float)) or not 0 <= bn_momentum < 1:
        raise ValueError(f"bn_momentum must be a number in [0, 1); got {bn_momentum!r}.")
    if input_normalization is not None and input_normalization not in INPUT_STATISTICS:
        raise ValueError(
            f"input_normalization must be one of {sorted(INPUT_STATISTICS)} or None; got {input_normalization!r}."
        )
    # Each stage after the first halves the resolution; the ImageNet stem divides it by 4 first.
    reduction = 2 ** (len(stage_blocks) - 1) * (4 if stem == "imagenet" else 1)
    if min(input_shape[:2]) < reduction:
        raise ValueError(
            f"input_shape {input_shape!r} is too small for {len(stage_blocks)} stages with the {stem!r} stem: "
            f"height and width must be at least {reduction}."
        )
