"""ConvNeXt (Liu et al. 2022) as defined by timm `convnext_*`."""

import keras
from keras import layers

from tas_keras.errors import InputError
from tas_keras.layers import dense, drop_path_rates, patch_embed, residual
from tas_keras.models.backbone import Backbone, check_image_size, check_lengths, check_positive_int, constructor_args
from tas_keras.models.convnext.convnext_layers import ConvNeXtBlock
from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class ConvNeXt(Backbone):
    family = "cnn"

    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        depths=(3, 3, 9, 3),
        dims=(96, 192, 384, 768),
        kernel_size=7,
        layer_scale_init=1e-6,
        drop_path_rate=0.0,
        **kwargs,
    ):
        config = constructor_args(locals())
        name = kwargs.get("name", "convnext")
        check_lengths(name, depths=depths, dims=dims)
        if len(depths) != 4:
            raise InputError(f"{name}: ConvNeXt needs 4 stages; got depths={list(depths)}.")
        check_positive_int(num_classes, "num_classes")
        check_image_size(image_size, 32, name)
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = patch_embed(inputs, 4, dims[0], name="stem_conv")
        x = layers.LayerNormalization(epsilon=1e-6, name="stem_norm")(x)
        stages = []
        for s, (depth, dim) in enumerate(zip(depths, dims)):
            if s > 0:
                x = layers.LayerNormalization(epsilon=1e-6, name=f"stage{s + 1}_downsample_norm")(x)
                x = patch_embed(x, 2, dim, name=f"stage{s + 1}_downsample_conv")
            for b in range(depth):
                block = f"stage{s + 1}_block{b + 1}"
                y = ConvNeXtBlock(kernel_size, layer_scale_init=layer_scale_init, name=block)(x)
                x = residual(x, y, next(rates), block)
            stages.append((x, 4 * 2**s, "map"))
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name="head_norm")(x)
        logits = dense(num_classes, name="head")(x)
        super().__init__(inputs, logits, stages, config, **kwargs)
