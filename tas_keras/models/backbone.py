"""Base class of every model in the zoo: a functional keras.Model with named stage taps.

Like keras-hub backbones, each subclass builds its graph in `__init__` and its config is exactly its
constructor arguments, so `from_config` rebuilds the same graph and loaded models keep their taps.
"""

import keras

from tas_keras.errors import InputError
from tas_keras.serialization import PACKAGE

FAMILIES = ("cnn", "vit", "mlp")
LAYOUTS = ("map", "tokens")
STAGE_NAMES = ("S1", "S2", "S3", "S4")


def constructor_args(frame_locals):
    """The arguments a backbone was called with, read from `locals()` at the top of its `__init__`."""
    args = dict(frame_locals)
    for key in ("self", "kwargs", "__class__"):
        args.pop(key, None)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}


def check_positive_int(value, what):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{what} must be a positive integer; got {value!r}.")
    return value


def check_image_size(image_size, stride, model):
    """Square inputs whose side is a multiple of the model's total stride."""
    check_positive_int(image_size, "image_size")
    if image_size % stride:
        below = max(stride, image_size // stride * stride)
        raise InputError(
            f"image_size={image_size} does not fit {model}: it must be a multiple of the model's total "
            f"stride {stride} (e.g. {below} or {below + stride}; 224 for the paper-size models)."
        )
    return image_size


def check_lengths(model, **sequences):
    """Per-stage arguments (depths, widths, heads, ...) must all have the same length."""
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) != 1:
        raise InputError(f"{model}: per-stage arguments must have equal lengths; got {lengths}.")


def columnar_taps(depth, model):
    """Block indices that end the four 'stages' of a columnar model (ViT, Mixer): depth quarters."""
    if depth < 4:
        raise InputError(f"{model}: depth must be at least 4 to expose four stages; got depth={depth}.")
    return [depth * k // 4 - 1 for k in range(1, 5)]


def stage_info(name, tensor, reduction, layout, num_prefix_tokens=0):
    if layout not in LAYOUTS:
        raise InputError(f"layout must be one of {LAYOUTS}; got {layout!r}.")
    return {
        "name": name,
        "channels": int(tensor.shape[-1]),
        "reduction": int(reduction),
        "layout": layout,
        "num_prefix_tokens": int(num_prefix_tokens),
    }


@keras.saving.register_keras_serializable(package=PACKAGE)
class Backbone(keras.Model):
    """A classifier whose `pyramid_outputs` holds its four stage outputs as symbolic tensors.

    Subclasses set `family` and call `super().__init__(inputs, logits, stages, config, name=...)`
    where `stages` is a list of four (tensor, reduction, layout, num_prefix_tokens) tuples.
    """

    family = None

    def __init__(self, inputs, logits, stages, config, **kwargs):
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        if len(stages) != len(STAGE_NAMES):
            raise InputError(f"{type(self).__name__} must expose 4 stages; got {len(stages)}.")
        self.pyramid_outputs = {name: stage[0] for name, stage in zip(STAGE_NAMES, stages)}
        self.stage_info = [stage_info(name, *stage) for name, stage in zip(STAGE_NAMES, stages)]
        self.init_config = dict(config)

    def get_config(self):
        return {"name": self.name, **self.init_config}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
