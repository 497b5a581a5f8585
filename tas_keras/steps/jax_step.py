"""JAX step: stateless, jax.value_and_grad over (trainable, non-trainable) values, as Keras' own
JAX trainer does; the state tuple is (trainable, non_trainable, optimizer, metrics) variables."""

import weakref

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


# distiller -> {(groups, variables): (the jitted measurement, the other variables it maps)}: one
# compile for all the batches of a calibration. Run op by op, JAX compiles each operation on first
# use: ~1000 small compiles for one tas_branch calibration, 70 s on a 2-core CPU, against one compile
# of the whole measurement.
_MEASUREMENTS = weakref.WeakKeyDictionary()


def group_gradient_sq_norms(distiller, x, y, groups, variables):
    """({term: value}, {group: [squared gradient norm per variable]}) for one batch."""
    variables = list(variables)
    key = (tuple((name, tuple(terms)) for name, terms in groups.items()), tuple(id(v) for v in variables))
    measurements = _MEASUREMENTS.setdefault(distiller, {})
    if key not in measurements:
        measurements[key] = _measurement(distiller, groups, variables)
    measure, others = measurements[key]
    losses, norms = measure([v.value for v in variables], [v.value for v in others], x, y)
    return {k: float(v) for k, v in losses.items()}, {k: [float(n) for n in v] for k, v in norms.items()}


def _measurement(distiller, groups, variables):
    """(measure(values, other values, x, y), others): the jitted measurement of one batch, and the
    distiller's other variables, whose values it takes in this order."""
    import jax.numpy as jnp

    chosen = {id(v) for v in variables}
    others = [v for v in distiller.trainable_variables if id(v) not in chosen] + list(distiller.non_trainable_variables)
    owner = weakref.ref(distiller)  # the cache entry must not keep its own key alive

    def losses_of(values, other_values, x, y):
        def forward():
            d = owner()
            return d.compute_losses(x, y, d.teacher_targets(x), 0, training=True)[0]

        losses, _ = _stateless([(variables, values), (others, other_values)], forward)
        return losses

    @jax.jit
    def measure(values, other_values, x, y):
        norms = {}
        for name, terms in groups.items():
            grads = jax.grad(lambda vals: group_losses(losses_of(vals, other_values, x, y), {name: terms})[name])(values)
            norms[name] = jnp.stack([jnp.sum(jnp.square(g.astype("float32"))) for g in grads])
        return losses_of(values, other_values, x, y), norms

    return measure, others
