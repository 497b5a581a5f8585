"""PyTorch step: one forward, backward(), optimizer.apply under no_grad (eager)."""

import torch

from tas_keras.steps.common import eval_metrics, group_losses, step_inputs, total_loss


def train_step(distiller, data):
    x, y = step_inputs(distiller, data)
    distiller.zero_grad()
    with torch.no_grad():
        targets = distiller.teacher_targets(x)
    losses, logits = distiller.compute_losses(x, y, targets, 0, training=True)
    total = total_loss(losses)
    distiller.optimizer.scale_loss(total).backward()
    variables = distiller.trainable_weights
    grads = [v.value.grad for v in variables]
    with torch.no_grad():
        distiller.optimizer.apply(grads, variables)
    return distiller.update_metrics(
        {k: v.detach() for k, v in losses.items()}, total.detach(), y, logits.detach(), x.shape[0]
    )


def test_step(distiller, data):
    return eval_metrics(distiller, data)


def group_gradient_sq_norms(distiller, x, y, groups, variables):
    """({term: value}, {group: [squared gradient norm per variable]}) for one batch."""
    with torch.no_grad():
        targets = distiller.teacher_targets(x)
    losses, _ = distiller.compute_losses(x, y, targets, 0, training=True)
    grouped = group_losses(losses, groups)
    params = [v.value for v in variables]
    norms = {}
    for name, value in grouped.items():
        grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
        norms[name] = [0.0 if g is None else float(torch.sum(g.float() ** 2)) for g in grads]
    return {k: float(v.detach()) for k, v in losses.items()}, norms
