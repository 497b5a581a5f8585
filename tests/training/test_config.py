"""Pair configs: every file validates; bad keys / types / values name the key and the choices."""

import pytest

from tas_keras.training import config as config_module
from tas_keras.training.config import ConfigError, list_pairs, load_config, save_config

PAPER_PAIRS = ["convnext_mlp", "convnext_deit", "convnext_swin", "swin_resnet", "swin_mobilenet", "swin_mlp",
               "vit_resnet", "vit_mobilenet", "mixer_resnet", "mixer_mobilenet", "mixer_deit", "mixer_swin"]


def test_required_pairs_exist():
    assert set(PAPER_PAIRS) | {"resnet34_resnet18"} <= set(list_pairs())


@pytest.mark.parametrize("pair", list_pairs())
@pytest.mark.parametrize("profile", [None, "small"])
def test_every_pair_file_validates(pair, profile):
    config = load_config(pair, profile)
    assert config.pair == pair
    if profile == "small":
        assert config.data.dataset == "digits" and config.data.image_size == 32
        assert "micro" in config.teacher.name and "micro" in config.student.name
    else:
        assert config.data.dataset == "cifar100" and config.data.image_size == 224
        assert config.teacher_training.epochs == config.student_training.epochs == 300


def test_pairs_load_from_a_source_checkout_that_is_not_installed(monkeypatch):
    # without an install, tas_keras.configs does not exist; the top-level configs/ folder is read instead
    installed = list_pairs()

    def not_installed(package):
        raise ModuleNotFoundError(f"No module named {package!r}")

    monkeypatch.setattr(config_module.importlib.resources, "files", not_installed)
    assert list_pairs() == installed
    assert load_config("convnext_mlp", "small").student.name


def test_recipes_follow_the_student_family():
    cnn = load_config("swin_resnet").student_training
    assert (cnn.optimizer.name, cnn.optimizer.lr, cnn.optimizer.weight_decay, cnn.optimizer.warmup_epochs) == ("sgd", 0.05, 2e-3, 3)
    token = load_config("convnext_deit").student_training
    assert (token.optimizer.name, token.optimizer.lr, token.optimizer.weight_decay, token.optimizer.warmup_epochs) == ("adamw", 5e-4, 0.05, 20)
    assert token.optimizer.clip_norm == 5.0 and token.optimizer.ema == 0.99996
    assert (token.augment.rand_augment_magnitude, token.augment.mixup_alpha, token.augment.cutmix_alpha) == (9, 0.8, 1.0)
    assert token.augment.random_erasing == 0.25 and token.label_smoothing == 0.1


def test_overrides_reach_every_level():
    config = load_config("convnext_mlp", "small", ["distiller.w_nce=0.25", "student_training.optimizer.lr=1e-3",
                                                   "student.overrides.embed_dim=48", "distiller.method=tas_branch", "xla=false"])
    assert config.distiller.method == "tas_branch" and config.distiller.options == {"w_nce": 0.25}
    assert config.student_training.optimizer.lr == 1e-3 and config.student.overrides == {"embed_dim": 48}
    assert config.xla is False
    assert load_config("convnext_mlp", "small").xla == "auto"


@pytest.mark.parametrize("flag, value", [("on", True), ("off", False), ("auto", "auto"), ("elementwise", "elementwise")])
def test_train_clis_xla_flag_sets_the_configs_xla(flag, value):
    from tas_keras.cli import train as train_cli

    args = train_cli.parse_args(["--pair", "convnext_mlp", "--profile", "small", "--xla", flag])
    assert load_config("convnext_mlp", "small", train_cli.overrides_from(args)).xla == value


@pytest.mark.parametrize(
    "override, message",
    [
        ("data.datset=digits", r"Unknown key\(s\) \['datset'\] in data; valid keys: \['dataset'"),
        ("student_training.epochs=many", r"student_training.epochs: expected int; got 'many'"),
        ("precision=fp8", r"precision: 'fp8' is not one of"),
        ("strategy=horovod", r"strategy: 'horovod'"),
        ("distiller.w_nc=1", r"Unknown option\(s\) \['w_nc'\].*w_nce"),
        ("teacher.name=resnet19", r"teacher.name: unknown model 'resnet19'"),
        ("data.dataset=mnist", r"data.dataset: Unknown dataset 'mnist'"),
        ("student_training.optimizer.name=lamb", r"'lamb' is not one of \('sgd', 'adamw'\)"),
        ("seed", r"key.path=value"),
        ("xla=sometimes", r"xla: 'sometimes' is not one of true, false, auto"),
        ("xla=1", r"xla: 1 is not one of true, false, auto"),
        ("student_training.validation_freq=0", r"student_training.validation_freq: 0 must be >= 1"),
        # values that would train to NaN or to nothing are refused before training
        ("student_training.optimizer.lr=-1", r"student_training.optimizer.lr: -1.0 is not valid; expected a number in \(0, inf\)"),
        ("student_training.optimizer.lr=.nan", r"optimizer.lr: nan is not valid"),
        ("teacher_training.optimizer.weight_decay=-0.1", r"teacher_training.optimizer.weight_decay: -0.1 .* \[0, inf\)"),
        ("student_training.optimizer.momentum=1", r"optimizer.momentum: 1.0 .* \[0, 1\)"),
        ("student_training.optimizer.min_lr=0.5", r"optimizer.min_lr: 0.5 is above lr"),
        ("student_training.optimizer.clip_norm=0", r"optimizer.clip_norm: 0.0 .* null or a number in \(0, inf\)"),
        ("student_training.optimizer.ema=1", r"optimizer.ema: 1.0 .* \(0, 1\)"),
        ("student_training.optimizer.warmup_epochs=-2", r"optimizer.warmup_epochs: -2 .* an integer >= 0"),
        ("student_training.label_smoothing=1", r"student_training.label_smoothing: 1.0 .* \[0, 1\)"),
        ("student_training.augment.random_erasing=2", r"augment.random_erasing: 2.0 .* \[0, 1\]"),
        ("student_training.augment.rand_augment_magnitude=12", r"augment.rand_augment_magnitude: 12.0 .* \[0, 10\]"),
        ("data.train_subset=-5", r"data.train_subset: -5 .* null or an integer >= 1"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config("convnext_mlp", "small", [override])


def test_unknown_pair_and_profile():
    with pytest.raises(ConfigError, match=r"Unknown pair 'convnext_vit'.*convnext_mlp"):
        load_config("convnext_vit")
    with pytest.raises(ConfigError, match=r"no profile 'tiny'.*small"):
        load_config("convnext_mlp", "tiny")


def test_resolved_config_round_trips(tmp_path):
    config = load_config("swin_mlp", "small", ["distiller.w_tf=0.5"])
    save_config(config, tmp_path / "config.yaml")
    again = load_config(str(tmp_path / "config.yaml"))
    assert again.to_dict() == config.to_dict()


def test_a_keras_applications_model_is_a_valid_name():
    config = load_config("convnext_mlp", "small", ["student.name=keras.applications.MobileNetV2", "student.overrides.alpha=0.35"])
    assert config.student.name == "keras.applications.MobileNetV2" and config.student.overrides == {"alpha": 0.35}
    with pytest.raises(ConfigError, match=r"student.name: unknown model 'keras.applications.InceptionV3'; valid: .*keras.applications.ResNet50"):
        load_config("convnext_mlp", "small", ["student.name=keras.applications.InceptionV3"])
