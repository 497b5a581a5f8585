"""timm checkpoints load with numerical parity, adapt to other class counts and image sizes as
documented, and fail with one line (nothing assigned, no output file) when they do not fit."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras.convert.resample import resample_pos_embed, resize_bicubic, resize_relative_position_table
from tas_keras.errors import InputError
from tests.models.timm_state import REFERENCE, reference_input, reference_outputs, synthetic_state_dict, timm_layout_state

PAPER_MODELS = sorted(json.loads((REFERENCE / "index.json").read_text()))
# The JAX run (core and not heavy) checks three of the 14; the TensorFlow run checks all.
ON_BOTH_BACKENDS = {"convnext_atto", "deit_tiny_patch16_224", "resmlp_12_224"}
# timm's intermediate k (forward_intermediates, indices 4 or [2, 5, 8, 11]) is our stage tap S{k+1},
# except MobileNetV2's last: timm's is the 320-wide output of blocks[6]; our S4 is the 1280-wide head
# conv after it (the final features a distiller pools), so timm's S4 is compared with that layer.
TIMM_S4_LAYER = {"mobilenetv2_100": "group7_block1_project_bn"}
TOLERANCE = 1e-4  # max |difference| relative to the reference's largest |value|
MICRO_MODELS = [n for n in tas_keras.list_models() if "micro" in n]


def _relative_error(ours, reference):
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def _patch_tokens_as_map(x, num_prefix_tokens):
    if x.ndim == 4:
        return x
    tokens = x[:, num_prefix_tokens:]
    side = int(round(tokens.shape[1] ** 0.5))
    return tokens.reshape(tokens.shape[0], side, side, -1)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.core if n in ON_BOTH_BACKENDS else pytest.mark.heavy) for n in PAPER_MODELS]
)
def test_timm_checkpoint_gives_timms_outputs(name):
    model = tas_keras.create_model(name)
    report = tas_keras.load_timm_weights(model, synthetic_state_dict(name))
    assert report["head"] == "loaded" and report["resized"] == []
    ref = reference_outputs(name)
    outputs = {"logits": model.outputs[0], **model.pyramid_outputs}
    if name in TIMM_S4_LAYER:
        outputs["S4"] = model.get_layer(TIMM_S4_LAYER[name]).output
    taps = keras.Model(model.inputs[0], outputs)(reference_input())
    taps = {k: keras.ops.convert_to_numpy(v) for k, v in taps.items()}
    assert _relative_error(taps["logits"], ref["logits"]) < TOLERANCE
    prefix = tas_keras.feature_info(model)[0]["num_prefix_tokens"]
    for stage in ("S1", "S2", "S3", "S4"):
        grid = _patch_tokens_as_map(taps[stage], prefix)
        assert _relative_error(grid.mean(axis=(1, 2)), ref[f"{stage}_mean"]) < TOLERANCE, stage
    full = ref["S4_full"].astype(np.float32).transpose(0, 2, 3, 1)  # stored as float16
    ours = _patch_tokens_as_map(taps["S4"], prefix)
    scale = np.abs(full).max()
    assert np.all(np.abs(ours - full) <= 2.0**-10 * np.abs(full) + TOLERANCE * scale)


@pytest.mark.core
@pytest.mark.heavy  # the key mapping and layouts are numpy, the same on every backend: the TensorFlow run only (CI time)
@pytest.mark.parametrize("name", MICRO_MODELS)
def test_a_models_weights_written_in_timm_layout_load_back_exactly(name):
    """Every variable has a timm key and a layout that inverts: a micro model round-trips."""
    source = tas_keras.create_model(name, num_classes=7)
    x = np.random.default_rng(1).standard_normal((2,) + source.input_shape[1:]).astype("float32")
    for v in source.weights:  # move every variable (BatchNorm statistics too) off its initial value
        v.assign(v.numpy() + np.random.default_rng(len(v.path)).uniform(0.5, 1.0, v.shape).astype("float32"))
    target = tas_keras.create_model(name, num_classes=7)
    report = tas_keras.load_timm_weights(target, timm_layout_state(source))
    assert report["loaded"] == len(source.weights)
    for a, b in zip(source.weights, target.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(target(x)), keras.ops.convert_to_numpy(source(x)), rtol=1e-5, atol=1e-5)


def _micro_checkpoint(name="resnet_micro", num_classes=10):
    model = tas_keras.create_model(name, num_classes=num_classes)
    return timm_layout_state(model)


def _weights(model):
    return [v.numpy().copy() for v in model.weights]


@pytest.mark.core
def test_safetensors_pth_dict_and_wrapped_sources_load_the_same(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    state = _micro_checkpoint()
    safetensors_numpy.save_file(state, str(tmp_path / "w.safetensors"))
    loaded = []
    sources = [state, str(tmp_path / "w.safetensors"), {"state_dict": {f"module.{k}": v for k, v in state.items()}}]
    try:
        import torch

        torch.save({"model": {k: torch.from_numpy(np.array(v)) for k, v in state.items()}}, tmp_path / "w.pth")
        sources.append(str(tmp_path / "w.pth"))
    except ImportError:
        pass
    for source in sources:
        model = tas_keras.create_model("resnet_micro", num_classes=10)
        tas_keras.load_timm_weights(model, source)
        loaded.append(_weights(model))
    for other in loaded[1:]:
        for a, b in zip(loaded[0], other):
            np.testing.assert_array_equal(a, b)
    model = tas_keras.create_model("resnet_micro", num_classes=10, weights=str(tmp_path / "w.safetensors"))
    for a, b in zip(loaded[0], _weights(model)):
        np.testing.assert_array_equal(a, b)


def _assert_fails_without_change(model, source, *fragments, strict=True):
    before = _weights(model)
    with pytest.raises(InputError) as err:
        tas_keras.load_timm_weights(model, source, strict=strict)
    message = str(err.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    for a, b in zip(before, _weights(model)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.core
def test_unknown_missing_and_wrong_shape_keys_are_listed_and_nothing_is_assigned():
    model = tas_keras.create_model("resnet_micro", num_classes=10)
    state = _micro_checkpoint()
    _assert_fails_without_change(model, {**state, "layer9.0.conv1.weight": np.zeros(3)}, "unknown keys: layer9.0.conv1.weight")
    missing = dict(state)
    del missing["layer2.0.bn1.running_mean"]
    _assert_fails_without_change(model, missing, "missing keys: layer2.0.bn1.running_mean")
    wrong = {**state, "layer1.0.conv1.weight": np.zeros((16, 16, 5, 5), "float32")}
    _assert_fails_without_change(model, wrong, "wrong shapes: layer1.0.conv1.weight (16, 16, 5, 5)")
    # a checkpoint of another architecture
    _assert_fails_without_change(model, _micro_checkpoint("convnext_micro"), "unknown keys", "missing keys")
    # strict=False forgives the classifier only
    _assert_fails_without_change(model, missing, "missing keys", strict=False)


@pytest.mark.core
def test_another_class_count_needs_strict_false_and_leaves_the_classifier_initialised():
    state = _micro_checkpoint(num_classes=1000)
    model = tas_keras.create_model("resnet_micro", num_classes=10)
    _assert_fails_without_change(model, state, "fc.weight (1000, 128)", "strict=False")
    head_before = model.get_layer("head").get_weights()
    report = tas_keras.load_timm_weights(model, state, strict=False)
    assert report["head"] == "initialised" and report["loaded"] == len(model.weights) - 2
    for a, b in zip(head_before, model.get_layer("head").get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0], state["conv1.weight"].transpose(2, 3, 1, 0))


@pytest.mark.core
def test_bad_files_give_one_line_errors(tmp_path, monkeypatch):
    model = tas_keras.create_model("resnet_micro", num_classes=10)
    _assert_fails_without_change(model, str(tmp_path / "absent.safetensors"), "does not exist")
    _assert_fails_without_change(model, str(tmp_path / "w.npz"), "expected a dict of arrays or a file ending in")
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": ")
    _assert_fails_without_change(model, str(truncated), "truncated or not safetensors")
    (tmp_path / "cut.pth").write_bytes(b"PK\x03\x04 not a whole zip")
    if _has("torch"):
        _assert_fails_without_change(model, str(tmp_path / "cut.pth"), "truncated or not a state dict")
    monkeypatch.setitem(sys.modules, "safetensors.numpy", None)  # as if the package were not installed
    _assert_fails_without_change(model, str(truncated), "pip install 'tas_keras[timm]'")
    monkeypatch.setitem(sys.modules, "torch", None)
    _assert_fails_without_change(model, str(tmp_path / "cut.pth"), "needs torch")


def _has(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


@pytest.mark.core
def test_vit_position_embeddings_follow_the_image_size():
    state = synthetic_state_dict("deit_tiny_patch16_224")
    model = tas_keras.create_model("deit_tiny_patch16_224", num_classes=1000, image_size=64)
    report = tas_keras.load_timm_weights(model, state)
    assert report["resized"] == ["pos_embed"]
    expected = resample_pos_embed(state["pos_embed"], (1, 17, 192))
    np.testing.assert_array_equal(model.get_layer("pos_embed").embedding.numpy(), expected)
    np.testing.assert_array_equal(expected[:, 0], state["pos_embed"][:, 0])  # the class token's position is kept


@pytest.mark.core
def test_antialiased_bicubic_resize_matches_torch():
    torch = pytest.importorskip("torch")
    grid = np.random.default_rng(0).standard_normal((14, 14, 6)).astype("float32")
    for size in [(2, 2), (4, 4), (7, 7), (14, 14), (24, 24), (5, 9)]:
        theirs = torch.nn.functional.interpolate(torch.from_numpy(grid).permute(2, 0, 1)[None], size=size, mode="bicubic", antialias=True)
        np.testing.assert_allclose(resize_bicubic(grid, size), theirs[0].permute(1, 2, 0).numpy(), atol=1e-5)


@pytest.mark.core
def test_mixer_and_resmlp_refuse_another_image_size_as_timm_does():
    model = tas_keras.create_model("resmlp_12_224", num_classes=1000, image_size=64)
    _assert_fails_without_change(model, synthetic_state_dict("resmlp_12_224"), "linear_tokens.weight", "timm does not resize them")


@pytest.mark.core
@pytest.mark.heavy  # the table resize is numpy, the same on every backend: the TensorFlow run only (CI time)
def test_swin_tables_follow_smaller_windows():
    """At 64x64 Swin-P's last two stages see 4x4 and 2x2 maps, so their windows shrink from 7."""
    state = synthetic_state_dict("swin_pico_patch4_window7_224")
    model = tas_keras.create_model("swin_pico_patch4_window7_224", num_classes=1000, image_size=64)
    report = tas_keras.load_timm_weights(model, state)
    resized = {k.split(".")[1] for k in report["resized"]}
    assert resized == {"2", "3"}  # layers.2 and layers.3 (0-based, timm's numbering)
    table = model.get_layer("stage4_block1").relative_bias_table.numpy()
    assert table.shape == (9, 16)
    source = state["layers.3.blocks.0.attn.relative_position_bias_table"]
    np.testing.assert_array_equal(table[4], source[84])  # offset (0, 0) keeps its bias
    out = keras.ops.convert_to_numpy(model(np.zeros((1, 64, 64, 3), "float32")))
    assert np.isfinite(out).all()


