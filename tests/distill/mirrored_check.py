"""Run as a script (TensorFlow only): one distillation step on 1 device (eagerly, unless XLA is
checked) vs 2 logical CPU devices under MirroredStrategy (compiled), same global batch and initial
weights; prints a JSON report of the differences for
each check named on the command line (one process for all: each start costs a TensorFlow import).

    python tests/distill/mirrored_check.py NAME:METHOD:XLA(0|1|elementwise)[:jit_compile][:per_replica][:option=value ...] ...

With `jit_compile`, XLA is asked for the Keras way, `compile(jit_compile=True)`, instead of `xla=`;
option=value pairs are method options (values parsed as YAML). With `per_replica` (methods whose loss
is batch-level and computed on each replica's own batch), the 2-replica step is instead compared
with the mean of two 1-device steps on the batch's halves (what 2 replicas of 4 images compute).
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

import tas_keras  # noqa: E402

BATCH = 8
# One strategy for every check: separate MirroredStrategy objects in one process reuse collective
# instance keys, and a later all-gather then collided with an earlier all-reduce (TensorFlow aborted).
MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def check(method, xla, flags, options):
    keras_flag, per_replica = "jit_compile" in flags, "per_replica" in flags
    # the Distiller's XLA settings per run; the trainable weights every step starts from
    xla_used, elementwise_used, trainable_start = [], [], []

    def build():
        keras.utils.set_random_seed(0)
        teacher = tas_keras.create_model("convnext_micro", num_classes=10, depths=[1, 1, 1, 1], dims=[16, 32, 64, 64])
        student = tas_keras.create_model("vit_micro_patch4_32", num_classes=10, embed_dim=32)
        return tas_keras.Distiller(teacher, student, method=method, xla=False if keras_flag else xla, **options)

    def one_step(strategy, weights, rows=slice(None)):
        # The 1-device reference runs eagerly unless XLA is what is checked: the step under test is the
        # 2-replica one, and tracing every reference step too cost half of these checks' time.
        eager = strategy is not MIRRORED and xla is not True
        with strategy.scope():
            distiller = build()
            distiller.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=eager, **({"jit_compile": xla} if keras_flag else {}))
        if weights is not None:
            distiller.set_weights(weights)
        rng = np.random.default_rng(0)
        x = rng.uniform(size=(BATCH, 32, 32, 3)).astype("float32")[rows]
        y = rng.integers(0, 10, size=(BATCH,))[rows]
        start = [w.copy() for w in distiller.get_weights()]
        trainable_start[:] = [v.numpy() for v in distiller.trainable_weights]
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(len(x))
        logs = distiller.fit(ds, epochs=1, verbose=0).history
        xla_used.append(distiller.xla)
        elementwise_used.append(distiller.xla_elementwise)
        after = [v.numpy() for v in distiller.trainable_weights], [v.numpy() for v in distiller.non_trainable_weights]
        return start, {k: float(v[0]) for k, v in logs.items()}, after

    start, single_logs, (single_after, single_state) = one_step(tf.distribute.OneDeviceStrategy("/cpu:0"), None)
    if per_replica:  # trainable weights: the mean of the halves' updates; state (e.g. CRD's memory): the first half's
        halves = [one_step(tf.distribute.OneDeviceStrategy("/cpu:0"), start, rows)[1:] for rows in (slice(0, BATCH // 2), slice(BATCH // 2, None))]
        single_logs = {k: 0.5 * (halves[0][0][k] + halves[1][0][k]) for k in single_logs}
        single_after = [0.5 * (a + b) for a, b in zip(halves[0][1][0], halves[1][1][0])]
        single_state = halves[0][1][1]
    _, mirrored_logs, (mirrored_after, mirrored_state) = one_step(MIRRORED, start)
    updates = [np.abs(a - s).max() for a, s in zip(single_after, trainable_start)]  # every run starts from `start`
    return {
        "replicas": MIRRORED.num_replicas_in_sync,
        "xla_used": xla_used,  # the Distiller's XLA setting in the 1-device and the 2-replica run
        "elementwise_used": elementwise_used,  # its xla="elementwise" setting (applied where the step is compiled)
        "single": single_logs,
        "mirrored": mirrored_logs,
        "max_loss_diff": max(abs(single_logs[k] - mirrored_logs[k]) for k in single_logs if k.startswith("loss")),
        "max_weight_diff": float(max(np.abs(a - b).max() for a, b in zip(single_after, mirrored_after))),
        "max_state_diff": float(max([np.abs(a.astype("float64") - b).max() for a, b in zip(single_state, mirrored_state)] or [0.0])),
        "state_changed": int(sum(np.any(a != b) for a, b in zip(single_state, halves[1][1][1]))) if per_replica else None,
        "max_update": float(max(updates)),
        "weights_updated": int(sum(u > 0 for u in updates)),
    }


for spec in sys.argv[1:]:
    name, method, xla, *rest = spec.split(":")
    options = {k: yaml.safe_load(v) for k, v in (a.split("=", 1) for a in rest if "=" in a)}
    xla = {"0": False, "1": True, "elementwise": "elementwise"}[xla]
    print(f"REPORT {name} " + json.dumps(check(method, xla, [a for a in rest if "=" not in a], options)), flush=True)
