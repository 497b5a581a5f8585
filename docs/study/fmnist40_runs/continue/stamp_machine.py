"""Adds "machine" and "tensorflow_onednn" to the summary.json of runs finished on this machine that lack
them (the frozen checkout at 3116fd3 predates both fields), so the report can say where and how each run
ran even after the folders move to another machine. Run it only where those runs trained (persist.sh
does, before copying).

oneDNN: this AMD EPYC runs TensorFlow's Eigen kernels by default; run.sh turns oneDNN on from the restart
of 2026-11-30 08:43 UTC. Runs whose last epoch ended before it ran without (false), later runs with it
(true), and the two runs that were training at the restart resumed with it for their last epochs.

Machines: from 2026-11-30 11:45 the runs go on on a third machine, also "AMD EPYC, 2 CPUs" by its CPU model
but with AVX-512 (TensorFlow turns oneDNN on there by itself); describe_machine now adds the vector
extension. The AMD runs stamped before that, on the AVX2-only one (lscpu, 2026-11-30), are relabelled
"AMD EPYC (AVX2), 2 CPUs" so the two stay apart in the report."""

import datetime
import json
import pathlib
import sys

from tas_keras.atomic import atomic_json
from tas_keras.training.machine import describe_machine

ONEDNN_FROM = datetime.datetime(2026, 11, 30, 8, 43, tzinfo=datetime.timezone.utc)
RESUMED_WITH_ONEDNN = {"convnext_deit/crd/seed0": "epoch 40 of 40", "convnext_deit/fbt_no_tf/seed0": "epochs 36-40 of 40"}


def onednn(run_dir, root):
    name = run_dir.relative_to(root).as_posix()
    if name in RESUMED_WITH_ONEDNN:
        return RESUMED_WITH_ONEDNN[name]
    last_epoch = datetime.datetime.fromtimestamp((run_dir / "metrics.csv").stat().st_mtime, datetime.timezone.utc)
    return last_epoch >= ONEDNN_FROM


root = pathlib.Path(sys.argv[1])
here = describe_machine()
AVX2_EPYC = ("AMD EPYC, 2 CPUs", "AMD EPYC (AVX2), 2 CPUs")
for path in sorted(root.glob("*/*/seed*/summary.json")):
    summary = json.loads(path.read_text())
    stamps = {"machine": here, "tensorflow_onednn": onednn(path.parent, root)}
    changes = {k: v for k, v in stamps.items() if k not in summary}
    if summary.get("machine") == AVX2_EPYC[0]:
        changes["machine"] = AVX2_EPYC[1]
    if changes:
        atomic_json(path, {**summary, **changes})
        print(f"{path}: {changes}")
