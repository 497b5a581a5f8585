"""Distillation methods: one file each, registered by name, no if-chains over names.

A method is a keras Layer so that the trainable modules it adds (projections, assistants, branches)
are tracked by the Distiller. It splits its work in two:
- `teacher_targets(teacher_out)`: gradient-free tensors computed from the frozen teacher;
  those named in `global_targets` are gathered over all replicas (InfoNCE negatives); "labels" there
  adds the batch's labels to the targets, gathered the same way (the classes of those negatives);
- `compute_losses(student_out, targets, labels, positive_offset, training)`: named, weighted scalar
  losses (means over the local batch), e.g. {"loss_ce": ..., "loss_kd": ...}; entries whose name does
  not start with "loss" are logged metrics (e.g. tas's "fused_acc"), not added to the loss.
"""

import contextlib

import keras

from tas_keras.errors import InputError
from tas_keras.layers import spatial_smooth
from tas_keras.methods import options as opt
from tas_keras.serialization import PACKAGE

_METHODS = {}


def register_method(name):
    def decorator(cls):
        if name in _METHODS:
            raise InputError(f"Method {name!r} is registered twice.")
        cls.method_name = name
        _METHODS[name] = cls
        return keras.saving.register_keras_serializable(package=PACKAGE)(cls)

    return decorator


def list_methods():
    return sorted(_METHODS)


def method_class(name):
    if name not in _METHODS:
        raise InputError(f"Unknown distillation method {name!r}; valid methods: {list_methods()}.")
    return _METHODS[name]


def stage_by_name(stages, name, who):
    for stage in stages:
        if stage["name"] == name:
            return stage
    raise InputError(f"{who} stage {name!r} does not exist; valid stages: {[s['name'] for s in stages]}.")


def pooled_features(features, stage):
    """A stage output globally average-pooled to (B, C), prefix (class) tokens dropped: the "final
    features" that tas and rsd compare."""
    return spatial_smooth(features, 1, stage["layout"], stage["num_prefix_tokens"])


def models_description(teacher, student):
    """What a method needs to know about the pair: families, stage info, sizes and classes."""
    from tas_keras.models import feature_info, model_family

    return {
        "teacher_family": model_family(teacher),
        "student_family": model_family(student),
        "teacher_stages": feature_info(teacher),
        "student_stages": feature_info(student),
        "image_size": int(student.input_shape[1]),
        "num_classes": int(student.output_shape[-1]),
    }


class Method(keras.layers.Layer):
    """Base of every method. Subclasses declare `defaults` (every option with its default value) and
    `rules` (every option's rule from tas_keras.methods.options)."""

    method_name = None
    defaults = {"w_ce": 1.0, "label_smoothing": 0.0}
    rules = {"w_ce": opt.weight, "label_smoothing": opt.number(0.0, 1.0)}
    global_targets = ()
    uses_teacher = True  # False: the Distiller skips the teacher's forward pass entirely

    def __init__(self, pair, options=None, models=None, **kwargs):
        """pair: what the method may know of the pair (models_description); models: {"teacher",
        "student"} models, for methods that reuse their parts (tas's fused model)."""
        super().__init__(**kwargs)
        self.pair = dict(pair)
        self.options = self.check_options(options or {})

    @classmethod
    def check_options(cls, options):
        """defaults + options, after checking every name and value against `rules` (InputError naming
        the option, what it takes and the value given); called before anything is built or trained."""
        unknown = sorted(set(options) - set(cls.defaults))
        if unknown:
            valid = ", ".join(f"{k}={v!r}" for k, v in sorted(cls.defaults.items()))
            raise InputError(f"Unknown option(s) {unknown} for method {cls.method_name!r}; valid options: {valid}.")
        for key, value in options.items():
            problem = cls.rules[key](value)
            if problem is not None:
                raise InputError(f"{key}={value!r} is not valid for method {cls.method_name!r}: expected {problem}.")
        return {**cls.defaults, **options}

    def option(self, key):
        return self.options[key]

    def teacher_targets(self, teacher_out):
        return {"logits": teacher_out["logits"]}

    def ce_term(self, student_out, labels):
        from tas_keras.losses import cross_entropy

        return {"loss_ce": self.option("w_ce") * cross_entropy(labels, student_out["logits"], self.option("label_smoothing"))}

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        raise NotImplementedError

    # --- calibration from gradient norms (Distiller.calibrate); no-ops for most methods ---------
    def needs_calibration(self):
        return False

    def calibration_groups(self):
        """{group: [loss terms]} whose gradient norms on the student `calibrate` needs, or None."""
        return None

    def calibration_scope(self):
        """A context in which Distiller.calibrate measures the gradient norms (e.g. with the scales the
        calibration sets reset to 1); restores the method's state on exit."""
        return contextlib.nullcontext()

    def calibrate(self, norms):
        """Sets the method's calibrated state from {group: {"grad_all", "grad_shared"}}; returns a report."""
        return None

    def calibration_state(self):
        """The calibrated values in use (kept in variables, so also after resuming), or None."""
        return None

    def get_config(self):
        return {**super().get_config(), "pair": self.pair, "options": self.options}
