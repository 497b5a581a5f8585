"""Adds "machine" to the summary.json of runs finished on this machine that lack it (the frozen
checkout at 3116fd3 predates that field), so the report can say where each run ran even after the
folders move to another machine. Run it only where those runs trained (persist.sh does, before copying)."""

import json
import pathlib
import sys

from tas_keras.atomic import atomic_json
from tas_keras.training.machine import describe_machine

here = describe_machine()
for path in sorted(pathlib.Path(sys.argv[1]).glob("*/*/seed*/summary.json")):
    summary = json.loads(path.read_text())
    if "machine" not in summary:
        atomic_json(path, {**summary, "machine": here})
        print(f"{path}: machine = {here}")
