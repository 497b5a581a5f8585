"""The quickest way for a test to run a step or two on the current backend, or a (JAX) subprocess."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np

from .xla_flags import with_quick_codegen

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Eagerly on TensorFlow: tracing a tiny distillation step costs more than a few eager steps (30 s
# against 8 s for two tas_branch steps on the 2-core CI machine). Compiled on JAX, whose eager mode
# compiles every operation on first use. Tests whose subject is the compiled step (tracing, XLA,
# what the graph updates, the teacher staying frozen) compile it on every backend instead.
EAGER_IS_QUICKER = keras.backend.backend() == "tensorflow"


def jax_subprocess_env(devices=1, **extra):
    """The environment for a JAX subprocess on `devices` forced host CPU devices, compiling as the JAX
    run does (xla_flags.py's quick-compile flags, conftest.py's shared compilation cache)."""
    flags = with_quick_codegen(os.environ.get("XLA_FLAGS", ""))
    if devices > 1:
        flags += f" --xla_force_host_platform_device_count={devices}"
    return {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": flags.strip(), **extra}


def subprocess_report(args, env=None, timeout=600):
    """Runs `python *args` from the repository root in a fresh process (where the point is a backend, forced
    devices or a load with nothing else imported) and returns the JSON it printed after "REPORT"."""
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[len("REPORT"):])


def computed(fn):
    """fn() for a forward pass (no state updates), the quickest way on this backend: as is on
    TensorFlow; compiled once on JAX, whose eager mode compiles each operation separately (a micro
    Swin with its feature taps: 9.1 s eagerly, 3.4 s compiled)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)()
    return fn()


def inference(model, x):
    """model(x, training=False) as numpy (a dict for dict outputs), computed as above."""
    return keras.tree.map_structure(keras.ops.convert_to_numpy, computed(lambda: model(x, training=False)))


def backend_grad(fn, x):
    """d fn / d x with the active backend's autodiff (compiled once on JAX, as `computed`)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.jit(jax.grad(fn))(x))
    if backend == "tensorflow":
        import tensorflow as tf

        v = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = fn(v)
        return tape.gradient(out, v).numpy()
    import torch

    v = torch.tensor(x, requires_grad=True)
    fn(v).backward()
    return v.grad.numpy()
