"""Pieces shared by the per-backend steps (keras.ops only)."""

import keras


def total_loss(losses):
    """The sum of the loss terms; other entries (e.g. "fused_acc") are metrics."""
    return sum(value for name, value in losses.items() if name.startswith("loss"))


def step_inputs(distiller, data):
    """(model inputs, labels) of a training batch: raw pixels normalised when the Distiller takes them."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return distiller.model_inputs(x), y


def eval_metrics(distiller, data):
    """Student-only evaluation of one batch (loss = cross-entropy on the labels, acc, top5)."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return distiller.update_eval_metrics(y, distiller(x, training=False))


def group_losses(losses, groups):
    """{group: sum of its loss terms} for the gradient diagnostics."""
    return {name: sum(losses[t] for t in terms) for name, terms in groups.items()}
