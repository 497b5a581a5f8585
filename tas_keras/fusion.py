"""The fused model of the published TAS ("Fuse Before Transfer", ICCV 2025): stages 1-3 of one model,
an L2G projector, then stage 4 and the head of the other model, all but the projector shared (the
same variables, not copies).

    p_f = head_m(S4_m(L2G(S3_c(S2_c(S1_c(x))))))

Which model gives which part (`fusion_sides`): from the paper, the CNN of a CNN / attention-or-MLP
pair gives stages 1-3 ("the fusion is CNN -> MSA/MLP whichever side the CNN is on") and, for a
homogeneous pair, the student gives stages 1-3 and the teacher stage 4; our reading, for a ViT / MLP
pair (no CNN): the student gives stages 1-3 and the teacher stage 4, as for homogeneous pairs.
"""

import keras
from keras import layers, ops

from tas_keras.errors import InputError
from tas_keras.layers import ClassToken, PositionEmbedding, TransformerBlock, grid_side, heads_for, tokens_to_map, trunc_normal
from tas_keras.serialization import PACKAGE

FUSIONS = ("auto", "teacher_first", "student_first")


def fusion_sides(teacher_family, student_family, fusion="auto"):
    """("teacher" | "student" giving stages 1-3, the other giving stage 4 + head)."""
    if fusion not in FUSIONS:
        raise InputError(f"fusion={fusion!r} is not valid; choose one of {list(FUSIONS)}.")
    if fusion == "teacher_first":
        return "teacher", "student"
    if fusion == "student_first":
        return "student", "teacher"
    if teacher_family != student_family and "cnn" in (teacher_family, student_family):
        return ("teacher", "student") if teacher_family == "cnn" else ("student", "teacher")
    return "student", "teacher"


def stage_tail(model, stage="S3"):
    """A model from `stage`'s output to {"S4", "logits"}: the rest of `model`'s own graph, sharing its
    variables (a zoo Backbone exposes its stage outputs as symbolic tensors)."""
    return keras.Model(model.pyramid_outputs[stage], {"S4": model.pyramid_outputs["S4"], "logits": model.outputs[0]}, name=f"{model.name}_tail")


@keras.saving.register_keras_serializable(package=PACKAGE)
class L2GProjector(layers.Layer):
    """Stage-3 features of one model (map or tokens) -> the input format of the other model's stage 4.

    From the paper: a patch embedding and one self-attention block, the fused model's only new
    weights. Our reading of the details: the source is viewed as a map (prefix tokens dropped); the
    patch embedding is a k x k stride-k convolution when the target grid divides the source grid by
    k, else a bilinear resize to the target grid and a 1x1 convolution; a learned position embedding
    (and the target's number of prefix tokens, learned) precede one global pre-norm attention + MLP
    block; a map target gets the tokens back as a map.
    """

    def __init__(self, source_prefix_tokens, target_side, target_channels, target_layout, target_prefix_tokens=0, num_heads=None, **kwargs):
        super().__init__(**kwargs)
        if target_layout not in ("map", "tokens"):
            raise InputError(f"target_layout must be 'map' or 'tokens'; got {target_layout!r}.")
        self.source_prefix_tokens = int(source_prefix_tokens)
        self.target_side = int(target_side)
        self.target_channels = int(target_channels)
        self.target_layout = target_layout
        self.target_prefix_tokens = int(target_prefix_tokens)
        self.num_heads = int(num_heads) if num_heads else heads_for(self.target_channels)

    def build(self, input_shape):
        side, channels, target = grid_side(input_shape, self.source_prefix_tokens), input_shape[-1], self.target_side
        self.stride = side // target if side >= target and side % target == 0 else None
        kernel = self.stride or 1
        self.embed = layers.Conv2D(self.target_channels, kernel, strides=kernel, kernel_initializer=trunc_normal(), name="patch_embed")
        self.embed.build((None, side if self.stride else target, side if self.stride else target, channels))
        self.prefix = [ClassToken(name=f"prefix{i}") for i in range(self.target_prefix_tokens)]
        length = target * target
        for token in self.prefix:
            token.build((None, length, self.target_channels))
            length += 1
        self.position = PositionEmbedding(name="pos_embed")
        self.position.build((None, length, self.target_channels))
        self.block = TransformerBlock(self.num_heads, name="block")
        self.block.build((None, length, self.target_channels))

    def call(self, x, training=None):
        if len(x.shape) == 3:
            x = tokens_to_map(x, self.source_prefix_tokens)
        target = self.target_side
        if not self.stride:
            x = ops.image.resize(x, (target, target), interpolation="bilinear")
        x = ops.reshape(self.embed(x), (-1, target * target, self.target_channels))
        for token in self.prefix:
            x = token(x)
        x = self.block(self.position(x), training=training)
        if self.target_layout == "map":
            x = ops.reshape(x, (-1, target, target, self.target_channels))
        return x

    def compute_output_shape(self, input_shape):
        if self.target_layout == "map":
            return (input_shape[0], self.target_side, self.target_side, self.target_channels)
        return (input_shape[0], self.target_prefix_tokens + self.target_side**2, self.target_channels)

    def get_config(self):
        return {
            **super().get_config(),
            "source_prefix_tokens": self.source_prefix_tokens,
            "target_side": self.target_side,
            "target_channels": self.target_channels,
            "target_layout": self.target_layout,
            "target_prefix_tokens": self.target_prefix_tokens,
            "num_heads": self.num_heads,
        }
