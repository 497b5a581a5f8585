"""Loss functions against numpy references."""

import numpy as np
import pytest
from keras import ops

from tas_keras import layers, losses

pytestmark = pytest.mark.core
rng = np.random.default_rng(0)


def np_log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def to_np(x):
    return ops.convert_to_numpy(x)


def test_kd_loss_matches_numpy_and_is_not_kl_on_raw_logits():
    t, s = rng.normal(size=(6, 10)).astype("float32") * 3, rng.normal(size=(6, 10)).astype("float32") * 3
    T = 4.0
    log_pt, log_ps = np_log_softmax(t / T), np_log_softmax(s / T)
    want = (np.exp(log_pt) * (log_pt - log_ps)).sum(-1).mean() * T * T
    np.testing.assert_allclose(to_np(losses.kd_loss(t, s, T)), want, rtol=1e-5)
    assert to_np(losses.kd_loss(t, t, T)) == pytest.approx(0.0, abs=1e-6)
    per_sample = to_np(losses.kd_loss(t, s, T, reduction="none"))
    assert per_sample.shape == (6,) and per_sample.mean() == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kd_loss_is_keras_logits_distillation_with_a_kl_divergence_instance(temperature):
    """Users coming from keras.distillation.Distiller get the same `kd` term here, as long as they gave
    LogitsDistillation a KLDivergence instance (its softmax-then-T^2 branch)."""
    distillation = pytest.importorskip("keras.distillation")
    import keras

    t, s = rng.normal(size=(8, 10)).astype("float32") * 2, rng.normal(size=(8, 10)).astype("float32") * 2
    theirs = distillation.LogitsDistillation(temperature=temperature, loss=keras.losses.KLDivergence()).compute_loss(t, s)
    np.testing.assert_allclose(to_np(losses.kd_loss(t, s, temperature)), to_np(theirs), rtol=1e-5, atol=1e-6)


def test_keras_default_logits_distillation_is_kl_on_raw_logits():
    """The README's claim about Keras (3.12-3.15): LogitsDistillation's default loss="kl_divergence"
    becomes a function, misses the isinstance(KLDivergence) branch, and takes the KL of the clipped
    temperature-scaled logits without T^2. When a Keras release fixes it, this fails: update the README."""
    distillation = pytest.importorskip("keras.distillation")
    import keras

    t, s = rng.normal(size=(8, 10)).astype("float32") * 2, rng.normal(size=(8, 10)).astype("float32") * 2
    temperature = 2.0
    default = to_np(distillation.LogitsDistillation(temperature=temperature).compute_loss(t, s))
    on_logits = to_np(ops.mean(keras.losses.kl_divergence(t / temperature, s / temperature)))
    np.testing.assert_allclose(default, on_logits, rtol=1e-6)
    assert abs(default - to_np(losses.kd_loss(t, s, temperature))) > 1.0


def test_cross_entropy_integer_soft_and_smoothed_labels():
    logits = rng.normal(size=(5, 4)).astype("float32")
    y = np.array([0, 1, 2, 3, 1])
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(to_np(losses.cross_entropy(y, logits)), -(onehot * np_log_softmax(logits)).sum(-1).mean(), rtol=1e-5)
    soft = rng.dirichlet(np.ones(4), size=5).astype("float32")
    np.testing.assert_allclose(to_np(losses.cross_entropy(soft, logits)), -(soft * np_log_softmax(logits)).sum(-1).mean(), rtol=1e-5)
    smooth = onehot * 0.9 + 0.1 / 4
    np.testing.assert_allclose(
        to_np(losses.cross_entropy(y, logits, label_smoothing=0.1)), -(smooth * np_log_softmax(logits)).sum(-1).mean(), rtol=1e-5
    )


def test_a_class_outside_the_logits_is_a_nan_loss_not_a_silent_zero():
    """One-hot of class 4 of 4 is all zeros: without the guard its loss would be 0 and the run would train
    on it silently (labels 1..K instead of 0..K-1); its sample is NaN, the others keep their loss."""
    logits = rng.normal(size=(4, 4)).astype("float32")
    per_sample = to_np(losses.cross_entropy(np.array([[0], [4], [-1], [3]]), logits, label_smoothing=0.1, reduction="none"))
    assert np.isnan(per_sample[1]) and np.isnan(per_sample[2]) and np.isfinite(per_sample[[0, 3]]).all()
    assert np.isnan(to_np(losses.cross_entropy(np.array([0, 4, 1, 3]), logits)))
    assert np.isfinite(to_np(losses.ClassificationLoss()(np.array([0, 1, 2, 3]), logits)))


def np_info_nce(q, k, T, offset=0, classes=None, key_classes=None):
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    k = k / np.linalg.norm(k, axis=1, keepdims=True)
    logits = q @ k.T / T
    if classes is not None:  # drop the other images of the query's class from its negatives
        for i, c in enumerate(classes):
            for j, d in enumerate(key_classes):
                if j != offset + i and d == c:
                    logits[i, j] = -np.inf
    logp = np_log_softmax(logits)
    return -logp[np.arange(len(q)), np.arange(len(q)) + offset]


