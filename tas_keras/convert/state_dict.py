"""Reading a timm / PyTorch state dict into numpy arrays: from a dict, a `.safetensors` file (the
safetensors package's numpy API, no torch) or a `.pth` / `.pt` / `.bin` file (torch, if installed)."""

import collections.abc
import os

import numpy as np

from tas_keras.errors import InputError

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pth", ".pt", ".bin")
SUFFIXES = SAFETENSORS_SUFFIXES + TORCH_SUFFIXES
WRAPPER_KEYS = ("state_dict", "model")  # training checkpoints nest the weights under one of these (as timm's loader reads them)


def _to_numpy(value):
    if hasattr(value, "detach"):  # a torch tensor; bfloat16 has no numpy dtype
        value = value.detach().cpu()
        return value.float().numpy() if value.is_floating_point() else value.numpy()
    return np.asarray(value)


def _unwrap(state):
    for key in WRAPPER_KEYS:
        if isinstance(state.get(key), collections.abc.Mapping):
            return _unwrap(state[key])
    return state


def _read_safetensors(path):
    try:
        from safetensors.numpy import load_file
    except ImportError as err:
        raise InputError(
            f"Reading {path!r} needs the safetensors package: pip install 'tas_keras[timm]' (or pip install safetensors)."
        ) from err
    try:
        return load_file(path)
    except Exception as err:  # truncated file, bad header, bfloat16 (numpy has no such dtype), ...
        raise InputError(f"Could not read {path!r} as a safetensors file (truncated or not safetensors?): {err}") from err


def _read_torch(path):
    try:
        import torch
    except ImportError as err:
        raise InputError(
            f"Reading {path!r} needs torch (pip install torch); or save the state dict as .safetensors, which needs only "
            "the safetensors package."
        ) from err
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, pickled code refused by weights_only, ...
        raise InputError(f"Could not read {path!r} as a PyTorch checkpoint (truncated or not a state dict?): {err}") from err


def read_state_dict(source):
    """{timm key: numpy array} from a mapping or a checkpoint path; a DataParallel `module.` prefix
    and a `state_dict` / `model` wrapper are removed."""
    if isinstance(source, collections.abc.Mapping):
        state = source
    else:
        path = os.fspath(source)
        if not path.endswith(SUFFIXES):
            raise InputError(f"Checkpoint {path!r}: expected a dict of arrays or a file ending in one of {SUFFIXES}.")
        if not os.path.isfile(path):
            raise InputError(f"Checkpoint {path!r} does not exist (tas_keras never downloads weights).")
        state = _read_safetensors(path) if path.endswith(SAFETENSORS_SUFFIXES) else _read_torch(path)
        if not isinstance(state, collections.abc.Mapping):
            raise InputError(f"Checkpoint {path!r} holds a {type(state).__name__}, not a state dict.")
    state = _unwrap(state)
    return {key.removeprefix("module."): _to_numpy(value) for key, value in state.items()}
