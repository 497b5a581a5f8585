"""One run: teacher stage (load / reuse / train) -> distillation -> evaluation -> outputs.

Run folder (`output_dir`): student.keras, teacher.keras, config.yaml, metrics.csv, tensorboard/,
summary.json, and checkpoint-<epoch>.keras + checkpoint.json while training; diverged.json (why) instead
of the outputs when the loss became NaN. Trained teachers are cached in
`<teacher_cache>/<fingerprint>/teacher.keras` (default: `teachers/` beside the run folder), so every
method of a pair reuses one teacher.
"""

import hashlib
import json
import pathlib
import sys
import time

import keras

from tas_keras.atomic import atomic_json, atomic_write
from tas_keras.data import build_dataset
from tas_keras.distiller import resolve_xla
from tas_keras.errors import InputError, TrainingDiverged
from tas_keras.losses import ClassificationLoss
from tas_keras.pixels import check_normalization, normalize_pixels
from tas_keras.training.build import (
    build_distiller,
    build_student,
    build_teacher,
    check_student,
    load_teacher_file,
    python_random_kept,
    require_teacher_file,
    teacher_size,
)
from tas_keras.training.callbacks import logged_seconds, stage_callbacks
from tas_keras.training.checkpoint import EpochCheckpoint
from tas_keras.training.config import ConfigError, config_differences, load_config, save_config
from tas_keras.training.machine import describe_machine, tensorflow_onednn
from tas_keras.training.optim import build_optimizer
from tas_keras.training.strategy import distribution_scope, is_chief

VERBOSE = 1 if sys.stdout.isatty() else 2  # progress bars on a terminal, one line per epoch in logs
DIVERGED = "diverged.json"  # a run folder's record that its loss became NaN (the message says where)
RUN_RECORDS = ("checkpoint.json", "summary.json", DIVERGED)  # a folder with any of these holds a run


