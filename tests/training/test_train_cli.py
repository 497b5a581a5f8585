"""tools/train.py end to end: outputs, teacher reuse, teacher file errors, resume after kill -9."""

import importlib.util
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tas_keras.cli import evaluate as evaluate_cli
from tas_keras.cli import train as train_cli
from tas_keras.training.callbacks import logged_seconds
from tas_keras.training.checkpoint import EpochCheckpoint

from ..quick import jax_subprocess_env
from .tool_runs import in_process

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAST = ["--pair", "convnext_mlp", "--profile", "small", "--train-subset", "256", "--batch-size", "64", "--teacher-epochs", "1"]


def train(*args, timeout=600):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "convnext_mlp" / "tas"
    proc = train(*FAST, "--epochs", "1", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, proc


def test_a_run_writes_every_output(finished_run):
    out, proc = finished_run
    names = sorted(os.listdir(out))
    assert {"student.keras", "teacher.keras", "config.yaml", "metrics.csv", "summary.json", "tensorboard"} <= set(names)
    assert not [n for n in names if n.startswith(".tmp")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "tas" and summary["dataset"] == "digits" and summary["train_examples"] == 256
    for role in ("teacher", "student"):
        assert 0.0 <= summary[role]["top1"] <= summary[role]["top5"] <= 1.0
    assert summary["machine"].endswith(f"{os.cpu_count()} CPUs") and 0 < summary["train_seconds"] < summary["wall_seconds"]
    assert isinstance(summary["tensorflow_onednn"], bool)  # training loads TensorFlow (tf.data) on every backend
    assert "teacher convnext_micro" in proc.stdout and "student resmlp_micro_patch4_32" in proc.stdout
    header = (out / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"epoch", "loss_nce_ts", "loss_ofa_tf", "fused_acc", "val_acc"} <= set(header)


def test_the_next_run_reuses_the_trained_teacher(finished_run, capsys):
    out, _ = finished_run
    proc = in_process(capsys, train_cli.main, *FAST, "--epochs", "1", "--method", "kd", "--no-xla", "--output-dir", str(out.parent / "kd"))
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Reusing the teacher trained with the same settings" in proc.stdout
    assert json.loads((out.parent / "kd" / "summary.json").read_text())["teacher"]["top1"] == \
        json.loads((out / "summary.json").read_text())["teacher"]["top1"]


def test_a_calibrated_run_trains_exactly_as_a_run_given_its_calibrated_scale(finished_run, capsys):
    """tas_branch's default branch_grad_scale="auto" calibrates on the first batches of a pipeline of its own:
    the run's batches, augmentation and model state stay those of a run that does not calibrate."""
    out, _ = finished_run
    metrics = {}
    for name, scale in (("auto", "auto"), ("fixed", None)):
        folder = out.parent / f"calibrated_{name}"
        scale = scale or repr(float(np.float32(json.loads((out.parent / "calibrated_auto" / "summary.json").read_text())["calibration"]["branch_grad_scale"])))
        proc = in_process(capsys, train_cli.main, *FAST, "--epochs", "2", "--method", "tas_branch", "--no-xla", "--output-dir", str(folder),
                          "--set", f"distiller.branch_grad_scale={scale}")
        assert proc.returncode == 0, proc.stderr[-4000:]
        assert ("Calibrated tas_branch" in proc.stdout) == (name == "auto")
        lines = (folder / "metrics.csv").read_text().splitlines()
        header = lines[0].split(",")
        metrics[name] = [{k: float(v) for k, v in zip(header, line.split(",")) if k != "epoch_seconds"} for line in lines[1:]]
    assert 0 < float(scale) < 1 and len(metrics["auto"]) == 2
    assert metrics["auto"] == metrics["fixed"]


def test_student_file_is_a_plain_zoo_model(finished_run):
    out, _ = finished_run
    code = ("import keras, tas_keras, numpy as np; m = keras.saving.load_model(r'%s'); "
            "print(type(m).__name__, m.input_shape, m.output_shape)" % (out / "student.keras"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ResMLP (None, 32, 32, 3) (None, 10)" in proc.stdout


@pytest.mark.parametrize("settings", [
    ["student.overrides.bogus=5"],  # an unknown constructor argument
    ["student.name=keras.applications.MobileNet", "student.overrides.batchnorm_momentum=2"],
    ["student.name=keras.applications.MobileNet", "data.image_size=16"],  # below MobileNet's 32-pixel minimum
])
def test_a_bad_student_setting_fails_before_the_teacher_stage(settings, tmp_path, capsys):
    """The student is built (and dropped) before the teacher is trained: the error comes in seconds, not
    after the teacher stage (hours at paper scale), and no teacher is trained for a run that cannot start."""
    sets = [arg for setting in settings for arg in ("--set", setting)]
    proc = in_process(capsys, train_cli.main, *FAST, "--epochs", "1", "--output-dir", str(tmp_path / "run"), *sets)
    assert proc.returncode != 0 and proc.stderr.count("\n") == 1 and "train.py: error: " in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "teachers").exists() or not any((tmp_path / "teachers").iterdir())
    assert "Epoch 1/" not in proc.stdout


def test_the_early_student_check_leaves_the_seeded_state_as_it_was():
    import random

    import keras

    from tas_keras.training.build import build_student, check_student
    from tas_keras.training.config import load_config

    config = load_config("convnext_mlp", "small", [])
    initial = []
    for check_first in (False, True):
        keras.utils.set_random_seed(0)
        if check_first:
            state = random.getstate()
            check_student(config, 10)
            assert random.getstate() == state
        initial.append([w.copy() for w in build_student(config, 10).get_weights()])
    assert len(initial[0]) == len(initial[1]) and all(np.array_equal(a, b) for a, b in zip(*initial))


@pytest.mark.parametrize("case", ["missing", "corrupt", "wrong_classes", "plain_keras"])
def test_bad_teacher_files_give_clear_errors(case, finished_run, tmp_path, capsys):
    out, _ = finished_run
    if case == "missing":
        path, message = tmp_path / "none.keras", "does not exist"
    elif case == "corrupt":
        path, message = tmp_path / "corrupt.keras", "corrupt"
        path.write_bytes(b"not a zip file")
    elif case == "wrong_classes":
        import tas_keras

        path, message = tmp_path / "t100.keras", "predicts 100 classes; this run needs 32x32 and 10"
        tas_keras.create_model("convnext_micro", num_classes=100).save(path)
    else:
        import keras

        path, message = tmp_path / "plain.keras", "not a tas_keras zoo model; a Keras classifier of your own works once saved as tas_keras.adapt(model)"
        keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(10)]).save(path)
    proc = in_process(capsys, train_cli.main, *FAST, "--epochs", "1", "--teacher", str(path), "--output-dir", str(tmp_path / "run"))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_diverging_run_stops_with_one_line_and_its_folder_is_not_reused_for_other_settings(finished_run, capsys):
    out = finished_run[0].parent / "diverged"  # beside the finished run: its teacher is reused
    args = [*FAST, "--epochs", "2", "--method", "kd", "--output-dir", str(out)]
    proc = in_process(capsys, train_cli.main, *args, "--set", "student_training.optimizer.lr=1e30")
    errors = [line for line in proc.stderr.splitlines() if line.startswith("train.py: error:")]
    assert proc.returncode == 2 and len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert "Distillation diverged: the loss is nan at epoch 1, step" in errors[0] and "student_training.optimizer.lr (now 1e+30)" in errors[0]
    assert json.loads((out / "diverged.json").read_text())["where"].startswith("the loss is nan at epoch 1")
    assert not (out / "student.keras").exists() and not (out / "summary.json").exists()
    again = in_process(capsys, train_cli.main, *args, "--set", "student_training.optimizer.lr=1e30")
    assert again.returncode == 2 and "holds a run that diverged with these settings (the loss is nan at epoch 1" in again.stderr
    changed = in_process(capsys, train_cli.main, *args, "--set", "student_training.optimizer.lr=1e-3")
    assert changed.returncode == 2 and "holds a run with other settings (student_training.optimizer.lr: 1e+30 -> 0.001)" in changed.stderr


def test_bad_arguments_are_named(capsys):
    proc = in_process(capsys, train_cli.main, "--pair", "convnext_mlp", "--profile", "small", "--set", "distiller.w_nc=1")
    assert proc.returncode == 2 and "Unknown option(s) ['w_nc']" in proc.stderr
    proc = in_process(capsys, train_cli.main, "--pair", "convnext_vit")
    assert proc.returncode == 2 and "Unknown pair 'convnext_vit'" in proc.stderr


@pytest.mark.parametrize("stem, point", [("checkpoint", "model_write"), ("teacher_checkpoint", "before_state")])
def test_a_run_killed_inside_a_checkpoint_write_resumes_from_its_last_finished_epoch(stem, point, finished_run, tmp_path, capsys):
    """kill -9 while epoch 2's checkpoint is being written (the distillation's: inside the model file's
    write; the teacher's: between the model file and the state naming it): the checkpoint a resume
    loads holds exactly epoch 1's weights and optimizer state, nothing half-written or stale is left
    anywhere in the run tree, and the resumed run logs every epoch once."""
    out, cache, snapshots, flag = tmp_path / "run", tmp_path / "teachers", tmp_path / "snapshots", tmp_path / "paused"
    # Two epochs of the stage that is killed (the kill lands in epoch 2's checkpoint); one of the other.
    if stem == "checkpoint":
        stages = ["--teacher", str(finished_run[0] / "teacher.keras"), "--epochs", "2"]
    else:
        stages = ["--teacher-cache", str(cache), "--teacher-epochs", "2", "--epochs", "1"]
    args = [*FAST, "--no-xla", "--method", "kd", "--output-dir", str(out), *stages]
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="3", SNAPSHOTS=str(snapshots), PAUSE_STEM=stem,
               PAUSE_EPOCH="2", PAUSE_POINT=point, PAUSE_FLAG=str(flag))
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "training" / "pausing_train.py"), *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 400
        while time.time() < deadline and not flag.exists() and proc.poll() is None:
            time.sleep(0.2)
        assert flag.exists(), proc.communicate()[0][-3000:] if proc.poll() is not None else "never reached epoch 2's checkpoint"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    folder = out if stem == "checkpoint" else next(cache.iterdir())
    if point == "model_write":
        assert list(folder.glob(f".tmp_{stem}-2*"))  # the kill landed inside the write
    else:
        assert (folder / f"{stem}-2.keras").is_file()  # epoch 2's model written, the state still names epoch 1
    assert json.loads((folder / f"{stem}.json").read_text())["epochs_done"] == 1

    model, done = EpochCheckpoint(folder, stem).resume_state()
    assert done == 1
    expected = np.load(snapshots / f"{stem}-1.npz")
    restored = [v.numpy() for v in model.weights] + [v.numpy() for v in model.optimizer.variables]
    assert len(restored) == len(expected.files)
    for i, value in enumerate(restored):
        np.testing.assert_array_equal(value, expected[f"arr_{i}"])
    assert int(model.optimizer.iterations.numpy()) == 4  # 256 images / 64: one epoch of steps, not two
    assert sorted(p.name for p in folder.glob(f"{stem}*.keras")) == [f"{stem}-1.keras"]
    assert not list(tmp_path.rglob(".tmp*"))

    resumed = in_process(capsys, train_cli.main, *args)  # the killed run was the separate process
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    stage = "distillation" if stem == "checkpoint" else "teacher training"
    assert f"Resuming {stage} after epoch 1/2" in resumed.stdout
    log = out / "metrics.csv" if stem == "checkpoint" else folder / "teacher_metrics.csv"
    assert [int(r.split(",")[0]) for r in log.read_text().strip().splitlines()[1:]] == [0, 1]  # every epoch once
    assert not list(tmp_path.rglob(".tmp*"))
    summary = json.loads((out / "summary.json").read_text())
    assert np.isfinite(summary["student"]["top1"])
    if stem == "checkpoint":  # the distillation's time counts both legs: the epoch before the kill, the one after
        assert summary["train_seconds"] == logged_seconds(log) and len([r for r in log.read_text().splitlines()[1:] if r]) == 2


