"""Step timing as fit() runs steps: whole epochs, state kept on the device (on JAX synced back to the
variables once per epoch, not once per step as train_on_batch does)."""

import keras
import pytest

from tas_keras import Distiller
from tas_keras.experiments.timing import matmul_peak_gflops, time_fit_steps
from tests.distill.pairs import tiny, tiny_data

pytestmark = pytest.mark.core


def test_fit_timing_runs_whole_epochs_without_retracing():
    keras.utils.set_random_seed(0)
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=4)
    compile_s, median, per_step = time_fit_steps(distiller, x, y, steps=3, epochs=3)
    assert len(per_step) == 3 and median > 0 and compile_s >= 0
    assert int(keras.ops.convert_to_numpy(distiller.optimizer.iterations)) == 9
    traces = distiller.trace_count
    time_fit_steps(distiller, x, y, steps=3, epochs=2)
    assert distiller.trace_count == traces  # the same compiled step


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX's trainer keeps the state apart from the variables")
def test_on_jax_fit_timing_syncs_the_state_per_epoch_and_train_on_batch_per_call(monkeypatch):
    keras.utils.set_random_seed(0)
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=4)
    calls = []
    sync = distiller.jax_state_sync
    monkeypatch.setattr(distiller, "jax_state_sync", lambda: (calls.append(1), sync())[1])
    time_fit_steps(distiller, x, y, steps=10, epochs=3)
    assert len(calls) <= 2 * 3 + 1  # a few per epoch and at the ends of fit, not one per step (30 steps)
    calls.clear()
    for _ in range(4):
        distiller.train_on_batch(x, y)
    assert len(calls) == 4


def test_the_matmul_ceiling_is_measured():
    assert matmul_peak_gflops(size=256, repeats=2) > 0
    assert matmul_peak_gflops(size=256, dtype="bfloat16", repeats=2) > 0  # the ceiling under mixed_bfloat16
