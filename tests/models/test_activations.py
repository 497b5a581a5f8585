"""The exact GELU of the shared layers: values and gradient against the formula, and on TensorFlow its
forward and backward each one XLA-compiled call."""

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from keras import ops

from tas_keras.layers import Mlp, gelu

from ..quick import backend_grad, computed

pytestmark = pytest.mark.core
x = np.linspace(-6.0, 6.0, 241, dtype="float32")
PHI = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype("float64")])  # the normal CDF at x, exactly
PDF = np.exp(-0.5 * x.astype("float64") ** 2) / math.sqrt(2.0 * math.pi)  # its density


def test_gelu_is_the_exact_gelu_with_its_derivative():
    np.testing.assert_allclose(ops.convert_to_numpy(computed(lambda: gelu(x))), x * PHI, atol=2e-6, rtol=1e-5)
    np.testing.assert_allclose(backend_grad(lambda v: ops.sum(gelu(v)), x), PHI + x * PDF, atol=1e-5, rtol=1e-5)


def test_gelu_in_bfloat16_stays_within_bfloat16_rounding():
    got = ops.convert_to_numpy(ops.cast(computed(lambda: gelu(ops.cast(x, "bfloat16"))), "float32"))
    np.testing.assert_allclose(got, x * PHI, atol=0.02, rtol=0.02)
    grad = backend_grad(lambda v: ops.sum(ops.cast(gelu(ops.cast(v, "bfloat16")), "float32")), x)
    np.testing.assert_allclose(grad, PHI + x * PDF, atol=0.02, rtol=0.02)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's graph")
def test_tensorflow_mlp_runs_gelu_forward_and_backward_as_xla_loops():
    import tensorflow as tf

    mlp = Mlp(8)
    mlp.build((None, 4, 3))

    def forward_backward(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            out = tf.reduce_sum(mlp(v))
        return tape.gradient(out, v)

    graph = tf.function(forward_backward).get_concrete_function(tf.TensorSpec((2, 4, 3))).graph
    kinds = {op.type for op in graph.get_operations()}
    assert not kinds & {"Erf", "Erfc", "Exp"}, sorted(kinds)  # no GELU op by op in the graph itself
    xla_calls = [op for op in graph.get_operations()
                 if op.type.endswith("PartitionedCall") and op.node_def.attr["_XlaMustCompile"].b]
    assert len(xla_calls) == 2, [op.name for op in xla_calls]  # its forward and its backward


def test_gelu_under_jax_never_imports_tensorflow():
    """gelu_tensorflow is imported where TensorFlow is the backend, not with the layers."""
    pytest.importorskip("jax")
    code = ("import sys, numpy as np; from tas_keras.layers import Mlp, gelu; "
            "Mlp(8)(np.ones((2, 4, 3), 'float32')); gelu(np.ones(3, 'float32')); print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "KERAS_BACKEND": "jax"},
                          capture_output=True, text=True, check=True)
    assert done.stdout.split()[-1] == "False", done.stdout
