"""The same fit runs on the PyTorch backend (in a subprocess: the backend is fixed per process)."""

import importlib.util
import os
import subprocess
import sys

import pytest

import tas_keras

SCRIPT = """
import json, numpy as np, keras, tas_keras
from tests.distill.pairs import tiny, tiny_data
keras.utils.set_random_seed(0)
x, y = tiny_data()
report = {}
for method in tas_keras.list_methods():
    distiller = tas_keras.Distiller(tiny("cnn"), tiny("vit"), method=method)
    distiller.compile(optimizer="adam")
    teacher = [keras.ops.convert_to_numpy(w).copy() for w in distiller.teacher.weights]
    history = distiller.fit(x, y, batch_size=4, epochs=2, verbose=0).history
    frozen = all(np.array_equal(a, keras.ops.convert_to_numpy(w)) for a, w in zip(teacher, distiller.teacher.weights))
    report[method] = {"history": {k: [float(v) for v in vals] for k, vals in history.items()}, "teacher_frozen": frozen,
                      "names": distiller.loss_names, "eval": distiller.evaluate(x, y, verbose=0, return_dict=True)}
print("REPORT" + json.dumps(report))
"""


@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None and not os.environ.get("CI"),
    reason="PyTorch is not installed (CI installs it)",
)
def test_every_method_fits_on_the_torch_backend():
    import json

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=root)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900, env=env, cwd=root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT"))[len("REPORT"):])
    assert sorted(report) == tas_keras.list_methods() and {"dkd", "dist", "rsd", "tas", "tas_branch"} <= set(report)
    for method, result in report.items():
        assert result["teacher_frozen"], method
        assert set(result["names"]) <= set(result["history"]), method
        for name, values in result["history"].items():
            assert all(v == v and abs(v) < 1e6 for v in values), (method, name)
        assert set(result["eval"]) == {"loss", "acc", "top5"}
