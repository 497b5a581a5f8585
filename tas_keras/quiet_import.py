"""TensorFlow's import-time C++ log lines, held to TF_CPP_MIN_LOG_LEVEL (standard library only).

Since TensorFlow 2.19 the lines its C++ code logs while it is imported (`I0000 ... port.cc] oneDNN custom
operations are on`, `Could not find cuda drivers`, each after absl's `WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR`) reach stderr whatever TF_CPP_MIN_LOG_LEVEL says
(tensorflow/tensorflow#100442): a new user's first run opened with six lines of noise. Importing a module
through `import_quietly` drops the absl-format lines below that level from what the import writes to
stderr and passes every other line through, in order, once the import is done.
"""

import contextlib
import importlib
import os
import re
import sys
import tempfile

ABSL_LINE = re.compile(r"^([IWEF])\d{4} ")  # severity letter + MMDD, absl's (and glog's) prefix
SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def min_log_level():
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        return 0


def kept(line, level):
    """Whether a stderr line written during the import is shown at TF_CPP_MIN_LOG_LEVEL `level`."""
    if level >= 1 and line.startswith(ABSL_PREAMBLE):
        return False
    match = ABSL_LINE.match(line)
    return match is None or SEVERITY[match.group(1)] >= level


@contextlib.contextmanager
def stderr_filtered(level):
    """Holds what is written to file descriptor 2 (C++ and Python alike) in a temporary file, then writes
    the lines `kept` at `level` to the real stderr."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if kept(line, level)))
            sys.stderr.flush()


def import_quietly(name):
    """importlib.import_module(name), filtered as above while TensorFlow is not loaded yet and the level
    asks for quiet (>= 1); a plain import otherwise."""
    level = min_log_level()
    if "tensorflow" in sys.modules or level < 1 or sys.stderr is None:  # None: a process without a console
        return importlib.import_module(name)
    with stderr_filtered(level):
        return importlib.import_module(name)
