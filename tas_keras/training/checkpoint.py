"""Epoch checkpoints, written atomically (tas_keras.atomic): a killed run resumes from the last
completed epoch."""

import json
import pathlib

import keras

from tas_keras.atomic import atomic_json, atomic_write, remove_stale_temp_files


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the whole model (with optimizer state) to `<stem>.keras`, then its epoch to
    `<stem>.json`; the json is written second, so it never names an epoch the model file lacks."""

    def __init__(self, folder, stem="checkpoint", enabled=True):
        super().__init__()
        self.model_path = pathlib.Path(folder, f"{stem}.keras")
        self.state_path = pathlib.Path(folder, f"{stem}.json")
        self.enabled = enabled

    def on_epoch_end(self, epoch, logs=None):
        if not self.enabled:
            return
        atomic_write(self.model_path, self.model.save)
        atomic_json(self.state_path, {"epochs_done": epoch + 1})

    def resume_state(self):
        """(model, epochs_done) of the last completed epoch, or (None, 0). Temp files of a write that a
        kill interrupted are removed first (the files they were replacing are intact)."""
        if self.enabled:  # the writer; other workers only read
            remove_stale_temp_files(self.model_path.parent)
        if not (self.model_path.is_file() and self.state_path.is_file()):
            return None, 0
        epochs_done = json.loads(self.state_path.read_text())["epochs_done"]
        return keras.saving.load_model(self.model_path), epochs_done

    def clear(self):
        for path in (self.state_path, self.model_path):
            if path.exists():
                path.unlink()
