"""Bad inputs give errors that name the bad value and the valid choices."""

import numpy as np
import pytest

import tas_keras

pytestmark = pytest.mark.core


def test_unknown_model_name_suggests_close_names():
    with pytest.raises(ValueError, match=r"resnet18") as err:
        tas_keras.create_model("resnet19")
    assert "'resnet19'" in str(err.value)


def test_unknown_family():
    with pytest.raises(ValueError, match=r"'transformer'.*cnn"):
        tas_keras.list_models("transformer")


def test_model_family_of_a_foreign_object():
    with pytest.raises(ValueError, match="not a tas_keras zoo model"):
        tas_keras.model_family(object())


@pytest.mark.parametrize(
    "name, size, stride",
    [("resnet18", 50, 32), ("deit_tiny_patch16_224", 40, 16), ("swin_tiny_patch4_window7_224", 48, 32)],
)
def test_image_size_must_be_a_multiple_of_the_stride(name, size, stride):
    with pytest.raises(ValueError, match=rf"image_size={size}.*stride {stride}"):
        tas_keras.create_model(name, image_size=size)


@pytest.mark.parametrize("bad", [0, -32, 32.0, "32", True])
def test_image_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match="image_size"):
        tas_keras.create_model("resnet_micro", image_size=bad)


def test_num_classes_must_be_positive():
    with pytest.raises(ValueError, match="num_classes"):
        tas_keras.create_model("resnet_micro", num_classes=0)


def test_unknown_override_lists_valid_arguments():
    with pytest.raises(ValueError, match=r"\['patchsize'\].*patch_size"):
        tas_keras.create_model("vit_micro_patch4_32", patchsize=8)


def test_heads_must_divide_the_width():
    with pytest.raises(ValueError, match="num_heads=3"):
        tas_keras.create_model("vit_micro_patch4_32", num_heads=3)


def test_too_shallow_columnar_model():
    with pytest.raises(ValueError, match="depth=3"):
        tas_keras.create_model("mixer_micro_patch4_32", depth=3)


def test_unknown_resnet_block():
    with pytest.raises(ValueError, match=r"'residual'.*basic"):
        tas_keras.create_model("resnet_micro", block="residual")


def test_missing_weights_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="never downloads"):
        tas_keras.create_model("resnet_micro", weights=str(tmp_path / "nope.weights.h5"))


def test_weights_must_be_a_keras_file():
    with pytest.raises(ValueError, match=r"\.keras"):
        tas_keras.create_model("resnet_micro", weights="imagenet")


def test_weights_round_trip_and_mismatch(tmp_path):
    model = tas_keras.create_model("resnet_micro", num_classes=4)
    path = str(tmp_path / "micro.weights.h5")
    model.save_weights(path)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    same = tas_keras.create_model("resnet_micro", num_classes=4, weights=path)
    np.testing.assert_allclose(np.asarray(same(x)), np.asarray(model(x)), atol=1e-6)
    with pytest.raises(ValueError, match="does not fit"):
        tas_keras.create_model("resnet_micro", num_classes=7, weights=path)
