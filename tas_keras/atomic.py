"""Files that are never left half-written: every write goes to a temp file in the same folder, then
one rename replaces the target. Leaf module (standard library only)."""

import json
import os
import pathlib
import tempfile


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path, write):
    """write(tmp_path) produces the file; it then replaces `path` in one rename. The file gets the
    usual permissions (mkstemp's temp files are private)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp_{path.stem}_", suffix="".join(path.suffixes))
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def remove_stale_temp_files(folder):
    """Deletes the temp files a killed writer left in `folder` (a process killed inside atomic_write
    never reaches its cleanup). Call it only where no other process writes into `folder`."""
    folder = pathlib.Path(folder)
    removed = sorted(folder.glob(".tmp_*")) if folder.is_dir() else []
    for path in removed:
        path.unlink(missing_ok=True)
    return removed


def atomic_text(path, text):
    return atomic_write(path, lambda tmp: pathlib.Path(tmp).write_text(text))


def atomic_json(path, data):
    return atomic_text(path, json.dumps(data, indent=2, sort_keys=True))
