"""JAX step: stateless, jax.value_and_grad over (trainable, non-trainable) values, as Keras' own
JAX trainer does; the state tuple is (trainable, non_trainable, optimizer, metrics) variables."""

import jax
import keras

from tas_keras.steps.common import eval_metrics, group_losses, step_inputs, total_loss


def _stateless(groups, fn):
    """Runs fn with each (reference variables, values) group mapped; returns fn's output and the
    groups' values after fn (updated where fn assigned them)."""
    mapping = [pair for refs, values in groups for pair in zip(refs, values)]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        out = fn()
    updated = []
    for refs, values in groups:
        new = [scope.get_current_value(r) for r in refs]
        updated.append([v if n is None else n for n, v in zip(new, values)])
    return out, updated


def train_step(distiller, state, data):
    trainable, non_trainable, optimizer_vars, metrics_vars = state
    x, y = step_inputs(distiller, data)

    def loss_fn(trainable, non_trainable):
        def forward():
            targets = distiller.teacher_targets(x)
            return distiller.compute_losses(x, y, targets, 0, training=True)

        groups = [(distiller.trainable_variables, trainable), (distiller.non_trainable_variables, non_trainable)]
        (losses, logits), (_, new_non_trainable) = _stateless(groups, forward)
        total = total_loss(losses)
        (scaled,), _ = _stateless(
            [(distiller.optimizer.variables, optimizer_vars)], lambda: (distiller.optimizer.scale_loss(total),)
        )
        return scaled, (losses, total, logits, new_non_trainable)

    (_, (losses, total, logits, non_trainable)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        trainable, non_trainable
    )
    trainable, optimizer_vars = distiller.optimizer.stateless_apply(optimizer_vars, grads, trainable)
    logs, (metrics_vars,) = _stateless(
        [(distiller.metrics_variables, metrics_vars)],
        lambda: distiller.update_metrics(losses, total, y, logits, x.shape[0]),
    )
    return logs, (trainable, non_trainable, optimizer_vars, metrics_vars)


def test_step(distiller, state, data):
    trainable, non_trainable, metrics_vars = state
    groups = [
        (distiller.trainable_variables, trainable),
        (distiller.non_trainable_variables, non_trainable),
        (distiller.metrics_variables, metrics_vars),
    ]
    logs, (_, non_trainable, metrics_vars) = _stateless(groups, lambda: eval_metrics(distiller, data))
    return logs, (trainable, non_trainable, metrics_vars)


def group_gradient_sq_norms(distiller, x, y, groups, variables):
    """({term: value}, {group: [squared gradient norm per variable]}) for one batch."""
    import jax.numpy as jnp

    chosen = {id(v) for v in variables}
    others = [v for v in distiller.trainable_variables if id(v) not in chosen] + list(distiller.non_trainable_variables)
    other_values = [v.value for v in others]

    def losses_of(values):
        def forward():
            targets = distiller.teacher_targets(x)
            return distiller.compute_losses(x, y, targets, 0, training=True)[0]

        losses, _ = _stateless([(list(variables), values), (others, other_values)], forward)
        return losses

    values = [v.value for v in variables]
    losses = losses_of(values)
    norms = {}
    for name in groups:
        grads = jax.grad(lambda vals: group_losses(losses_of(vals), {name: groups[name]})[name])(values)
        norms[name] = [float(jnp.sum(jnp.square(g.astype("float32")))) for g in grads]
    return {k: float(v) for k, v in losses.items()}, norms
