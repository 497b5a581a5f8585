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
    "VGG16": ["block2_pool", "block3_pool", "block4_pool", "block5_pool"],
    "DenseNet121": ["conv2_block6_concat", "conv3_block12_concat", "conv4_block24_concat", "relu"],
    "MobileNet": ["conv_pw_3_relu", "conv_pw_5_relu", "conv_pw_11_relu", "conv_pw_13_relu"],
    "NASNetMobile": ["reduction_concat_stem_1", "normal_concat_3", "normal_concat_8", "normal_concat_12"],
}


@pytest.mark.parametrize("name", sorted(APPLICATIONS))
def test_every_known_applications_family_is_found(name):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("layer names do not depend on the backend: the TensorFlow run checks them (CI time)")
    model = getattr(keras.applications, name)(weights=None, input_shape=(64, 64, 3), classes=10, classifier_activation=None)
    assert tas_keras.adapt(model).init_config["stages"] == APPLICATIONS[name]


@pytest.mark.parametrize("method", ["kd", "ofa", "tas", "tas_branch"])
def test_an_applications_student_under_a_zoo_teacher(method, seeded):
    student = tas_keras.adapt(mobilenet_v2())
    teacher = tiny("cnn")
    before = [w.copy() for w in teacher.get_weights()]
    distiller = fit_once(teacher, student, method)
    assert all(np.array_equal(a, b) for a, b in zip(before, teacher.get_weights()))
    assert distiller.student is student


@pytest.mark.parametrize("method", ["kd", "ofa", "tas", "tas_branch"])
def test_an_applications_teacher_over_a_zoo_token_student(method, seeded):
    fit_once(tas_keras.adapt(mobilenet_v2()), tiny("mlp"), method)


def test_a_hand_built_model_with_named_stages(seeded):
    teacher = tas_keras.adapt(hand_built(), stages=["stage1_end", "stage2_end", "stage3_end", "stage4_end"])
    assert [i["channels"] for i in tas_keras.feature_info(teacher)] == [16, 24, 32, 48]
    fit_once(teacher, tiny("mlp"), "kd")


@pytest.mark.parametrize("name", ["VGG16", "DenseNet121", "MobileNet", "NASNetMobile"])
def test_the_families_added_to_the_table_distil_by_name_and_reload(name, tmp_path, seeded):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("the builder and the adapted model are backend-free (the JAX run covers MobileNetV2): CI time")
    overrides = {"alpha": 0.25} if name == "MobileNet" else {}
    student = tas_keras.create_model(f"keras.applications.{name}", num_classes=10, image_size=32, **overrides)
    fit_once(tiny("cnn"), student, "kd")
    student.save(tmp_path / "student.keras")
    loaded = keras.saving.load_model(tmp_path / "student.keras")
    x = tiny_data(n=2)[0]
    assert tas_keras.feature_info(loaded) == tas_keras.feature_info(student)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(student(x)), atol=1e-5)


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


def test_create_model_builds_keras_applications_by_name(tmp_path):
    model = tas_keras.create_model("keras.applications.MobileNetV3Small", num_classes=10, image_size=32, minimalistic=True, batchnorm_momentum=0.8)
    assert isinstance(model, tas_keras.AdaptedModel) and tas_keras.model_family("keras.applications.MobileNetV3Small") == "cnn"
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 10)
    # Its own [-1, 1] rescaling is off (the pipeline normalises); the head gives logits.
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Rescaling)]
    assert model.layers[-1].activation is None or "linear" in str(model.layers[-1].activation)
    momenta = lambda m: {layer.momentum for layer in m.layers if isinstance(layer, keras.layers.BatchNormalization)}  # noqa: E731
    assert momenta(model) == {0.8}
    # By default the zoo's / PyTorch's 0.9; None keeps the constructor's 0.999.
    assert momenta(tas_keras.create_model("keras.applications.MobileNetV3Small", num_classes=10, image_size=32)) == {0.9}
    assert momenta(tas_keras.create_model("keras.applications.MobileNetV3Small", num_classes=10, image_size=32, batchnorm_momentum=None)) == {0.999}
    model.save(tmp_path / "m.keras")  # the momentum is the layers' config, so the saved student keeps it
    assert momenta(keras.saving.load_model(tmp_path / "m.keras")) == {0.8}


def test_set_batchnorm_momentum_reaches_a_users_model_and_the_models_nested_in_it():
    inner = mobilenet_v2()
    inputs = keras.Input((32, 32, 3))
    outer = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.BatchNormalization()(inner(inputs))), name="wrapped_mobilenet")
    assert tas_keras.models.set_batchnorm_momentum(outer, 0.9) is outer
    momenta = [layer.momentum for model in (outer, inner) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(momenta) == 53 and set(momenta) == {0.9}
    with pytest.raises(InputError, match=r"^batchnorm_momentum=-0.1 for model 'wrapped_mobilenet': expected a number in \[0, 1\)\.$"):
        tas_keras.models.set_batchnorm_momentum(outer, -0.1)


@pytest.mark.parametrize("name, overrides, message", [
    ("keras.applications.InceptionV3", {}, "tas_keras finds the stages of keras.applications.ConvNeXtBase"),
    ("keras.applications.MobileNetV2", {"classes": 5}, "cannot be set for model 'keras.applications.MobileNetV2' (set by the run: classes); valid: ['alpha',"),
    ("keras.applications.MobileNetV2", {"depth": 5}, "['depth'] cannot be set for model 'keras.applications.MobileNetV2' (unknown); valid: ['alpha', 'batchnorm_momentum', 'name']"),
    ("keras.applications.MobileNetV2", {"batchnorm_momentum": 1.0}, "batchnorm_momentum=1.0 for model 'keras.applications.MobileNetV2': expected a number in [0, 1)"),
    ("keras.applications.MobileNetV2", {"batchnorm_momentum": "high"}, "batchnorm_momentum='high' for model 'keras.applications.MobileNetV2': expected a number in [0, 1)"),
    ("keras.applications.ResNet50", {"image_size": 16}, "ResNet50 at 16x16 with {}: "),
])
def test_bad_keras_applications_requests_are_one_line_errors(name, overrides, message):
    overrides = dict(overrides)
    with pytest.raises(InputError) as err:
        tas_keras.create_model(name, num_classes=10, image_size=overrides.pop("image_size", 32), **overrides)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_imagenet_weights_are_a_file_saved_where_there_is_internet(tmp_path):
    """What the refusal of weights="imagenet" tells the user to do, done with random weights in place of
    ImageNet's: a 1000-class application's weights fine-tune a 10-class teacher, all but the classifier."""
    with pytest.raises(InputError, match=r"keras.applications.<name>\(weights='imagenet'\).save_weights"):
        tas_keras.create_model("keras.applications.MobileNetV2", num_classes=10, image_size=32, alpha=0.35, weights="imagenet")
    imagenet_like = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classifier_activation=None)
    imagenet_like.save_weights(tmp_path / "mobilenet_v2.weights.h5")
    teacher = tas_keras.create_model("keras.applications.MobileNetV2", num_classes=10, image_size=32, alpha=0.35)
    tas_keras.models.load_weights(teacher, tmp_path / "mobilenet_v2.weights.h5", allow_head_mismatch=True)
    loaded = [np.array_equal(a, b) for a, b in zip(imagenet_like.get_weights(), teacher.get_weights())]
    assert loaded.count(False) == 2 and not any(loaded[-2:])  # the (1000 -> 10)-class head's kernel and bias
