"""Accuracy study: variants (methods, or methods with options) x pairs x seeds, one teacher per pair.

Layout of the study folder:
    teachers/<fingerprint>/teacher.keras   a teacher, trained once (seed 0) and shared by every run (and
                                          every pair) with the same teacher settings
    <pair>/<variant>/seed<k>/             one tools/train.py-style run folder per student
A run whose folder already holds a summary.json with the same resolved config is reused, not rerun, so
an interrupted study continues where it stopped; a folder holding a run with other settings is an
error (nothing written before is overwritten). Several processes may run the same study command at
once (small models leave cores idle): each run is claimed with a lock file, the others skip it and
wait for it at the end; a run whose teacher another process is training is put off until the runs
that need no waiting are done.
"""

import copy
import csv
import dataclasses
import json
import os
import pathlib
import socket
import time

import keras
import yaml

from tas_keras.data import build_dataset
from tas_keras.errors import TrainingDiverged
from tas_keras.training.config import ConfigError, load_config, validate
from tas_keras.training.runner import DIVERGED, check_same_settings, obtain_teacher, run, teacher_fingerprint
from tas_keras.training.strategy import distribution_scope


@dataclasses.dataclass(frozen=True)
class Variant:
    """A named method setting: `branch_mse=tas_branch:feature_loss=mse:w_nce=2` -> Variant("branch_mse", "tas_branch", {...});
    `mixer_resnet/branch_grid4=tas_branch:nce_grid=4` runs on that pair only (options valid for some pairs only)."""

    name: str
    method: str
    options: tuple = ()  # ((key, value), ...) so the variant stays hashable
    pairs: tuple = ()  # empty: every pair of the study

    @classmethod
    def parse(cls, text):
        if "=" in text.split(":", 1)[0]:
            name, rest = text.split("=", 1)
        else:
            name, rest = text, text
        pairs = ()
        if "/" in name:
            pair, name = name.split("/", 1)
            pairs = (pair,)
            rest = rest.split("/", 1)[1] if rest.startswith(pair + "/") else rest
        method, *items = rest.split(":")
        options = []
        for item in items:
            if "=" not in item:
                raise ConfigError(f"Variant {text!r}: option {item!r} must look like key=value (e.g. tas_no_tf=tas:w_tf=0).")
            key, raw = item.split("=", 1)
            value = yaml.safe_load(raw)
            options.append((key.strip(), tuple(value) if isinstance(value, list) else value))
        if not name.replace("_", "").replace("-", "").isalnum():
            raise ConfigError(f"Variant name {name!r} must be letters, digits, '_' or '-' (it names a folder).")
        return cls(name.strip(), method.strip(), tuple(options), pairs)

    def option_dict(self):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.options}

    def overrides(self):
        dump = lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()
        return [f"distiller.method={self.method}"] + [f"distiller.{k}={dump(v)}" for k, v in self.option_dict().items()]


def study_config(pair, profile, variant, seed, overrides, pair_overrides=None):
    """The run's config: the pair file's profile, the study's overrides, then the pair's own (e.g. a
    student recipe tuned for that student on scratch, the same for every method), the variant, the seed."""
    extra = (pair_overrides or {}).get(pair, [])
    return load_config(pair, profile, [*overrides, *extra, *variant.overrides(), f"seed={seed}"])


def teacher_config(config, teacher_subset, teacher_seed=0):
    """The pair's teacher settings: the same data except its own training subset (None: the full split)."""
    config = copy.deepcopy(config)
    config.data.train_subset = teacher_subset
    config.seed = teacher_seed
    config.distiller.options = {}
    return validate(config)


def _finished(folder):
    """The run ended: with a summary, or diverged (a result of the method under this recipe, reported
    in the table and not retried)."""
    return (folder / "summary.json").is_file() or (folder / DIVERGED).is_file()


LOCK = ".study_lock"


