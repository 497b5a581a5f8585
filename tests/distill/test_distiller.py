"""The Distiller: every method on every family pair, what is trained and what is not, saving, errors."""

import gc
import os
import subprocess
import sys
import weakref

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras import Distiller

from ..quick import EAGER_IS_QUICKER, computed
from .pairs import NUM_CLASSES, snapshot, tiny, tiny_data

pytestmark = pytest.mark.core
def test_loss_terms_are_named_per_method():
    names = {m: Distiller(tiny("cnn"), tiny("mlp"), method=m).loss_names for m in tas_keras.list_methods()}
    assert names["scratch"] == ["loss", "loss_ce"]
    assert names["kd"] == ["loss", "loss_ce", "loss_kd"]
    assert names["fitnet"] == ["loss", "loss_ce", "loss_hint"]
    assert names["ofa"] == ["loss", "loss_ce", "loss_ofa"]
    assert names["tas_branch"] == ["loss", "loss_ace", "loss_akd", "loss_ce", "loss_kd", "loss_nce"]
    assert names["dkd"] == ["loss", "loss_ce", "loss_dkd"]
    assert names["dist"] == ["loss", "loss_ce", "loss_dist"]
    assert names["rsd"] == ["loss", "loss_cc", "loss_ce", "loss_kd"]
    mse = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", feature_loss="mse").loss_names
    assert "loss_mse" in mse and "loss_nce" not in mse


def test_a_trained_distiller_is_freed_once_dropped(seeded):
    """The steps' per-distiller caches of compiled functions hold the distiller weakly: runs in a loop
    (tools/study.py trains many in one process) do not keep every earlier distiller, its models and its
    traced graphs alive. (On TensorFlow every distiller stayed alive until the function cache let go.)"""
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=8, verbose=0)
    distiller.evaluate(x, y, verbose=0)
    dropped = weakref.ref(distiller)
    del distiller
    gc.collect()
    assert dropped() is None


def test_teacher_is_frozen_while_student_and_assistant_learn(seeded):
    teacher = tas_keras.create_model("resnet_micro", num_classes=NUM_CLASSES)  # BatchNorm: stats must not move
    distiller = Distiller(teacher, tiny("vit"), method="tas_branch")
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    teacher_before = snapshot(teacher.weights)
    student_before = snapshot(distiller.student.trainable_weights)
    method_before = snapshot(distiller.method.trainable_weights)
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for path, value in snapshot(teacher.weights).items():
        np.testing.assert_array_equal(value, teacher_before[path], err_msg=path)
    assert all(not np.array_equal(v, student_before[p]) for p, v in snapshot(distiller.student.trainable_weights).items())
    changed = [not np.array_equal(v, method_before[p]) for p, v in snapshot(distiller.method.trainable_weights).items()]
    assert all(changed), "every assistant / projection weight gets gradients"
    assert not any(v.trainable for v in teacher.weights)


def test_assistant_trains_only_the_student_stages_it_shares(seeded):
    # Only the assistant's losses: the student stages after the branch point must not move.
    student = tiny("vit")  # 4 blocks: S2 is the output of block 2
    distiller = Distiller(tiny("cnn"), student, method="tas_branch", branch_stages=["S2"], w_ce=0.0, w_kd=0.0)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=EAGER_IS_QUICKER)
    before = snapshot(student.trainable_weights)
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)
    after = snapshot(student.trainable_weights)
    moved = {p for p in before if not np.array_equal(before[p], after[p])}
    shared = {p for p in before if p.startswith(("patch_embed", "cls_token", "pos_embed", "block1/", "block2/"))}
    assert shared and moved == shared


def _one_sgd_step_deltas(branch_grad_scale):
    keras.utils.set_random_seed(3)
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", w_ce=0.0, w_kd=0.0, branch_grad_scale=branch_grad_scale)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=EAGER_IS_QUICKER)
    parts = {"student": distiller.student.trainable_weights, "assistant": distiller.method.trainable_weights}
    before = {k: snapshot(v) for k, v in parts.items()}
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    return {k: {p: v - before[k][p] for p, v in snapshot(parts[k]).items()} for k in parts}


