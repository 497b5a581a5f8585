"""ResNet (He et al. 2016) as defined by torchvision / timm `resnet18/34/50`."""

import keras
from keras import layers

from tas_keras.errors import InputError
from tas_keras.layers import BatchNormalization, ZeroPadding2D
from tas_keras.models.backbone import Backbone, check_image_size, check_lengths, check_positive_int, constructor_args
from tas_keras.serialization import PACKAGE

BLOCKS = {"basic": 1, "bottleneck": 4}  # block type -> channel expansion


def conv_bn(x, filters, kernel, stride, name, relu=True, zero_gamma=False):
    """Conv (torch-style symmetric padding, no bias) + BatchNorm (+ ReLU)."""
    if kernel > 1:
        x = ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(
        filters,
        kernel,
        strides=stride,
        use_bias=False,
        kernel_initializer=keras.initializers.HeNormal(),
        name=f"{name}_conv",
    )(x)
    x = BatchNormalization(
        momentum=0.9,
        epsilon=1e-5,
        gamma_initializer="zeros" if zero_gamma else "ones",
        name=f"{name}_bn",
    )(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def residual_block(x, block, width, stride, name):
    out_channels = width * BLOCKS[block]
    shortcut = x
    if stride != 1 or x.shape[-1] != out_channels:
        shortcut = conv_bn(x, out_channels, 1, stride, f"{name}_downsample", relu=False)
    if block == "basic":
        y = conv_bn(x, width, 3, stride, f"{name}_1")
        y = conv_bn(y, width, 3, 1, f"{name}_2", relu=False, zero_gamma=True)
    else:  # the stride sits on the 3x3 conv (ResNet v1.5), as in torchvision / timm
        y = conv_bn(x, width, 1, 1, f"{name}_1")
        y = conv_bn(y, width, 3, stride, f"{name}_2")
        y = conv_bn(y, out_channels, 1, 1, f"{name}_3", relu=False, zero_gamma=True)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResNet(Backbone):
    family = "cnn"

    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        block="basic",
        depths=(2, 2, 2, 2),
        widths=(64, 128, 256, 512),
        stem_width=64,
        **kwargs,
    ):
        config = constructor_args(locals())
        name = kwargs.get("name", "resnet")
        if block not in BLOCKS:
            raise InputError(f"{name}: unknown block {block!r}; valid blocks: {sorted(BLOCKS)}.")
        check_lengths(name, depths=depths, widths=widths)
        if len(depths) != 4:
            raise InputError(f"{name}: ResNet needs 4 stages; got depths={list(depths)}.")
        check_positive_int(num_classes, "num_classes")
        check_image_size(image_size, 32, name)

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = conv_bn(inputs, stem_width, 7, 2, "stem")
        x = ZeroPadding2D(1, name="stem_pool_pad")(x)  # post-ReLU, so zero padding == -inf padding
        x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
        stages = []
        for s, (depth, width) in enumerate(zip(depths, widths)):
            for b in range(depth):
                stride = 2 if (b == 0 and s > 0) else 1
                x = residual_block(x, block, width, stride, f"stage{s + 1}_block{b + 1}")
            stages.append((x, 4 * 2**s, "map"))
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        logits = layers.Dense(num_classes, name="head")(x)
        super().__init__(inputs, logits, stages, config, **kwargs)
