"""Files that are never left half-written: every write goes to a temp file in the same folder, then
os.replace. A killed run resumes from the last completed epoch."""

import json
import os
import pathlib
import tempfile

import keras


def atomic_write(path, write):
    """write(tmp_path) produces the file; it then replaces `path` in one rename."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp_{path.stem}_", suffix="".join(path.suffixes))
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def atomic_json(path, data):
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)

    return atomic_write(path, write)


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
        """(model, epochs_done) of the last completed epoch, or (None, 0)."""
        if not (self.model_path.is_file() and self.state_path.is_file()):
            return None, 0
        epochs_done = json.loads(self.state_path.read_text())["epochs_done"]
        return keras.saving.load_model(self.model_path), epochs_done

    def clear(self):
        for path in (self.state_path, self.model_path):
            if path.exists():
                path.unlink()
