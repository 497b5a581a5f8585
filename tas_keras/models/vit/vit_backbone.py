"""Vision Transformer / DeiT (Dosovitskiy et al. 2021, Touvron et al. 2021) as in timm."""

import keras
from keras import layers

from tas_keras.errors import InputError
from tas_keras.layers import ClassToken, PositionEmbedding, TokenPool, TransformerBlock, dense, drop_path_rates, patch_embed
from tas_keras.models.backbone import Backbone, check_image_size, check_positive_int, columnar_taps, constructor_args
from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class VisionTransformer(Backbone):
    family = "vit"

    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        mlp_ratio=4.0,
        qkv_bias=True,
        global_pool="token",
        drop_path_rate=0.0,
        **kwargs,
    ):
        config = constructor_args(locals())
        name = kwargs.get("name", "vit")
        check_positive_int(num_classes, "num_classes")
        check_positive_int(patch_size, "patch_size")
        check_image_size(image_size, patch_size, name)
        if global_pool not in TokenPool.MODES:
            raise InputError(f"{name}: unknown global_pool {global_pool!r}; valid: {TokenPool.MODES}.")
        taps = columnar_taps(depth, name)
        rates = drop_path_rates(drop_path_rate, depth)

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = patch_embed(inputs, patch_size, embed_dim, flatten=True)
        x = ClassToken(name="cls_token")(x)
        x = PositionEmbedding(name="pos_embed")(x)
        stages = []
        for i in range(depth):
            x = TransformerBlock(num_heads, mlp_ratio, qkv_bias, rates[i], name=f"block{i + 1}")(x)
            if i in taps:
                stages.append((x, patch_size, "tokens", 1))
        x = layers.LayerNormalization(epsilon=1e-6, name="norm")(x)
        x = TokenPool(global_pool, num_prefix_tokens=1, name="pool")(x)
        logits = dense(num_classes, name="head")(x)
        super().__init__(inputs, logits, stages, config, **kwargs)
