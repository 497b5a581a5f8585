"""Uniform access to the four stage features of any zoo model."""

import copy

import keras

from tas_keras.errors import InputError
from tas_keras.models.backbone import Backbone


def _check_backbone(model):
    if not isinstance(model, Backbone):
        raise InputError(
            f"Expected a tas_keras zoo model (from tas_keras.create_model); got {type(model).__name__}."
        )


def feature_info(model):
    """Four dicts (S1..S4): name, channels, reduction (stride w.r.t. the input), layout ("map" for
    (B, H, W, C), "tokens" for (B, N, C)) and num_prefix_tokens (class tokens before the patch tokens)."""
    _check_backbone(model)
    return copy.deepcopy([dict(info) for info in model.stage_info])


def feature_extractor(model):
    """A keras.Model sharing `model`'s weights whose output is {"logits", "S1", "S2", "S3", "S4"},
    all from one forward pass."""
    _check_backbone(model)
    outputs = {"logits": model.outputs[0], **model.pyramid_outputs}
    return keras.Model(model.inputs[0], outputs, name=f"{model.name}_features")
