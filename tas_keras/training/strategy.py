"""Choosing the distribution strategy (TensorFlow) or distribution (JAX)."""

import contextlib

import keras

from tas_keras.errors import InputError
from tas_keras.training.config import STRATEGIES


def distribution_scope(name):
    """(scope, replicas): `scope()` gives a fresh context manager under which models and the distiller
    are built.

    auto: MirroredStrategy when TensorFlow sees more than one GPU, else the default strategy;
    mirrored: MirroredStrategy over all visible devices; multi_worker: MultiWorkerMirroredStrategy
    from TF_CONFIG; none: the default. Under JAX, keras.distribution.DataParallel over the visible
    devices: with auto when there are several accelerators, with mirrored whenever there are several."""
    if name not in STRATEGIES:
        raise InputError(f"Unknown strategy {name!r}; valid: {STRATEGIES}.")
    backend = keras.backend.backend()
    if backend == "jax":
        if name == "multi_worker":
            raise InputError("strategy 'multi_worker' needs the TensorFlow backend (KERAS_BACKEND=tensorflow).")
        devices = keras.distribution.list_devices()
        accelerators = [d for d in devices if not d.lower().startswith("cpu")]
        if (name == "mirrored" and len(devices) > 1) or (name == "auto" and len(accelerators) > 1):
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        active = keras.distribution.distribution()  # replicas as distributed, not as counted: 1 without one
        return contextlib.nullcontext, 1 if active is None else int(active.device_mesh.devices.size)
    if backend != "tensorflow":
        if name in ("mirrored", "multi_worker"):
            raise InputError(f"strategy {name!r} needs the TensorFlow backend; KERAS_BACKEND is {backend!r}.")
        return contextlib.nullcontext, 1
    import tensorflow as tf

    if name == "multi_worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif name == "mirrored" or (name == "auto" and len(tf.config.list_logical_devices("GPU")) > 1):
        strategy = tf.distribute.MirroredStrategy()
    else:
        strategy = tf.distribute.get_strategy()
    return strategy.scope, strategy.num_replicas_in_sync


def is_chief():
    """False on the non-chief workers of a MultiWorkerMirroredStrategy run (they must not write outputs)."""
    import json
    import os

    tf_config = json.loads(os.environ.get("TF_CONFIG") or "{}")
    if not tf_config:
        return True
    task = tf_config.get("task", {})
    if "chief" in tf_config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0
