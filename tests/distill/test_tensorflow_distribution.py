"""TensorFlow only: XLA and MirroredStrategy give the same step as one device without XLA."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest

from tas_keras import Distiller

from .pairs import snapshot, tiny, tiny_data

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.distribute and XLA steps")
CHECK = pathlib.Path(__file__).with_name("mirrored_check.py")
MULTI_WORKER_CHECK = pathlib.Path(__file__).with_name("multi_worker_check.py")


# name: method:xla[:flags][:option=value]; every check runs in one subprocess (each start costs a TensorFlow import)
CHECKS = {
    "kd-no_xla": "kd:0", "tas-no_xla": "tas_branch:0", "dkd-warmup": "dkd:0:warmup_steps=4", "kd-elementwise": "kd:elementwise",
    "keras_jit_compile": "kd:1:jit_compile", "tas_teacher_pairs": "tas:0:w_fs=0",
    "tas_other_classes": "tas:0:w_fs=0:nce_negatives=other_classes",
    "dist": "dist:0:per_replica", "rsd": "rsd:0:per_replica", "crd": "crd:0:per_replica:nce_k=16",
}


@pytest.fixture(scope="module")
def reports():
    proc = subprocess.run([sys.executable, str(CHECK), *(f"{name}:{spec}" for name, spec in CHECKS.items())],
                          capture_output=True, text=True, timeout=1200, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [ln.split(" ", 2) for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    return {name: json.loads(text) for _, name, text in lines}


@pytest.mark.parametrize("name", ["kd-no_xla", "tas-no_xla", "dkd-warmup", "kd-elementwise"])
def test_two_replicas_give_the_one_device_step(name, reports):
    """tas_branch all-gathers the InfoNCE keys, so its negatives are the global batch on both. (XLA
    on 2 replicas, KD: the jit_compile test below.) dkd's warm-up counts steps in a variable that each
    replica updates inside the step (with aggregation "only_first_replica" that update needed a
    merge_call TensorFlow refuses inside the nested step function). kd-elementwise: the 2-replica
    step with its elementwise work under XLA against the plain eager step."""
    report = reports[name]
    assert report["replicas"] == 2 and report["elementwise_used"] == [name.endswith("elementwise")] * 2
    assert report["max_loss_diff"] < 1e-5, report
    assert report["weights_updated"] > 0 and report["max_update"] > 1e-3
    assert report["max_weight_diff"] < 1e-5 * max(1.0, report["max_update"]), report


def test_keras_jit_compile_flag_means_the_per_replica_xla_step(reports):
    """compile(jit_compile=True), the usual Keras flag, trains on 1 device and on 2 replicas (a
    fit-level XLA function fails there) with XLA around the per-replica step, same step on both.
    (KD: the flag's plumbing does not depend on the method, and its XLA compile is the cheapest.
    The flag sets what `xla=True` sets, so this is also the XLA check on 2 replicas.)"""
    report = reports["keras_jit_compile"]
    assert report["replicas"] == 2 and report["xla_used"] == [True, True]
    assert report["max_loss_diff"] < 1e-5, report
    assert report["max_weight_diff"] < 1e-5 * max(1.0, report["max_update"]), report


@pytest.mark.parametrize("name", ["tas_teacher_pairs", "tas_other_classes"])
def test_tas_two_replicas_give_the_one_device_step_on_the_teacher_pairs(name, reports):
    """tas's teacher keys are gathered like tas_branch's; its fused-student InfoNCE uses each replica's own
    batch (documented), so that pair is switched off here (w_fs=0) to compare the rest exactly. With
    nce_negatives="other_classes" the labels are gathered with the keys (the batch's classes 8 8 9 6 | 9 0
    5 9: class 9 is on both replicas), so the same images leave the negatives as on one device."""
    report = reports[name]
    assert report["replicas"] == 2 and "loss_nce_tf" in report["single"]
    assert report["max_loss_diff"] < 1e-5, report
    assert report["weights_updated"] > 0
    assert report["max_weight_diff"] < 1e-5 * max(1.0, report["max_update"]), report


@pytest.mark.parametrize("method", ["dist", "rsd", "crd"])
def test_batch_level_losses_use_each_replicas_own_batch(method, reports):
    """DIST's intra-class correlation, RSD's cross-correlation and CRD's z estimate are computed per
    replica (documented): 2 replicas of 4 images give the mean loss and the mean update of two 1-device
    steps on the halves; CRD's memory and z hold what the first half's step wrote (only_first_replica)."""
    report = reports[method]
    assert report["replicas"] == 2 and report["weights_updated"] > 0
    assert report["max_loss_diff"] < 1e-5, report
    assert report["max_weight_diff"] < 1e-5 * max(1.0, report["max_update"]), report
    assert report["max_state_diff"] < 1e-6, report
    if method == "crd":
        assert report["state_changed"] >= 3, report  # memories and z differ between the halves: the check can fail


@pytest.mark.parametrize("xla", [True, False])
def test_xla_true_compiles_the_per_replica_step_with_xla(xla):
    """The compiled step function's XLA IR exists only when XLA is on (a setting that were ignored
    would fail here). On a CPU the teacher's function (forward only) gets the ConvNeXt's depthwise
    convolutions as shifted sums (no grouped convolution in its HLO; tas_keras/layers/depthwise.py)."""
    import tensorflow as tf

    from tas_keras.steps import tensorflow_step

    x, y = tiny_data()
    distiller = Distiller(tiny("cnn"), tiny("vit"), method="kd", xla=xla)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    distiller.fit(x, y, batch_size=8, verbose=0)
    step = tensorflow_step._FUNCTIONS[distiller][("forward_backward", xla)]
    images = tf.constant(x)
    args = (images, tf.constant(y), distiller.teacher_targets(images), tf.constant(0, tf.int32), tf.constant(1.0))
    if xla:
        assert "HloModule" in step.experimental_get_compiler_ir(*args)(stage="hlo")
        teacher = tensorflow_step._FUNCTIONS[distiller][("teacher", xla)].experimental_get_compiler_ir(images)(stage="hlo")
        assert "convolution(" in teacher and "feature_group_count" not in teacher  # the stem only
    else:
        with pytest.raises(ValueError, match="jit_compile"):
            step.experimental_get_compiler_ir(*args)


def test_xla_elementwise_marks_the_steps_elementwise_ops_for_xla_and_leaves_its_matmuls():
    """xla="elementwise": the forward_backward graph's elementwise ops, its gradient's included, carry
    XLA's compile mark (TensorFlow clusters and compiles them); its matmuls, convolutions, reductions
    and variable reads do not, and keep TensorFlow's kernels. Without the option nothing is marked. The
    step's losses and updated weights are the plain graph step's."""
    import tensorflow as tf

    from tas_keras.steps import tensorflow_step

    x, y = tiny_data()
    ops, results = {}, {}
    for xla in (False, "elementwise"):
        keras.utils.set_random_seed(0)
        distiller = Distiller(tiny("cnn"), tiny("vit"), method="kd", xla=xla)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        results[xla] = distiller.fit(x, y, batch_size=8, verbose=0).history, snapshot(distiller.trainable_weights)
        step = tensorflow_step._FUNCTIONS[distiller][("forward_backward", False)]
        images = tf.constant(x)
        args = (images, tf.constant(y), distiller.teacher_targets(images), tf.constant(0, tf.int32), tf.constant(1.0))
        graph_ops = step.get_concrete_function(*args).graph.get_operations()
        ops[xla] = {(op.type, op.name.startswith("gradient_tape/"), _xla_mark(op)) for op in graph_ops}
    assert not any(mark for _, _, mark in ops[False])
    marked = {(kind, in_gradient) for kind, in_gradient, mark in ops["elementwise"] if mark}
    unmarked = {kind for kind, _, mark in ops["elementwise"] if not mark}
    assert {("Mul", False), ("Mul", True), ("AddV2", False)} <= marked  # the forward's and the gradient's
    kept = {"MatMul", "BatchMatMulV2", "Conv2D", "Conv2DBackpropFilter", "ReadVariableOp", *tensorflow_step._REDUCTIONS}
    assert {"MatMul", "ReadVariableOp", "Sum", "Mean"} <= unmarked and not {kind for kind, _ in marked} & kept
    (plain_logs, plain_w), (xla_logs, xla_w) = results[False], results["elementwise"]
    # XLA's exp and log round differently from TensorFlow's kernels (~1e-7 of a log-probability of ~2);
    # KD's loss is a small difference of such terms times T^2 = 16, so its error is absolute (1.04e-6
    # against 1.45e-7 allowed relative to its 0.0145 on a 2-core AVX-512 EPYC)
    for key in plain_logs:
        assert xla_logs[key][0] == pytest.approx(plain_logs[key][0], rel=1e-5, abs=5e-6), key
    for path in plain_w:
        np.testing.assert_allclose(xla_w[path], plain_w[path], atol=2e-5, err_msg=path)


def _xla_mark(op):
    try:
        return bool(op.get_attr("_XlaCompile"))
    except ValueError:
        return False


def test_two_workers_keep_equal_weights(tmp_path):
    """MultiWorkerMirroredStrategy on loopback: after training, both workers hold the same weights,
    and they moved from the (same) start."""
    import socket

    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    workers = [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]
    for s in sockets:
        s.close()
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})
        env = dict(os.environ, TF_CONFIG=tf_config)
        procs.append(subprocess.Popen([sys.executable, str(MULTI_WORKER_CHECK), str(tmp_path / f"worker{index}.npz")], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    try:
        outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    finally:
        for proc in procs:
            proc.kill()
    assert [p.returncode for p in procs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    first, second = (np.load(tmp_path / f"worker{i}.npz") for i in range(2))
    assert int(first["replicas"]) == int(second["replicas"]) == 2
    ends = sorted(k for k in first.files if k.startswith("end_"))
    moved = [np.abs(first[k] - first[k.replace("end_", "start_")]).max() for k in ends]
    assert max(moved) > 1e-3
    for key in ends:
        np.testing.assert_allclose(first[key], second[key], atol=1e-6, err_msg=key)
    assert list(first["batch_loss_ranks"]) == [0, 0]  # two global batches of 8, a scalar loss after each


def test_one_local_worker_gives_callbacks_scalar_losses(tmp_path):
    """Without TF_CONFIG, MultiWorkerMirroredStrategy runs one local worker, and Keras leaves the step's
    logs unreduced: callbacks (the stop on a non-finite loss among them) must still see scalars."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    proc = subprocess.run([sys.executable, str(MULTI_WORKER_CHECK), str(tmp_path / "one.npz")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = np.load(tmp_path / "one.npz")
    assert int(result["replicas"]) == 1 and list(result["batch_loss_ranks"]) == [0, 0]


def test_xla_step_equals_the_plain_graph_step():
    x, y = tiny_data()
    results = []
    for xla in (False, True):
        keras.utils.set_random_seed(0)
        distiller = Distiller(tiny("cnn"), tiny("vit"), method="tas_branch", xla=xla)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1))
        logs = distiller.fit(x, y, batch_size=8, verbose=0).history
        results.append((logs, snapshot(distiller.trainable_weights)))
    (plain_logs, plain_w), (xla_logs, xla_w) = results
    for key in plain_logs:  # 1e-4: XLA's erf (GELU) and TensorFlow's differ by up to 4e-7, each within 3e-7 of the exact erf
        assert xla_logs[key][0] == pytest.approx(plain_logs[key][0], rel=1e-4, abs=1e-6), key
    for path in plain_w:
        np.testing.assert_allclose(xla_w[path], plain_w[path], atol=2e-5, err_msg=path)
