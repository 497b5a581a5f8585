from tas_keras.models.mixer.mixer_backbone import MLPMixer, ResMLP
from tas_keras.models.registry import build_variant, register_model


@register_model("mlp")
def mixer_b16_224(**kwargs):
    return build_variant(MLPMixer, "mixer_b16_224", kwargs, patch_size=16, embed_dim=768, depth=12)


@register_model("mlp")
def mixer_micro_patch4_32(**kwargs):
    """A 4-block MLP-Mixer on 4x4 patches, for CPU tests and demos at 32x32."""
    return build_variant(MLPMixer, "mixer_micro_patch4_32", kwargs, image_size=32, patch_size=4, embed_dim=64, depth=4)


@register_model("mlp")
def resmlp_12_224(**kwargs):
    return build_variant(ResMLP, "resmlp_12_224", kwargs, patch_size=16, embed_dim=384, depth=12)


@register_model("mlp")
def resmlp_micro_patch4_32(**kwargs):
    """A 4-block ResMLP on 4x4 patches, for CPU tests and demos at 32x32."""
    return build_variant(ResMLP, "resmlp_micro_patch4_32", kwargs, image_size=32, patch_size=4, embed_dim=64, depth=4)
