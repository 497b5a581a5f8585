"""Learning-rate schedules: new runs use Keras' CosineDecay with warm-up (tas_keras.training.optim);
`WarmupCosine` stays registered so that checkpoints written with it load after `import tas_keras`."""

import keras

from tas_keras.serialization import PACKAGE


def warmup_cosine(peak, total_steps, warmup_steps=0, floor=0.0):
    """Linear warm-up from 0 to `peak` over `warmup_steps`, then cosine decay to `floor` at
    `total_steps`: keras.optimizers.schedules.CosineDecay with its warm-up."""
    peak, total_steps, warmup_steps = float(peak), max(1, int(total_steps)), int(warmup_steps)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else peak,
        decay_steps=max(1, total_steps - warmup_steps),
        alpha=float(floor) / peak if peak > 0 else 0.0,
        warmup_target=peak if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package=PACKAGE)
class WarmupCosine(keras.optimizers.schedules.CosineDecay):
    """The schedule of files saved before tas_keras used CosineDecay directly: loads them with the
    same arguments (peak, total_steps, warmup_steps, floor), computed by Keras' CosineDecay."""

    def __init__(self, peak, total_steps, warmup_steps=0, floor=0.0):
        self.legacy_args = {"peak": float(peak), "total_steps": int(total_steps), "warmup_steps": int(warmup_steps), "floor": float(floor)}
        config = warmup_cosine(peak, total_steps, warmup_steps, floor).get_config()
        super().__init__(**config)

    def get_config(self):
        return dict(self.legacy_args)
