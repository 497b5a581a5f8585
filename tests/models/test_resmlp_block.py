"""ResMLP's token half computed as one scale and one plane equals its layers applied one by one: the
same outputs, the same SGD update of every weight, and a quantized token mixer runs as its layer."""

import keras
import numpy as np
import pytest

from tas_keras.models.mixer.mixer_layers import ResMLPBlock

pytestmark = pytest.mark.core
SHAPE = (2, 16, 24)  # (batch, tokens, channels)


class LayerByLayerResMLPBlock(ResMLPBlock):
    """The reference: norm1, linear_tokens and ls1 each called as a layer."""

    def mix_tokens(self, x):
        return self.mix_tokens_layer_by_layer(x)


def block_model(block_class):
    keras.utils.set_random_seed(0)
    inputs = keras.Input(SHAPE[1:])
    model = keras.Model(inputs, block_class(init_values=0.5, name="block")(inputs))
    rng = np.random.default_rng(1)
    for variable in model.weights:  # no weight at its initial 0 / 1, so every factor is exercised
        variable.assign(rng.normal(size=variable.shape).astype("float32"))
    return model


def test_token_half_in_one_scale_and_plane_matches_the_layers_and_their_gradients():
    x = np.random.default_rng(2).normal(size=SHAPE).astype("float32")
    y = np.random.default_rng(3).normal(size=SHAPE).astype("float32")
    fused, reference = block_model(ResMLPBlock), block_model(LayerByLayerResMLPBlock)
    np.testing.assert_allclose(fused.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-4)
    for model in (fused, reference):
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        model.train_on_batch(x, y)
    for got, want in zip(fused.weights, reference.weights):
        assert got.path == want.path
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got), keras.ops.convert_to_numpy(want), rtol=1e-5, atol=1e-5, err_msg=got.path)


def test_a_quantized_token_mixer_runs_as_its_layer():
    x = np.random.default_rng(2).normal(size=SHAPE).astype("float32")
    fused, reference = block_model(ResMLPBlock), block_model(LayerByLayerResMLPBlock)
    for model in (fused, reference):
        model.quantize("int8")
    assert fused.get_layer("block").token_mixer.quantization_mode == "int8"
    np.testing.assert_allclose(fused.predict(x, verbose=0), reference.predict(x, verbose=0), rtol=1e-5, atol=1e-4)


def test_in_bfloat16_the_token_half_is_no_further_from_float32_than_the_layers():
    x = np.random.default_rng(2).normal(size=SHAPE).astype("float32")
    exact = keras.ops.convert_to_numpy(block_model(ResMLPBlock)(x))
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        fused, reference = (keras.ops.convert_to_numpy(keras.ops.cast(block_model(c)(x), "float32"))
                            for c in (ResMLPBlock, LayerByLayerResMLPBlock))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    error, reference_error = np.abs(fused - exact).max(), np.abs(reference - exact).max()
    assert 0 < reference_error < 0.05 * np.abs(exact).max()  # bfloat16 rounding, not a broken reference
    assert error <= 1.5 * reference_error, (error, reference_error)
