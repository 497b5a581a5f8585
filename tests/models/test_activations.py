"""The exact GELU of the shared layers: values and gradient against the formula, and TensorFlow's graph
without the slow erfc kernel."""

import math

import keras
import numpy as np
import pytest
from keras import ops

from tas_keras.layers import Mlp, gelu

from ..quick import backend_grad, computed

pytestmark = pytest.mark.core
x = np.linspace(-6.0, 6.0, 241, dtype="float32")
PHI = np.array([0.5 * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.astype("float64")])  # the normal CDF at x, exactly


def test_gelu_is_the_exact_gelu_with_its_derivative():
    np.testing.assert_allclose(ops.convert_to_numpy(computed(lambda: gelu(x))), x * PHI, atol=2e-6, rtol=1e-5)
    pdf = np.exp(-0.5 * x.astype("float64") ** 2) / math.sqrt(2.0 * math.pi)
    np.testing.assert_allclose(backend_grad(lambda v: ops.sum(gelu(v)), x), PHI + x * pdf, atol=1e-5, rtol=1e-5)


def test_gelu_in_bfloat16_stays_within_bfloat16_rounding():
    got = ops.convert_to_numpy(ops.cast(computed(lambda: gelu(ops.cast(x, "bfloat16"))), "float32"))
    np.testing.assert_allclose(got, x * PHI, atol=0.02, rtol=0.02)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="TensorFlow's graph")
def test_tensorflow_mlp_computes_gelu_without_erfc():
    import tensorflow as tf

    mlp = Mlp(8)
    mlp.build((None, 4, 3))
    graph = tf.function(lambda v: mlp(v)).get_concrete_function(tf.TensorSpec((2, 4, 3))).graph
    kinds = {op.type for op in graph.get_operations()}
    assert "Erf" in kinds and "Erfc" not in kinds, sorted(kinds)