def test_branch_grad_scale_scales_only_the_gradient_the_assistant_sends_into_the_student():
    full, scaled = _one_sgd_step_deltas(1.0), _one_sgd_step_deltas(0.25)
    moved = [p for p, d in full["student"].items() if np.abs(d).max() > 0]
    assert moved, "the assistant's losses move the shared student stages"
    for p in moved:  # one plain SGD step: weight change = -lr * gradient
        np.testing.assert_allclose(scaled["student"][p], 0.25 * full["student"][p], rtol=1e-3, atol=1e-7, err_msg=p)
    for p, d in full["assistant"].items():  # the assistant itself trains exactly as before
        np.testing.assert_allclose(scaled["assistant"][p], d, rtol=1e-3, atol=1e-7, err_msg=p)
    detached = _one_sgd_step_deltas(0.0)
    assert all(np.abs(d).max() == 0 for d in detached["student"].values())


def test_auto_branch_grad_scale_is_calibrated_once_from_gradient_norms_and_survives_saving(tmp_path, seeded):
    from tas_keras.diagnostics import group_gradient_norms

    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_grad_scale="auto")
    distiller.compile(optimizer="adam")
    x, y = tiny_data(16)
    assert distiller.method.needs_calibration()
    groups = distiller.method.calibration_groups()
    _, norms, _ = group_gradient_norms(distiller, [(x[:8], y[:8]), (x[8:], y[8:])], groups)
    own, pull = norms["student"]["grad_shared"], norms["assistant"]["grad_shared"]
    assert own > 0 and pull > 0
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)  # calibrates on the same first two batches
    report = distiller.calibration
    assert report["branch_grad_scale"] == pytest.approx(min(1.0, own / pull), rel=1e-3)
    assert distiller.method.calibration_state() == {"branch_grad_scale": pytest.approx(report["branch_grad_scale"], rel=1e-6)}
    assert not distiller.method.needs_calibration()
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)  # no second calibration
    assert distiller.method.calibration_state()["branch_grad_scale"] == pytest.approx(report["branch_grad_scale"], rel=1e-6)
    distiller.save(tmp_path / "distiller.keras")
    loaded = keras.saving.load_model(tmp_path / "distiller.keras")
    assert not loaded.method.needs_calibration()  # a resumed run keeps its calibrated scale
    assert loaded.method.calibration_state() == distiller.method.calibration_state()


def test_calibration_leaves_the_models_state_as_it_was(seeded):
    """Calibration runs training-mode passes; the BatchNorm statistics (and seed states) they move are put back."""
    student = tas_keras.create_model("resnet_micro", num_classes=10)
    distiller = Distiller(tiny("cnn"), student, method="tas", nce_grad_scale="auto")
    state = distiller.student.non_trainable_variables + distiller.teacher.non_trainable_variables
    assert any("moving" in v.path for v in state)
    before = snapshot(state)
    x, y = tiny_data(8)
    distiller.calibrate([(x, y)])
    assert not distiller.method.needs_calibration()
    for path, value in snapshot(state).items():
        np.testing.assert_array_equal(value, before[path], err_msg=path)
    distiller.compute_losses(keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y), distiller.teacher_targets(x), training=True)
    assert any(np.abs(snapshot(state)[p] - before[p]).max() > 0 for p in before), "a training-mode pass moves them"


def test_a_calibrated_run_trains_exactly_as_one_given_the_calibrated_scale(seeded):
    histories, scales = [], []
    for option in ("auto", None):
        keras.utils.set_random_seed(2)
        scale = option or float(np.float32(scales[0]))
        # a BatchNorm student; small CE and OFA weights make InfoNCE the larger pull, so "auto" scales it down
        distiller = Distiller(tiny("cnn"), tas_keras.create_model("resnet_micro", num_classes=10), method="tas", nce_grad_scale=scale,
                              w_ce=0.05, w_ofa=0.05)
        distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
        x, y = tiny_data(16)
        histories.append(distiller.fit(x, y, batch_size=8, epochs=2, shuffle=False, validation_data=(x, y), verbose=0).history)  # val: the moving statistics
        scales.append(distiller.calibration["nce_grad_scale"] if option else scale)
    assert 0 < scales[0] < 1
    for key in histories[1]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-6, err_msg=key)


