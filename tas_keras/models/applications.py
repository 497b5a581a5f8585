"""keras.applications classifiers by name, so that configs and `create_model` can name them:
"keras.applications.MobileNetV2" builds that constructor's model for the run's classes and image size,
with logits out, adapted to the zoo's contract (`tas_keras.adapt`)."""

import inspect

import keras

from tas_keras.errors import InputError, one_line
from tas_keras.models.adapted import adapt, known_applications

PREFIX = "keras.applications."
# Arguments the run decides: a classifier of its classes with logits, on square images of its size,
# weights from a file or none (nothing is downloaded).
RUN_ARGUMENTS = ("include_top", "weights", "input_tensor", "input_shape", "pooling", "classes", "classifier_activation")
# The zoo's and PyTorch's BatchNormalization momentum (PyTorch's 0.1), the protocol the paper's numbers
# come from. keras.applications' own values (0.99; 0.999 in MobileNetV2 / V3; 0.9997 in NASNet) suit
# ImageNet-length runs: in runs of a few hundred steps their moving statistics still lag the weights, and
# the trained model scores at chance in inference mode (README, Bring your own model).
BATCHNORM_MOMENTUM = 0.9


def is_application(name):
    return isinstance(name, str) and name.startswith(PREFIX)


def application_names():
    """Every name `create_model` accepts for keras.applications (those whose stage ends are known)."""
    return [PREFIX + name for name in known_applications()]


def create_application(name, num_classes, image_size=None, batchnorm_momentum=BATCHNORM_MOMENTUM, **overrides):
    """keras.applications.<Constructor>(weights=None, classes=num_classes, classifier_activation=None)
    at image_size x image_size (224 if None), adapted. The inputs are the pipeline's normalised images, so
    a constructor with `include_preprocessing` gets False unless overrides say otherwise (EfficientNet
    B0-B7 have no such switch and rescale their input by 1/255 inside).

    batchnorm_momentum: every BatchNormalization layer's momentum; 0.9 (the zoo's and PyTorch's) unless
        set, None keeps the constructor's (0.99, 0.999 in MobileNetV2 / V3, 0.9997 in NASNet: their
        moving statistics need thousands of steps before evaluation means anything).
    overrides: the constructor's other arguments (alpha, minimalistic, dropout_rate, ...)."""
    constructor_name = name[len(PREFIX):]
    if constructor_name not in known_applications():
        raise InputError(
            f"Unknown model {name!r}: tas_keras finds the stages of {', '.join(application_names())}; "
            "adapt() other models in Python with stages=[4 layer names]."
        )
    constructor = getattr(keras.applications, constructor_name)
    parameters = inspect.signature(constructor).parameters
    fixed = sorted(set(overrides) & set(RUN_ARGUMENTS))
    unknown = sorted(set(overrides) - set(parameters))
    if fixed or unknown:
        valid = sorted(set(parameters) - set(RUN_ARGUMENTS) | {"batchnorm_momentum"})
        raise InputError(
            f"Argument(s) {fixed + unknown} cannot be set for model {name!r} "
            f"({'set by the run: ' + ', '.join(fixed) if fixed else 'unknown'}); valid: {valid}."
        )
    _check_momentum(batchnorm_momentum, name)
    size = image_size or 224
    arguments = {"include_preprocessing": False} if "include_preprocessing" in parameters else {}
    arguments.update(overrides)
    try:
        model = constructor(weights=None, input_shape=(size, size, 3), classes=num_classes, classifier_activation=None, **arguments)
    except (ValueError, TypeError) as err:  # e.g. an input below the architecture's minimum size
        raise InputError(f"{constructor_name} at {size}x{size} with {arguments}: {one_line(err)}") from err
    return adapt(set_batchnorm_momentum(model, batchnorm_momentum), family="cnn")


def set_batchnorm_momentum(model, momentum):
    """Sets the momentum of every BatchNormalization layer of `model` (a Keras model you built, e.g. a
    keras.applications one before `adapt()`; None leaves them); returns the model. Saved in the layers'
    config."""
    _check_momentum(momentum, getattr(model, "name", model))
    if momentum is None:
        return model
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = float(momentum)
        elif isinstance(layer, keras.Model):  # a nested model's own layers
            set_batchnorm_momentum(layer, momentum)
    return model


def _check_momentum(momentum, name):
    if momentum is not None and (isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum < 1):
        raise InputError(f"batchnorm_momentum={momentum!r} for model {name!r}: expected a number in [0, 1).")