def teacher_fingerprint(config):
    """Everything that determines the trained teacher: same fingerprint, same teacher."""
    parts = {
        "teacher": config.teacher.__dict__,
        "image_size": teacher_size(config),
        "data": {k: v for k, v in config.data.__dict__.items() if k not in ("download",)},
        # how often it is tested does not change the teacher (and keeps fingerprints of older caches)
        "training": {k: v for k, v in json.loads(json.dumps(config.teacher_training, default=lambda o: o.__dict__)).items()
                     if k != "validation_freq"},
        "precision": config.precision,
        "seed": config.seed,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _split_settings(config, stage, image_size, normalize):
    return {"image_size": image_size, "batch_size": getattr(config, stage).batch_size, "data_dir": config.data.data_dir,
            "download": config.data.download, "normalize": normalize}


def _train_dataset(config, stage, image_size, normalize):
    return build_dataset(config.data.dataset, "train", augment=getattr(config, stage).augment, seed=config.seed,
                         subset=config.data.train_subset, deterministic=config.data.deterministic,
                         **_split_settings(config, stage, image_size, normalize))


def _datasets(config, stage, image_size, normalize):
    train, info = _train_dataset(config, stage, image_size, normalize)
    test, test_info = build_dataset(config.data.dataset, "test", **_split_settings(config, stage, image_size, normalize))
    return train, test, info, test_info


def _calibration_batches(config, count=4):
    """The first training batches from a pipeline built for them alone: iterating the run's own one would
    move its shuffle and augmentation state, and the calibrated run would see other batches than an
    uncalibrated run of the same seed."""
    with python_random_kept():
        train, _ = _train_dataset(config, "student_training", config.data.image_size, normalize=False)
        return list(train.take(count).as_numpy_iterator())


def _teacher_jit(config):
    """JAX always jits (eager steps are slow and deadlock under DataParallel); TensorFlow follows
    `xla`; torch runs the teacher's plain Keras fit eagerly (the Distiller's step compiles itself there;
    Keras' whole-step torch.compile of a fit is not measured here)."""
    backend = keras.backend.backend()
    return backend == "jax" or (backend == "tensorflow" and resolve_xla(config.xla) is True)


def train_teacher(config, folder, scope, log):
    """Trains the teacher from scratch (or fine-tunes from teacher.weights) with checkpoints in `folder`."""
    size = teacher_size(config)
    train, test, info, _ = _datasets(config, "teacher_training", size, normalize=True)  # a plain Keras fit of the zoo model
    cfg = config.teacher_training
    chief = is_chief()
    checkpoint = EpochCheckpoint(folder, "teacher_checkpoint", enabled=chief)
    with scope():
        model, done = checkpoint.resume_state()
        if model is None:
            model = build_teacher(config, info.num_classes)
            mixing = bool(cfg.augment.mixup_alpha or cfg.augment.cutmix_alpha)
            model.compile(
                optimizer=build_optimizer(cfg.optimizer, max(1, info.batches), cfg.epochs),
                loss=ClassificationLoss(cfg.label_smoothing),
                metrics=[] if mixing else [keras.metrics.SparseCategoricalAccuracy(name="acc")],
                jit_compile=_teacher_jit(config),
            )
    if done:
        log(f"Resuming teacher training after epoch {done}/{cfg.epochs}.")
    start = f"fine-tuned from {config.teacher.weights}" if config.teacher.weights else "from scratch"
    log(f"Plan: the teacher {config.teacher.name} is trained here {start}: {cfg.epochs} epochs x {info.batches} steps of "
        f"{cfg.batch_size} images ({info.num_examples} {info.name} images at {size}x{size}); then the student "
        f"{config.student.name} for {config.student_training.epochs} epochs. Pass --teacher FILE to use a trained one.")
    advice = (f"Lower teacher_training.optimizer.lr (now {cfg.optimizer.lr:g}) or set teacher_training.optimizer.clip_norm; "
              f"the last teacher checkpoint stays in {folder}.")
    callbacks = stage_callbacks("Teacher training", folder, "teacher_metrics.csv", checkpoint, (cfg.epochs - done) * info.batches, advice, log,
                                chief)
    model.fit(train, validation_data=test, epochs=cfg.epochs, initial_epoch=done, callbacks=callbacks, verbose=VERBOSE, shuffle=False,
                validation_freq=cfg.validation_freq)
    return model


def check_paths(output_dir, teacher_cache, teacher_file):
    """Before anything is written: the two folders are not files, and a given teacher file exists."""
    for folder in (output_dir, teacher_cache):
        if folder.exists() and not folder.is_dir():
            raise InputError(f"{str(folder)!r} is a file; the run folder (--output-dir) and the teacher cache (--teacher-cache) are folders.")
    if teacher_file:
        require_teacher_file(teacher_file)


def obtain_teacher(config, teacher_cache, teacher_file, scope, num_classes, log):
    """(teacher, its file): `teacher_file` if given, else the one cached in `teacher_cache` for these
    teacher settings, else one trained here (and cached there)."""
    size = teacher_size(config)
    if teacher_file:
        log(f"Using teacher {teacher_file}.")
        with scope():
            return load_teacher_file(teacher_file, size, num_classes), str(teacher_file)
    folder = pathlib.Path(teacher_cache) / teacher_fingerprint(config)
    cached = folder / "teacher.keras"
    if cached.is_file():
        log(f"Reusing the teacher trained with the same settings: {cached}.")
        with scope():
            return load_teacher_file(cached, size, num_classes), str(cached)
    folder.mkdir(parents=True, exist_ok=True)
    model = train_teacher(config, folder, scope, log)
    if is_chief():
        atomic_write(cached, model.save)
        EpochCheckpoint(folder, "teacher_checkpoint").clear()
    return model, str(cached)


def evaluate(model, dataset, pixel_normalization=None):
    """Top-1 / top-5 of a classifier (plain model or Distiller's student) on a dataset; with
    pixel_normalization, the dataset holds raw pixels and they are normalised first."""
    top1 = keras.metrics.SparseCategoricalAccuracy()
    top5 = keras.metrics.SparseTopKCategoricalAccuracy(k=min(5, int(model.output_shape[-1])))
    for images, labels in dataset:
        if pixel_normalization is not None:
            images = normalize_pixels(images, pixel_normalization)
        logits = keras.ops.cast(model(images, training=False), "float32")  # top-k needs float32 under mixed precision
        top1.update_state(labels, logits)
        top5.update_state(labels, logits)
    return {"top1": float(top1.result()), "top5": float(top5.result())}


def settings_changed(folder, config):
    """The differences (['key: saved -> new', ...]) between `config` and the settings of the run that
    `folder` holds (a checkpoint, a finished or a diverged run); [] when it holds none or the same settings."""
    folder = pathlib.Path(folder)
    saved = folder / "config.yaml"
    if not saved.is_file() or not any((folder / name).is_file() for name in RUN_RECORDS):
        return []
    try:
        previous = load_config(str(saved))
    except ConfigError as err:
        return [f"its config.yaml no longer loads: {err}"]
    return config_differences(previous, config)


def check_same_settings(folder, config):
    """Rerunning in a run folder resumes (or re-evaluates) the run it holds: refused when the settings
    differ, since the checkpoint would continue under the old ones and the outputs be overwritten."""
    changes = settings_changed(folder, config)
    if changes:
        shown = "; ".join(changes[:4]) + ("; ..." if len(changes) > 4 else "")
        raise ConfigError(f"{folder} holds a run with other settings ({shown}); pick another --output-dir, or remove that folder to start over.")


def run(config, output_dir, teacher_file=None, teacher_cache=None, log=print):
    """Runs the whole pipeline; returns the summary dict (also written to summary.json).
    teacher_cache: folder of trained teachers (default: `teachers/` beside `output_dir`)."""
    start = time.time()
    keras.mixed_precision.set_global_policy(config.precision)
    keras.utils.set_random_seed(config.seed)
    output_dir = pathlib.Path(output_dir)
    teacher_cache = pathlib.Path(teacher_cache) if teacher_cache else output_dir.absolute().parent / "teachers"
    check_paths(output_dir, teacher_cache, teacher_file)
    check_same_settings(output_dir, config)
    if (output_dir / DIVERGED).is_file():
        where = json.loads((output_dir / DIVERGED).read_text())["where"]
        raise TrainingDiverged(f"{output_dir} holds a run that diverged with these settings ({where}); pick another --output-dir, "
                               "or remove that folder to try again.", where)
    output_dir.mkdir(parents=True, exist_ok=True)
    chief = is_chief()
    if chief:
        save_config(config, output_dir / "config.yaml")
    scope, replicas = distribution_scope(config.strategy)

    train, test, info, test_info = _datasets(config, "student_training", config.data.image_size, normalize=False)
    check_student(config, info.num_classes)
    teacher, teacher_path = obtain_teacher(config, teacher_cache, teacher_file, scope, info.num_classes, log)

    cfg = config.student_training
    checkpoint = EpochCheckpoint(output_dir, "checkpoint", enabled=chief)
    with scope():
        distiller, done = checkpoint.resume_state()
        if distiller is None:
            distiller = build_distiller(config, teacher, build_student(config, info.num_classes), pixel_normalization=info.normalization)
            distiller.compile(optimizer=build_optimizer(cfg.optimizer, max(1, info.batches), cfg.epochs))
        else:  # a checkpoint written before the data sent raw pixels carries no normalisation of its own
            distiller.pixel_normalization = check_normalization(info.normalization)
    if done:
        log(f"Resuming distillation after epoch {done}/{cfg.epochs}.")
    log(f"Distilling {config.teacher.name} -> {config.student.name} with {distiller.method_name} "
        f"on {info.name} ({info.num_examples} images, {cfg.epochs} epochs, {replicas} replica(s)).")
    calibration = None
    if distiller.method.needs_calibration():  # e.g. tas_branch's branch_grad_scale=auto, on the first training batches
        with scope():
            calibration = distiller.calibrate(_calibration_batches(config))
        log(f"Calibrated {distiller.method_name}: " + ", ".join(f"{k}={v:.4g}" for k, v in calibration.items()))
    advice = (f"Lower student_training.optimizer.lr (now {cfg.optimizer.lr:g}) or set student_training.optimizer.clip_norm, "
              f"then run in a new folder ({output_dir} holds the run with these settings).")
    callbacks = stage_callbacks("Distillation", output_dir, "metrics.csv", checkpoint, (cfg.epochs - done) * info.batches, advice, log, chief,
                                tensorboard=True)
    try:
        distiller.fit(train, validation_data=test, epochs=cfg.epochs, initial_epoch=done, callbacks=callbacks, verbose=VERBOSE, shuffle=False,
                      validation_freq=cfg.validation_freq)
    except TrainingDiverged as err:
        if chief:
            atomic_json(output_dir / DIVERGED, {"where": err.where, "message": str(err)})
        raise

    summary = {
        "pair": config.pair,
        "method": distiller.method_name,  # what the checkpoint trains (a pre-rename `tas` checkpoint resumes as tas_branch)
        "dataset": info.name,
        "train_examples": info.num_examples,
        "test_examples": test_info.num_examples,
        "teacher": {"model": config.teacher.name, "file": teacher_path,
                    **evaluate(distiller.teacher, _teacher_view(test, config), info.normalization)},
        "student": {"model": config.student.name, **evaluate(distiller.student, test, info.normalization),
                    "train_top1": _train_top1(distiller.student, config)},
        "epochs": cfg.epochs,
        "calibration": calibration or distiller.method.calibration_state(),
        "replicas": replicas,
        "backend": keras.backend.backend(),
        "machine": describe_machine(),
        "tensorflow_onednn": tensorflow_onednn(),  # TensorFlow's oneDNN CPU kernels: speed and rounding
        "wall_seconds": round(time.time() - start, 1),  # this process: the teacher stage, a resumed run's last leg only
        "train_seconds": logged_seconds(output_dir / "metrics.csv") if chief else None,  # distillation epochs, every leg
    }
    if chief:
        distiller.save_student(str(output_dir / "student.keras"))
        atomic_write(output_dir / "teacher.keras", distiller.teacher.save)
        atomic_json(output_dir / "summary.json", summary)
    return summary


def _train_top1(student, config):
    """The student's top-1 on its own training images, unaugmented (did it fit them?)."""
    cfg = config.student_training
    train, _ = build_dataset(config.data.dataset, "train", image_size=config.data.image_size, batch_size=cfg.batch_size,
                             data_dir=config.data.data_dir, subset=config.data.train_subset, normalize=True)
    return evaluate(student, train)["top1"]


def _teacher_view(dataset, config):
    """Test images at the teacher's input size."""
    size = teacher_size(config)
    if size == config.data.image_size:
        return dataset
    import tensorflow as tf

    return dataset.map(lambda x, y: (tf.image.resize(x, (size, size)), y))
