"""Model zoo tests, parametrized over the registry so every new model is covered automatically."""

import json
import pathlib

import keras
import numpy as np
import pytest

import tas_keras

from ..quick import EAGER_IS_QUICKER, inference

pytestmark = pytest.mark.core

ALL_MODELS = tas_keras.list_models()
# Paper-size models at 32x32 repeat what the micro variants of their classes show; the JAX run (core
# and not heavy) keeps to the micro ones, the TensorFlow run covers all.
BY_SIZE = [pytest.param(n, marks=() if "micro" in n else pytest.mark.heavy) for n in ALL_MODELS]
SMALL = 32  # every registered model must run at 32x32
NUM_CLASSES = 5

# Trainable parameters at 224x224, 1000 classes, from the timm definitions.
# timm 1.0.31's parameter counts of the 14 paper models (shared/timm_reference/index.json, copied as data).
TIMM_PARAMS = {name: entry["params"] for name, entry in json.loads((pathlib.Path(__file__).parent / "data" / "timm_index.json").read_text()).items()}
FAMILIES = {
    "cnn": ["resnet18", "resnet34", "resnet50", "mobilenetv2_100", "convnext_tiny", "convnext_atto", "convnext_pico"],
    "vit": ["deit_tiny_patch16_224", "vit_small_patch16_224", "swin_tiny_patch4_window7_224",
            "swin_pico_patch4_window7_224", "swin_nano_patch4_window7_224"],
    "mlp": ["mixer_b16_224", "resmlp_12_224"],
}


# The training-step check runs on the small (micro) variants: they share every layer and block with
# the paper-size variants of their class, and a test below keeps each class covered.
TRAIN_CASES = [n for n in ALL_MODELS if "micro" in n]


def concrete_backbones(cls=tas_keras.Backbone):
    """The zoo's model classes (AdaptedModel wraps a user's model: tests/distill/test_adapted_models.py)."""
    found = set()
    for sub in cls.__subclasses__():
        found |= concrete_backbones(sub)
        if not sub.__name__.startswith("_") and sub is not tas_keras.AdaptedModel:
            found.add(sub)
    return found


def trainable_count(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def images(batch=2, size=SMALL, seed=0):
    return np.random.default_rng(seed).uniform(size=(batch, size, size, 3)).astype("float32")


def test_required_models_are_registered_with_their_family():
    for family, names in FAMILIES.items():
        for name in names:
            assert name in ALL_MODELS
            assert tas_keras.model_family(name) == family
        assert set(names) <= set(tas_keras.list_models(family))
    assert ALL_MODELS == sorted(ALL_MODELS)


@pytest.mark.heavy
@pytest.mark.parametrize("name", sorted(TIMM_PARAMS))
def test_parameter_count_matches_timm(name):
    model = tas_keras.create_model(name, num_classes=1000, image_size=224)
    assert trainable_count(model) == TIMM_PARAMS[name]  # exactly: a missing table or embedding would show


@pytest.mark.parametrize("name", BY_SIZE)
def test_forward_and_stage_features_agree_with_feature_info(name):
    model = tas_keras.create_model(name, num_classes=NUM_CLASSES, image_size=SMALL)
    assert tas_keras.model_family(model) == tas_keras.model_family(name)
    x = images()
    outputs = inference(tas_keras.feature_extractor(model), x)
    assert set(outputs) == {"logits", "S1", "S2", "S3", "S4"}
    np.testing.assert_allclose(outputs["logits"], inference(model, x), atol=1e-5)
    assert tuple(outputs["logits"].shape) == (2, NUM_CLASSES)
    info = tas_keras.feature_info(model)
    assert [i["name"] for i in info] == ["S1", "S2", "S3", "S4"]
    reductions = [i["reduction"] for i in info]
    assert reductions == sorted(reductions)
    for stage in info:
        side = SMALL // stage["reduction"]
        if stage["layout"] == "map":
            expected = (2, side, side, stage["channels"])
        else:
            expected = (2, stage["num_prefix_tokens"] + side * side, stage["channels"])
        assert tuple(outputs[stage["name"]].shape) == expected, stage


@pytest.mark.parametrize("name", BY_SIZE)
def test_feature_extractor_shares_weights(name):
    model = tas_keras.create_model(name, num_classes=NUM_CLASSES, image_size=SMALL)
    extractor = tas_keras.feature_extractor(model)
    assert {id(w) for w in extractor.weights} == {id(w) for w in model.weights}


@pytest.mark.parametrize("name", TRAIN_CASES)
def test_one_training_step_lowers_the_loss(name):
    keras.utils.set_random_seed(0)
    model = tas_keras.create_model(name, num_classes=NUM_CLASSES, image_size=SMALL)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-5),  # small: paper-size models at 32x32 on 8 images are sharp
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        run_eagerly=EAGER_IS_QUICKER,
    )
    x = images(batch=8, seed=1)
    y = np.arange(8) % NUM_CLASSES
    # train_on_batch returns the training-mode loss before its update (BatchNorm on batch statistics).
    losses = [float(model.train_on_batch(x, y)) for _ in range(6)]
    assert losses[-1] < losses[0], losses


def test_every_backbone_class_has_a_small_variant_for_the_training_check():
    covered = {type(tas_keras.create_model(n, num_classes=NUM_CLASSES)) for n in TRAIN_CASES}
    assert covered == concrete_backbones()


def test_drop_path_only_acts_in_training():
    # layer_scale_init=1 so that dropped branches change the output visibly
    model = tas_keras.create_model("convnext_micro", num_classes=NUM_CLASSES, drop_path_rate=0.5, layer_scale_init=1.0)
    x = images(batch=4)
    not_training = [keras.ops.convert_to_numpy(model(x, training=False)) for _ in range(2)]
    np.testing.assert_array_equal(not_training[0], not_training[1])
    training = [keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(3)]
    assert any(not np.allclose(training[0], t) for t in training[1:])


def test_overrides_change_the_architecture():
    model = tas_keras.create_model(
        "deit_tiny_patch16_224", num_classes=10, image_size=32, patch_size=4, depth=4, embed_dim=48, num_heads=2
    )
    info = tas_keras.feature_info(model)
    assert [i["channels"] for i in info] == [48] * 4 and info[0]["reduction"] == 4
    assert model.get_config()["patch_size"] == 4


def test_swin_pads_windows_when_the_grid_is_not_a_multiple_of_the_window():
    # 64 / 4 = 16 tokens per side, window 7: padded to 21, shifted windows masked.
    model = tas_keras.create_model("swin_pico_patch4_window7_224", num_classes=NUM_CLASSES, image_size=64)
    out = inference(model, images(size=64))
    assert out.shape == (2, NUM_CLASSES) and np.isfinite(out).all()


def test_swin_shift_mask_keeps_attention_inside_regions():
    from tas_keras.models.swin.swin_layers import MASKED, shift_mask

    mask = shift_mask(8, 8, window=4, shift=2)
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()  # the top-left window is not split by the shift
    assert (mask[-1] == MASKED).any()  # the corner window joins four regions
    np.testing.assert_array_equal(mask, mask.transpose(0, 2, 1))
