"""The README's commands are exactly what CI runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def readme_block(heading):
    section = (ROOT / "README.md").read_text().split(heading, 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1).strip().splitlines()


def test_ci_runs_the_readme_quick_start_verbatim_and_first():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    block = readme_block("## Quick start")
    assert block[1] == "python -m pip install -e ." and block[2].startswith("python tools/train.py")
    positions = [ci_lines.index(line) for line in block]  # ValueError: a README line CI does not run
    assert positions == sorted(positions)
    tests = [ci_lines.index(line) for line in readme_block("## Running the tests")]
    assert max(positions) < min(tests)  # the base install is tried before the test extras are added


def test_ci_runs_the_readme_test_command():
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for line in readme_block("## Running the tests"):
        assert line in ci_lines, f"README test line not run by .ci/run: {line}"
