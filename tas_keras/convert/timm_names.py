"""Which timm state-dict key each variable of a zoo model holds, per architecture.

A rule is (pattern on the Keras variable path, function of the match -> timm key); the first matching
rule wins. Our block and stage numbers count from 1, timm's from 0.
"""

import re

from tas_keras.errors import InputError
from tas_keras.models.convnext.convnext_backbone import ConvNeXt
from tas_keras.models.mixer.mixer_backbone import MLPMixer, ResMLP
from tas_keras.models.mobilenetv2.mobilenetv2_backbone import BLOCK_GROUPS, MobileNetV2
from tas_keras.models.resnet.resnet_backbone import ResNet
from tas_keras.models.swin.swin_backbone import SwinTransformer
from tas_keras.models.vit.vit_backbone import VisionTransformer

# Keras variable name -> PyTorch parameter / buffer name (Dense, Conv, LayerNorm, BatchNorm).
LEAF = {"kernel": "weight", "bias": "bias", "gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
# timm buffers with no Keras variable: BatchNorm's step counter, Swin's index and mask (rebuilt from the config).
IGNORED_SUFFIXES = ("num_batches_tracked", "relative_position_index", "attn_mask")


def _i(number):
    return int(number) - 1


def _leaf(name):
    return LEAF[name]


def _path(rest):
    """'mlp/fc1/kernel' -> 'mlp.fc1.weight'."""
    *modules, leaf = rest.split("/")
    return ".".join(modules + [_leaf(leaf)])


RESNET = [
    (r"stem_conv/(\w+)", lambda m: f"conv1.{_leaf(m[1])}"),
    (r"stem_bn/(\w+)", lambda m: f"bn1.{_leaf(m[1])}"),
    (r"stage(\d+)_block(\d+)_(\d)_(conv|bn)/(\w+)", lambda m: f"layer{m[1]}.{_i(m[2])}.{m[4]}{m[3]}.{_leaf(m[5])}"),
    (r"stage(\d+)_block(\d+)_downsample_conv/(\w+)", lambda m: f"layer{m[1]}.{_i(m[2])}.downsample.0.{_leaf(m[3])}"),
    (r"stage(\d+)_block(\d+)_downsample_bn/(\w+)", lambda m: f"layer{m[1]}.{_i(m[2])}.downsample.1.{_leaf(m[3])}"),
    (r"head/(\w+)", lambda m: f"fc.{_leaf(m[1])}"),
]

# timm's first MobileNetV2 group is a depthwise-separable block (conv_dw, conv_pw); the others are
# inverted residuals (conv_pw expands, conv_dw, conv_pwl projects).
_SEPARABLE_GROUPS = {g + 1 for g, group in enumerate(BLOCK_GROUPS) if group[0] == 1}
_SEPARABLE = {"dw": ("conv_dw", "bn1"), "project": ("conv_pw", "bn2")}
_INVERTED = {"expand": ("conv_pw", "bn1"), "dw": ("conv_dw", "bn2"), "project": ("conv_pwl", "bn3")}


def _mobilenet_block(m):
    group, block, part, kind, leaf = m.groups()
    conv, bn = (_SEPARABLE if int(group) in _SEPARABLE_GROUPS else _INVERTED)[part]
    return f"blocks.{_i(group)}.{_i(block)}.{conv if kind == 'conv' else bn}.{_leaf(leaf)}"


MOBILENETV2 = [
    (r"stem_conv/(\w+)", lambda m: f"conv_stem.{_leaf(m[1])}"),
    (r"stem_bn/(\w+)", lambda m: f"bn1.{_leaf(m[1])}"),
    (r"group(\d+)_block(\d+)_(expand|dw|project)_(conv|bn)/(\w+)", _mobilenet_block),
    (r"head_conv/(\w+)", lambda m: f"conv_head.{_leaf(m[1])}"),
    (r"head_bn/(\w+)", lambda m: f"bn2.{_leaf(m[1])}"),
    (r"head/(\w+)", lambda m: f"classifier.{_leaf(m[1])}"),
]

CONVNEXT = [
    (r"stem_conv/(\w+)", lambda m: f"stem.0.{_leaf(m[1])}"),
    (r"stem_norm/(\w+)", lambda m: f"stem.1.{_leaf(m[1])}"),
    (r"stage(\d+)_downsample_norm/(\w+)", lambda m: f"stages.{_i(m[1])}.downsample.0.{_leaf(m[2])}"),
    (r"stage(\d+)_downsample_conv/(\w+)", lambda m: f"stages.{_i(m[1])}.downsample.1.{_leaf(m[2])}"),
    (r"stage(\d+)_block(\d+)/layer_scale/gamma", lambda m: f"stages.{_i(m[1])}.blocks.{_i(m[2])}.gamma"),
    (r"stage(\d+)_block(\d+)/dwconv/(\w+)", lambda m: f"stages.{_i(m[1])}.blocks.{_i(m[2])}.conv_dw.{_leaf(m[3])}"),
    (r"stage(\d+)_block(\d+)/(.+)", lambda m: f"stages.{_i(m[1])}.blocks.{_i(m[2])}.{_path(m[3])}"),
    (r"head_norm/(\w+)", lambda m: f"head.norm.{_leaf(m[1])}"),
    (r"head/(\w+)", lambda m: f"head.fc.{_leaf(m[1])}"),
]

_BLOCK = (r"block(\d+)/(.+)", lambda m: f"blocks.{_i(m[1])}.{_path(m[2])}")
_NORM = (r"norm/(\w+)", lambda m: f"norm.{_leaf(m[1])}")

VIT = [
    (r"patch_embed/(\w+)", lambda m: f"patch_embed.proj.{_leaf(m[1])}"),
    (r"cls_token/token", lambda m: "cls_token"),
    (r"pos_embed/embedding", lambda m: "pos_embed"),
    _BLOCK,
    _NORM,
    (r"head/(\w+)", lambda m: f"head.{_leaf(m[1])}"),
]

SWIN = [
    (r"patch_embed/(\w+)", lambda m: f"patch_embed.proj.{_leaf(m[1])}"),
    (r"patch_embed_norm/(\w+)", lambda m: f"patch_embed.norm.{_leaf(m[1])}"),
    (r"stage(\d+)_downsample/(.+)", lambda m: f"layers.{_i(m[1])}.downsample.{_path(m[2])}"),
    (
        r"stage(\d+)_block(\d+)/relative_position_bias_table",
        lambda m: f"layers.{_i(m[1])}.blocks.{_i(m[2])}.attn.relative_position_bias_table",
    ),
    (r"stage(\d+)_block(\d+)/(.+)", lambda m: f"layers.{_i(m[1])}.blocks.{_i(m[2])}.{_path(m[3])}"),
    _NORM,
    (r"head/(\w+)", lambda m: f"head.fc.{_leaf(m[1])}"),
]

MIXER = [
    (r"stem/(\w+)", lambda m: f"stem.proj.{_leaf(m[1])}"),
    _BLOCK,
    _NORM,
    (r"head/(\w+)", lambda m: f"head.{_leaf(m[1])}"),
]

RESMLP = [  # ResMLP's Affine keeps alpha / beta, its layer scales are bare parameters ls1 / ls2
    (r"block(\d+)/ls(\d)/gamma", lambda m: f"blocks.{_i(m[1])}.ls{m[2]}"),
    (r"block(\d+)/norm(\d)/(alpha|beta)", lambda m: f"blocks.{_i(m[1])}.norm{m[2]}.{m[3]}"),
    (r"norm/(alpha|beta)", lambda m: f"norm.{m[1]}"),
    *MIXER,
]

RULES = ((ResNet, RESNET), (MobileNetV2, MOBILENETV2), (ConvNeXt, CONVNEXT), (VisionTransformer, VIT),
         (SwinTransformer, SWIN), (ResMLP, RESMLP), (MLPMixer, MIXER))


def timm_names(model):
    """{Keras variable path: timm key} for every variable of a zoo model."""
    rules = next((rules for cls, rules in RULES if isinstance(model, cls)), None)
    if rules is None:
        supported = ", ".join(cls.__name__ for cls, _ in RULES)
        raise InputError(f"No timm key names for a {type(model).__name__}; timm checkpoints load into: {supported}.")
    return {variable.path: _timm_key(rules, variable.path, model.name) for variable in model.weights}


def _timm_key(rules, path, model_name):
    for pattern, key in rules:
        match = re.fullmatch(pattern, path)
        if match:
            return key(match)
    raise InputError(f"Variable {path!r} of {model_name!r} has no timm key (a model changed from the zoo's?).")
