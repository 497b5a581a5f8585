from tas_keras.models.registry import build_variant, register_model
from tas_keras.models.swin.swin_backbone import SwinTransformer


@register_model("vit")
def swin_tiny_patch4_window7_224(**kwargs):
    return build_variant(SwinTransformer, "swin_tiny_patch4_window7_224", kwargs, embed_dim=96, num_heads=(3, 6, 12, 24))


@register_model("vit")
def swin_nano_patch4_window7_224(**kwargs):
    return build_variant(
        SwinTransformer, "swin_nano_patch4_window7_224", kwargs, embed_dim=64, depths=(2, 2, 2, 2), num_heads=(2, 4, 8, 16)
    )


@register_model("vit")
def swin_pico_patch4_window7_224(**kwargs):
    """Swin-P of OFA-KD: embed 48, depths 2-2-2-2, heads 2-4-8-16, window 7."""
    return build_variant(
        SwinTransformer, "swin_pico_patch4_window7_224", kwargs, embed_dim=48, depths=(2, 2, 2, 2), num_heads=(2, 4, 8, 16)
    )


@register_model("vit")
def swin_micro_patch2_window4_32(**kwargs):
    """A small Swin on 2x2 patches with 4x4 windows, for CPU tests and demos at 32x32 (16x16 tokens)."""
    return build_variant(
        SwinTransformer, "swin_micro_patch2_window4_32", kwargs, image_size=32, patch_size=2, embed_dim=32,
        depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8), window_size=4,
    )
