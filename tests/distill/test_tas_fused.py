"""tas, TAS as published: the fused model reuses the teacher's and the student's own variables, each
loss term trains exactly what it should, and the distiller saves and resumes."""

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras import Distiller
from tas_keras.fusion import fusion_sides, stage_tail

from ..quick import EAGER_IS_QUICKER
from .pairs import tiny, tiny_data

pytestmark = pytest.mark.core
FAMILIES = ("cnn", "vit", "mlp")


@pytest.mark.parametrize(
    "teacher, student, expected",
    [
        ("cnn", "vit", ("teacher", "student")),  # the CNN gives stages 1-3, whichever side it is on
        ("cnn", "mlp", ("teacher", "student")),
        ("vit", "cnn", ("student", "teacher")),
        ("mlp", "cnn", ("student", "teacher")),
        ("cnn", "cnn", ("student", "teacher")),  # homogeneous: student 1-3, teacher 4
        ("vit", "vit", ("student", "teacher")),
        ("vit", "mlp", ("student", "teacher")),  # no CNN: as homogeneous (our reading)
        ("mlp", "vit", ("student", "teacher")),
    ],
)
def test_which_model_gives_which_stages(teacher, student, expected):
    assert fusion_sides(teacher, student) == expected
    assert fusion_sides(teacher, student, "teacher_first") == ("teacher", "student")


def ids(variables):
    return {id(v) for v in variables}


@pytest.mark.parametrize("teacher, student", [("cnn", "mlp"), ("vit", "cnn")])
def test_the_fused_model_holds_no_copied_weights(teacher, student):
    distiller = Distiller(tiny(teacher), tiny(student), method="tas")
    method = distiller.method
    models = {"teacher": distiller.teacher, "student": distiller.student}
    tail_owner = models[method.tail_side]
    assert ids(method.tail.weights) <= ids(tail_owner.weights)  # stage 4 + head: the model's own variables
    own = ids(method.projector.weights) | ids(w for p in method.projections.values() for w in p.weights) | {id(method.log_temperature)}
    own |= {id(method.grad_scale), id(method.calibrated)}  # nce_grad_scale's state
    assert ids(method.weights) == own | ids(method.tail.weights)  # nothing else is new
    assert not ids(method.projector.weights) & (ids(distiller.teacher.weights) | ids(distiller.student.weights))


def one_sgd_step(teacher, student, **options):
    keras.utils.set_random_seed(1)
    distiller = Distiller(tiny(teacher), tiny(student), method="tas", **options)
    distiller.compile(optimizer=keras.optimizers.SGD(0.5), run_eagerly=EAGER_IS_QUICKER)
    variables = distiller.teacher.weights + distiller.student.weights + distiller.method.weights
    before = {id(v): keras.ops.convert_to_numpy(v).copy() for v in variables}
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    moved = {id(v) for v in variables if np.abs(keras.ops.convert_to_numpy(v) - before[id(v)]).max() > 0}
    return distiller, moved


ONLY = {  # one loss term at a time
    "ofa_tf": {"w_ce": 0.0, "w_ts": 0.0, "w_fs": 0.0, "w_nce": 0.0},
    "nce_fs": {"w_ce": 0.0, "w_ts": 0.0, "w_tf": 0.0, "w_ofa": 0.0},
}


def test_teacher_fused_term_trains_the_projector_and_the_students_stage_4_when_the_teacher_is_the_cnn():
    distiller, moved = one_sgd_step("cnn", "mlp", **ONLY["ofa_tf"])
    method, student = distiller.method, distiller.student
    tail = ids(method.tail.trainable_weights)  # the student's stage 4 + head
    assert ids(method.projector.trainable_weights) <= moved
    assert tail & moved, "the fused logits come from the student's own stage 4 and head"
    assert not (ids(student.trainable_weights) - tail) & moved, "the student's stages 1-3 are not in the fused model"
    assert not ids(distiller.teacher.weights) & moved


def test_teacher_fused_term_trains_the_projector_and_the_students_stages_1_to_3_when_the_student_is_the_cnn():
    distiller, moved = one_sgd_step("vit", "cnn", **ONLY["ofa_tf"])
    student_tail = ids(stage_tail(distiller.student).trainable_weights)
    early = ids(distiller.student.trainable_weights) - student_tail
    assert ids(distiller.method.projector.trainable_weights) <= moved
    assert early & moved and not student_tail & moved
    assert not ids(distiller.teacher.weights) & moved


