from tas_keras.models.registry import build_variant, register_model
from tas_keras.models.vit.vit_backbone import VisionTransformer


@register_model("vit")
def deit_tiny_patch16_224(**kwargs):
    return build_variant(VisionTransformer, "deit_tiny_patch16_224", kwargs, embed_dim=192, num_heads=3)


@register_model("vit")
def vit_small_patch16_224(**kwargs):
    return build_variant(VisionTransformer, "vit_small_patch16_224", kwargs, embed_dim=384, num_heads=6)


@register_model("vit")
def vit_micro_patch4_32(**kwargs):
    """A 4-block ViT on 4x4 patches, for CPU tests and demos at 32x32."""
    return build_variant(
        VisionTransformer, "vit_micro_patch4_32", kwargs, image_size=32, patch_size=4, embed_dim=64, depth=4, num_heads=2
    )
