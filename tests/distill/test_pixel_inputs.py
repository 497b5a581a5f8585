"""Raw uint8 pixels in, normalised inside the step: the same numbers as normalising in the pipeline."""

import keras
import numpy as np
import pytest

from tas_keras import Distiller
from tas_keras.data import AugmentConfig, build_dataset
from tas_keras.errors import InputError
from tas_keras.experiments.timing import compiled
from tas_keras.pixels import normalize_pixels

from .pairs import tiny

pytestmark = pytest.mark.core


def batches(ds):
    return [tuple(np.asarray(t) for t in b) for b in ds.as_numpy_iterator()]


def test_training_data_is_sent_as_uint8_and_mixed_batches_as_float():
    plain, info = build_dataset("digits", "train", 32, 16, augment=AugmentConfig(random_crop_padding=2), seed=0)
    mixed, _ = build_dataset("digits", "train", 32, 16, augment=AugmentConfig(mixup_alpha=0.8), seed=0)
    assert plain.element_spec[0].dtype.name == "uint8" and mixed.element_spec[0].dtype.name == "float32"
    assert info.normalization == ((0.5,) * 3, (0.5,) * 3)
    images = batches(mixed.take(1))[0][0]
    assert 0.0 <= images.min() and images.max() <= 255.0 and (images != np.round(images)).any()  # blends of raw pixels


def test_step_normalisation_is_bit_identical_to_the_pipelines():
    # digits at their own 8x8 size: no resize, so the uint8 pixels are exactly the float pipeline's input
    raw, info = build_dataset("digits", "test", 8, 90)
    normed, _ = build_dataset("digits", "test", 8, 90, normalize=True)
    (pixels, _), (expected, _) = batches(raw)[0], batches(normed)[0]
    assert pixels.dtype == np.uint8 and expected.dtype == np.float32
    step = lambda x: normalize_pixels(x, info.normalization)  # noqa: E731
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(step(pixels)), expected)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(compiled(step, xla=True)(pixels)), expected)
    if keras.backend.backend() == "tensorflow":  # the CPU training path: a tf.function without XLA
        import tensorflow as tf

        np.testing.assert_array_equal(tf.function(step, jit_compile=False)(pixels).numpy(), expected)
    # and within 1 ulp of a true division by the standard deviation (the pipeline's earlier formula)
    mean, std = (np.float32(255) * np.asarray(v, np.float32) for v in info.normalization)
    np.testing.assert_array_max_ulp(expected, (pixels.astype(np.float32) - mean) / std, maxulp=1)


def test_resized_images_are_rounded_to_pixel_values_on_both_paths():
    """Resized images are rounded to whole pixel values on the uint8 path and on the normalised one,
    so both give the model the same numbers (before the normalised path rounded too, evaluating a
    saved student with tools/evaluate.py could count one image more or less than its run's summary)."""
    raw, info = build_dataset("digits", "test", 32, 90)  # 8x8 -> 32x32 bilinear
    normed, _ = build_dataset("digits", "test", 32, 90, normalize=True)
    pixels = batches(raw)[0][0]
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(normalize_pixels(pixels, info.normalization)), batches(normed)[0][0])
    native, _ = build_dataset("digits", "test", 8, 90)
    resized = keras.ops.convert_to_numpy(keras.ops.image.resize(batches(native)[0][0].astype("float32"), (32, 32), interpolation="bilinear"))
    assert (resized != np.round(resized)).any()  # the resize leaves fractions: the rounding is real
    np.testing.assert_allclose(pixels, resized, atol=0.5 + 1e-3)


def test_a_distiller_fed_raw_pixels_matches_one_fed_normalised_images(seeded):
    teacher, student = tiny("cnn"), tiny("mlp")
    raw, info = build_dataset("digits", "test", 8, 45)
    normed, _ = build_dataset("digits", "test", 8, 45, normalize=True)
    raw_x, y = batches(raw)[0]
    normed_x, _ = batches(normed)[0]
    raw_x, normed_x = (np.repeat(np.repeat(x, 4, 1), 4, 2) for x in (raw_x, normed_x))  # 32x32 for the micro models
    on_pixels = Distiller(teacher, student, method="kd", pixel_normalization=info.normalization)
    on_normed = Distiller(teacher, student, method="kd")
    for d in (on_pixels, on_normed):
        d.compile(optimizer=keras.optimizers.SGD(0.0))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(on_pixels(raw_x)), keras.ops.convert_to_numpy(on_normed(normed_x)))
    a = on_pixels.evaluate(raw_x, y, batch_size=45, verbose=0, return_dict=True)
    b = on_normed.evaluate(normed_x, y, batch_size=45, verbose=0, return_dict=True)
    assert a == pytest.approx(b, rel=1e-6)
    a = on_pixels.train_on_batch(raw_x, y, return_dict=True)  # lr 0: the step's losses on the same inputs
    b = on_normed.train_on_batch(normed_x, y, return_dict=True)
    assert a["loss_kd"] > 0 and a == pytest.approx(b, rel=1e-5)


def test_pixel_normalization_survives_save_and_load(tmp_path):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd", pixel_normalization=((0.1, 0.2, 0.3), (0.4, 0.5, 0.6)))
    distiller.compile(optimizer="sgd")
    path = str(tmp_path / "d.keras")
    distiller.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded.pixel_normalization), [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]])


@pytest.mark.parametrize("bad", [(0.5, 0.5), ((0.5,) * 3, (0.5,) * 2), ((0.5,) * 3, (0.0,) * 3), "imagenet"])
def test_bad_pixel_normalization_is_a_one_line_error(bad):
    with pytest.raises(InputError, match=r"pixel_normalization must be \(mean, std\).*got"):
        Distiller(tiny("cnn"), tiny("mlp"), method="kd", pixel_normalization=bad)
