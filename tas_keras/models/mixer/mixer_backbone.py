"""MLP-Mixer (Tolstikhin et al. 2021) and ResMLP (Touvron et al. 2021) as defined by timm's MlpMixer."""

import keras
from keras import layers

from tas_keras.layers import Affine, TokenPool, dense, drop_path_rates, patch_embed
from tas_keras.models.backbone import Backbone, check_image_size, check_positive_int, columnar_taps, constructor_args
from tas_keras.models.mixer.mixer_layers import MixerBlock, ResMLPBlock
from tas_keras.serialization import PACKAGE


class _ColumnarMLP(Backbone):
    family = "mlp"

    def _build(self, config, make_block, make_norm, **kwargs):
        name = kwargs.get("name", type(self).__name__.lower())
        num_classes, image_size = config["num_classes"], config["image_size"]
        patch_size, depth, embed_dim = config["patch_size"], config["depth"], config["embed_dim"]
        check_positive_int(num_classes, "num_classes")
        check_positive_int(patch_size, "patch_size")
        check_image_size(image_size, patch_size, name)
        taps = columnar_taps(depth, name)
        rates = drop_path_rates(config["drop_path_rate"], depth)

        inputs = keras.Input((image_size, image_size, 3), name="images")
        x = patch_embed(inputs, patch_size, embed_dim, name="stem", flatten=True)
        stages = []
        for i in range(depth):
            x = make_block(rates[i], f"block{i + 1}")(x)
            if i in taps:
                stages.append((x, patch_size, "tokens", 0))
        x = make_norm("norm")(x)
        x = TokenPool("avg", num_prefix_tokens=0, name="pool")(x)
        logits = dense(num_classes, name="head")(x)
        Backbone.__init__(self, inputs, logits, stages, config, **kwargs)


@keras.saving.register_keras_serializable(package=PACKAGE)
class MLPMixer(_ColumnarMLP):
    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        patch_size=16,
        embed_dim=768,
        depth=12,
        mlp_ratio=(0.5, 4.0),
        drop_path_rate=0.0,
        **kwargs,
    ):
        config = constructor_args(locals())
        self._build(
            config,
            lambda rate, block: MixerBlock(mlp_ratio, drop_path=rate, name=block),
            lambda norm: layers.LayerNormalization(epsilon=1e-6, name=norm),
            **kwargs,
        )


@keras.saving.register_keras_serializable(package=PACKAGE)
class ResMLP(_ColumnarMLP):
    def __init__(
        self,
        num_classes=1000,
        image_size=224,
        patch_size=16,
        embed_dim=384,
        depth=12,
        mlp_ratio=4.0,
        init_values=1e-4,
        drop_path_rate=0.0,
        **kwargs,
    ):
        config = constructor_args(locals())
        self._build(
            config,
            lambda rate, block: ResMLPBlock(mlp_ratio, init_values, drop_path=rate, name=block),
            lambda norm: Affine(name=norm),
            **kwargs,
        )
