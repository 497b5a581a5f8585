"""The Distiller: a keras.Model that trains a student from a frozen teacher with any registered method.

`call(x)` is the student, so `evaluate` / `predict` measure the student. `train_step` runs one
backend-agnostic forward / loss function (`teacher_targets`, `compute_losses`) with thin step code per
backend (tas_keras/steps/).
"""

import contextlib
import os

import keras
from keras import ops

from tas_keras.atomic import atomic_write
from tas_keras.errors import InputError
from tas_keras.losses import cross_entropy
from tas_keras.methods import method_class
from tas_keras.methods.base import models_description
from tas_keras.models import Backbone, feature_extractor
from tas_keras.pixels import check_normalization, normalize_pixels
from tas_keras.serialization import PACKAGE
from tas_keras.steps import test_step_for_backend, train_step_for_backend


def _first_batches(x, y, batch_size, count=4):
    """The first `count` (images, labels) batches of what `fit` was given, for calibration. (A tf.data
    dataset that reshuffles on each pass is iterated once more for them, so fit()'s first epoch sees its
    next order; tools/train.py calibrates on a pipeline of its own instead.)"""
    if y is not None and hasattr(x, "shape"):
        size = batch_size or 32
        return [(x[i : i + size], y[i : i + size]) for i in range(0, min(len(x), count * size), size)]
    if hasattr(x, "take") and hasattr(x, "as_numpy_iterator"):  # a tf.data.Dataset
        return [(batch[0], batch[1]) for batch in x.take(count).as_numpy_iterator()]
    raise InputError(
        f"The method calibrates on the first training batches, but fit() got a {type(x).__name__}; call "
        "distiller.calibrate([(images, labels), ...]) before fit(), or set the option to a number "
        "(e.g. branch_grad_scale=1.0)."
    )


@contextlib.contextmanager
def _state_kept(variables):
    """Restores `variables` on exit: calibration's training-mode passes move BatchNorm statistics and
    random-seed states, and a calibrated run must start from the state an uncalibrated one would."""
    saved = [(v, keras.ops.convert_to_numpy(v)) for v in variables]
    try:
        yield
    finally:
        for variable, value in saved:
            variable.assign(value)


def _check_pair(teacher, student):
    for role, model in (("teacher", teacher), ("student", student)):
        if not isinstance(model, Backbone):
            raise InputError(f"The {role} must be a tas_keras zoo model (tas_keras.create_model); got {type(model).__name__}.")
    t_classes, s_classes = teacher.output_shape[-1], student.output_shape[-1]
    if t_classes != s_classes:
        raise InputError(
            f"Teacher and student predict different numbers of classes ({t_classes} vs {s_classes}); "
            "build both with the same num_classes."
        )


XLA_CHOICES = (True, False, "auto", "elementwise")


def resolve_xla(xla, compute_dtype="float32"):
    """True / False / "elementwise" as given. "elementwise" (TensorFlow): XLA compiles the training
    step's elementwise work, while its matmuls, convolutions and reductions stay TensorFlow's
    (oneDNN) kernels; the torch backend compiles its step with torch.compile for it (as for True),
    JAX ignores it. "auto": on when a GPU or TPU is visible to Keras; on a
    CPU, "elementwise" for a student computing in bfloat16 (there TensorFlow ran the elementwise work op by op around
    fast matmuls: 12-23% off the step with ResMLP students on an AMX Xeon, none with a ResNet student, within the
    spread on a Zen 5 EPYC without AMX; docs/speed.md), else off."""
    spelled = {"auto": "auto", "on": True, "off": False, "elementwise": "elementwise"}
    if isinstance(xla, str) and xla.lower() in spelled:
        xla = spelled[xla.lower()]
    if xla not in XLA_CHOICES or isinstance(xla, (int, float)) and not isinstance(xla, bool):
        raise InputError(f"xla={xla!r} is not valid; choose one of True, False, 'auto', 'elementwise'.")
    if xla == "auto":
        if accelerator_visible():
            return True
        return "elementwise" if compute_dtype == "bfloat16" else False
    return xla


def _torch_compiling():
    if keras.backend.backend() != "torch":
        return False
    import torch

    return torch.compiler.is_compiling()


def accelerator_visible():
    """Whether the backend sees a GPU / TPU."""
    if keras.backend.backend() == "torch":  # keras.distribution has no torch implementation
        import torch

        return torch.cuda.is_available()
    return any(not d.lower().startswith("cpu") for d in keras.distribution.list_devices())


