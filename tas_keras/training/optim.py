"""Optimizers with linear warm-up + cosine decay, from an OptimizerConfig."""

import keras

from tas_keras.schedules import warmup_cosine


def build_optimizer(config, steps_per_epoch, epochs):
    """SGD (Nesterov-free momentum) or AdamW with the schedule, clipping and EMA of the config."""
    schedule = warmup_cosine(config.lr, steps_per_epoch * max(1, epochs), steps_per_epoch * config.warmup_epochs, config.min_lr)
    common = {"learning_rate": schedule, "weight_decay": config.weight_decay or None, "global_clipnorm": config.clip_norm}
    if config.ema:
        common.update(use_ema=True, ema_momentum=config.ema)
    if config.name == "sgd":
        return keras.optimizers.SGD(momentum=config.momentum, **common)
    return keras.optimizers.AdamW(**common)
