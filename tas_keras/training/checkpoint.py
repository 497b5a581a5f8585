"""Epoch checkpoints that a kill at any instant leaves consistent: a resumed run starts from exactly
the state of its last finished epoch."""

import json
import pathlib

import keras

from tas_keras.atomic import atomic_json, atomic_write, remove_stale_temp_files


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch: the whole model (weights, optimizer state, method state) to a new file
    `<stem>-<epoch>.keras` (atomically), then `<stem>.json` naming that file and its epoch, then the
    older files are deleted. The json is the commit point: a kill before it leaves the json naming the
    previous, complete file (the newer file it does not name is deleted on resume); a kill after it
    only leaves an old file to delete. Writing the model in place and the epoch after it would, if
    killed in between, pair a trained-on epoch's weights with the epoch before it and train that
    epoch twice. That is what keras.callbacks.BackupAndRestore does (latest.weights.h5 overwritten in
    place, then training_metadata.json), and a kill inside its weights write leaves no complete file
    unless double_checkpoint is set; it also saves weights only, so the model must be rebuilt
    identically before restoring, where a .keras file rebuilds the Distiller with its method's state."""

    def __init__(self, folder, stem="checkpoint", enabled=True):
        super().__init__()
        self.folder, self.stem, self.enabled = pathlib.Path(folder), stem, enabled
        self.state_path = self.folder / f"{stem}.json"

    def on_epoch_end(self, epoch, logs=None):
        if not self.enabled:
            return
        name = f"{self.stem}-{epoch + 1}.keras"
        atomic_write(self.folder / name, self.model.save)
        atomic_json(self.state_path, {"epochs_done": epoch + 1, "model_file": name})
        self._remove_model_files(keep=name)

    def resume_state(self):
        """(model, epochs_done) of the last finished epoch, or (None, 0). The writer (enabled) first
        removes what a kill left behind: temp files and model files the state does not name."""
        state = json.loads(self.state_path.read_text()) if self.state_path.is_file() else {}
        name = state.get("model_file", f"{self.stem}.keras") if state else None  # older states name no file
        if self.enabled:
            remove_stale_temp_files(self.folder)
            self._remove_model_files(keep=name)
        if name is None or not (self.folder / name).is_file():
            return None, 0
        return keras.saving.load_model(self.folder / name), state["epochs_done"]

    def _model_files(self):
        return [*self.folder.glob(f"{self.stem}-*.keras"), *self.folder.glob(f"{self.stem}.keras")]

    def _remove_model_files(self, keep):
        for path in self._model_files():
            if path.name != keep:
                path.unlink(missing_ok=True)

    def clear(self):
        """Removes the checkpoint (state first, so a kill in between leaves no state naming a lost file)."""
        self.state_path.unlink(missing_ok=True)
        self._remove_model_files(keep=None)
