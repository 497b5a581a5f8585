"""Models and distillers from a run config: the one place the CLI, the study and the tools build them."""

import contextlib
import os
import random

import keras

from tas_keras.distiller import Distiller
from tas_keras.errors import InputError
from tas_keras.models import Backbone, create_model, load_weights

ADAPT_HINT = "a Keras classifier of your own works once saved as tas_keras.adapt(model).save('x.keras')."


class TeacherFileError(InputError):
    """A teacher file that is missing, unreadable or does not fit the run."""


def teacher_size(config):
    return config.teacher.image_size or config.data.image_size


def require_teacher_file(path):
    """path as a string, or a one-line error if there is no such file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise TeacherFileError(f"Teacher file {path!r} does not exist.")
    return path


def load_teacher_file(path, image_size, num_classes):
    """A trained teacher from a .keras file, checked against the run's input size and classes."""
    path = require_teacher_file(path)
    try:
        model = keras.saving.load_model(path)
    except Exception as err:  # corrupt zip, unknown classes, ...
        raise TeacherFileError(f"Could not load teacher {path!r} (corrupt or not a Keras model file?): {err}") from err
    if not isinstance(model, Backbone):
        raise TeacherFileError(f"Teacher {path!r} is a {type(model).__name__}, not a tas_keras zoo model; {ADAPT_HINT}")
    size, classes = int(model.input_shape[1]), int(model.output_shape[-1])
    if (size, classes) != (image_size, num_classes):
        raise TeacherFileError(
            f"Teacher {path!r} takes {size}x{size} images and predicts {classes} classes; this run needs "
            f"{image_size}x{image_size} and {num_classes} classes (set teacher.image_size or pick another file)."
        )
    return model


def build_teacher(config, num_classes):
    """The teacher to train: from scratch, or from `teacher.weights` (a .keras / .weights.h5 file or a timm
    checkpoint) to fine-tune; a classifier of another class count stays initialised."""
    model = create_model(config.teacher.name, num_classes=num_classes, image_size=teacher_size(config), **config.teacher.overrides)
    if config.teacher.weights:
        load_weights(model, config.teacher.weights, allow_head_mismatch=True)
    return model


@contextlib.contextmanager
def python_random_kept():
    """Leaves Python's `random` state as it was: Keras draws each new layer's and initializer's seed from
    it, so work done aside (a check, calibration batches) must not move the seeded run's draws."""
    state = random.getstate()
    try:
        yield
    finally:
        random.setstate(state)


def check_student(config, num_classes):
    """Builds the student once and drops it, leaving the seeded random state as it was, so that a bad
    student setting is an error before the teacher stage, not after it, and the run's student still
    starts from the weights it would have."""
    with python_random_kept():
        _initialised_student(config, num_classes)


def _initialised_student(config, num_classes):
    return create_model(config.student.name, num_classes=num_classes, image_size=config.data.image_size, **config.student.overrides)


def build_student(config, num_classes):
    """The student, freshly initialised or from `student.weights`."""
    model = _initialised_student(config, num_classes)
    if config.student.weights:
        load_weights(model, config.student.weights)
    return model


def build_distiller(config, teacher, student, xla=None, pixel_normalization=None):
    """The config's method between them; the student stage's label smoothing reaches the method's CE.
    pixel_normalization: the dataset's (mean, std) when the Distiller is fed raw pixels (DatasetInfo.normalization)."""
    options = {"label_smoothing": config.student_training.label_smoothing, **config.distiller.options}
    return Distiller(teacher, student, method=config.distiller.method, xla=config.xla if xla is None else xla,
                     pixel_normalization=pixel_normalization, **options)