@pytest.mark.core
def test_relative_position_table_resize():
    table = np.random.default_rng(0).standard_normal((13 * 13, 2)).astype("float32")
    assert resize_relative_position_table(table, (169, 2)) is table
    smaller = resize_relative_position_table(table, (49, 2))  # window 7 -> 4: close to the central crop
    crop = table.reshape(13, 13, 2)[3:10, 3:10].reshape(49, 2)
    assert np.abs(smaller - crop).max() < 0.25 * np.abs(table).max()
    np.testing.assert_array_equal(smaller[24], table[84])
    larger = resize_relative_position_table(table, (23 * 23, 2))
    np.testing.assert_array_equal(larger.reshape(23, 23, 2)[11, 11], table[84])
    with pytest.raises(InputError, match="heads"):
        resize_relative_position_table(table, (49, 3))


@pytest.mark.core
@pytest.mark.heavy  # the tool's conversion is numpy and its file Keras' format, the same on every backend: the TensorFlow run only (CI time)
def test_convert_tool_writes_a_model_only_when_the_checkpoint_fits(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    state = _micro_checkpoint(num_classes=1000)
    safetensors_numpy.save_file(state, str(tmp_path / "w.safetensors"))
    out = tmp_path / "teacher.keras"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user runs it: the tool sets its own
    cmd = [sys.executable, "tools/convert_timm.py", str(tmp_path / "w.safetensors"), "--model", "resnet_micro", "--num-classes", "10"]
    done = subprocess.run(cmd + ["--output", str(out)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "classifier left initialised" in done.stdout
    model = keras.saving.load_model(out)
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0], state["conv1.weight"].transpose(2, 3, 1, 0))
    bad = tmp_path / "bad.keras"
    done = subprocess.run(cmd[:3] + ["--model", "convnext_micro", "--output", str(bad)], capture_output=True, text=True, env=env)
    ours = [line for line in done.stderr.splitlines() if line.startswith("convert_timm.py")]  # TF's own start-up lines aside
    assert done.returncode == 2 and len(ours) == 1 and "does not fit" in ours[0] and "Traceback" not in done.stderr, done.stderr
    assert not bad.exists() and not list(tmp_path.glob(".tmp_*"))


@pytest.mark.core
def test_a_pair_config_fine_tunes_its_teacher_from_a_timm_checkpoint(tmp_path):
    """`teacher.weights: x.safetensors` (the CIFAR-100 recipe's first step): the body loads, the
    1000-class classifier stays initialised for the run's classes."""
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    from tas_keras.training.build import build_teacher
    from tas_keras.training.config import load_config

    config = load_config("convnext_mlp", profile="small", overrides=[f"teacher.weights={tmp_path / 'w.safetensors'}"])
    teacher_name = config.teacher.name
    source = tas_keras.create_model(teacher_name, num_classes=1000, image_size=config.teacher.image_size or config.data.image_size)
    state = timm_layout_state(source)
    safetensors_numpy.save_file(state, str(tmp_path / "w.safetensors"))
    teacher = build_teacher(config, num_classes=10)
    assert teacher.output_shape[-1] == 10
    np.testing.assert_array_equal(teacher.get_layer("stem_conv").get_weights()[0], source.get_layer("stem_conv").get_weights()[0])
