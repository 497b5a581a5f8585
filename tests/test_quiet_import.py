"""TensorFlow's import-time C++ log lines obey TF_CPP_MIN_LOG_LEVEL (tas_keras.quiet_import)."""

import os
import pathlib
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


ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOLS = sorted((ROOT / "tools").glob("*.py"))
LOADS_TAS_KERAS = ("from tas_keras", "import tas_keras")
LEVEL_SET = 'os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")'


@pytest.mark.parametrize("path", [p for p in TOOLS if any(line.startswith(LOADS_TAS_KERAS) for line in p.read_text().splitlines())],
                         ids=lambda p: p.name)
def test_every_tool_that_loads_tas_keras_sets_the_level_before_it(path):
    """A tool run without TF_CPP_MIN_LOG_LEVEL would open with TensorFlow's start-up lines (the level is
    read once, as TensorFlow loads), also one that only reads a file: trace_summary.py --hlo did."""
    lines = path.read_text().splitlines()
    first_import = next(i for i, line in enumerate(lines) if line.startswith(LOADS_TAS_KERAS))
    assert any(line.startswith(LEVEL_SET) for line in lines[:first_import]), f"{path.name} imports tas_keras before setting the level"


def test_a_file_reading_tool_writes_nothing_to_stderr():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it
    proc = subprocess.run([sys.executable, "tools/trace_summary.py", "--help"], capture_output=True, text=True, env=env, timeout=300,
                          cwd=ROOT)
    assert proc.returncode == 0 and "--hlo" in proc.stdout and proc.stderr == "", proc.stderr[-2000:]
