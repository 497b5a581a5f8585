"""TensorFlow only: a training step logs no Grappler errors. TensorFlow's oneDNN remapper fused the
assistant's depthwise conv + bias + residual add into a node Grappler could not import, and every
traced step logged `... has an empty op name` / `remapper failed` at ERROR level."""

import os
import subprocess
import sys

import keras
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's graph optimizer")

SCRIPT = """
import keras, numpy as np, tas_keras
rng = np.random.default_rng(0)
x, y = rng.uniform(size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 10, size=(8,))
pairs = [("convnext_micro", "resmlp_micro_patch4_32", "tas_branch"), ("mixer_micro_patch4_32", "resnet_micro", "ofa")]
for teacher, student, method in pairs:
    d = tas_keras.Distiller(tas_keras.create_model(teacher, num_classes=10), tas_keras.create_model(student, num_classes=10),
                            method=method, branch_stages=["S2"], **({"branch_grad_scale": 0.5} if method == "tas_branch" else {}))
    d.compile(optimizer="adam")
    d.fit(x, y, batch_size=4, epochs=1, verbose=0)
    print("trained", method, d.method.assistants[0].name if method == "tas_branch" else d.method.branches[0].name)
"""


def test_a_training_step_logs_no_grappler_errors():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="0", KERAS_BACKEND="tensorflow")
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.count("trained") == 2
    for message in ("empty op name", "tfg_optimizer", "remapper failed", "GrapplerHook"):
        assert message not in proc.stderr, [line for line in proc.stderr.splitlines() if message in line][:2]
