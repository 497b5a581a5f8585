"""Learning-rate schedules: new runs use Keras' CosineDecay with warm-up (tas_keras.training.optim), its
two phases picked without ops.cond (`CosineDecayWithoutCond`); `WarmupCosine` stays registered so that
checkpoints written with it load after `import tas_keras`."""

import keras
from keras import ops

from tas_keras.serialization import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class CosineDecayWithoutCond(keras.optimizers.schedules.CosineDecay):
    """Keras' CosineDecay (the same arguments, config and values, by its own warm-up and decay functions)
    with the phase picked by ops.where instead of ops.cond: on the torch backend every ops.cond call is a
    new, uniquely named Keras op, on whose name counter torch.compile guards, so the compiled optimizer
    update (steps/torch_step.py) recompiled at every step."""

    def __call__(self, step):
        if self.warmup_target is None:
            return super().__call__(step)  # no phases, no cond
        with keras.name_scope(self.name):
            initial = ops.convert_to_tensor(self.initial_learning_rate)
            dtype = initial.dtype
            target, warmup_steps = ops.cast(self.warmup_target, dtype), ops.cast(self.warmup_steps, dtype)
            decay_steps = ops.cast(self.decay_steps, dtype)
            step = ops.minimum(ops.cast(step, dtype), decay_steps + warmup_steps)
            warming = self._warmup_function(step, warmup_steps, target, initial)
            decaying = self._decay_function(step - warmup_steps, decay_steps, target, dtype)
            return ops.where(step < warmup_steps, warming, decaying)


def warmup_cosine(peak, total_steps, warmup_steps=0, floor=0.0):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to `floor` at
    `total_steps`: keras.optimizers.schedules.CosineDecay with its warm-up (`CosineDecayWithoutCond`)."""
    peak, total_steps, warmup_steps = float(peak), max(1, int(total_steps)), int(warmup_steps)
    return CosineDecayWithoutCond(
        initial_learning_rate=0.0 if warmup_steps else peak,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=float(floor) / peak if peak > 0 else 0.0,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupCosine(CosineDecayWithoutCond):
    """The schedule of files saved before tas_keras used CosineDecay directly: loads them with the
    same arguments (peak, total_steps, warmup_steps, floor), computed as warmup_cosine computes them."""

    def __init__(self, peak, total_steps, warmup_steps=0, floor=0.0):
        self.legacy_args = {"peak": float(peak), "total_steps": int(total_steps), "warmup_steps": int(warmup_steps), "floor": float(floor)}
        config = warmup_cosine(peak, total_steps, warmup_steps, floor).get_config()
        super().__init__(**config)

    def get_config(self):
        return dict(self.legacy_args)