def test_info_nce_matches_numpy():
    q, k = rng.normal(size=(8, 16)).astype("float32"), rng.normal(size=(8, 16)).astype("float32")
    np.testing.assert_allclose(to_np(losses.info_nce(q, k, 0.07)), np_info_nce(q, k, 0.07).mean(), rtol=1e-4)
    sym = 0.5 * (np_info_nce(q, k, 0.5) + np_info_nce(k, q, 0.5))
    np.testing.assert_allclose(to_np(losses.info_nce(q, k, 0.5, symmetric=True)), sym.mean(), rtol=1e-4)


def test_info_nce_with_more_keys_and_an_offset():
    # a replica holding images 4..7 of a global batch of 12 keys
    q, k = rng.normal(size=(4, 8)).astype("float32"), rng.normal(size=(12, 8)).astype("float32")
    np.testing.assert_allclose(
        to_np(losses.info_nce(q, k, 0.1, positive_offset=4)), np_info_nce(q, k, 0.1, offset=4).mean(), rtol=1e-4
    )


def test_info_nce_can_leave_same_class_images_out_of_the_negatives():
    # a replica holding images 4..7 of a global batch of 12 keys (the keys' classes gathered with them)
    q, k = rng.normal(size=(4, 8)).astype("float32"), rng.normal(size=(12, 8)).astype("float32")
    key_classes = np.array([5, 1, 6, 7, 1, 0, 1, 1, 8, 9, 5, 6])
    classes = key_classes[4:8]
    masked = to_np(losses.info_nce(q, k, 0.1, positive_offset=4, classes=classes, key_classes=key_classes, reduction="none"))
    np.testing.assert_allclose(masked, np_info_nce(q, k, 0.1, 4, classes, key_classes), rtol=1e-4)
    plain = to_np(losses.info_nce(q, k, 0.1, positive_offset=4, reduction="none"))
    assert masked[1] == pytest.approx(plain[1], rel=1e-5) and (masked[[0, 2, 3]] < plain[[0, 2, 3]]).all()
    # one class, its own keys: only the positive is left, a loss of 0
    one_class = np.zeros(4, "int32")
    assert to_np(losses.info_nce(q, q, 0.1, classes=one_class, key_classes=one_class)) == pytest.approx(0.0, abs=1e-6)


def test_info_nce_is_low_for_aligned_pairs():
    k = rng.normal(size=(16, 32)).astype("float32")
    aligned = to_np(losses.info_nce(k * 2.0, k, 0.07))
    shuffled = to_np(losses.info_nce(k[::-1].copy(), k, 0.07))
    assert aligned < 0.01 < shuffled


def test_spatial_smooth_maps_and_tokens():
    fmap = rng.normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(to_np(layers.spatial_smooth(fmap)), fmap.mean((1, 2)), rtol=1e-5)
    grid2 = fmap.reshape(2, 2, 2, 2, 2, 3).mean((2, 4)).reshape(2, 12)
    np.testing.assert_allclose(to_np(layers.spatial_smooth(fmap, grid=2)), grid2, rtol=1e-5)
    tokens = np.concatenate([np.full((2, 1, 3), 100.0, "float32"), fmap.reshape(2, 16, 3)], axis=1)  # class token first
    np.testing.assert_allclose(
        to_np(layers.spatial_smooth(tokens, grid=2, layout="tokens", num_prefix_tokens=1)), grid2, rtol=1e-5
    )


@pytest.mark.parametrize("grid", [0, 3, 1.5])
def test_spatial_smooth_rejects_bad_grids(grid):
    with pytest.raises(ValueError, match="grid"):
        layers.spatial_smooth(np.zeros((1, 4, 4, 2), "float32"), grid=grid)


def test_ofa_loss_matches_numpy():
    t, s = rng.normal(size=(6, 5)).astype("float32"), rng.normal(size=(6, 5)).astype("float32")
    y = np.array([0, 1, 2, 3, 4, 0])
    onehot = np.eye(5)[y]
    for eps in (1.0, 1.5):
        pt = np.exp(np_log_softmax(t))
        want = (-((pt + onehot) ** eps - onehot) * np_log_softmax(s)).sum(-1).mean()
        np.testing.assert_allclose(to_np(losses.ofa_loss(t, s, y, eps=eps)), want, rtol=1e-5)


def test_feature_mse_matches_numpy():
    a, b = rng.normal(size=(3, 2, 2, 4)).astype("float32"), rng.normal(size=(3, 2, 2, 4)).astype("float32")
    np.testing.assert_allclose(to_np(losses.feature_mse(a, b)), ((a - b) ** 2).mean(), rtol=1e-5)


def test_bad_temperature_and_reduction():
    with pytest.raises(ValueError, match="temperature"):
        losses.kd_loss(np.zeros((1, 2)), np.zeros((1, 2)), temperature=0)
    with pytest.raises(ValueError, match="reduction"):
        losses.kd_loss(np.zeros((1, 2)), np.zeros((1, 2)), reduction="sum")


def test_loss_wrappers_match_the_functions():
    t, s = rng.normal(size=(4, 6)).astype("float32"), rng.normal(size=(4, 6)).astype("float32")
    assert to_np(losses.KDLoss(2.0)(t, s)) == pytest.approx(float(to_np(losses.kd_loss(t, s, 2.0))), rel=1e-5)
    assert to_np(losses.InfoNCELoss(0.2)(t, s)) == pytest.approx(float(to_np(losses.info_nce(s, t, 0.2))), rel=1e-5)
