"""Pieces shared by the per-backend steps (keras.ops only)."""

import keras
from keras import ops

from tas_keras.losses import cross_entropy


def total_loss(losses):
    return sum(losses.values())


def eval_metrics(distiller, data):
    """Student-only evaluation: loss = cross-entropy on the labels, acc, top5."""
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    logits = ops.cast(distiller(x, training=False), "float32")
    tracked = (distiller.loss_trackers["loss"], distiller.accuracy, distiller.top5)
    tracked[0].update_state(cross_entropy(y, logits), sample_weight=ops.shape(logits)[0])
    tracked[1].update_state(y, logits)
    tracked[2].update_state(y, logits)
    return {m.name: m.result() for m in tracked}


def group_losses(losses, groups):
    """{group: sum of its loss terms} for the gradient diagnostics."""
    return {name: sum(losses[t] for t in terms) for name, terms in groups.items()}
