"""Learning-rate schedules (pure Keras, registered so that saved models load with `import tas_keras`)."""

import math

import keras

from tas_keras.models.layers import PACKAGE


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupCosine(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to `floor` at `total_steps`."""

    def __init__(self, peak, total_steps, warmup_steps=0, floor=0.0):
        self.peak, self.total_steps = float(peak), max(1, int(total_steps))
        self.warmup_steps, self.floor = int(warmup_steps), float(floor)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.peak * (step + 1.0) / max(1, self.warmup_steps)
        progress = keras.ops.clip((step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps), 0.0, 1.0)
        cosine = self.floor + 0.5 * (self.peak - self.floor) * (1.0 + keras.ops.cos(math.pi * progress))
        return keras.ops.where(step < self.warmup_steps, warm, cosine)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps, "floor": self.floor}
