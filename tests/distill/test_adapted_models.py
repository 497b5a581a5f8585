"""Any Keras functional classifier distils through `tas_keras.adapt`: keras.applications models with
their stage ends found by name, a hand-built model with stages=, round trips, bad inputs."""

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras.errors import InputError

from ..quick import EAGER_IS_QUICKER
from .pairs import tiny, tiny_data

pytestmark = pytest.mark.core


def mobilenet_v2(size=32):
    return keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=10, alpha=0.35, classifier_activation=None)


def hand_built(size=32):
    """A small functional CNN with named stage ends (what a user's own model looks like)."""
    inputs = keras.Input((size, size, 3))
    x = inputs
    for i, width in enumerate((16, 24, 32, 48)):
        x = keras.layers.Conv2D(width, 3, strides=4 if i == 0 else 2, padding="same", activation="relu", name=f"stage{i + 1}_end")(x)
    logits = keras.layers.Dense(10, name="logits")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inputs, logits, name="my_cnn")


def fit_once(teacher, student, method):
    if method != "kd" and keras.backend.backend() != "tensorflow":
        pytest.skip("JAX compiles an applications model with an assistant slowly: the JAX run fits kd, TensorFlow all three (CI time)")
    distiller = tas_keras.Distiller(teacher, student, method=method, xla=False)
    # What adapting a model changes is which tensors the step reads, not how it compiles (the compiled
    # step is test_distiller.py's); tracing MobileNetV2 with OFA's branches took 79 s here.
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3), run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data()
    history = distiller.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values()), history
    return distiller


def test_keras_applications_stage_ends_are_found_by_name():
    adapted = tas_keras.adapt(mobilenet_v2())
    assert adapted.init_config["stages"] == ["block_2_add", "block_5_add", "block_12_add", "out_relu"]
    info = tas_keras.feature_info(adapted)
    assert [i["reduction"] for i in info] == [4, 8, 16, 32] and {i["layout"] for i in info} == {"map"}
    assert tas_keras.model_family(adapted) == "cnn"


APPLICATIONS = {  # constructor -> the stage ends KNOWN_STAGE_ENDS must find (read from keras' source)
    "ResNet50": ["conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"],
    "EfficientNetB0": ["block2b_add", "block3b_add", "block5c_add", "top_activation"],
    "EfficientNetV2B0": ["block2b_add", "block3b_add", "block5e_add", "top_activation"],
    "MobileNetV3Small": ["expanded_conv_project_bn", "expanded_conv_2_add", "expanded_conv_7_add", "conv_1_bn"],
    "ConvNeXtTiny": [f"convnext_tiny_stage_{s}_block_{b}_identity" for s, b in ((0, 2), (1, 2), (2, 8), (3, 2))],
}


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_every_known_applications_family_is_found(name):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("layer names do not depend on the backend: the TensorFlow run checks them (CI time)")
    model = getattr(keras.applications, name)(weights=None, input_shape=(64, 64, 3), classes=10, classifier_activation=None)
    assert tas_keras.adapt(model).init_config["stages"] == APPLICATIONS[name]


@pytest.mark.parametrize("method", ["kd", "ofa", "tas_branch"])
def test_an_applications_student_under_a_zoo_teacher(method, seeded):
    student = tas_keras.adapt(mobilenet_v2())
    teacher = tiny("cnn")
    before = [w.copy() for w in teacher.get_weights()]
    distiller = fit_once(teacher, student, method)
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))
    assert distiller.student is student


@pytest.mark.parametrize("method", ["kd", "ofa", "tas_branch"])
def test_an_applications_teacher_over_a_zoo_token_student(method, seeded):
    fit_once(tas_keras.adapt(mobilenet_v2()), tiny("mlp"), method)


def test_a_hand_built_model_with_named_stages(seeded):
    teacher = tas_keras.adapt(hand_built(), stages=["stage1_end", "stage2_end", "stage3_end", "stage4_end"])
    assert [i["channels"] for i in tas_keras.feature_info(teacher)] == [16, 24, 32, 48]
    fit_once(teacher, tiny("mlp"), "kd")


def test_an_adapted_student_saves_and_loads_after_import_tas_keras(tmp_path):
    student = tas_keras.adapt(hand_built(), stages=["stage1_end", "stage2_end", "stage3_end", "stage4_end"])
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    student.save(tmp_path / "student.keras")
    loaded = keras.saving.load_model(tmp_path / "student.keras")
    assert isinstance(loaded, tas_keras.AdaptedModel) and tas_keras.feature_info(loaded) == tas_keras.feature_info(student)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(student(x)), atol=1e-6)


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(InputError, match="pass stages="):
        tas_keras.adapt(hand_built())
    with pytest.raises(InputError, match="has no layer 'nope'"):
        tas_keras.adapt(hand_built(), stages=["stage1_end", "stage2_end", "stage3_end", "nope"])
    with pytest.raises(InputError, match="give 4 layer names"):
        tas_keras.adapt(hand_built(), stages=["stage1_end"])
    with pytest.raises(InputError, match="family='rnn'"):
        tas_keras.adapt(hand_built(), stages=["stage1_end", "stage2_end", "stage3_end", "stage4_end"], family="rnn")
    other_classes = tas_keras.create_model("convnext_micro", num_classes=7)
    with pytest.raises(InputError):
        tas_keras.Distiller(other_classes, tas_keras.adapt(mobilenet_v2()), method="kd")
