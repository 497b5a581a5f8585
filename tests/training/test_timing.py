"""Step timing as fit() runs steps: whole epochs, state kept on the device (on JAX synced back to the
variables once per epoch, not once per step as train_on_batch does)."""

import keras
import pytest

from tas_keras import Distiller
from tas_keras.experiments import timing
from tas_keras.experiments.timing import fit_times_in_rotation, matmul_peak_gflops, paired_ratio, time_fit_steps
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


def test_rotation_times_every_model_each_round_starting_one_later_each_round(monkeypatch):
    order = []

    def fake_time(model, x, y, steps, epochs):
        order.append(model)
        return 0.0, 0.0, [9.0, float(len(order))]  # the second epoch's time: the call's position

    monkeypatch.setattr(timing, "time_fit_steps", fake_time)
    times = fit_times_in_rotation({"a": "A", "b": "B", "c": "C"}, None, None, rounds=4)
    assert order == list("ABC" "BCA" "CAB" "ABC")
    assert times == {"a": [1.0, 6.0, 8.0, 10.0], "b": [2.0, 4.0, 9.0, 11.0], "c": [3.0, 5.0, 7.0, 12.0]}

    keras.utils.set_random_seed(0)
    monkeypatch.undo()
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=4)
    real = fit_times_in_rotation({"kd": distiller}, x, y, rounds=2, steps=2)
    assert len(real["kd"]) == 2 and min(real["kd"]) > 0
    assert int(keras.ops.convert_to_numpy(distiller.optimizer.iterations)) == 2 * 2 * 2  # two epochs of 2 steps a round


def test_paired_ratio_gives_the_median_ratio_an_order_statistic_interval_and_the_wins():
    baseline = [100.0, 110.0, 95.0, 105.0, 120.0, 100.0, 98.0, 102.0, 130.0, 101.0]
    faster = [0.9 * b for b in baseline]
    r = paired_ratio(baseline, faster)
    assert (r.faster, r.rounds) == (10, 10) and r.low == pytest.approx(0.9) and r.high == pytest.approx(0.9)
    # ten rounds: the 2nd smallest to the 2nd largest ratio, coverage 1 - 2 (1 + 10) / 2^10
    noisy = [b * f for b, f in zip(baseline, [1.2, 0.7, 1.05, 0.95, 1.1, 0.9, 1.0, 1.3, 0.8, 1.01])]
    r = paired_ratio(baseline, noisy)
    assert (r.low, r.high) == pytest.approx((0.8, 1.2)) and r.median == pytest.approx(1.005)
    assert r.confidence == pytest.approx(1 - 2 * 11 / 1024) and r.faster == 4 and r.low < 1.0 < r.high
    r = paired_ratio([1.0, 1.0, 1.0], [0.5, 2.0, 1.5], confidence=0.9)  # too few rounds for 90%: the widest
    assert (r.low, r.high, r.confidence) == (0.5, 2.0, 0.75)
    with pytest.raises(ValueError, match="equally long"):
        paired_ratio([1.0, 2.0], [1.0])
