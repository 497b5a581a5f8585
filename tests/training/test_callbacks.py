"""The run pipeline's callbacks: the epoch log keeps one row per epoch across a resume; the time
forecast comes after the first steps; epoch checkpoints keep one model file, the one their state names;
a NaN loss stops training before its epoch replaces the last good checkpoint."""

import csv
import threading

import keras
import numpy as np
import pytest

from tas_keras.errors import TrainingDiverged
from tas_keras.training.callbacks import EpochLog, EpochTensorBoard, StopOnNonFiniteLoss, TimeForecast, format_duration, logged_seconds, stage_callbacks
from tas_keras.training.checkpoint import EpochCheckpoint

pytestmark = pytest.mark.core


def small_fit(epochs, initial_epoch=0, callbacks=()):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((32, 4), "float32"), np.zeros((32, 2), "float32")
    model.fit(x, y, batch_size=2, epochs=epochs, initial_epoch=initial_epoch, callbacks=list(callbacks), verbose=0)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_epoch_log_rewrites_the_epochs_of_a_resumed_run_once(tmp_path):
    path = tmp_path / "metrics.csv"
    small_fit(3, callbacks=[EpochLog(path)])
    assert [r["epoch"] for r in rows(path)] == ["0", "1", "2"] and "loss" in rows(path)[0]
    # killed after epoch 2's row but before its checkpoint: the resume starts at epoch 2 again
    small_fit(4, initial_epoch=2, callbacks=[EpochLog(path)])
    assert [r["epoch"] for r in rows(path)] == ["0", "1", "2", "3"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    # each epoch's time, so that a resumed run's time is the sum over its legs
    times = [float(r["epoch_seconds"]) for r in rows(path)]
    assert all(t > 0 for t in times) and logged_seconds(path) == pytest.approx(sum(times), abs=0.05)
    older = tmp_path / "older.csv"
    older.write_text("epoch,loss\n0,1.0\n")  # a log written before the column: its time is unknown
    small_fit(2, initial_epoch=1, callbacks=[EpochLog(older)])
    assert [r["epoch_seconds"] for r in rows(older)][0] == "" and logged_seconds(older) is None
    assert logged_seconds(tmp_path / "none.csv") is None


def test_time_forecast_after_the_first_steps():
    lines = []
    small_fit(2, callbacks=[TimeForecast("Teacher training", total_steps=32, log=lines.append, steps=10)])
    assert len(lines) == 1 and lines[0].startswith("Teacher training: ") and "32 steps in all, about" in lines[0]
    lines.clear()
    small_fit(1, callbacks=[TimeForecast("Short", total_steps=5, log=lines.append, steps=10)])
    assert lines == []  # fewer steps than the forecast needs: nothing to forecast


def test_durations_read_naturally():
    assert [format_duration(s) for s in (12, 600, 36000, 3 * 86400)] == ["12 s", "10 min", "10.0 h", "3.0 days"]


def test_epoch_checkpoint_keeps_the_file_its_state_names_and_reads_the_older_layout(tmp_path):
    small_fit(3, callbacks=[EpochCheckpoint(tmp_path)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-3.keras", "checkpoint.json"]
    model, done = EpochCheckpoint(tmp_path).resume_state()
    assert done == 3 and int(model.optimizer.iterations.numpy()) == 48
    (tmp_path / "checkpoint-3.keras").rename(tmp_path / "checkpoint.keras")  # written before the state named its file
    (tmp_path / "checkpoint.json").write_text('{"epochs_done": 3}')
    (tmp_path / "checkpoint-4.keras").write_bytes(b"a newer file the state does not name (killed before its commit)")
    model, done = EpochCheckpoint(tmp_path).resume_state()
    assert done == 3 and int(model.optimizer.iterations.numpy()) == 48
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.json", "checkpoint.keras"]
    EpochCheckpoint(tmp_path).clear()
    assert not list(tmp_path.iterdir())


def test_a_nan_loss_stops_training_before_its_epoch_is_checkpointed(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.ones((32, 4), "float32"), np.zeros((32, 2), "float32")
    guard = StopOnNonFiniteLoss("Training", "Lower the learning rate.")
    model.fit(x, y, batch_size=8, epochs=1, callbacks=[guard, EpochCheckpoint(tmp_path)], verbose=0)
    good = model.get_weights()
    x[20] = np.nan  # in the third batch
    message = r"^Training diverged: the loss is nan at epoch 2, step 3; nothing of that epoch was saved. Lower the learning rate.$"
    with pytest.raises(TrainingDiverged, match=message) as raised:
        model.fit(x, y, batch_size=8, epochs=2, initial_epoch=1, callbacks=[guard, EpochCheckpoint(tmp_path)], verbose=0, shuffle=False)
    assert raised.value.where == "the loss is nan at epoch 2, step 3"
    restored, done = EpochCheckpoint(tmp_path).resume_state()  # the first epoch's checkpoint is still the run's state
    assert done == 1 and all(np.array_equal(a, b) for a, b in zip(restored.get_weights(), good))


def test_the_runs_batch_hooks_leave_fit_asynchronous_where_keras_allows_it(tmp_path):
    """On JAX and torch, Keras runs batch hooks in a worker thread unless some callback's batch hook is
    not async-safe: then every step's logs are read on the main thread, a host sync per step. Keras'
    own TensorBoard is such a callback; the callbacks a training stage attaches (stage_callbacks) are not."""
    if keras.backend.backend() == "tensorflow":
        pytest.skip("Keras' TensorFlow trainer runs every batch hook on the main thread")
    on_main_thread = set()

    class Probe(keras.callbacks.Callback):
        async_safe = True

        def on_train_batch_end(self, batch, logs=None):
            on_main_thread.add(threading.current_thread() is threading.main_thread())

    small_fit(1, callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "keras_tb")), Probe()])
    assert on_main_thread == {True}
    on_main_thread.clear()
    ours = stage_callbacks("Training", tmp_path, "metrics.csv", EpochCheckpoint(tmp_path), 16, "", log=lambda *a: None, tensorboard=True)
    assert any(isinstance(c, EpochTensorBoard) for c in ours)
    small_fit(1, callbacks=[*ours, Probe()])
    assert on_main_thread == {False}
    assert list((tmp_path / "tensorboard" / "train").iterdir())  # the epoch's logs were written
