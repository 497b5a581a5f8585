"""The learning-rate schedule and loading files saved with it."""

import subprocess
import sys

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras.config import OptimizerConfig
from tas_keras.training.optim import build_optimizer

pytestmark = pytest.mark.core


def test_warmup_then_cosine_to_the_floor():
    optimizer = build_optimizer(OptimizerConfig(lr=1.0, warmup_epochs=2, min_lr=0.1), steps_per_epoch=5, epochs=10)
    schedule = optimizer.learning_rate if callable(optimizer.learning_rate) else optimizer._learning_rate
    lr = [float(schedule(step)) for step in range(50)]
    np.testing.assert_allclose(lr[:10], np.arange(1, 11) / 10, rtol=1e-6)  # linear warm-up over 10 steps
    assert lr[10] == pytest.approx(1.0) and all(a >= b for a, b in zip(lr[10:], lr[11:]))
    assert lr[-1] == pytest.approx(0.1, abs=2e-3)


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