def _independent_gradients(distiller, x, y, terms):
    """Gradients of the sum of `terms` on the student's trainable weights, computed here with the
    backend's own autodiff (a plain tape / jax.grad), not with tas_keras.diagnostics."""
    student = distiller.student.trainable_variables
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        images, labels = tf.constant(x), tf.constant(y)
        with tf.GradientTape() as tape:
            losses, _ = distiller.compute_losses(images, labels, distiller.teacher_targets(images))
            total = sum(losses[t] for t in terms)
        return [np.zeros(v.shape) if g is None else g.numpy() for v, g in zip(student, tape.gradient(total, student))]
    import jax

    chosen = {id(v) for v in student}
    others = [v for v in distiller.variables if id(v) not in chosen]

    def total(values):
        mapping = list(zip(student, values)) + [(v, v.value) for v in others]
        with keras.StatelessScope(state_mapping=mapping):
            losses, _ = distiller.compute_losses(x, y, distiller.teacher_targets(x))
        return sum(losses[t] for t in terms)

    # jitted: op by op, JAX compiles every operation of the forward and backward pass separately
    return [np.asarray(g) for g in jax.jit(jax.grad(total))([v.value for v in student])]


@pytest.mark.skipif(keras.backend.backend() not in ("tensorflow", "jax"), reason="tape / jax.grad")
def test_auto_scale_is_min_one_own_over_pull_from_independently_computed_gradients(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch")
    x, y = tiny_data(8)
    own = _independent_gradients(distiller, x, y, ["loss_ce", "loss_kd"])
    pull = _independent_gradients(distiller, x, y, ["loss_nce", "loss_akd", "loss_ace"])
    shared = [i for i in range(len(own)) if np.abs(own[i]).max() > 0 and np.abs(pull[i]).max() > 0]
    assert 0 < len(shared) < len(own)  # the assistant reaches the stages up to its branch point only
    norm = lambda grads: float(np.sqrt(sum(np.sum(np.square(grads[i], dtype="float64")) for i in shared)))
    expected = min(1.0, norm(own) / norm(pull))
    assert expected < 1.0  # the case the calibration exists for: the assistant pulls harder
    assert distiller.calibrate([(x, y)])["branch_grad_scale"] == pytest.approx(expected, rel=1e-3)


def test_calibration_getters_have_no_side_effects_and_recalibrating_measures_the_unscaled_pull(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch")
    x, y = tiny_data(8)
    first = distiller.calibrate([(x, y)])["branch_grad_scale"]
    assert 0 < first < 1
    distiller.method.calibration_groups()
    distiller.method.calibration_state()
    assert distiller.method.calibration_state()["branch_grad_scale"] == pytest.approx(first, rel=1e-6)
    assert distiller.calibrate([(x, y)])["branch_grad_scale"] == pytest.approx(first, rel=1e-4)


def test_a_checkpoint_from_before_branch_grad_scale_resumes_with_the_full_gradient_it_was_trained_with():
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch")
    distiller.method.load_own_variables({})  # what loading such a file hands the method: no variables of its own
    assert not distiller.method.needs_calibration()
    assert distiller.method.calibration_state() == {"branch_grad_scale": 1.0}


def test_a_distiller_saved_when_the_branch_design_was_named_tas_loads_as_tas_branch():
    config = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_grad_scale=0.5).get_config()
    loaded = Distiller.from_config({**config, "method": "tas"})
    assert loaded.method_name == "tas_branch" and loaded.method.options["branch_grad_scale"] == 0.5
    assert Distiller.from_config(Distiller(tiny("cnn"), tiny("mlp"), method="tas").get_config()).method_name == "tas"


def test_auto_calibration_needs_batches_it_can_read():
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_grad_scale="auto")
    distiller.compile(optimizer="adam")
    x, y = tiny_data()
    with pytest.raises(ValueError, match=r"generator.*distiller.calibrate.*branch_grad_scale=1.0"):
        distiller.fit((batch for batch in [(x, y)]), epochs=1, verbose=0)
    assert Distiller(tiny("cnn"), tiny("mlp"), method="kd").calibrate([(x, y)]) is None


