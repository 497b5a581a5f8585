"""The Distiller under keras.distribution.DataParallel on JAX, over 2 forced host devices (subprocess:
the device count and the backend are fixed per process)."""

import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = """
import numpy as np, keras, tas_keras
from tests.distill.pairs import tiny, tiny_data
devices = keras.distribution.list_devices()
assert len(devices) == 2, devices
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
x, y = tiny_data(n=16)
distiller = tas_keras.Distiller(tiny("cnn"), tiny("vit"), method="tas")
distiller.compile(optimizer="adam")
history = distiller.fit(x, y, batch_size=8, epochs=1, verbose=0).history
assert all(np.isfinite(v).all() for v in history.values()), history
print("DATA_PARALLEL_OK", sorted(history))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None and not os.environ.get("CI"), reason="JAX is not installed")
def test_tas_fits_under_data_parallel_on_two_jax_devices():
    env = dict(os.environ, KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "DATA_PARALLEL_OK" in proc.stdout and "loss_nce" in proc.stdout
