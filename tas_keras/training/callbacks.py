"""Training callbacks of the run pipeline: an epoch log that is never half-written or duplicated,
a time forecast after the first steps, a stop at the first non-finite loss, and TensorBoard at epoch
level; `stage_callbacks` is the list every training stage attaches (also timed by tools/benchmark.py).

The callbacks with a batch hook are `async_safe`: on backends whose Keras trainer may run batch hooks
in a thread (JAX, torch), a batch hook that is not async-safe makes fit() read every step's logs on
the main thread, i.e. wait for each step to finish before dispatching the next (a host sync per step).
"""

import csv
import io
import math
import pathlib
import threading
import time

import keras

from tas_keras.atomic import atomic_write
from tas_keras.errors import TrainingDiverged


class EpochLog(keras.callbacks.Callback):
    """metrics.csv, one row per finished epoch, rewritten atomically (temp file + rename) every epoch.

    Keras' CSVLogger(append=True) appends in place: a run killed between its row and the epoch's
    checkpoint repeats that epoch's row after resuming. Here the first epoch of a (resumed) fit drops
    the rows of that epoch and later ones, so every epoch appears once. Place it before the
    checkpoint callback. Each row also has `epoch_seconds` (the epoch's training and validation), so
    the time a run took, over all its resumed legs, is the sum of the column (`logged_seconds`)."""

    def __init__(self, path):
        super().__init__()
        self.path = pathlib.Path(path)
        self.rows = None
        self.epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def _read(self):
        if not self.path.is_file():
            return []
        with open(self.path, newline="") as f:
            return list(csv.DictReader(f))

    def on_epoch_end(self, epoch, logs=None):
        if self.rows is None:
            self.rows = [r for r in self._read() if int(r["epoch"]) < epoch]
        seconds = round(time.perf_counter() - self.epoch_start, 3)
        self.rows.append({"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}, "epoch_seconds": seconds})
        columns = ["epoch"] + sorted({k for r in self.rows for k in r} - {"epoch"})
        text = io.StringIO()
        writer = csv.DictWriter(text, columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)

        def write(tmp):
            pathlib.Path(tmp).write_text(text.getvalue())

        atomic_write(self.path, write)


def logged_seconds(path):
    """The seconds of all epochs in an EpochLog file (every leg of a resumed run), or None when a row
    has no time (written before the column existed) or there is no file."""
    if not pathlib.Path(path).is_file():
        return None
    with open(path, newline="") as f:
        times = [row.get("epoch_seconds") for row in csv.DictReader(f)]
    return round(sum(map(float, times)), 1) if times and all(times) else None


class TimeForecast(keras.callbacks.Callback):
    """After `steps` training steps (not counting the first `skip`, which compile: on the torch backend
    the compiled optimizer update first runs at the second step), logs the time per step and the
    projected time of the whole stage."""

    async_safe = True  # its state is counted under a lock; it reads no logs

    def __init__(self, label, total_steps, log=print, steps=10, skip=2):
        super().__init__()
        self.label, self.total_steps, self.log, self.steps, self.skip = label, int(total_steps), log, steps, skip
        self.seen, self.start = 0, None
        self._lock = threading.Lock()

    def on_train_batch_end(self, batch, logs=None):
        if 0 < self.total_steps <= self.steps + self.skip:  # over by the time there is a forecast
            return
        with self._lock:
            self.seen += 1
            seen = self.seen
            if seen == self.skip:
                self.start = time.perf_counter()
        if seen == self.steps + self.skip:
            per_step = (time.perf_counter() - self.start) / self.steps
            after = f"{per_step:.3g} s per step after the first {self.skip}"
            if self.total_steps <= 0:  # streamed data of unknown length
                self.log(f"{self.label}: {after}.")
                return
            remaining = per_step * max(0, self.total_steps - seen)
            self.log(f"{self.label}: {after}; {self.total_steps} steps in all, about {format_duration(remaining)} to go.")


def format_duration(seconds):
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises TrainingDiverged at the first step whose loss is NaN or infinite. Keras' TerminateOnNaN
    only sets stop_training, so the epoch still ends: the checkpoint callback would then replace the
    last good checkpoint with NaN weights and the run would save a NaN model. Raising leaves the last
    finished epoch's checkpoint as the run's state. `advice` ends the message (what to change).
    Dispatched in a thread, its error reaches fit() at a later step's dispatch or, at the latest, when
    the epoch ends, before the epoch's callbacks (the checkpoint) run."""

    async_safe = True

    def __init__(self, label, advice):
        super().__init__()
        self.label, self.advice, self.epoch = label, advice, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            where = f"the loss is {float(loss)} at epoch {self.epoch + 1}, step {batch + 1}"
            raise TrainingDiverged(f"{self.label} diverged: {where}; nothing of that epoch was saved. {self.advice}", where)


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard logs written once per epoch. Keras' TensorBoard has a batch hook, so it is not
    async-safe by default; at update_freq="epoch", without a graph or a profile, that hook finds no
    default summary writer and writes nothing, so running it in a thread is safe."""

    async_safe = True

    def __init__(self, log_dir):
        super().__init__(log_dir, update_freq="epoch", write_graph=False, profile_batch=0)


def stage_callbacks(label, folder, csv_name, checkpoint, total_steps, advice, log, chief=True, tensorboard=False):
    """The callbacks of one training stage, in the order they must run: the stop at a non-finite loss
    (`advice` ends its message), then, on the chief only, the epoch CSV `folder/csv_name` and
    TensorBoard logs in `folder/tensorboard` (if `tensorboard`), the epoch checkpoint (after the logs,
    which EpochLog needs), and the time forecast of `total_steps` steps (logged with `log`)."""
    loggers = []
    if chief:
        loggers.append(EpochLog(pathlib.Path(folder, csv_name)))
        if tensorboard:
            loggers.append(EpochTensorBoard(str(pathlib.Path(folder, "tensorboard"))))
    return [StopOnNonFiniteLoss(label, advice), *loggers, checkpoint, TimeForecast(label, total_steps, log)]
