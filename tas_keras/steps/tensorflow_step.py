"""TensorFlow step: GradientTape, optional XLA around the per-replica forward + backward, and exact
multi-replica scaling under tf.distribute (MirroredStrategy, MultiWorkerMirroredStrategy).

Scaling: every loss term is a mean over the replica's local batch b_r. Multiplying the total by
b_r / sum(b) before the gradient and summing gradients over replicas (the optimizer's all-reduce)
gives exactly the gradient of the global-batch mean, i.e. what one device computes. Targets that
need every image of the global batch (InfoNCE keys) are all-gathered before the loss; the query of
image i then has its positive at its global index.
"""

import contextlib
import functools
import weakref

import tensorflow as tf

from tas_keras.layers import compiled_by_xla
from tas_keras.steps.common import eval_metrics, group_losses, step_inputs, total_loss

_FUNCTIONS = weakref.WeakKeyDictionary()  # distiller -> {(part, xla): tf.function}, built once each


def _compiled(distiller, key, fn, xla=None, forward_only=False):
    """fn(distiller, *args) as a tf.function of *args (XLA when `xla`, by default distiller.xla), built once
    per distiller and XLA setting; eager under compile(run_eagerly=True), for debugging. The function
    reaches the distiller through a weak reference: a cache entry that held its own key would keep every
    distiller (models, optimizer, traced graphs) alive for the whole process. Without AutoGraph: the step
    is written for every backend (no Python control flow on tensors, as jax.jit requires), and
    AutoGraph's conversion of every function it calls was a quarter of the first step's trace
    (16.2 -> 12.5 s for a micro tas_branch pair on the 2-core CPU). A `forward_only` XLA function (the
    teacher's) is traced inside `compiled_by_xla`, so its depthwise convolutions take the shifted sum on
    a CPU (12x faster than XLA's convolution there); their gradients, through TensorFlow's slice
    gradients, are slower that way than XLA's convolution, so the training step keeps the convolution."""
    if distiller.run_eagerly:
        return functools.partial(fn, distiller)
    xla = distiller.xla if xla is None else xla
    cache = _FUNCTIONS.setdefault(distiller, {})
    if (key, xla) not in cache:
        owner = weakref.ref(distiller)

        def bound(*args):
            return fn(owner(), *args)

        bound.__name__ = fn.__name__  # the graph's function names (not functools.wraps: tf.function would read fn's signature)
        cache[(key, xla)] = tf.function(compiled_by_xla()(bound) if xla and forward_only else bound, jit_compile=xla,
                                        reduce_retracing=True, autograph=False)
    return cache[(key, xla)]


def _teacher_targets(distiller, x):
    return distiller.teacher_targets(x)


# Reductions stay TensorFlow's too: with them in the clusters (XLA rewrites them into reduce-window + reduce
# on a CPU) the paper-size bfloat16 KD step was 1-9% slower (3 alternating pairs on a Zen 5 EPYC;
# docs/speed.md; the reductions alone were not cheaper in TensorFlow: where the gain comes from is not established).
_REDUCTIONS = ("Sum", "Mean", "Max", "Min", "Prod", "BiasAddGrad")


def _left_to_tensorflow(node_def):
    """Ops that `xla="elementwise"` leaves outside XLA: matmuls and convolutions (TensorFlow's oneDNN
    kernels beat XLA's on a CPU), reductions, and variable reads (read inside a cluster, each variable
    would be copied out of it again for the matmul that uses it)."""
    return ("MatMul" in node_def.op or "Conv" in node_def.op
            or node_def.op in ("Einsum", "ReadVariableOp") + _REDUCTIONS)


def _elementwise_by_xla(distiller):
    """With `xla="elementwise"`, the ops built in this scope (the forward pass and, through the tape,
    its gradient) that are not left to TensorFlow are marked for XLA, which fuses them into clusters
    (TensorFlow's jit_scope; it needs a graph, so eager steps run as they are)."""
    if not distiller.xla_elementwise or tf.executing_eagerly():
        return contextlib.nullcontext()
    return tf.xla.experimental.jit_scope(compile_ops=lambda node_def: not _left_to_tensorflow(node_def))


