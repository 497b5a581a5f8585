"""The learning-rate schedule and loading files saved with it."""

import math
import subprocess
import sys

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras.training.config import OptimizerConfig
from tas_keras.training.optim import build_optimizer

pytestmark = pytest.mark.core


def hand_written_schedule(step, peak, total, warmup, floor):
    """The schedule tas_keras wrote by hand before it used Keras' CosineDecay (the reference)."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(max((step - warmup) / max(1, total - warmup), 0.0), 1.0)
    return floor + 0.5 * (peak - floor) * (1 + math.cos(math.pi * progress))


@pytest.mark.parametrize("warmup_epochs", [0, 2])
def test_keras_cosine_decay_gives_the_hand_written_schedule(warmup_epochs):
    """Identical after the warm-up; the warm-up itself is Keras' linear ramp from 0 (one step behind
    the hand-written one, which started at peak / warmup)."""
    optimizer = build_optimizer(OptimizerConfig(lr=1.0, warmup_epochs=warmup_epochs, min_lr=0.1), steps_per_epoch=5, epochs=10)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    lr = [float(schedule(step)) for step in range(55)]
    warmup = 5 * warmup_epochs
    expected = [hand_written_schedule(s, 1.0, 50, warmup, 0.1) for s in range(55)]
    np.testing.assert_allclose(lr[warmup:], expected[warmup:], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(lr[:warmup], np.arange(warmup) / max(warmup, 1), rtol=1e-6, atol=1e-7)
    assert lr[-1] == pytest.approx(0.1, abs=1e-6)


@pytest.mark.parametrize("warmup_steps", [0, 10])
def test_the_schedule_without_cond_is_keras_cosine_decay(warmup_steps):
    """Its values are Keras' CosineDecay's at every step (warm-up, decay, past the end); its config too."""
    from tas_keras.schedules import CosineDecayWithoutCond

    args = dict(initial_learning_rate=0.0 if warmup_steps else 1.0, decay_steps=40, alpha=0.1,
                warmup_target=1.0 if warmup_steps else None, warmup_steps=warmup_steps)
    ours, keras_own = CosineDecayWithoutCond(**args), keras.optimizers.schedules.CosineDecay(**args)
    steps = range(0, 60)
    np.testing.assert_allclose([float(ours(s)) for s in steps], [float(keras_own(s)) for s in steps], rtol=1e-6, atol=1e-7)
    assert ours.get_config() == keras_own.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(ours))
    assert type(restored) is CosineDecayWithoutCond and float(restored(15)) == float(ours(15))


def test_the_legacy_schedule_loads_as_keras_cosine_decay():
    from tas_keras.schedules import WarmupCosine

    old = WarmupCosine(peak=1.0, total_steps=50, warmup_steps=10, floor=0.1)
    assert WarmupCosine.from_config(old.get_config()).get_config() == {"peak": 1.0, "total_steps": 50, "warmup_steps": 10, "floor": 0.1}
    np.testing.assert_allclose([float(old(s)) for s in range(10, 55)], [hand_written_schedule(s, 1.0, 50, 10, 0.1) for s in range(10, 55)], rtol=1e-5)


LOAD = """
import sys, keras
import tas_keras
model = keras.saving.load_model(sys.argv[1])
print(type(model.optimizer.learning_rate).__name__ if hasattr(model.optimizer, "learning_rate") else "")
"""


def test_a_model_saved_with_our_optimizer_loads_after_import_tas_keras_alone(tmp_path):
    # Teachers and checkpoints are saved compiled: plain keras.saving.load_model must find the schedule.
    model = tas_keras.create_model("resnet_micro", num_classes=3, widths=[8, 8, 8, 8], stem_width=8)
    model.compile(optimizer=build_optimizer(OptimizerConfig(warmup_epochs=1), steps_per_epoch=4, epochs=2), loss="sparse_categorical_crossentropy")
    path = tmp_path / "model.keras"
    model.save(path)
    result = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
