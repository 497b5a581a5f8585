from tas_keras.models.convnext.convnext_backbone import ConvNeXt
from tas_keras.models.registry import build_variant, register_model


@register_model("cnn")
def convnext_tiny(**kwargs):
    return build_variant(ConvNeXt, "convnext_tiny", kwargs, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768))


@register_model("cnn")
def convnext_atto(**kwargs):
    return build_variant(ConvNeXt, "convnext_atto", kwargs, depths=(2, 2, 6, 2), dims=(40, 80, 160, 320))


@register_model("cnn")
def convnext_pico(**kwargs):
    return build_variant(ConvNeXt, "convnext_pico", kwargs, depths=(2, 2, 6, 2), dims=(64, 128, 256, 512))


@register_model("cnn")
def convnext_micro(**kwargs):
    """A 4-stage ConvNeXt for CPU tests and demos at 32x32."""
    return build_variant(
        ConvNeXt, "convnext_micro", kwargs, image_size=32, depths=(1, 1, 2, 1), dims=(32, 64, 128, 256)
    )