@keras.saving.register_keras_serializable(package=PACKAGE)
class Distiller(keras.Model):
    """Distiller(teacher, student, method="tas", **method_options).

    The teacher is frozen and always runs in inference mode. When its input side differs from the
    student's, images are resized for it (bilinear) inside the step. `xla=True` compiles the
    per-replica forward + backward with XLA on the TensorFlow backend (leave `jit_compile` of
    `compile()` at its default: the Distiller turns it off, since fit-level XLA breaks under
    MirroredStrategy with several replicas). `xla="auto"` (default) turns it on when an accelerator
    is visible and off on CPU, where TensorFlow's oneDNN kernels beat XLA's convolutions
    (measured with tools/benchmark.py; see the README's Speed table). `xla="elementwise"` compiles
    only the step's elementwise work with XLA and leaves its matmuls, convolutions and reductions
    to TensorFlow's kernels (TensorFlow); "auto" picks it on a CPU when the student computes in
    bfloat16 (see `resolve_xla`). On the torch backend True and "elementwise" both compile the step's
    forward (with its backward) and the optimizer's update with torch.compile; "auto" does so on a GPU
    and, in bfloat16, on a CPU. JAX always compiles the whole step (jax.jit).

    `pixel_normalization=(mean, std)` (per channel, 0..1 scale): the Distiller takes raw pixels (uint8,
    as build_dataset sends them, or float 0..255) and normalises them inside its steps and `call`;
    None (default): its inputs come normalised.
    """

    def __init__(self, teacher, student, method="tas", xla="auto", pixel_normalization=None, **method_options):
        name = method_options.pop("name", f"{method}_distiller")
        super().__init__(name=name)
        _check_pair(teacher, student)
        self.teacher = teacher
        self.teacher.trainable = False
        self.student = student
        self.method_name = method
        self.xla_option = xla
        resolved = resolve_xla(xla, student.compute_dtype)
        backend = keras.backend.backend()
        # the whole per-replica step under XLA; on torch, both compiled settings are torch.compile of the step
        # (Inductor, like "elementwise", fuses the elementwise work and calls the backend's matmuls)
        self.xla = resolved is True or (resolved == "elementwise" and backend == "torch")
        self.xla_elementwise = resolved == "elementwise" and backend == "tensorflow"  # only its elementwise work
        self.pixel_normalization = None if pixel_normalization is None else check_normalization(pixel_normalization)
        self.teacher_size = int(teacher.input_shape[1])
        self.student_size = int(student.input_shape[1])
        self.teacher_extractor = feature_extractor(teacher)
        self.student_extractor = feature_extractor(student)
        self.method = method_class(method)(
            models_description(teacher, student), method_options, models={"teacher": teacher, "student": student}, name=f"{method}_method"
        )
        self.loss_names = ["loss"] + self._symbolic_loss_names()
        self.loss_trackers = {name: keras.metrics.Mean(name=name) for name in self.loss_names}
        self.accuracy = keras.metrics.SparseCategoricalAccuracy(name="acc")
        self.top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, int(student.output_shape[-1])), name="top5")
        self.trace_count = 0  # Python executions of train_step (see train_step)
        self.calibration = None  # the method's calibration report, once `calibrate` has run in this process
        self.built = True  # every part is built above

    # --- the backend-agnostic forward / loss function -------------------------------------------
    def model_inputs(self, images):
        """What the models take: `images` normalised when the Distiller is given raw pixels."""
        if self.pixel_normalization is None:
            return images
        return normalize_pixels(images, self.pixel_normalization)

    def teacher_targets(self, images):
        if not self.method.uses_teacher:
            return {}
        if self.teacher_size != self.student_size:
            images = ops.image.resize(images, (self.teacher_size, self.teacher_size), interpolation="bilinear")
        out = self.teacher_extractor(images, training=False)
        targets = self.method.teacher_targets(out)
        return {k: ops.stop_gradient(v) for k, v in targets.items()}

    def compute_losses(self, images, labels, targets, positive_offset=0, training=True):
        """One student forward (logits + stage features) -> ({"loss_...": scalar}, student logits)."""
        student_out = self.student_extractor(images, training=training)
        losses = self.method.compute_losses(student_out, targets, labels, positive_offset, training)
        return losses, student_out["logits"]

    # --- calibration (e.g. tas_branch's branch_grad_scale="auto") --------------------------------------
    def calibrate(self, batches):
        """Lets the method set its calibrated state from per-group gradient norms on the student,
        measured on `batches` ((images, labels) pairs); returns the method's report (None if the
        method has nothing to calibrate). `fit` calls it on its first batches when needed."""
        from tas_keras.diagnostics import group_gradient_norms

        groups = self.method.calibration_groups()
        if groups is None:
            return None
        with _state_kept(self.non_trainable_variables), self.method.calibration_scope():
            _, norms, _ = group_gradient_norms(self, batches, groups)
        self.calibration = self.method.calibrate(norms)
        return self.calibration

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        if self.method.needs_calibration():
            self.calibrate(_first_batches(x, y, batch_size))
        return super().fit(x, y, batch_size=batch_size, **kwargs)

    # --- keras.Model plumbing ----------------------------------------------------------------
    def call(self, images, training=False):
        return self.student(self.model_inputs(images), training=training)

    def compile(self, optimizer="adam", jit_compile="auto", **kwargs):
        """jit_compile="auto": jax.jit on JAX (its only compiled path; op-by-op execution is slow and
        deadlocks in cross-device all-reduces under DataParallel); off for Keras on TensorFlow and
        torch, where `xla` compiles the Distiller's own step instead. jit_compile=True there means
        xla=True: the per-replica step compiled with XLA (TensorFlow), or with torch.compile (torch)."""
        # The method defines the losses and the Distiller logs every term, acc and top5 itself.
        for key in ("loss", "loss_weights", "metrics", "weighted_metrics"):
            if kwargs.get(key) is not None:
                raise InputError(
                    f"Distiller.compile() takes no `{key}`: the method defines the losses, and loss terms, "
                    "acc and top5 are logged automatically."
                )
        if jit_compile == "auto":
            jit_compile = keras.backend.backend() == "jax" and not kwargs.get("run_eagerly")
        elif jit_compile is True and keras.backend.backend() in ("tensorflow", "torch"):
            # The usual Keras flag gets what it asks for, applied where it works: on TensorFlow XLA
            # around the per-replica step (a fit-level XLA function fails under MirroredStrategy with
            # several replicas, reading variables placed on other devices); on torch the step's two
            # compiled parts (Keras' whole-step torch.compile compiles each twice, steps/torch_step.py).
            self.xla_option = self.xla = True
            self.xla_elementwise = False
            jit_compile = False
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        """TensorFlow trainer hook. Keras' version all-reduces a data batch to trace the model, which
        fails under MultiWorkerMirroredStrategy; the Distiller is built at construction, so only the
        optimizer's variables remain to be created (in the strategy's scope)."""
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)

    def compile_from_config(self, config):
        """Restores the optimizer (and its state, loaded next) when a saved Distiller is loaded."""
        config = dict(keras.saving.deserialize_keras_object(config))
        config.pop("jit_compile", None)  # resolved again for the backend that loads it
        self.compile(**config)
        self.optimizer.build(self.trainable_variables)

    def _symbolic_loss_names(self):
        """The method's loss terms, found by tracing the loss function on symbolic inputs."""
        images = keras.KerasTensor((2, self.student_size, self.student_size, 3))
        labels = keras.KerasTensor((2,), dtype="int32")
        losses, _ = self.compute_losses(images, labels, self.teacher_targets(images), training=False)
        return sorted(losses)

    @property
    def metrics(self):
        return [*self.loss_trackers.values(), self.accuracy, self.top5]

    def update_metrics(self, losses, total, labels, logits, batch_size):
        """Loss trackers get (local mean, weight = local batch) so replicas average correctly."""
        self.loss_trackers["loss"].update_state(total, sample_weight=batch_size)
        for name, value in losses.items():
            self.loss_trackers[name].update_state(value, sample_weight=batch_size)
        self._update_accuracy(labels, logits)
        return {m.name: m.result() for m in self.metrics}

    def update_eval_metrics(self, labels, logits):
        """Evaluation of the student alone: loss = cross-entropy on the labels, acc, top5."""
        logits = ops.cast(logits, "float32")
        self.loss_trackers["loss"].update_state(cross_entropy(labels, logits), sample_weight=ops.shape(logits)[0])
        self._update_accuracy(labels, logits)
        return {m.name: m.result() for m in (self.loss_trackers["loss"], self.accuracy, self.top5)}

    def _update_accuracy(self, labels, logits):
        logits = ops.cast(logits, "float32")  # top-k needs float32 under mixed precision
        if len(labels.shape) >= 2 and labels.shape[-1] == logits.shape[-1] and logits.shape[-1] > 1:
            labels = ops.argmax(labels, axis=-1)  # soft (mixup) labels are scored by their top class
        self.accuracy.update_state(labels, logits)
        self.top5.update_state(labels, logits)

    def train_step(self, *args):
        # Python runs this once per trace under tf.function / jax.jit (every step only when eager):
        # a count that grows after the first step means retracing. torch.compile would guard on the
        # count and recompile at every step, so it is not counted there.
        if not _torch_compiling():
            self.trace_count += 1
        return train_step_for_backend()(self, *args)

    def test_step(self, *args):
        return test_step_for_backend()(self, *args)

    # --- saving --------------------------------------------------------------------------------
    def save_student(self, path):
        """Writes the student alone (a plain zoo model) atomically: temp file in the same folder, then
        rename, so an existing file is never left half-written."""
        path = os.fspath(path)
        if not path.endswith(".keras"):
            raise InputError(f"save_student writes a .keras file; got {path!r}.")
        atomic_write(path, self.student.save)
        return path

    def get_config(self):
        return {
            "name": self.name,
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "student": keras.saving.serialize_keras_object(self.student),
            "method": self.method_name,
            "xla": self.xla_option,  # "auto" resolves again where the model is loaded
            "pixel_normalization": self.pixel_normalization,
            **self.method.options,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("method") == "tas" and "branch_stages" in config:  # saved before the branch design was renamed tas_branch
            config["method"] = "tas_branch"
        teacher = keras.saving.deserialize_keras_object(config.pop("teacher"))
        student = keras.saving.deserialize_keras_object(config.pop("student"))
        return cls(teacher, student, **config)
