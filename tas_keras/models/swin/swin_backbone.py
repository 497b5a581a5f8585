"""Swin Transformer (Liu et al. 2021) as defined by timm `swin_*_patch4_window7_224`."""

import keras
from keras import layers

from tas_keras.errors import InputError
from tas_keras.layers import dense, drop_path_rates, patch_embed
from tas_keras.models.backbone import Backbone, check_image_size, check_lengths, check_positive_int, constructor_args
from tas_keras.models.swin.swin_layers import PatchMerging, SwinBlock
from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class SwinTransformer(Backbone):
    family = "vit"

    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        patch_size=4,
        embed_dim=96,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        window_size=7,
        mlp_ratio=4.0,
        drop_path_rate=0.0,
        **kwargs,
    ):
        config = constructor_args(locals())
        name = kwargs.get("name", "swin")
        check_lengths(name, depths=depths, num_heads=num_heads)
        if len(depths) != 4:
            raise InputError(f"{name}: Swin needs 4 stages; got depths={list(depths)}.")
        check_positive_int(num_classes, "num_classes")
        check_positive_int(patch_size, "patch_size")
        check_positive_int(window_size, "window_size")
        check_image_size(image_size, patch_size * 8, name)
        rates = iter(drop_path_rates(drop_path_rate, sum(depths)))

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = patch_embed(inputs, patch_size, embed_dim)
        x = layers.LayerNormalization(epsilon=1e-5, name="patch_embed_norm")(x)
        stages = []
        for s, (depth, heads) in enumerate(zip(depths, num_heads)):
            if s > 0:
                x = PatchMerging(name=f"stage{s + 1}_downsample")(x)
            for b in range(depth):
                x = SwinBlock(
                    heads, window_size, shift=b % 2 == 1, mlp_ratio=mlp_ratio, drop_path=next(rates),
                    name=f"stage{s + 1}_block{b + 1}",
                )(x)
            stages.append((x, patch_size * 2**s, "map"))
        x = layers.LayerNormalization(epsilon=1e-5, name="norm")(x)
        x = layers.GlobalAveragePooling2D(name="pool")(x)
        logits = dense(num_classes, name="head")(x)
        super().__init__(inputs, logits, stages, config, **kwargs)
