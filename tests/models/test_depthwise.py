"""The shifted-sum depthwise convolution against the backend's own (values and gradients), and the
implementation switch."""

import threading

import keras
import numpy as np
import pytest
from keras import ops

import tas_keras
from tas_keras.errors import InputError
from tas_keras.layers import DepthwiseConv2D, compiled_by_xla, depthwise_conv, depthwise_implementation, set_depthwise_implementation

from ..quick import backend_grad, computed, inference

pytestmark = pytest.mark.core
rng = np.random.default_rng(5)


@pytest.fixture
def implementation():
    """Sets the implementation for one test and puts the suite's setting back afterwards (tests/conftest.py)."""
    previous = set_depthwise_implementation("auto")
    yield set_depthwise_implementation
    set_depthwise_implementation(previous)


CASES = [  # (height, width, kernel, stride, padding): odd and even maps, TensorFlow's uneven "same" padding
    (8, 8, 7, 1, "same"), (7, 5, 3, 1, "same"), (8, 8, 3, 2, "same"), (7, 9, 3, 2, "same"), (9, 9, 3, 2, "valid"), (6, 6, 5, 1, "valid"),
]


def _both(implementation, fn):
    implementation("conv")
    reference = fn()
    implementation("shifted")
    return reference, fn()


@pytest.mark.parametrize("height,width,kernel,stride,padding", CASES)
def test_shifted_sum_equals_the_convolution(implementation, height, width, kernel, stride, padding):
    x = rng.normal(size=(2, height, width, 6)).astype("float32")
    k = rng.normal(size=(kernel, kernel, 6, 1)).astype("float32")
    conv, shifted = _both(implementation, lambda: ops.convert_to_numpy(computed(lambda: depthwise_conv(x, k, stride, padding))))
    assert shifted.shape == conv.shape
    np.testing.assert_allclose(shifted, conv, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("height,width,kernel,stride,padding", [CASES[1], CASES[3]])
def test_shifted_sum_has_the_convolutions_gradients(implementation, height, width, kernel, stride, padding):
    x = rng.normal(size=(2, height, width, 4)).astype("float32")
    k = rng.normal(size=(kernel, kernel, 4, 1)).astype("float32")
    weights = rng.normal(size=depthwise_conv(x, k, stride, padding).shape).astype("float32")  # a loss whose gradient is not uniform

    def gradients():
        return (backend_grad(lambda v: ops.sum(depthwise_conv(v, k, stride, padding) * weights), x),
                backend_grad(lambda v: ops.sum(depthwise_conv(x, v, stride, padding) * weights), k))

    (conv_x, conv_k), (shifted_x, shifted_k) = _both(implementation, gradients)
    np.testing.assert_allclose(shifted_x, conv_x, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(shifted_k, conv_k, rtol=1e-4, atol=1e-4)


def test_bfloat16_inputs_accumulate_in_float32(implementation):
    """49 bfloat16 products summed in bfloat16 would lose digits: the sum runs in float32, the result is bfloat16."""
    implementation("shifted")
    x = rng.normal(size=(2, 8, 8, 4)).astype("float32")
    k = rng.normal(size=(7, 7, 4, 1)).astype("float32")
    out = computed(lambda: depthwise_conv(ops.cast(x, "bfloat16"), ops.cast(k, "bfloat16")))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"
    exact = computed(lambda: depthwise_conv(ops.cast(ops.cast(x, "bfloat16"), "float32"), ops.cast(ops.cast(k, "bfloat16"), "float32")))
    np.testing.assert_allclose(ops.convert_to_numpy(ops.cast(out, "float32")), ops.convert_to_numpy(exact), rtol=1e-2, atol=1e-2)


def test_layer_matches_keras_layer_with_the_same_weights(implementation):
    implementation("shifted")
    x = rng.normal(size=(2, 9, 9, 5)).astype("float32")
    ours = DepthwiseConv2D(3, strides=2, padding="same", activation="relu")
    theirs = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu")
    ours.build(x.shape)
    theirs.build(x.shape)
    theirs.set_weights([w + 0.1 for w in ours.get_weights()])  # a non-zero bias
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(computed(lambda: ours(x))), ops.convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)


def test_auto_takes_the_shifted_sum_on_jax_on_a_cpu_only(implementation):
    on_cpu = all(d.startswith("cpu") for d in keras.distribution.list_devices())
    assert depthwise_implementation() == ("shifted" if keras.backend.backend() == "jax" and on_cpu else "conv")


def test_unknown_implementation_is_refused_with_the_choices(implementation):
    with pytest.raises(InputError, match=r"'winograd'.*\['auto', 'conv', 'shifted'\]"):
        implementation("winograd")
    assert depthwise_implementation() in ("conv", "shifted")  # the setting did not change


def test_convnext_forward_is_the_same_either_way(implementation):
    """A whole model through the layer (stem, stages, head; the zoo's ConvNeXt uses DepthwiseConv2D)."""
    model = tas_keras.create_model("convnext_micro", num_classes=5, depths=[1, 1, 1, 1], dims=[16, 32, 64, 64])
    x = rng.uniform(size=(2, 32, 32, 3)).astype("float32")
    conv, shifted = _both(implementation, lambda: keras.tree.flatten(inference(model, x)))
    for a, b in zip(shifted, conv, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_code_traced_for_xla_takes_the_shifted_sum_on_a_cpu(implementation):
    """TensorFlow's forward-only XLA functions (the teacher's) trace inside compiled_by_xla
    (tas_keras/steps/tensorflow_step.py); MirroredStrategy's replica threads see it too."""
    on_cpu = all(d.startswith("cpu") for d in keras.distribution.list_devices())
    seen = {}
    with compiled_by_xla():
        seen["inside"] = depthwise_implementation()
        other = threading.Thread(target=lambda: seen.update(other_thread=depthwise_implementation()))
        other.start()
        other.join()
    assert seen["inside"] == seen["other_thread"] == ("shifted" if on_cpu else "conv")
    assert depthwise_implementation() == ("shifted" if keras.backend.backend() == "jax" and on_cpu else "conv")
