from keras import ops

from tas_keras.losses import dkd_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method


@register_method("dkd")
class DKD(Method):
    """Zhao et al. 2022 (decoupled KD): CE + ramp * (alpha * TCKD + beta * NCKD) * T^2, see
    `tas_keras.losses.dkd_loss` for the formula. Defaults are the paper's CIFAR-100 values (alpha 1,
    beta 8, T 4). The paper ramps the term in linearly over the first 20 of 240 epochs; a method does
    not know the run's epochs, so the ramp is counted in training steps (`warmup_steps`, 0 = off; set it
    to about 1/12 of the run's steps for the paper's schedule). The step count is a variable of the
    Distiller, so a resumed run continues the ramp."""

    defaults = {**Method.defaults, "alpha": 1.0, "beta": 8.0, "temperature": 4.0, "warmup_steps": 0}
    rules = {**Method.rules, "alpha": opt.weight, "beta": opt.weight, "temperature": opt.positive, "warmup_steps": opt.integer(0)}

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        self.steps_done = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="steps_done"  # aggregation "none": every replica counts the same steps
        )

    def ramp(self):
        warmup = self.option("warmup_steps")
        return ops.minimum(ops.cast(self.steps_done, "float32") / warmup, 1.0) if warmup else 1.0

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        dkd = dkd_loss(targets["logits"], student_out["logits"], labels, self.option("alpha"), self.option("beta"), self.option("temperature"))
        ramp = self.ramp()
        if training and self.option("warmup_steps"):
            self.steps_done.assign_add(ops.ones((), self.steps_done.dtype))
        return {**self.ce_term(student_out, labels), "loss_dkd": ops.multiply(ramp, dkd)}
