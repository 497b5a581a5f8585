from tas_keras.models.registry import build_variant, register_model
from tas_keras.models.resnet.resnet_backbone import ResNet


@register_model("cnn")
def resnet18(**kwargs):
    return build_variant(ResNet, "resnet18", kwargs, block="basic", depths=(2, 2, 2, 2))


@register_model("cnn")
def resnet34(**kwargs):
    return build_variant(ResNet, "resnet34", kwargs, block="basic", depths=(3, 4, 6, 3))


@register_model("cnn")
def resnet50(**kwargs):
    return build_variant(ResNet, "resnet50", kwargs, block="bottleneck", depths=(3, 4, 6, 3))


@register_model("cnn")
def resnet_micro(**kwargs):
    """A 4-stage ResNet for CPU tests and demos at 32x32 (one basic block per stage)."""
    return build_variant(
        ResNet, "resnet_micro", kwargs, image_size=32, depths=(1, 1, 1, 1), widths=(16, 32, 64, 128), stem_width=16
    )