def _alive(owner):
    host, _, pid = owner.partition(" ")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's process: it cannot be checked from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(folder):
    """Takes the run in `folder` for this process (a lock file with host and pid); False while a live
    process holds it. A lock left by a dead process is taken over (the run resumes from its checkpoint)."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                owner = lock.read_text().strip()
            except FileNotFoundError:
                continue
            if owner and _alive(owner):
                return False
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"{socket.gethostname()} {os.getpid()}")
        return True
    return False


def release(folder):
    (folder / LOCK).unlink(missing_ok=True)


def held_elsewhere(folder):
    """True while another live process holds the lock of `folder`."""
    try:
        owner = (folder / LOCK).read_text().strip()
    except FileNotFoundError:
        return False
    return bool(owner) and owner != f"{socket.gethostname()} {os.getpid()}" and _alive(owner)


def read_curve(folder, column="val_acc"):
    """[(epoch (1-based), value)] of the epochs that logged `column` (tested every validation_freq epochs)."""
    path = pathlib.Path(folder, "metrics.csv")
    if not path.is_file():
        return []
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return [(int(r["epoch"]) + 1, float(r[column])) for r in rows if r.get(column) not in (None, "")]


def run_study(pairs, variants, seeds, output_dir, profile="small", overrides=(), teacher_subset=None, log=print, train=True,
              poll_seconds=30, pair_overrides=None, included=()):
    """Trains (or reuses) every run; returns a list of per-run records. train=False only collects the
    finished runs (the others are logged as missing), to report on a study that is still running.
    pair_overrides: {pair: ["key=value", ...]} applied to that pair's runs after `overrides`.
    included: records of runs finished elsewhere (the "runs" of an earlier results.json), taken for
    the runs that have no finished folder here instead of training them again (checked by
    `_matching_record`)."""
    output_dir = pathlib.Path(output_dir)
    # seeds outermost: an interrupted study already holds whole tables for its first seeds
    plan = [(pair, variant, seed) for seed in seeds for pair in pairs for variant in variants if not variant.pairs or pair in variant.pairs]
    missing = sorted({p for v in variants for p in v.pairs} - set(pairs))
    if missing:
        raise ConfigError(f"Variants name pair(s) {missing} that are not in the study's pairs {list(pairs)}.")
    unknown = sorted(set(pair_overrides or {}) - set(pairs))
    if unknown:
        raise ConfigError(f"Pair settings name pair(s) {unknown} that are not in the study's pairs {list(pairs)}.")
    configs = {key: study_config(key[0], profile, key[1], key[2], overrides, pair_overrides) for key in plan}  # all validated first
    teachers = {}
    done, deferred, waiting = {}, [], []
    recorded = {(r["pair"], r["variant"], r["seed"]): r for r in included}

    def train_here(pair, folder, config, label):
        if pair not in teachers:
            teachers[pair] = _teacher_file(config, output_dir, teacher_subset, log, poll_seconds)
        try:
            log(label)
            keras.backend.clear_session()
            run(config, folder, teacher_file=teachers[pair], log=log)
        except TrainingDiverged as err:
            log(f"{label}: {err}")
        finally:
            release(folder)

    for index, (pair, variant, seed) in enumerate(plan, 1):
        config = configs[(pair, variant, seed)]
        folder = output_dir / pair / variant.name / f"seed{seed}"
        label = f"[{index}/{len(plan)}] {pair} {variant.name} seed {seed}"
        check_same_settings(folder, config)
        if _finished(folder):
            log(f"{label}: done before, reused.")
        elif (pair, variant.name, seed) in recorded:
            done[folder] = _matching_record(recorded[(pair, variant.name, seed)], variant, config)
            log(f"{label}: finished elsewhere, its included record reused.")
            continue
        elif not train:
            log(f"{label}: not finished, left out of the report.")
            continue
        else:
            if pair not in teachers and _teacher_busy(config, output_dir, teacher_subset):
                log(f"{label}: another process is training its teacher; coming back to it after the other runs.")
                deferred.append((pair, variant, seed, folder, config, label))
                continue
            if not claim(folder):
                log(f"{label}: another process is running it.")
                waiting.append((pair, variant, seed, folder, config, label))
                continue
            train_here(pair, folder, config, label)
        done[folder] = _record(pair, variant, seed, folder, config)
    for pair, variant, seed, folder, config, label in deferred:  # nothing else left: wait for their teachers here
        if not _finished(folder):
            if not claim(folder):
                waiting.append((pair, variant, seed, folder, config, label))
                continue
            train_here(pair, folder, config, label)
        done[folder] = _record(pair, variant, seed, folder, config)
    for pair, variant, seed, folder, config, label in waiting:  # runs other processes were training
        while not _finished(folder):
            if claim(folder):  # its process stopped: resume the run here from its last checkpoint
                train_here(pair, folder, config, label)
                break
            time.sleep(poll_seconds)
        done[folder] = _record(pair, variant, seed, folder, config)
    return [done[output_dir / p / v.name / f"seed{s}"] for p, v, s in plan if output_dir / p / v.name / f"seed{s}" in done]


def _teacher_folder(config, output_dir, teacher_subset):
    tconfig = teacher_config(config, teacher_subset)
    return tconfig, output_dir / "teachers" / teacher_fingerprint(tconfig)


def _teacher_busy(config, output_dir, teacher_subset):
    """True while another process trains this run's teacher (so this one can take other runs meanwhile)."""
    _, folder = _teacher_folder(config, output_dir, teacher_subset)
    return not (folder / "teacher.keras").is_file() and held_elsewhere(folder)