def test_fused_student_term_trains_the_student_only_the_fused_model_is_its_target():
    distiller, moved = one_sgd_step("cnn", "mlp", **ONLY["nce_fs"])
    method = distiller.method
    assert ids(method.projections["student"].weights) <= moved
    assert ids(distiller.student.trainable_weights) & moved
    assert not ids(method.projector.weights) & moved and not ids(method.projections["fused"].weights) & moved
    assert not ids(distiller.teacher.weights) & moved


def test_the_log_shows_the_fused_models_accuracy_and_teacher_weights_stay_bit_identical():
    keras.utils.set_random_seed(0)
    distiller = Distiller(tiny("vit"), tiny("cnn"), method="tas")
    before = [keras.ops.convert_to_numpy(w).copy() for w in distiller.teacher.weights]
    distiller.compile(optimizer="adam")
    x, y = tiny_data(16)
    history = distiller.fit(x, y, batch_size=8, epochs=2, verbose=0).history
    assert 0.0 <= min(history["fused_acc"]) <= max(history["fused_acc"]) <= 1.0
    assert history["loss"][0] == pytest.approx(sum(history[k][0] for k in history if k.startswith("loss_")), rel=1e-4)
    for a, b in zip(before, distiller.teacher.weights):
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(b))


def test_the_learned_temperature_moves_and_stays_in_its_clamp():
    distiller, moved = one_sgd_step("cnn", "mlp", w_ce=0.0, w_ofa=0.0)
    assert id(distiller.method.log_temperature) in moved
    assert 0.01 <= float(keras.ops.convert_to_numpy(distiller.method.temperature())) <= 1.0
    fixed, moved = one_sgd_step("cnn", "mlp", w_ce=0.0, w_ofa=0.0, learn_temperature=False)
    assert id(fixed.method.log_temperature) not in moved


def test_infonce_without_same_class_negatives_changes_only_the_infonce_terms():
    x, _ = tiny_data()
    y = np.array([0, 0, 0, 1, 1, 2, 3, 4])  # repeated classes: the batch's same-class images leave the negatives
    first_step = {}
    for negatives in ("all", "other_classes"):
        keras.utils.set_random_seed(1)
        distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas", nce_negatives=negatives)
        distiller.compile(optimizer=keras.optimizers.SGD(0.5), run_eagerly=EAGER_IS_QUICKER)
        first_step[negatives] = distiller.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0).history
    plain, masked = first_step["all"], first_step["other_classes"]
    for pair in ("ts", "tf", "fs"):
        assert masked[f"loss_nce_{pair}"][0] < plain[f"loss_nce_{pair}"][0]
        assert masked[f"loss_ofa_{pair}"][0] == pytest.approx(plain[f"loss_ofa_{pair}"][0], rel=1e-5)
    with pytest.raises(tas_keras.errors.InputError, match="nce_negatives"):
        Distiller(tiny("cnn"), tiny("mlp"), method="tas", nce_negatives="others")


def _nce_only_step(nce_grad_scale):
    """One plain SGD step on the student's two InfoNCE terms alone: {part: {variable: value after}}."""
    distiller, _ = one_sgd_step("cnn", "mlp", w_ce=0.0, w_ofa=0.0, w_tf=0.0, nce_grad_scale=nce_grad_scale)
    method = distiller.method
    parts = {"student": distiller.student.trainable_weights, "projections": [w for p in method.projections.values() for w in p.weights],
             "temperature": [method.log_temperature]}
    return {k: {v.path: keras.ops.convert_to_numpy(v) for v in vs} for k, vs in parts.items()}


def test_nce_grad_scale_scales_only_the_gradient_infonce_sends_into_the_student():
    full, scaled, detached = (_nce_only_step(s) for s in (1.0, 0.25, 0.0))
    keras.utils.set_random_seed(1)
    start = {v.path: keras.ops.convert_to_numpy(v) for v in Distiller(tiny("cnn"), tiny("mlp"), method="tas").student.trainable_weights}
    moved = [p for p in full["student"] if np.abs(full["student"][p] - start[p]).max() > 0]
    assert moved, "InfoNCE moves the student"
    for p in moved:  # one plain SGD step: weight change = -lr * gradient
        np.testing.assert_allclose(scaled["student"][p] - start[p], 0.25 * (full["student"][p] - start[p]), rtol=1e-3, atol=1e-7, err_msg=p)
    for part in ("projections", "temperature"):  # the projections and the temperature train exactly as before
        for p in full[part]:
            np.testing.assert_allclose(scaled[part][p], full[part][p], rtol=1e-4, atol=1e-6, err_msg=p)  # XLA rounds the graphs apart
    for p in start:
        np.testing.assert_array_equal(detached["student"][p], start[p])


