"""`load_timm_weights`: a timm state dict onto a zoo model, every key accounted for, all or nothing."""

import numpy as np

from tas_keras.convert.resample import resample_pos_embed, resize_relative_position_table
from tas_keras.convert.state_dict import read_state_dict
from tas_keras.convert.timm_names import IGNORED_SUFFIXES, timm_names
from tas_keras.errors import InputError

HEAD_PREFIX = "head/"  # every zoo model names its classifier layer "head"
# Size-dependent entries resized to the model's (as timm's checkpoint filters do), keyed by the timm name's last part.
RESIZERS = {"pos_embed": resample_pos_embed, "relative_position_bias_table": resize_relative_position_table}
SHOWN = 6
TOKEN_MIXERS = ("mlp_tokens", "linear_tokens")
TOKEN_MIXING_HINT = (
    " Mixer / ResMLP token-mixing weights are tied to the number of patches and timm does not resize them "
    "either: use the checkpoint's image size and patch size."
)  # keys listed per problem in an error message


def to_keras_layout(array, shape, is_kernel):
    """PyTorch layout -> Keras layout: conv OIHW -> HWIO, depthwise (C, 1, H, W) -> (H, W, C, 1),
    linear (out, in) -> (in, out), 1x1-conv MLPs (ConvNeXt-atto/pico) -> dense kernels; other entries
    are reshaped when only singleton axes differ (ResMLP's (1, 1, C) Affine parameters)."""
    array = np.asarray(array, dtype=np.float32)
    if is_kernel and array.ndim == 4 and len(shape) == 4:
        depthwise = array.shape[1] == 1 and shape[3] == 1 and shape[2] == array.shape[0]
        return array.transpose(2, 3, 0, 1) if depthwise else array.transpose(2, 3, 1, 0)
    if is_kernel and array.ndim == 4 and len(shape) == 2 and array.shape[2:] == (1, 1):
        return array[:, :, 0, 0].T
    if is_kernel and array.ndim == 2:
        return array.T
    squeezed = tuple(d for d in array.shape if d != 1)
    if squeezed == tuple(d for d in shape if d != 1):
        return array.reshape(shape)
    return array


def _listing(what, items):
    shown = ", ".join(items[:SHOWN]) + (f", ... ({len(items)} in all)" if len(items) > SHOWN else "")
    return f"{what}: {shown}"


def load_timm_weights(model, source, strict=True):
    """Loads a timm checkpoint into a zoo model (the 14 paper models and variants of the same structure).

    source: a dict of arrays, or a `.safetensors` / `.pth` / `.pt` / `.bin` path.
    strict: with False, a classifier that does not fit (another class count) is left as initialised;
        every other unknown, missing or wrong-shape key is an error either way.
    Position embeddings (ViT / DeiT) and Swin relative-position tables are resized to the model's image
    and window size as timm does. Nothing is assigned unless every key fits.
    Returns {"loaded": number of variables, "head": "loaded" | "initialised", "resized": [timm keys]}.
    """
    state = read_state_dict(source)
    names = timm_names(model)
    variables = {v.path: v for v in model.weights}
    used = set(names.values())
    unknown = sorted(k for k in state if k not in used and not k.endswith(IGNORED_SUFFIXES))
    missing, wrong, skipped_head, resized, values = [], [], [], [], {}
    for path, key in names.items():
        variable = variables[path]
        shape = tuple(variable.shape)
        if key not in state:
            (skipped_head if path.startswith(HEAD_PREFIX) else missing).append(key)
            continue
        array = state[key]
        last = key.rsplit(".", 1)[-1]
        if last in RESIZERS and array.shape != shape and array.ndim == len(shape):
            try:
                array = RESIZERS[last](array, shape)
            except InputError as err:
                wrong.append(f"{key} ({err})")
                continue
            resized.append(key)
        value = to_keras_layout(array, shape, is_kernel=path.endswith("/kernel"))
        if value.shape != shape:
            if path.startswith(HEAD_PREFIX):
                skipped_head.append(f"{key} {tuple(state[key].shape)}")
            else:
                wrong.append(f"{key} {tuple(state[key].shape)} -> model {shape}")
            continue
        values[path] = value
    if skipped_head and strict:
        wrong += [f"{k} (classifier; strict=False leaves it initialised)" for k in skipped_head]
    problems = [_listing(what, items) for what, items in (("unknown keys", unknown), ("missing keys", missing), ("wrong shapes", wrong)) if items]
    if problems:
        hint = TOKEN_MIXING_HINT if any(part in w for w in wrong for part in TOKEN_MIXERS) else ""
        raise InputError(f"timm checkpoint does not fit {model.name!r}: " + "; ".join(problems) + "." + hint)
    if skipped_head:  # all or nothing for the classifier too
        values = {path: value for path, value in values.items() if not path.startswith(HEAD_PREFIX)}
    for path, value in values.items():
        variables[path].assign(value.astype(variables[path].dtype))
    return {"loaded": len(values), "head": "initialised" if skipped_head else "loaded", "resized": resized}
