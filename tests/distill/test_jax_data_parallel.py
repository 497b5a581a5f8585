"""The Distiller under keras.distribution.DataParallel on JAX, over 2 forced host devices (subprocess:
the device count and the backend are fixed per process)."""

import importlib.util
import os

import pytest

from ..quick import ROOT, jax_subprocess_env, subprocess_report

SCRIPT = """
import json, numpy as np, keras, tas_keras
from tests.distill.pairs import tiny, tiny_data
devices = keras.distribution.list_devices()
assert len(devices) == 2, devices
x, y = tiny_data(n=8)

def one_step(initial=None):
    keras.utils.set_random_seed(0)
    distiller = tas_keras.Distiller(tiny("cnn"), tiny("vit"), method=METHOD, **OPTIONS)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    if initial is not None:
        distiller.set_weights(initial)
    start = [np.array(w) for w in distiller.get_weights()]
    logs = distiller.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    devices_used = len(distiller.student.trainable_weights[0].value.sharding.device_set)
    return start, {k: float(v[0]) for k, v in logs.items()}, [np.array(w) for w in distiller.get_weights()], devices_used

start, single, single_after, used1 = one_step()
keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
_, parallel, parallel_after, used2 = one_step(start)
updates = [np.abs(a - s).max() for a, s in zip(single_after, start)]
print("REPORT" + json.dumps({
    "devices": [used1, used2],
    "max_loss_diff": max(abs(single[k] - parallel[k]) for k in single if k.startswith("loss")),
    "max_weight_diff": float(max(np.abs(a - b).max() for a, b in zip(single_after, parallel_after))),
    "max_update": float(max(updates)),
    "names": sorted(single),
}))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None and not os.environ.get("CI"), reason="JAX is not installed")
@pytest.mark.parametrize("method, options", [("tas_branch", "{'branch_grad_scale': 0.5}"), ("tas", "{}")])
def test_two_jax_devices_give_the_one_device_step(method, options):
    """One SGD step on 1 device, then under DataParallel over 2 (the variables then live on both):
    the same losses (InfoNCE negatives are the whole batch on both) and the same updated weights."""
    # JAX_PLATFORMS=cpu: the two devices are forced host devices also on a machine with a GPU.
    env = jax_subprocess_env(devices=2, PYTHONPATH=str(ROOT))
    code = f"METHOD, OPTIONS = {method!r}, {options}\n" + SCRIPT
    report = subprocess_report(["-c", code], env=env)
    assert report["devices"] == [1, 2], report
    assert report["max_update"] > 1e-3
    assert report["max_loss_diff"] < 1e-5, report
    assert report["max_weight_diff"] < 1e-5 * max(1.0, report["max_update"]), report