def test_soft_labels_and_label_smoothing(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", label_smoothing=0.1)
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data()
    soft = np.eye(NUM_CLASSES, dtype="float32")[y] * 0.7 + np.eye(NUM_CLASSES, dtype="float32")[y[::-1]] * 0.3
    losses, logits = computed(lambda: distiller.compute_losses(x, soft, distiller.teacher_targets(x), training=False))
    logits = keras.ops.convert_to_numpy(logits).astype("float64")
    log_p = logits - logits.max(-1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(-1, keepdims=True))
    target = soft * 0.9 + 0.1 / NUM_CLASSES  # the soft labels, then smoothing
    expected = -(target * log_p).sum(-1).mean()
    assert float(keras.ops.convert_to_numpy(losses["loss_ce"])) == pytest.approx(expected, rel=1e-5)
    history = distiller.fit(x, soft, batch_size=4, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all() and history["acc"][0] >= 0  # soft labels are scored by their top class


def test_teacher_with_a_larger_input_gets_resized_images(seeded):
    teacher = tiny("cnn", image_size=64)
    distiller = Distiller(teacher, tiny("vit"), method="kd")
    x, y = tiny_data()
    targets = distiller.teacher_targets(x)
    resized = keras.ops.image.resize(x, (64, 64), interpolation="bilinear")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(targets["logits"]), keras.ops.convert_to_numpy(teacher(resized, training=False)), atol=1e-5)
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    assert np.isfinite(distiller.fit(x, y, batch_size=4, verbose=0).history["loss_kd"]).all()


def test_evaluate_and_predict_measure_the_student(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer="adam")
    x, y = tiny_data()
    np.testing.assert_allclose(distiller.predict(x, verbose=0), distiller.student.predict(x, verbose=0), atol=1e-6)
    logs = distiller.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "acc", "top5"}
    assert logs["acc"] == pytest.approx(float(np.mean(np.argmax(distiller.student.predict(x, verbose=0), -1) == y)))


LOAD_STUDENT = """
import sys, numpy as np, keras
import tas_keras
model = keras.saving.load_model(sys.argv[1])
x = np.load(sys.argv[2])
print("CLASS", type(model).__name__)
print("DIFF", float(np.abs(keras.ops.convert_to_numpy(model(x)) - np.load(sys.argv[3])).max()))
"""


@pytest.mark.heavy  # the TensorFlow run only: a file saved on JAX loading in a fresh process is test_serialization.py's (CI time)
def test_save_student_writes_a_plain_zoo_model_that_loads_in_a_fresh_process(tmp_path, seeded):
    distiller = Distiller(tiny("cnn"), tiny("vit"), method="tas_branch")
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=4, verbose=0)
    path = tmp_path / "out" / "student.keras"
    path.parent.mkdir()
    path.write_text("previous run")  # an existing file is replaced whole
    distiller.save_student(str(path))
    assert sorted(os.listdir(path.parent)) == ["student.keras"]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", keras.ops.convert_to_numpy(distiller.student(x)))
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_STUDENT, str(path), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "CLASS VisionTransformer" in proc.stdout
    assert float(proc.stdout.split("DIFF")[1]) < 1e-5


