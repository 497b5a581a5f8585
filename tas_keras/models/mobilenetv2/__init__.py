from tas_keras.models.mobilenetv2.mobilenetv2_backbone import MobileNetV2
from tas_keras.models.registry import build_variant, register_model


@register_model("cnn")
def mobilenetv2_100(**kwargs):
    return build_variant(MobileNetV2, "mobilenetv2_100", kwargs, width_multiplier=1.0)


@register_model("cnn")
def mobilenetv2_050(**kwargs):
    return build_variant(MobileNetV2, "mobilenetv2_050", kwargs, width_multiplier=0.5)


@register_model("cnn")
def mobilenetv2_micro(**kwargs):
    """Width 0.35 with a 256-wide head, for CPU tests and demos at 32x32."""
    return build_variant(MobileNetV2, "mobilenetv2_micro", kwargs, image_size=32, width_multiplier=0.35, head_width=256)
