"""MobileNetV2 (Sandler et al. 2018) as built by timm's `mobilenetv2_*` (efficientnet builder)."""

import keras
from keras import layers

from tas_keras.errors import InputError
from tas_keras.layers import BatchNormalization, DepthwiseConv2D, ZeroPadding2D
from tas_keras.models.backbone import Backbone, check_image_size, check_positive_int, constructor_args
from tas_keras.serialization import PACKAGE

# (expansion, channels, repeats, stride) per block group, from the paper / timm arch_def.
BLOCK_GROUPS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# Groups after which a stage (S1..S3) ends: reductions 4, 8, 16. S4 is the 1x1 head conv (reduction 32).
STAGE_END_GROUPS = (1, 2, 4)


def make_divisible(value, divisor=8, round_limit=0.9):
    """timm's channel rounding for width multipliers."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < round_limit * value else rounded


def conv_bn(x, filters, kernel, stride, name, act=True, depthwise=False):
    if kernel > 1:
        x = ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    common = dict(strides=stride, use_bias=False, name=f"{name}_conv")
    if depthwise:
        x = DepthwiseConv2D(kernel, depthwise_initializer=keras.initializers.HeNormal(), **common)(x)
    else:
        x = layers.Conv2D(filters, kernel, kernel_initializer=keras.initializers.HeNormal(), **common)(x)
    x = BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{name}_bn")(x)
    return layers.ReLU(max_value=6.0, name=f"{name}_relu6")(x) if act else x


def inverted_residual(x, expansion, out_channels, stride, name):
    in_channels = x.shape[-1]
    y = x
    if expansion != 1:
        y = conv_bn(y, in_channels * expansion, 1, 1, f"{name}_expand")
    y = conv_bn(y, None, 3, stride, f"{name}_dw", depthwise=True)
    y = conv_bn(y, out_channels, 1, 1, f"{name}_project", act=False)
    if stride == 1 and in_channels == out_channels:
        y = layers.Add(name=f"{name}_add")([x, y])
    return y


@keras.saving.register_keras_serializable(package=PACKAGE)
class MobileNetV2(Backbone):
    family = "cnn"

    def __init__(self, num_classes=1000, image_size=224, width_multiplier=1.0, head_width=1280, dropout=0.0, **kwargs):
        config = constructor_args(locals())
        name = kwargs.get("name", "mobilenetv2")
        check_positive_int(num_classes, "num_classes")
        check_image_size(image_size, 32, name)
        if not width_multiplier > 0:
            raise InputError(f"{name}: width_multiplier must be > 0; got {width_multiplier!r}.")
        channels = lambda c: make_divisible(c * width_multiplier)  # noqa: E731

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = conv_bn(inputs, channels(32), 3, 2, "stem")
        stages, reduction = [], 2
        for g, (expansion, out, repeats, stride) in enumerate(BLOCK_GROUPS):
            for b in range(repeats):
                s = stride if b == 0 else 1
                x = inverted_residual(x, expansion, channels(out), s, f"group{g + 1}_block{b + 1}")
                reduction *= s
            if g in STAGE_END_GROUPS:
                stages.append((x, reduction, "map"))
        # timm keeps the 1280-wide head for multipliers <= 1 and widens it above.
        x = conv_bn(x, max(head_width, make_divisible(head_width * width_multiplier)), 1, 1, "head")
        stages.append((x, reduction, "map"))
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        logits = layers.Dense(num_classes, name="head")(x)
        super().__init__(inputs, logits, stages, config, **kwargs)
