"""Every model saves to .keras and loads in a fresh process with only `import tas_keras`."""

import keras
import numpy as np
import pytest

import tas_keras

from ..quick import EAGER_IS_QUICKER, subprocess_report

pytestmark = pytest.mark.core

ALL_MODELS = tas_keras.list_models()
SMALL_MODELS = [n for n in ALL_MODELS if "micro" in n]
# Paper-size models are built from the same layer classes as the micro variants (no class of theirs is
# missing from the micro models), so they add only other constructor values: the TensorFlow run
# round-trips one per kind of value (bottleneck blocks, a width multiplier, 7x7 windows, 16x16
# patches), the JAX run (core and not heavy) the micro ones. All 15 at once took 135 s here.
PAPER_ROUND_TRIP = ("resnet50", "mobilenetv2_050", "swin_pico_patch4_window7_224", "deit_tiny_patch16_224")
BY_SIZE = [pytest.param(n, marks=() if n in SMALL_MODELS else pytest.mark.heavy) for n in SMALL_MODELS + list(PAPER_ROUND_TRIP)]

LOADER = """
import json, sys
import numpy as np
import keras
import tas_keras  # registers the custom classes; nothing else is imported
folder, names = sys.argv[1], sys.argv[2:]
x = np.load(f"{folder}/x.npy")
report = {}
for name in names:
    model = keras.saving.load_model(f"{folder}/{name}.keras")
    ref = np.load(f"{folder}/{name}.npy")
    pred = keras.ops.convert_to_numpy(model(x))
    report[name] = {
        "max_abs_diff": float(np.abs(pred - ref).max()),
        "class": type(model).__name__,
        "stages": [i["channels"] for i in tas_keras.feature_info(model)],
    }
print("REPORT" + json.dumps(report))
"""


# Eager JAX compiles every op on first use, so building, calling and reloading all seven micro models
# takes minutes there. The .keras format and the classes' configs do not depend on the backend: the
# JAX run round-trips one model (BatchNorm: its statistics are non-trainable state), the TensorFlow
# run all (CI time; three models took 131 s on JAX).
JAX_ROUND_TRIP = ("resnet_micro",)


def _on_this_backend(names):
    return list(names) if keras.backend.backend() == "tensorflow" else [n for n in names if n in JAX_ROUND_TRIP]


@pytest.fixture(scope="module")
def reloaded_small(tmp_path_factory):
    return save_and_reload(_on_this_backend(SMALL_MODELS), tmp_path_factory)


@pytest.fixture(scope="module")
def reloaded_paper(tmp_path_factory):
    return save_and_reload(list(PAPER_ROUND_TRIP), tmp_path_factory)


def save_and_reload(names, tmp_path_factory):
    """Saves the models (32x32, 5 classes) and reloads all of them in one fresh process."""
    folder = tmp_path_factory.mktemp("saved")
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    np.save(folder / "x.npy", x)
    expected = {}
    rng = np.random.default_rng(1)
    train_x, train_y = rng.uniform(size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 5, size=(8,))
    for name in names:
        keras.utils.set_random_seed(1)
        model = tas_keras.create_model(name, num_classes=5, image_size=32)
        batch_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
        moved = []
        # The .keras format is the same on every backend: the TensorFlow run trains first; the JAX run
        # (where each fit compiles, slowly on CPU) saves the initial weights (CI time).
        if batch_norm and keras.backend.backend() == "tensorflow":
            # Trained a few steps first, so the moving statistics differ from their initial values and
            # a file that lost non-trainable state would not reproduce the predictions.
            model.compile(optimizer=keras.optimizers.SGD(1e-3), loss="sparse_categorical_crossentropy", run_eagerly=EAGER_IS_QUICKER)
            stats = [keras.ops.convert_to_numpy(w).copy() for w in model.non_trainable_weights]
            model.fit(train_x, train_y, batch_size=4, epochs=1, verbose=0)
            moved = [not np.array_equal(a, keras.ops.convert_to_numpy(w)) for a, w in zip(stats, model.non_trainable_weights)]
        model.save(folder / f"{name}.keras")
        np.save(folder / f"{name}.npy", keras.ops.convert_to_numpy(model(x)))
        expected[name] = {"class": type(model).__name__, "stages": [i["channels"] for i in tas_keras.feature_info(model)],
                          "batch_norm": batch_norm, "stats_moved": any(moved)}
    return expected, subprocess_report(["-c", LOADER, str(folder), *names])


@pytest.mark.parametrize("name", BY_SIZE)
def test_save_load_round_trip_in_a_fresh_process(request, name):
    if name in SMALL_MODELS and not _on_this_backend([name]):
        pytest.skip(f"the JAX run round-trips {', '.join(JAX_ROUND_TRIP)}; TensorFlow every model (CI time)")
    expected, report = request.getfixturevalue("reloaded_small" if name in SMALL_MODELS else "reloaded_paper")
    assert report[name]["class"] == expected[name]["class"]
    assert report[name]["stages"] == expected[name]["stages"]
    assert report[name]["max_abs_diff"] < 1e-5
    if expected[name]["batch_norm"] and keras.backend.backend() == "tensorflow":
        assert expected[name]["stats_moved"], "training moved the BatchNorm statistics that the file must keep"


@pytest.mark.heavy
def test_the_paper_round_trip_covers_no_class_the_micro_models_lack():
    def classes(name):
        return {type(layer).__name__ for layer in tas_keras.create_model(name, num_classes=5, image_size=32)._flatten_layers()}

    micro = set().union(*map(classes, SMALL_MODELS))
    paper = set().union(*(classes(n) for n in ALL_MODELS if n not in SMALL_MODELS))
    assert paper <= micro, sorted(paper - micro)


def test_config_is_exactly_the_constructor_arguments():
    model = tas_keras.create_model("swin_micro_patch2_window4_32", num_classes=7, drop_path_rate=0.1)
    config = model.get_config()
    assert config["num_classes"] == 7 and config["drop_path_rate"] == 0.1 and config["window_size"] == 4
    clone = type(model).from_config(config)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert tas_keras.feature_info(clone) == tas_keras.feature_info(model)


def test_feature_extractor_saves_and_loads(tmp_path):
    model = tas_keras.create_model("vit_micro_patch4_32", num_classes=3)
    extractor = tas_keras.feature_extractor(model)
    path = tmp_path / "features.keras"
    extractor.save(path)
    loaded = keras.saving.load_model(path)
    x = np.random.default_rng(0).uniform(size=(2, 32, 32, 3)).astype("float32")
    got, want = loaded(x), extractor(x)
    for key in want:
        np.testing.assert_allclose(keras.ops.convert_to_numpy(got[key]), keras.ops.convert_to_numpy(want[key]), atol=1e-5)
