"""TensorFlow's import-time C++ log lines obey TF_CPP_MIN_LOG_LEVEL (tas_keras.quiet_import)."""

import os
import subprocess
import sys

import pytest

from tas_keras.quiet_import import ABSL_PREAMBLE, kept, stderr_filtered

LINES = [
    ABSL_PREAMBLE + "\n",
    "I0000 00:00:1796102699.681736   31360 port.cc:153] oneDNN custom operations are on.\n",
    "W0000 00:00:1796102699.681736   31360 x.cc:1] a warning\n",
    "E0000 00:00:1796102699.681736   31360 x.cc:1] an error\n",
    "/path/module.py:3: UserWarning: a Python warning\n",
]


@pytest.mark.parametrize("level, shown", [(0, [0, 1, 2, 3, 4]), (1, [2, 3, 4]), (2, [3, 4]), (3, [4])])
def test_lines_below_the_level_are_dropped_and_every_other_line_is_kept(level, shown):
    assert [i for i, line in enumerate(LINES) if kept(line, level)] == shown


def test_what_the_import_writes_to_file_descriptor_2_comes_out_filtered_and_in_order(capfd):
    with stderr_filtered(2):
        for line in LINES:
            os.write(2, line.encode())  # as TensorFlow's C++ code and Python's own stderr write them
    assert capfd.readouterr().err == LINES[3] + LINES[4]


def test_importing_tas_keras_at_level_3_writes_no_tensorflow_log_lines():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-c", "import tas_keras, tensorflow"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr == "", proc.stderr[-2000:]
