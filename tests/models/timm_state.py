"""Test helpers for timm checkpoints: the shared reference's synthetic weights (its README's rule) and a
zoo model's own weights written out in timm's layout (for round trips on models timm does not have)."""

import json
import pathlib
import zlib

import numpy as np

from tas_keras.convert.timm_names import timm_names

REFERENCE = pathlib.Path(__file__).parent / "data" / "timm_reference"


def manifest(name):
    return json.loads((REFERENCE / f"{name}.manifest.json").read_text())


def reference_outputs(name):
    with np.load(REFERENCE / f"{name}.npz") as data:
        return dict(data)


def synthetic_state_dict(name):
    """The reference README's rule, verbatim: weights from each key's crc32 and shape."""
    state = {}
    for key, shape, dtype in manifest(name)["state_dict"]:
        rng = np.random.default_rng(zlib.crc32(key.encode("utf-8")))
        if dtype.startswith("int"):
            state[key] = np.zeros(shape, dtype=dtype)
            continue
        if key.endswith(".running_var"):
            value = rng.uniform(0.5, 1.5, shape)
        elif len(shape) >= 2:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        elif key.endswith(".weight"):
            value = 1 + 0.1 * rng.standard_normal(shape)
        else:
            value = 0.1 * rng.standard_normal(shape)
        state[key] = np.asarray(value, dtype="float32")
    return state


def reference_input():
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype("float32")
    return x.transpose(0, 2, 3, 1)


def _torch_layout(value, is_kernel):
    """The inverse of tas_keras.convert.timm_loader.to_keras_layout, written independently."""
    if is_kernel and value.ndim == 4:
        depthwise = value.shape[3] == 1
        return value.transpose(2, 3, 0, 1) if depthwise else value.transpose(3, 2, 0, 1)
    if is_kernel and value.ndim == 2:
        return value.T
    return value


def timm_layout_state(model):
    """{timm key: array} holding `model`'s current weights, as a timm checkpoint would (with the
    BatchNorm step counters a real one carries)."""
    names = timm_names(model)
    state = {}
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        key = names[variable.path]
        state[key] = np.ascontiguousarray(_torch_layout(value, variable.path.endswith("/kernel")))
        if key.endswith(".running_var"):
            state[key.replace("running_var", "num_batches_tracked")] = np.array(7, dtype="int64")
    return state
