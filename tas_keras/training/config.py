"""Run configuration: YAML files validated into typed dataclasses, with `key.path=value` overrides.

Unknown keys and wrong types are errors naming the key and the valid choices. A pair file may hold
`profiles:` (e.g. `small`: micro variants at 32x32 on offline data) applied on top with --profile.
"""

import dataclasses
import importlib.resources
import pathlib
import types
import typing
from dataclasses import dataclass, field

import yaml

from tas_keras.atomic import atomic_text
from tas_keras.data.augment_config import AugmentConfig
from tas_keras.errors import InputError, one_line

CONFIG_PACKAGE = "tas_keras.configs"  # the top-level configs/ folder, shipped as package data (pyproject.toml)
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
STRATEGIES = ("auto", "mirrored", "multi_worker", "none")
OPTIMIZERS = ("sgd", "adamw")


class ConfigError(InputError):
    """A bad key, type or value in a run configuration."""


@dataclass
class ModelConfig:
    name: str = "convnext_micro"
    image_size: typing.Optional[int] = None  # None: the data's image_size
    overrides: dict = field(default_factory=dict)
    weights: typing.Optional[str] = None  # a .keras / .weights.h5 file or a timm checkpoint to start from


@dataclass
class OptimizerConfig:
    name: str = "adamw"
    lr: float = 5e-4
    weight_decay: float = 0.05
    momentum: float = 0.9  # sgd only
    warmup_epochs: int = 0
    min_lr: float = 1e-5
    clip_norm: typing.Optional[float] = None
    ema: typing.Optional[float] = None  # EMA momentum of the weights (the optimizer's use_ema)


@dataclass
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    label_smoothing: float = 0.0
    validation_freq: int = 1  # test-set evaluation every k epochs (the last epoch when epochs % k == 0)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass
class DataConfig:
    dataset: str = "digits"
    image_size: int = 32
    data_dir: typing.Optional[str] = None
    train_subset: typing.Optional[int] = None  # a fixed class-balanced subset of the training split
    download: bool = False  # let tfds download (never on by default: offline machines fail fast)
    deterministic: bool = True  # false: augment in parallel threads (GPU speed; not reproducible bit for bit)


@dataclass
class DistillerConfig:
    method: str = "tas"
    options: dict = field(default_factory=dict)  # the method's options; `distiller.w_nce=...` lands here


@dataclass
class RunConfig:
    pair: str = "custom"
    teacher: ModelConfig = field(default_factory=ModelConfig)
    student: ModelConfig = field(default_factory=lambda: ModelConfig(name="resmlp_micro_patch4_32"))
    data: DataConfig = field(default_factory=DataConfig)
    teacher_training: TrainConfig = field(default_factory=TrainConfig)
    student_training: TrainConfig = field(default_factory=TrainConfig)
    distiller: DistillerConfig = field(default_factory=DistillerConfig)
    precision: str = "float32"
    xla: typing.Any = "auto"  # true / false / "auto" (on with a GPU, off on CPU) / "elementwise": see Distiller
    strategy: str = "auto"
    seed: int = 0

    def to_dict(self):
        return dataclasses.asdict(self)


