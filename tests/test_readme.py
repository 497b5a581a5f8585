"""The README's test command is exactly what CI runs."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Running the tests", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    for line in block.strip().splitlines():
        assert line in ci_lines, f"README test line not run by .ci/run: {line}"
