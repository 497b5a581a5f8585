"""Run as a script: tools/train.py with two test hooks in its epoch checkpoints, for the kill tests.

    SNAPSHOTS=dir PAUSE_STEM=checkpoint PAUSE_EPOCH=2 PAUSE_POINT=model_write PAUSE_FLAG=file \\
        python tests/training/pausing_train.py <train.py arguments>

- After each finished checkpoint, the model's variables and its optimizer's go to
  SNAPSHOTS/<stem>-<epoch>.npz (what a resume from that epoch must restore).
- The checkpoint of epoch PAUSE_EPOCH with stem PAUSE_STEM stops at PAUSE_POINT, touches PAUSE_FLAG and
  sleeps until killed: `model_write` (the model's temp file written, not yet renamed) or
  `before_state` (the model file in place, the json naming it not yet written).
"""

import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tas_keras.cli.train import main  # noqa: E402
from tas_keras.training import checkpoint  # noqa: E402

SNAPSHOTS = pathlib.Path(os.environ["SNAPSHOTS"])
STEM, EPOCH, POINT, FLAG = os.environ["PAUSE_STEM"], int(os.environ["PAUSE_EPOCH"]), os.environ["PAUSE_POINT"], os.environ["PAUSE_FLAG"]


def pause():
    pathlib.Path(FLAG).write_text(str(os.getpid()))
    time.sleep(3600)


def atomic_write(path, write):
    def write_then_pause(tmp):
        write(tmp)
        if POINT == "model_write" and pathlib.Path(path).name == f"{STEM}-{EPOCH}.keras":
            pause()

    return real_atomic_write(path, write_then_pause)


def atomic_json(path, data):
    if POINT == "before_state" and pathlib.Path(path).name == f"{STEM}.json" and data["epochs_done"] == EPOCH:
        pause()
    return real_atomic_json(path, data)


def on_epoch_end(self, epoch, logs=None):
    real_on_epoch_end(self, epoch, logs)
    if self.enabled:
        values = [v.numpy() for v in self.model.weights] + [v.numpy() for v in self.model.optimizer.variables]
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        np.savez(SNAPSHOTS / f"{self.stem}-{epoch + 1}.npz", *values)


real_atomic_write, real_atomic_json, real_on_epoch_end = checkpoint.atomic_write, checkpoint.atomic_json, checkpoint.EpochCheckpoint.on_epoch_end
checkpoint.atomic_write, checkpoint.atomic_json, checkpoint.EpochCheckpoint.on_epoch_end = atomic_write, atomic_json, on_epoch_end

if __name__ == "__main__":
    sys.exit(main())
