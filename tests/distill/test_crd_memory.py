"""CRD's memory: each training step scores against the memory as it was, then writes the batch's
embeddings into the next rows (a queue); z is estimated once; evaluation writes nothing."""

import keras
import numpy as np
import pytest

from tas_keras import Distiller

from .pairs import snapshot, tiny, tiny_data
from .test_baseline_losses import np_crd_nce, np_crd_noise_scale

pytestmark = pytest.mark.core


def state(method):
    return {k.rsplit("/", 1)[-1]: v for k, v in snapshot([method.memory_student, method.memory_teacher, method.write_position,
                                                            method.z_student, method.z_teacher]).items()}


def test_a_step_scores_against_the_memory_before_it_writes_the_batch(seeded):
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="crd", nce_k=12, feat_dim=8)
    method = distiller.method
    x, y = tiny_data(n=8)
    before = state(method)
    assert before["write_position"] == 0 and before["z_student_anchor"] == 0
    losses, _ = distiller.compute_losses(x, y, distiller.teacher_targets(x), 0, training=True)
    after = state(method)
    s, t = after["memory_student"][:8], after["memory_teacher"][:8]  # this batch's embeddings, written in rows 0-7
    np.testing.assert_allclose(np.linalg.norm(s, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(after["memory_student"][8:], before["memory_student"][8:])
    assert after["write_position"] == 8
    T = method.option("nce_temperature")
    z_s, z_t = np_crd_noise_scale(s, t, before["memory_teacher"], T), np_crd_noise_scale(t, s, before["memory_student"], T)
    np.testing.assert_allclose([after["z_student_anchor"], after["z_teacher_anchor"]], [z_s, z_t], rtol=1e-4)
    expected = 0.8 * (np_crd_nce(s, t, before["memory_teacher"], z_s, T) + np_crd_nce(t, s, before["memory_student"], z_t, T))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(losses["loss_crd"]), expected, rtol=1e-4)

    distiller.compute_losses(x, y, distiller.teacher_targets(x), 0, training=True)  # 8 more rows: wraps around 12
    again = state(method)
    assert again["write_position"] == 4
    # rows 8-11 took images 0-3 and rows 0-3 images 4-7, the same embeddings as the first step wrote to rows 4-7
    np.testing.assert_allclose(again["memory_student"][:4], again["memory_student"][4:8], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(again["memory_student"][8:12], after["memory_student"][:4], rtol=1e-5, atol=1e-6)
    assert again["z_student_anchor"] == after["z_student_anchor"]  # estimated once
    distiller.compute_losses(x, y, distiller.teacher_targets(x), 0, training=False)
    assert all(np.array_equal(again[k], v) for k, v in state(method).items())


def test_the_compiled_step_updates_the_memory_and_saves_it(seeded, tmp_path):
    distiller = Distiller(tiny("cnn"), tiny("vit"), method="crd", nce_k=16, feat_dim=8, w_kd=1.0)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=12)
    history = distiller.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert {"loss_crd", "loss_kd"} <= set(history)
    assert int(keras.ops.convert_to_numpy(distiller.method.write_position)) == 12
    distiller.save(tmp_path / "crd.keras")
    loaded = keras.saving.load_model(tmp_path / "crd.keras")
    for k, v in state(distiller.method).items():
        np.testing.assert_array_equal(state(loaded.method)[k], v)