def test_evaluate_tool_reports_the_summary_accuracy(finished_run, tmp_path, capsys):
    out, _ = finished_run
    proc = in_process(capsys, evaluate_cli.main, str(out / "student.keras"), "--dataset", "digits", "--json", str(tmp_path / "eval.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "eval.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    assert result["examples"] == 360
    assert result["top1"] == pytest.approx(summary["student"]["top1"], abs=1e-6)
    bad = in_process(capsys, evaluate_cli.main, str(out / "student.keras"), "--dataset", "cifar100")
    assert bad.returncode == 2 and "not prepared" in bad.stderr


def test_evaluate_scores_a_model_with_bfloat16_logits():
    """Under mixed_bfloat16 the models' logits are bfloat16, and TensorFlow's top-k takes float32 only:
    `tools/train.py --precision mixed_bfloat16` ended in a raw InvalidArgumentError at its final evaluation."""
    import keras

    import tas_keras
    from tas_keras.training.runner import evaluate

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = tas_keras.create_model("resmlp_micro_patch4_32", num_classes=10, embed_dim=32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(0)
    batches = [(rng.uniform(size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 10, size=(8,))) for _ in range(2)]
    result = evaluate(model, batches)
    logits = np.concatenate([keras.ops.convert_to_numpy(keras.ops.cast(model(x, training=False), "float32")) for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert result["top1"] == pytest.approx(np.mean(logits.argmax(-1) == labels))
    assert result["top1"] <= result["top5"] <= 1.0


def free_ports(count):
    import socket

    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_train_with_multi_worker_mirrored_strategy_on_loopback(finished_run, tmp_path):
    teacher = finished_run[0] / "teacher.keras"
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    out = tmp_path / "convnext_mlp" / "multi_worker"
    args = [str(ROOT / "tools" / "train.py"), *FAST, "--epochs", "1", "--no-xla", "--strategy", "multi_worker",
            "--teacher", str(teacher), "--output-dir", str(out), "--method", "kd"]
    # KD: the tool's multi-worker plumbing is what this checks; tas_branch's gathers across two workers,
    # with equal weights after training, are tests/distill/test_tensorflow_distribution.py's
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env = dict(os.environ, TF_CONFIG=tf_config, PYTHONUNBUFFERED="1")
        procs.append(subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=600)[0])
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "2 replica(s)" in outputs[0] and "2 replica(s)" in outputs[1]
    summary = json.loads((out / "summary.json").read_text())  # written by the chief (worker 0) only
    assert summary["replicas"] == 2 and np.isfinite(summary["student"]["top1"])


@pytest.mark.skipif(importlib.util.find_spec("jax") is None and not os.environ.get("CI"), reason="JAX is not installed")
def test_jax_backend_trains_data_parallel_on_two_host_devices(finished_run, tmp_path):
    teacher = finished_run[0] / "teacher.keras"
    out = tmp_path / "convnext_mlp" / "jax_data_parallel"
    env = jax_subprocess_env(devices=2, PYTHONUNBUFFERED="1")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "train.py"), *FAST, "--epochs", "1", "--strategy", "mirrored",
                           "--teacher", str(teacher), "--output-dir", str(out), "--method", "kd"],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    # KD: the tool's plumbing is what this checks (the step's equality across devices, for tas and
    # tas_branch, is tests/distill/test_jax_data_parallel.py), and its step compiles fastest.
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "2 replica(s)" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["backend"] == "jax" and summary["replicas"] == 2 and np.isfinite(summary["student"]["top1"])
    assert (out / "student.keras").is_file()


def test_a_keras_applications_student_from_the_config(finished_run, capsys):
    out = finished_run[0].parent / "mobilenet"  # beside the finished run: its teacher is reused
    proc = in_process(capsys, train_cli.main, *FAST, "--epochs", "1", "--method", "kd", "--no-xla", "--output-dir", str(out),
                      "--set", "student.name=keras.applications.MobileNetV2", "--set", "student.overrides.alpha=0.35",
                      "--set", "student.overrides.batchnorm_momentum=null")  # keep MobileNetV2's own 0.999
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "student keras.applications.MobileNetV2" in proc.stdout
    import keras

    import tas_keras

    student = keras.saving.load_model(out / "student.keras")
    assert isinstance(student, tas_keras.AdaptedModel) and student.output_shape == (None, 10)
    assert {layer.momentum for layer in student.layers if isinstance(layer, keras.layers.BatchNormalization)} == {0.999}
    evaluated = in_process(capsys, evaluate_cli.main, str(out / "student.keras"), "--dataset", "digits")
    top1 = json.loads((out / "summary.json").read_text())["student"]["top1"]
    assert evaluated.returncode == 0 and f"top-1 {100 * top1:.2f}" in evaluated.stdout, evaluated.stdout
