"""A gradient scale an option sets: a number in [0, 1], or "auto", calibrated once from gradient norms.

tas_branch scales the gradient its assistants send into the shared student stages, tas the gradient its
InfoNCE terms send into the student. "auto" measures, on the first training batches (Distiller.calibrate),
the gradient norms of the student's own terms and of the scaled terms on the student weights both reach,
and sets the scale to min(1, own / pull): the scaled terms then pull at most as hard as the student's own.
"""

import contextlib

import keras

from tas_keras.methods import options as opt

RULE = opt.either(opt.one_of("auto"), opt.number(0.0, 1.0))


class CalibratedGradScale:
    """Mixin for a Method. The subclass names its option (`scale_option`), its two groups of loss terms
    (`own_group`, `pull_group`: the keys of its `calibration_groups()`), calls `add_grad_scale()` after
    creating its other own variables, and multiplies with `scale_gradient(x, self.grad_scale_in_use())`.
    The scale in use lives in a variable, so a resumed run keeps its calibrated value."""

    scale_option = None
    own_group, pull_group = "student", "pull"

    def add_grad_scale(self):
        value = self.option(self.scale_option)
        initial = keras.initializers.Constant(1.0 if value == "auto" else float(value))
        self.grad_scale = self.add_weight(shape=(), initializer=initial, trainable=False, name=self.scale_option)
        self.calibrated = self.add_weight(shape=(), initializer="zeros", trainable=False, name="calibrated")

    def grad_scale_in_use(self):
        value = self.option(self.scale_option)
        return self.grad_scale if value == "auto" else float(value)  # a Python number keeps 1.0 / 0.0 exact no-ops

    def needs_calibration(self):
        return self.option(self.scale_option) == "auto" and float(keras.ops.convert_to_numpy(self.calibrated)) == 0.0

    @contextlib.contextmanager
    def calibration_scope(self):
        """Calibration measures the unscaled pull; the scale in use is restored after."""
        previous = float(keras.ops.convert_to_numpy(self.grad_scale))
        self.grad_scale.assign(1.0)
        try:
            yield
        finally:
            self.grad_scale.assign(previous)

    def calibrate(self, norms):
        """auto: the scaled terms pull the weights both groups reach at most as hard as the student's own."""
        own, pull = float(norms[self.own_group]["grad_shared"]), float(norms[self.pull_group]["grad_shared"])
        scale = 1.0 if own <= 0.0 or pull <= own else own / pull
        self.grad_scale.assign(scale)
        self.calibrated.assign(1.0)
        return {self.scale_option: scale, f"{self.own_group}_grad": own, f"{self.pull_group}_grad": pull}

    def calibration_state(self):
        if self.option(self.scale_option) != "auto":
            return None
        return {self.scale_option: float(keras.ops.convert_to_numpy(self.grad_scale))}

    def load_own_variables(self, store):
        """A checkpoint from before the scale existed lacks its two variables (the last ones created): it
        was trained with the full gradient, so it resumes that way."""
        own = self._trainable_variables + self._non_trainable_variables
        if len(store.keys()) == len(own) - 2:
            for i, variable in enumerate(v for v in own if v is not self.grad_scale and v is not self.calibrated):
                variable.assign(store[f"{i}"])
            self.grad_scale.assign(1.0)
            self.calibrated.assign(1.0)
            return
        super().load_own_variables(store)