def test_save_student_failure_leaves_the_existing_file_intact(tmp_path, monkeypatch):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    path = tmp_path / "student.keras"
    path.write_bytes(b"good student")

    def broken_save(filepath, *args, **kwargs):
        with open(filepath, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(distiller.student, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        distiller.save_student(str(path))
    assert path.read_bytes() == b"good student"
    assert os.listdir(tmp_path) == ["student.keras"]


def test_distiller_saves_and_loads_whole_for_resuming(tmp_path, seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", nce_dim=64, w_akd=0.25)
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=4, verbose=0)
    distiller.save(tmp_path / "distiller.keras")
    loaded = keras.saving.load_model(tmp_path / "distiller.keras")
    assert isinstance(loaded, Distiller) and loaded.method.options == distiller.method.options
    for a, b in zip(loaded.get_weights(), distiller.get_weights()):
        np.testing.assert_array_equal(a, b)
    iterations = [int(keras.ops.convert_to_numpy(d.optimizer.iterations)) for d in (loaded, distiller)]
    assert iterations[0] == iterations[1] == 2
    loaded.run_eagerly = EAGER_IS_QUICKER
    loaded.fit(x, y, batch_size=4, verbose=0)  # training resumes


def test_construction_errors_name_the_bad_value_and_the_choices():
    with pytest.raises(ValueError, match=r"'distill'.*valid methods.*tas_branch"):
        Distiller(tiny("cnn"), tiny("mlp"), method="distill")
    with pytest.raises(ValueError, match=r"\['w_nc'\].*w_nce"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", w_nc=1.0)
    with pytest.raises(ValueError, match=r"'S5'.*S1"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_stages=["S5"])
    with pytest.raises(ValueError, match="different numbers of classes"):
        Distiller(tiny("cnn", num_classes=100), tiny("mlp"))
    with pytest.raises(ValueError, match=r"nce_grid=3.*valid: \[1"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", nce_grid=3)
    with pytest.raises(ValueError, match=r"branch_grad_scale=1.5.*'auto' or a number in \[0, 1\]"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", branch_grad_scale=1.5)
    with pytest.raises(ValueError, match="feature_loss"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", feature_loss="l1")
    with pytest.raises(ValueError, match=r"'pool'.*conv"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch", modules=["conv", "pool"])
    with pytest.raises(ValueError, match="zoo model"):
        Distiller(keras.Sequential([keras.layers.Dense(10)]), tiny("mlp"))
    with pytest.raises(ValueError, match="no `loss`"):
        Distiller(tiny("cnn"), tiny("mlp")).compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match=r"xla='yes'.*True, False, 'auto', 'elementwise'"):
        Distiller(tiny("cnn"), tiny("mlp"), xla="yes")


def test_the_compiled_step_is_traced_once(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas_branch")
    distiller.compile(optimizer="adam")
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert distiller.trace_count == 1
    distiller.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert distiller.trace_count == 1  # later steps and epochs reuse the compiled step


@pytest.mark.parametrize("policy", ["float32", pytest.param("mixed_float16", marks=pytest.mark.heavy)])
def test_the_compiled_step_updates_the_variables_as_the_eager_step_does(policy):
    """The compiled step (on TensorFlow the optimizer's update is its own XLA function) against the
    same step run eagerly: the same student after two steps of AdamW with weight decay and clipping
    (mixed_float16: the loss-scale optimizer's conditional update)."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        x, y = tiny_data()
        students = []
        for eager in (False, True):
            keras.utils.set_random_seed(0)
            distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
            distiller.compile(optimizer=keras.optimizers.AdamW(1e-3, weight_decay=0.05, global_clipnorm=1.0), run_eagerly=eager)
            before = list(snapshot(distiller.student.trainable_variables).values())
            history = distiller.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0).history
            assert np.isfinite(history["loss"]).all()
            students.append(list(snapshot(distiller.student.trainable_variables).values()))
        compiled, eager = students
        assert [np.array_equal(a, b) for a, b in zip(before, eager)].count(False) > len(before) // 2  # it trained
        tolerance = 1e-5 if policy == "float32" else 2e-2
        for a, b in zip(compiled, eager):
            np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_a_partial_last_batch_costs_at_most_one_more_trace(seeded):
    """10 images in batches of 4, 3 epochs. TensorFlow traces once with the batch dimension unknown;
    JAX compiles per batch shape, so the last batch of 2 costs one more trace; no backend traces again
    in later epochs. (tools/train.py drops partial training batches.)"""
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="kd")
    distiller.compile(optimizer="adam")
    x, y = tiny_data(10)
    distiller.fit(x, y, batch_size=4, epochs=3, verbose=0)
    assert distiller.trace_count == (2 if keras.backend.backend() == "jax" else 1)


def test_xla_auto_is_on_only_with_an_accelerator():
    accelerator = any(not d.startswith("cpu") for d in keras.distribution.list_devices())
    distiller = Distiller(tiny("cnn"), tiny("mlp"))
    assert distiller.xla is accelerator and distiller.get_config()["xla"] == "auto" and not distiller.xla_elementwise
    assert Distiller(tiny("cnn"), tiny("mlp"), xla=True).xla is True
    elementwise = Distiller(tiny("cnn"), tiny("mlp"), xla="elementwise")
    tensorflow = keras.backend.backend() == "tensorflow"
    assert elementwise.xla is False and elementwise.xla_elementwise is tensorflow  # a TensorFlow step option


def test_xla_auto_takes_elementwise_xla_for_a_bfloat16_student_on_a_cpu():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        student = tiny("mlp")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    accelerator = any(not d.startswith("cpu") for d in keras.distribution.list_devices())
    distiller = Distiller(tiny("cnn"), student)
    assert distiller.xla is accelerator
    assert distiller.xla_elementwise is (not accelerator and keras.backend.backend() == "tensorflow")
    assert distiller.get_config()["xla"] == "auto"  # resolved again where the model is loaded


def traced(fn):
    """fn's outputs, or on JAX their shapes and dtypes from one trace: op by op, JAX compiles every
    operation (85 s of CI time for this forward pass on a 2-core CPU)."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.eval_shape(fn)
    return fn()


@pytest.mark.parametrize("policy", ["mixed_bfloat16", pytest.param("mixed_float16", marks=pytest.mark.heavy)])
def test_mixed_precision_fits_with_float32_losses(policy):
    keras.mixed_precision.set_global_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        distiller = Distiller(tiny("cnn"), tiny("vit"), method="tas_branch")
        # dtype handling, not compilation, is tested here: eager on TensorFlow (no compile); compiled on
        # JAX, where op-by-op execution compiles every operation (236 s of CI time on a 2-core CPU)
        distiller.compile(optimizer="adam", run_eagerly=keras.backend.backend() != "jax")
        assert distiller.student.layers[-1].compute_dtype == policy.split("_")[1]
        x, y = tiny_data()
        losses, logits = traced(lambda: distiller.compute_losses(x, y, distiller.teacher_targets(x), training=False))
        assert keras.backend.standardize_dtype(logits.dtype) == policy.split("_")[1]  # the student computes in low precision
        assert {keras.backend.standardize_dtype(v.dtype) for v in losses.values()} == {"float32"}  # the losses do not
        history = distiller.fit(x, y, batch_size=4, verbose=0).history
        assert all(np.isfinite(v).all() for v in history.values())
        if policy == "mixed_float16":
            assert isinstance(distiller.optimizer, keras.optimizers.LossScaleOptimizer)
    finally:
        keras.mixed_precision.set_global_policy("float32")


@pytest.mark.heavy  # dtype policies are set when layers are built, the same on every backend: the TF run covers it
@pytest.mark.parametrize("method", ["tas", "tas_branch", "rsd", "crd", "ofa"])
def test_every_layer_of_a_method_follows_the_mixed_policy(method):
    """Assistants, fused models, projectors and heads compute in bfloat16 under mixed_bfloat16 (none is
    pinned to float32, which would cost speed on GPUs); the losses stay float32 (test above)."""
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        distiller = Distiller(tiny("cnn"), tiny("mlp"), method=method)
        x, y = tiny_data(4)
        distiller.compute_losses(x, y, distiller.teacher_targets(x), training=True)  # builds every module
        weighted = [layer for layer in distiller._flatten_layers(include_self=False) if layer.weights]
        models = {id(layer) for model in (distiller.teacher, distiller.student) for layer in model._flatten_layers()}
        assert any(id(layer) not in models for layer in weighted)  # the method's own layers are among them
        assert {layer.name: layer.compute_dtype for layer in weighted if layer.compute_dtype != "bfloat16"} == {}
    finally:
        keras.mixed_precision.set_global_policy("float32")