def _forward_backward(distiller):
    def step(distiller, x, y, targets, offset, scale):
        with _elementwise_by_xla(distiller):
            with tf.GradientTape() as tape:
                losses, logits = distiller.compute_losses(x, y, targets, offset, training=True)
                total = total_loss(losses)
                scaled = distiller.optimizer.scale_loss(total * tf.cast(scale, total.dtype))
            grads = tape.gradient(scaled, distiller.trainable_variables)
        return losses, total, logits, grads

    return _compiled(distiller, "forward_backward", step)


def _apply_gradients(distiller):
    """optimizer.apply as one XLA function (with or without `xla`) outside tf.distribute: its
    per-variable updates (AdamW: about ten elementwise passes over each variable) fuse into one pass
    each (docs/speed.md: about 3% of the paper-size KD step on the 2-core CPU). Under a strategy (even
    with one replica) the optimizer's gradient all-reduce goes through the replica context
    (merge_call, collectives), so there the update is left as TensorFlow ops, as Keras runs it."""

    def apply(distiller, grads):  # the variables are captured, not arguments: a traced argument must be a tensor
        distiller.optimizer.apply(grads, distiller.trainable_variables)

    if tf.distribute.has_strategy():
        return functools.partial(apply, distiller)
    return _compiled(distiller, "apply", apply, xla=True)


def _replica_layout(targets, global_keys, batch):
    """Local batch offset within the global batch, the global batch size, and the gathered targets."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return targets, tf.constant(0, tf.int32), batch
    sizes = ctx.all_gather(tf.reshape(batch, (1,)), axis=0)
    offset = tf.reduce_sum(sizes[: ctx.replica_id_in_sync_group])
    gathered = {k: (ctx.all_gather(v, axis=0) if k in global_keys else v) for k, v in targets.items()}
    return gathered, offset, tf.reduce_sum(sizes)


def train_step(distiller, data):
    x, y = step_inputs(distiller, data)
    batch = tf.shape(x)[0]
    targets = _compiled(distiller, "teacher", _teacher_targets, forward_only=True)(x)
    if "labels" in distiller.method.global_targets:
        targets = {**targets, "labels": y}
    targets, offset, global_batch = _replica_layout(targets, distiller.method.global_targets, batch)
    scale = tf.cast(batch, tf.float32) / tf.cast(global_batch, tf.float32)
    losses, total, logits, grads = _forward_backward(distiller)(x, y, targets, offset, scale)
    _apply_gradients(distiller)(grads)
    return _for_keras_reduction(distiller.update_metrics(losses, total, y, logits, batch))


def test_step(distiller, data):
    return _for_keras_reduction(eval_metrics(distiller, data))


def _for_keras_reduction(logs):
    """Keras reduces the logs of a MultiWorkerMirroredStrategy step with reduce(MEAN, axis=0), which
    fails on scalars; the values (global metric results) are the same on every replica, so give
    them an axis of length 1. Only where Keras does so (its trainer's
    `_collective_all_reduce_multi_worker`): with one local worker, it passes the logs on unreduced,
    and callbacks must see scalars."""
    strategy = tf.distribute.get_strategy()
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._in_multi_worker_mode():
        return {k: tf.reshape(v, (1,)) for k, v in logs.items()}
    return logs


def group_gradient_sq_norms(distiller, x, y, groups, variables):
    """Eager: ({term: value}, {group: [squared gradient norm per variable]}) for one batch. Under a
    tf.distribute strategy it runs in the first replica (the tape needs the replica context)."""

    def measure(x, y):
        targets = distiller.teacher_targets(x)
        with tf.GradientTape(persistent=True) as tape:
            losses, _ = distiller.compute_losses(x, y, targets, 0, training=True)
            grouped = group_losses(losses, groups)
        norms = {}
        for name, value in grouped.items():
            grads = tape.gradient(value, variables)
            norms[name] = tf.stack([tf.constant(0.0) if g is None else tf.reduce_sum(tf.square(tf.cast(g, tf.float32))) for g in grads])
        del tape
        return {k: tf.cast(v, tf.float32) for k, v in losses.items()}, norms

    if tf.distribute.has_strategy() and tf.distribute.in_cross_replica_context():
        strategy = tf.distribute.get_strategy()
        losses, norms = tf.nest.map_structure(lambda v: strategy.experimental_local_results(v)[0], strategy.run(measure, args=(x, y)))
    else:
        losses, norms = measure(x, y)
    return {k: float(v) for k, v in losses.items()}, {k: [float(n) for n in v.numpy()] for k, v in norms.items()}