def _type_name(tp):
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _coerce(value, tp, key):
    """Checks `value` against the annotation `tp` (int / float / bool / str / dict / Optional / dataclass)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, options[0], key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {sorted(f.name for f in dataclasses.fields(tp))}; got {value!r}.")
        return _build(tp, value, key)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping; got {value!r}.")
        return dict(value)
    if tp in (int, float, str, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise ConfigError(f"{key}: expected {_type_name(tp)}; got {value!r} ({type(value).__name__}).")
    return value


def _build(cls, values, prefix=""):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        where = f" in {prefix}" if prefix else ""
        raise ConfigError(f"Unknown key(s) {unknown}{where}; valid keys: {names}.")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in values.items()}
    return cls(**kwargs)


def _merge(base, extra):
    out = dict(base)
    for k, v in extra.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("overrides", "options") else v
    return out


def parse_override(text):
    """'a.b.c=value' -> ['a', 'b', 'c'], value parsed as YAML (numbers, booleans, lists, null)."""
    if "=" not in text:
        raise ConfigError(f"Override {text!r} must look like key.path=value (e.g. distiller.w_nce=0.5).")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 as a string; on a command line it means a number
            value = float(value)
        except ValueError:
            pass
    return key.strip().split("."), value


def apply_override(raw, path, value):
    """Sets raw[path] = value. `distiller.<option>` (other than method / options) goes to the method's
    options; `teacher.overrides.<arg>` and `student.overrides.<arg>` to model constructor arguments."""
    if path[0] == "distiller" and len(path) == 2 and path[1] not in ("method", "options"):
        path = ["distiller", "options", path[1]]
    node = raw
    for part in path[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"Cannot set {'.'.join(path)}: {part} is not a mapping.")
    node[path[-1]] = value


def _packaged_configs():
    try:
        return importlib.resources.files(CONFIG_PACKAGE)
    except ModuleNotFoundError:
        # a source checkout on the import path without installing (e.g. tools/gpu_benchmark.sh on a machine
        # that cannot pip install): the package maps to the top-level configs/ folder only when installed.
        return pathlib.Path(__file__).resolve().parents[2] / "configs"


def list_pairs():
    return sorted(p.name[: -len(".yaml")] for p in _packaged_configs().iterdir() if p.name.endswith(".yaml"))


def pair_source(pair):
    """(name, YAML text) of a packaged pair config, or of a .yaml file given by path."""
    path = pathlib.Path(pair)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"Pair file {pair!r} does not exist; packaged pairs: {', '.join(list_pairs())}.")
        return path.stem, path.read_text()
    resource = _packaged_configs() / f"{pair}.yaml"
    if not resource.is_file():
        raise ConfigError(f"Unknown pair {pair!r}; valid pairs: {', '.join(list_pairs())} (or a path to a .yaml file).")
    return pair, resource.read_text()


def load_config(pair, profile=None, overrides=()):
    """Reads a pair config (a packaged name, see list_pairs(), or a .yaml path), applies a profile and
    `key=value` overrides, validates everything and returns a RunConfig."""
    name, text = pair_source(pair)
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"Pair file {pair!r} is not valid YAML: {one_line(err)}") from None
    profiles = raw.pop("profiles", {}) or {}
    if profile is not None:
        if profile not in profiles:
            raise ConfigError(f"Pair {name!r} has no profile {profile!r}; valid profiles: {sorted(profiles)}.")
        raw = _merge(raw, profiles[profile])
    raw.setdefault("pair", name)
    for text in overrides:
        apply_override(raw, *parse_override(text))
    config = _build(RunConfig, raw)
    validate(config)
    return config


def validate(config):
    """Checks values against their valid choices (names of models, datasets, methods, ...)."""
    from tas_keras.data import check_dataset_name
    from tas_keras.distiller import XLA_CHOICES
    from tas_keras.methods import method_class
    from tas_keras.models import is_model_name, list_models
    from tas_keras.models.applications import application_names

    for role in ("teacher", "student"):
        name = getattr(config, role).name
        if not is_model_name(name):
            raise ConfigError(f"{role}.name: unknown model {name!r}; valid: {', '.join(list_models() + application_names())}.")
    try:
        check_dataset_name(config.data.dataset)
    except ValueError as err:
        raise ConfigError(f"data.dataset: {err}") from None
    try:
        method_class(config.distiller.method).check_options(config.distiller.options)
    except InputError as err:
        raise ConfigError(f"distiller: {err}") from None
    if config.xla not in XLA_CHOICES or type(config.xla) not in (bool, str):  # as YAML spells them
        raise ConfigError(f"xla: {config.xla!r} is not one of {', '.join(str(choice).lower() for choice in XLA_CHOICES)}.")
    for key, value, valid in (("precision", config.precision, PRECISIONS), ("strategy", config.strategy, STRATEGIES)):
        if value not in valid:
            raise ConfigError(f"{key}: {value!r} is not one of {valid}.")
    rules = _value_rules()
    for stage in ("teacher_training", "student_training"):
        train = getattr(config, stage)
        if train.optimizer.name not in OPTIMIZERS:
            raise ConfigError(f"{stage}.optimizer.name: {train.optimizer.name!r} is not one of {OPTIMIZERS}.")
        if train.epochs < 0 or train.batch_size < 1:
            raise ConfigError(f"{stage}: epochs must be >= 0 and batch_size >= 1; got {train.epochs}, {train.batch_size}.")
        if train.validation_freq < 1:
            raise ConfigError(f"{stage}.validation_freq: {train.validation_freq} must be >= 1 (evaluate every k epochs).")
        for prefix, section, section_rules in ((stage, train, rules["training"]), (f"{stage}.optimizer", train.optimizer, rules["optimizer"]),
                                               (f"{stage}.augment", train.augment, rules["augment"])):
            _check_values(prefix, section, section_rules)
        if train.optimizer.min_lr > train.optimizer.lr:
            raise ConfigError(f"{stage}.optimizer.min_lr: {train.optimizer.min_lr!r} is above lr {train.optimizer.lr!r} "
                              "(the cosine decay ends at min_lr); expected a number in [0, lr].")
    _check_values("data", config.data, rules["data"])
    return config


def _value_rules():
    """The valid range of each numeric field: a value outside it would train to NaN or to nothing
    (a negative learning rate, a momentum of 1) instead of failing before training."""
    from tas_keras.methods.options import integer, number, optional, positive

    fraction = number(0.0, 1.0)
    return {
        "training": {"label_smoothing": number(0.0, 1.0, high_open=True)},
        "optimizer": {"lr": positive, "weight_decay": number(0.0), "momentum": number(0.0, 1.0, high_open=True),
                      "warmup_epochs": integer(0), "min_lr": number(0.0), "clip_norm": optional(positive),
                      "ema": optional(number(0.0, 1.0, low_open=True, high_open=True))},
        "augment": {"random_crop_padding": integer(0), "rand_augment_magnitude": number(0.0, 10.0), "rand_augment_ops": integer(1),
                    "color_jitter": fraction, "random_erasing": fraction, "mixup_alpha": number(0.0), "cutmix_alpha": number(0.0)},
        "data": {"train_subset": optional(integer(1))},
    }


def _check_values(prefix, section, rules):
    for key, rule in rules.items():
        value = getattr(section, key)
        problem = rule(value)
        if problem is not None:
            raise ConfigError(f"{prefix}.{key}: {value!r} is not valid; expected {problem}.")


# fields a run may change when it resumes: where the data is read from, how the step is compiled
# and distributed, how often it is tested; not what is trained
RESUMABLE_CHANGES = ("data.data_dir", "data.download", "xla", "strategy", "teacher_training.validation_freq", "student_training.validation_freq")


def _flatten(tree, prefix=""):
    flat = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        flat.update(_flatten(value, f"{path}.") if isinstance(value, dict) else {path: value})
    return flat


def config_differences(old, new):
    """['key: old -> new', ...] for every field where two RunConfigs differ, except RESUMABLE_CHANGES."""
    a, b = _flatten(old.to_dict()), _flatten(new.to_dict())
    return [f"{key}: {a.get(key)!r} -> {b.get(key)!r}" for key in sorted(a.keys() | b.keys())
            if key not in RESUMABLE_CHANGES and a.get(key) != b.get(key)]


def save_config(config, path):
    """Writes the resolved config as YAML, atomically."""
    atomic_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