@pytest.mark.parametrize("teacher, student", [("vit", "cnn")])
def test_auto_nce_grad_scale_is_calibrated_once_from_gradient_norms_and_survives_saving(tmp_path, teacher, student):
    from tas_keras.diagnostics import group_gradient_norms

    keras.utils.set_random_seed(0)
    distiller = Distiller(tiny(teacher), tiny(student), method="tas", nce_grad_scale="auto")
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data(16)
    assert distiller.method.needs_calibration()
    _, norms, _ = group_gradient_norms(distiller, [(x[:8], y[:8]), (x[8:], y[8:])], distiller.method.calibration_groups())
    own, pull = norms["student"]["grad_shared"], norms["nce"]["grad_shared"]
    assert own > 0 and pull > 0
    distiller.fit(x, y, batch_size=8, epochs=1, verbose=0)  # calibrates on the same first two batches
    report = distiller.calibration
    assert report["nce_grad_scale"] == pytest.approx(min(1.0, own / pull), rel=1e-3)
    assert set(report) == {"nce_grad_scale", "student_grad", "nce_grad"}
    assert not distiller.method.needs_calibration()
    distiller.save(tmp_path / "tas.keras")
    loaded = keras.saving.load_model(tmp_path / "tas.keras")
    assert not loaded.method.needs_calibration()  # a resumed run keeps its calibrated scale
    assert loaded.method.calibration_state() == distiller.method.calibration_state()


def test_a_tas_checkpoint_from_before_nce_grad_scale_resumes_with_infonces_full_gradient():
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="tas", nce_grad_scale="auto")
    distiller.method.load_own_variables({"0": np.float32(-2.0)})  # such a file holds the log-temperature alone
    assert float(keras.ops.convert_to_numpy(distiller.method.log_temperature)) == -2.0
    assert not distiller.method.needs_calibration()
    assert distiller.method.calibration_state() == {"nce_grad_scale": 1.0}


def test_save_load_and_resume(tmp_path):
    keras.utils.set_random_seed(0)
    distiller = Distiller(tiny("cnn"), tiny("vit"), method="tas", w_fce=0.5)
    distiller.compile(optimizer="adam", run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data()
    distiller.fit(x, y, batch_size=4, verbose=0)
    distiller.save(tmp_path / "tas.keras")
    loaded = keras.saving.load_model(tmp_path / "tas.keras")
    assert loaded.method.options == distiller.method.options and "loss_fce" in loaded.loss_names
    for a, b in zip(loaded.method.weights, distiller.method.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 2
    loaded.run_eagerly = EAGER_IS_QUICKER
    loaded.fit(x, y, batch_size=4, verbose=0)


def test_a_batchnorm_student_in_the_fused_model_keeps_the_statistics_of_its_own_pass():
    """fusion="teacher_first" puts a ResNet student's stage 4 into the fused model: the fused pass still
    trains it, but its BN moving statistics move with the student's own pass only, as under kd."""
    def one_step(method, **options):
        keras.utils.set_random_seed(3)
        distiller = Distiller(tiny("vit"), tas_keras.create_model("resnet_micro", num_classes=10), method=method, **options)
        distiller.compile(optimizer=keras.optimizers.SGD(0.1), run_eagerly=EAGER_IS_QUICKER)
        before = {id(v): keras.ops.convert_to_numpy(v).copy() for v in distiller.student.trainable_weights}
        x, y = tiny_data()
        distiller.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
        moved = {id(v) for v in distiller.student.trainable_weights if np.abs(keras.ops.convert_to_numpy(v) - before[id(v)]).max() > 0}
        return distiller, moved

    fused, moved = one_step("tas", fusion="teacher_first", **ONLY["ofa_tf"])
    assert fused.method.tail_side == "student" and fused.method.tail.non_trainable_variables
    assert ids(fused.method.tail.trainable_weights) & moved, "the teacher-fused term still trains the student's stage 4"
    own_pass_only, _ = one_step("kd")
    for a, b in zip(fused.student.non_trainable_variables, own_pass_only.student.non_trainable_variables):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b), rtol=1e-5, atol=1e-6)