def _teacher_file(config, output_dir, teacher_subset, log, poll_seconds=30):
    """The pair's teacher file: reused, or trained here, or (while another process trains it) waited for."""
    tconfig, folder = _teacher_folder(config, output_dir, teacher_subset)
    claimed = False
    while not (folder / "teacher.keras").is_file() and not (claimed := claim(folder)):
        log(f"Waiting for another process to train the teacher in {folder}.")
        time.sleep(poll_seconds)
    try:
        scope, _ = distribution_scope(tconfig.strategy)
        keras.backend.clear_session()
        keras.utils.set_random_seed(tconfig.seed)
        _, info = build_dataset(tconfig.data.dataset, "test", image_size=tconfig.data.image_size, batch_size=1, data_dir=tconfig.data.data_dir)
        _, path = obtain_teacher(tconfig, output_dir / "teachers", None, scope, info.num_classes, log)
    finally:
        if claimed:
            release(folder)
    return path


def with_machine(runs, meta):
    """An included report's records, each naming the machine it ran on: its own field, else (records
    written before that field) the report's machine, unless the report itself included runs from
    elsewhere: then it cannot tell which ran where (None, shown as "not recorded")."""
    fallback = None if meta.get("included_records") else meta.get("machine")
    return [{**run, "machine": run.get("machine") or fallback} for run in runs]


def _matching_record(record, variant, config):
    """An included record, refused (one line naming the field) unless it ran this variant and recipe."""
    expected = {"method": variant.method, "options": variant.option_dict(), "epochs": config.student_training.epochs,
                "teacher_model": config.teacher.name, "student_model": config.student.name}
    if config.data.train_subset is not None:
        expected["train_examples"] = config.data.train_subset
    for key, value in expected.items():
        if record.get(key) != value:
            raise ConfigError(f"Included record of {record['pair']} {record['variant']} seed {record['seed']} has {key}={record.get(key)!r}, "
                              f"but this study's run has {key}={value!r}; include records of the same study only.")
    return record


def _record(pair, variant, seed, folder, config):
    if (folder / DIVERGED).is_file():
        return {"pair": pair, "variant": variant.name, "method": variant.method, "options": variant.option_dict(), "seed": seed,
                "teacher_model": config.teacher.name, "student_model": config.student.name, "teacher_top1": None, "student_top1": None,
                "diverged": json.loads((folder / DIVERGED).read_text())["message"], "val_acc_curve": read_curve(folder),
                "folder": str(folder)}
    summary = json.loads((folder / "summary.json").read_text())
    return {
        "pair": pair,
        "variant": variant.name,
        "method": variant.method,
        "options": variant.option_dict(),
        "seed": seed,
        "teacher_model": summary["teacher"]["model"],
        "student_model": summary["student"]["model"],
        "teacher_top1": summary["teacher"]["top1"],
        "student_top1": summary["student"]["top1"],
        "student_top5": summary["student"]["top5"],
        "student_train_top1": summary["student"].get("train_top1"),  # absent in runs older than this field
        "train_examples": summary["train_examples"],
        "test_examples": summary["test_examples"],
        "epochs": summary["epochs"],
        "wall_seconds": summary["wall_seconds"],
        "train_seconds": summary.get("train_seconds"),  # absent in runs older than this field
        "machine": summary.get("machine"),  # absent in runs older than this field
        "calibration": summary.get("calibration"),
        "val_acc_curve": read_curve(folder),
        "folder": str(folder),
    }
