"""timm-style model registry: `@register_model(family)` on thin variant factories."""

import difflib
import inspect
import os

from tas_keras.errors import InputError
from tas_keras.models.applications import application_names, create_application, is_application
from tas_keras.models.backbone import FAMILIES

_REGISTRY = {}  # name -> (factory, family); filled only by @register_model
WEIGHT_SUFFIXES = (".keras", ".weights.h5")
_WEIGHT_FORMATS = {}  # suffix -> loader(model, path, strict); other libraries' checkpoints (tas_keras.convert)


def register_weight_format(suffixes, loader):
    """Lets `create_model(weights=...)` read files ending in `suffixes` with `loader(model, path, strict)`."""
    for suffix in suffixes:
        _WEIGHT_FORMATS[suffix] = loader


def register_model(family):
    """Registers a factory `fn(**kwargs) -> Backbone` under its function name."""
    if family not in FAMILIES:
        raise InputError(f"Unknown model family {family!r}; valid families: {FAMILIES}.")

    def decorator(fn):
        if fn.__name__ in _REGISTRY:
            raise InputError(f"Model {fn.__name__!r} is registered twice.")
        _REGISTRY[fn.__name__] = (fn, family)
        return fn

    return decorator


def build_variant(cls, name, overrides, **defaults):
    """cls(**defaults) with user overrides; an unknown override names the valid ones."""
    valid = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
    unknown = sorted(set(overrides) - set(valid))
    if unknown:
        raise InputError(
            f"Unknown argument(s) {unknown} for model {name!r} ({cls.__name__}); valid: {sorted(valid)}."
        )
    return cls(**{**defaults, **overrides, "name": overrides.get("name", name)})


def list_models(family=None):
    """Sorted names of registered models, optionally of one family ("cnn", "vit" or "mlp")."""
    if family is not None and family not in FAMILIES:
        raise InputError(f"Unknown model family {family!r}; valid families: {FAMILIES}.")
    return sorted(n for n, (_, fam) in _REGISTRY.items() if family in (None, fam))


def is_model_name(name):
    """True for a registered zoo model and for a keras.applications name create_model builds."""
    return name in _REGISTRY or name in application_names()


def _unknown_model_error(name):
    close = difflib.get_close_matches(str(name), list(_REGISTRY), n=5, cutoff=0.4)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    return InputError(
        f"Unknown model {name!r}.{hint} Valid models: {', '.join(list_models())} "
        "(see tas_keras.list_models()), or keras.applications.<name> for ResNet, MobileNetV2/V3, EfficientNet and ConvNeXt."
    )


def model_family(name_or_model):
    """'cnn' | 'vit' | 'mlp' for a registered name, a keras.applications name (all CNNs) or a zoo model instance."""
    if isinstance(name_or_model, str):
        if name_or_model in application_names():
            return "cnn"
        if name_or_model not in _REGISTRY:
            raise _unknown_model_error(name_or_model)
        return _REGISTRY[name_or_model][1]
    family = getattr(name_or_model, "family", None)
    if family not in FAMILIES:
        raise InputError(
            f"{type(name_or_model).__name__} is not a tas_keras zoo model, so it has no family; "
            "pass a registered name or a model from tas_keras.create_model()."
        )
    return family


def create_model(name, num_classes=1000, image_size=None, weights=None, **overrides):
    """Builds a registered model, or a keras.applications classifier named "keras.applications.<name>"
    (adapted; `tas_keras.models.applications`).

    image_size: square input side; None uses the variant's default (224 for the paper models).
    weights: path to a `.keras` / `.weights.h5` file, or a timm checkpoint (`.safetensors`, `.pth`,
        `.bin`: see `tas_keras.load_timm_weights`); nothing is downloaded.
    overrides: any constructor argument of the model class (patch_size, depths, embed_dim, ...).
    """
    if is_application(name):
        model = create_application(name, num_classes, image_size, **overrides)
    elif name in _REGISTRY:
        factory, _ = _REGISTRY[name]
        kwargs = dict(overrides, num_classes=num_classes)
        if image_size is not None:
            kwargs["image_size"] = image_size
        model = factory(**kwargs)
    else:
        raise _unknown_model_error(name)
    if weights is not None:
        load_weights(model, weights)
    return model


def load_weights(model, path, allow_head_mismatch=False):
    """Weights from a file into `model`; with allow_head_mismatch, a classifier of another class count
    is left as initialised (fine-tuning a checkpoint on a new dataset)."""
    path = os.fspath(path)
    loader = next((fn for suffix, fn in _WEIGHT_FORMATS.items() if path.endswith(suffix)), None)
    if loader is not None:
        return loader(model, path, strict=not allow_head_mismatch)
    if not path.endswith(WEIGHT_SUFFIXES):
        raise InputError(
            f"weights={path!r}: expected a path ending in one of {WEIGHT_SUFFIXES + tuple(_WEIGHT_FORMATS)}. "
            "tas_keras never downloads weights; save a model with model.save('x.keras') or model.save_weights('x.weights.h5')"
            + (" (ImageNet weights of a keras.applications model: where there is internet, "
               "keras.applications.<name>(weights='imagenet').save_weights('x.weights.h5'))." if path == "imagenet" else ".")
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"weights file {path!r} does not exist (tas_keras never downloads weights).")
    try:
        model.load_weights(path, skip_mismatch=allow_head_mismatch)
    except Exception as err:  # keras raises several types for shape / structure mismatches
        raise InputError(
            f"weights file {path!r} does not fit model {model.name!r} "
            f"(image_size / num_classes / architecture differ?): {err}"
        ) from err


__all__ = ["register_model", "register_weight_format", "load_weights", "create_model", "list_models", "is_model_name", "model_family", "build_variant"]
