"""Any Keras functional classifier as a distillation partner: `adapt(model)` gives it the zoo's contract
(four stage taps S1..S4 from the same forward pass, `feature_info`, a family), sharing its layers and
weights, serialisable to `.keras`."""

import re

import keras

from tas_keras.errors import InputError
from tas_keras.models.backbone import FAMILIES, STAGE_NAMES, Backbone
from tas_keras.serialization import PACKAGE

REDUCTIONS = (4, 8, 16, 32)
# Stage-end layers of keras.applications models (names from keras/src/applications), keyed by the
# constructors that build them: at each of the reductions 4, 8, 16, 32, the last layer whose name
# matches. One table for every known architecture.
KNOWN_STAGE_ENDS = {
    r"ResNet(50|101|152)": r"conv\d_block\d+_out",
    r"ResNet(50|101|152)V2": r"conv\d_block\d+_out|post_relu",
    r"MobileNetV2": r"block_\d+_add|block_\d+_project_BN|out_relu",
    r"MobileNetV3(Small|Large)": r"expanded_conv(_\d+)?_(add|project_bn)|conv_1_bn",  # S4: the head conv before its hard-swish
    r"EfficientNet(B[0-7]|V2(B[0-3]|S|M|L))": r"block\d+[a-z]_(add|project_bn|project_activation)|top_activation",
    r"ConvNeXt(Tiny|Small|Base|Large|XLarge)": r".+_stage_\d+_block_\d+_identity",
    r"VGG(16|19)": r"block\d_pool",  # each stage's pooled output; S4 is the map the classifier flattens
    r"DenseNet(121|169|201)": r"conv\d_block\d+_concat|relu",  # dense-block ends; S4 after the final BN + ReLU
    r"MobileNet": r"conv_pw_\d+_relu",
    r"NASNet(Mobile|Large)": r"reduction_concat_stem_1|normal_concat_\d+",  # S4: the last cell, before its ReLU
}
# Not in the table: InceptionV3, InceptionResNetV2 and Xception shrink their maps with unpadded
# ("valid") convolutions, so their sides do not divide the input (a 96x96 input gives 9x9 at
# reduction ~8 in InceptionV3) and the stages have no reduction of 4, 8, 16, 32 to be named by.
_KNOWN = re.compile("|".join(f"(?:{p})" for p in KNOWN_STAGE_ENDS.values()))
_KNOWN_CONSTRUCTORS = re.compile("|".join(f"(?:{p})" for p in KNOWN_STAGE_ENDS))


def known_applications():
    """The keras.applications constructors whose stage ends `adapt()` finds by name (sorted)."""
    return sorted(n for n in dir(keras.applications) if _KNOWN_CONSTRUCTORS.fullmatch(n))


def _square_side(shape):
    return shape[1] if len(shape) == 4 and shape[1] == shape[2] else None


def _known_stage_ends(model, image_size):
    """The last matching layer at each reduction, or None where one is missing."""
    ends = {}
    for layer in model.layers:
        if _KNOWN.fullmatch(layer.name) and len(layer.output.shape) == 4:
            side = _square_side(layer.output.shape)
            for r in REDUCTIONS:
                if side == image_size // r:
                    ends[r] = layer.name
    return [ends.get(r) for r in REDUCTIONS]


def _stage_tensor(model, stage):
    if isinstance(stage, str):
        try:
            return model.get_layer(stage).output
        except ValueError as err:
            raise InputError(f"stages: {model.name!r} has no layer {stage!r}.") from err
    raise InputError(f"stages: give layer names (strings); got {type(stage).__name__}.")


def _prefix_tokens(count):
    """Tokens (B, N, C): N - k patch tokens on a square grid, k in 0..2 class / distillation tokens."""
    for k in range(3):
        side = int(round((count - k) ** 0.5))
        if side * side == count - k:
            return k, side
    raise InputError(f"A token stage with {count} tokens is not a square grid plus 0-2 class tokens.")


def _describe(tensor, image_size, name):
    shape = tensor.shape
    if len(shape) == 4:
        side = _square_side(shape)
        if side is None or image_size % side:
            raise InputError(f"Stage {name} is a {tuple(shape[1:])} map: not a square map whose side divides the input.")
        return tensor, image_size // side, "map", 0
    if len(shape) == 3:
        prefix, side = _prefix_tokens(shape[1])
        return tensor, image_size // side, "tokens", prefix
    raise InputError(f"Stage {name} has shape {tuple(shape)}: expected a (B, H, W, C) map or (B, N, C) tokens.")


@keras.saving.register_keras_serializable(package=PACKAGE)
class AdaptedModel(Backbone):
    """A Keras functional classifier with four named stage taps; its layers are `model`'s own."""

    def __init__(self, model, stages, family="cnn", **kwargs):
        if family not in FAMILIES:
            raise InputError(f"family={family!r}; valid families: {FAMILIES}.")
        if len(stages) != len(STAGE_NAMES):
            raise InputError(f"stages: give 4 layer names (ends of stages 1-4); got {len(stages)}.")
        image_size = model.input_shape[1]
        if len(model.input_shape) != 4 or image_size is None or model.input_shape[2] != image_size:
            raise InputError(f"{model.name!r} takes inputs of shape {model.input_shape}; adapt() needs square images of a fixed size.")
        if len(model.outputs) != 1 or len(model.outputs[0].shape) != 2:
            raise InputError(f"{model.name!r} must have one (batch, classes) output (logits); its outputs are {[o.shape for o in model.outputs]}.")
        described = [_describe(_stage_tensor(model, s), image_size, n) for s, n in zip(stages, STAGE_NAMES)]
        self.family = family
        self.wrapped = model
        kwargs.setdefault("name", f"{model.name}_adapted")
        super().__init__(model.inputs[0], model.outputs[0], described, {"stages": list(stages), "family": family}, **kwargs)

    def get_config(self):
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.wrapped)}

    @classmethod
    def from_config(cls, config):
        return cls(**{**config, "model": keras.saving.deserialize_keras_object(config["model"])})


def adapt(model, stages=None, family="cnn"):
    """`model` (a Keras functional classifier: one (batch, classes) logits output, fixed square input)
    as a partner for the Distiller and every method.

    stages: the names of the 4 layers that end stages 1-4. None finds them in a keras-hub style
        `pyramid_outputs` dict or, for keras.applications models, from `KNOWN_STAGE_ENDS`.
    family: "cnn" | "vit" | "mlp" (decides, e.g., OFA's branch modules and tas's fusion order).
    The model's output must be logits (build applications models with classifier_activation=None).
    """
    if isinstance(model, Backbone):
        return model
    if not isinstance(model, keras.Model) or not hasattr(model, "layers"):
        raise InputError(f"adapt() takes a Keras functional model; got {type(model).__name__}.")
    if stages is None:
        pyramid = getattr(model, "pyramid_outputs", None)
        if isinstance(pyramid, dict) and len(pyramid) >= 4:
            found = [_layer_of(model, t) for t in list(pyramid.values())[-4:]]
        else:
            found = _known_stage_ends(model, model.input_shape[1])
        if None in found:
            raise InputError(
                f"Could not find the 4 stage ends of {model.name!r} (known: keras.applications "
                f"{', '.join(known_applications())}, or a pyramid_outputs dict); pass stages=[4 layer names]."
            )
        stages = found
    return AdaptedModel(model, list(stages), family=family)


def _layer_of(model, tensor):
    """The name of the layer of `model` whose output is `tensor` (None if no layer gives it)."""
    return next((layer.name for layer in model.layers if layer.output is tensor), None)
