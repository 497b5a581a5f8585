"""DKD, DIST, the RSD cross-correlation and CRD's NCE against direct numpy computations of their formulas
(values on random inputs; for one case each, gradients against finite differences of the numpy formula)."""

import numpy as np
import pytest
from keras import ops

from tas_keras import losses

from ..quick import backend_grad

pytestmark = pytest.mark.core
rng = np.random.default_rng(3)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def kl(p, q):
    return (p * (np.log(p) - np.log(q))).sum(-1)


def np_dkd(t, s, y, alpha, beta, T):
    """TCKD on the binary (target, rest) split; NCKD on the non-target classes renormalised."""
    p_t, p_s = softmax(t / T), softmax(s / T)
    rows = np.arange(len(y))
    b_t = np.stack([p_t[rows, y], 1 - p_t[rows, y]], -1)
    b_s = np.stack([p_s[rows, y], 1 - p_s[rows, y]], -1)
    mask = np.ones_like(p_t, dtype=bool)
    mask[rows, y] = False
    nt_t = p_t[mask].reshape(len(y), -1)
    nt_s = p_s[mask].reshape(len(y), -1)
    nt_t, nt_s = nt_t / nt_t.sum(-1, keepdims=True), nt_s / nt_s.sum(-1, keepdims=True)
    return ((alpha * kl(b_t, b_s) + beta * kl(nt_t, nt_s)) * T * T).mean()


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return (a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum())


def np_dist(t, s, beta, gamma, T):
    y_t, y_s = softmax(t / T), softmax(s / T)
    inter = 1 - np.mean([pearson(y_s[i], y_t[i]) for i in range(len(y_t))])
    intra = 1 - np.mean([pearson(y_s[:, k], y_t[:, k]) for k in range(y_t.shape[1])])
    return T * T * (beta * inter + gamma * intra)


def np_cross_correlation(zs, zt, lam, eps=1e-5):
    def standardise(z):
        z = z - z.mean(0)
        return z / np.sqrt((z * z).mean(0) + eps)

    c = standardise(zs).T @ standardise(zt) / len(zs)
    d = c.shape[0]
    off = c[~np.eye(d, dtype=bool)]
    return (((1 - np.diag(c)) ** 2).sum() + lam * (off**2).sum()) / d


def finite_difference(fn, x, h=1e-5):
    x = x.astype(np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (fn(up) - fn(down)) / (2 * h)
    return grad


def test_dkd_matches_its_formula():
    for alpha, beta, T in [(1.0, 8.0, 4.0), (0.5, 2.0, 1.0)]:
        t, s = rng.normal(size=(6, 7)) * 3, rng.normal(size=(6, 7)) * 3
        y = rng.integers(0, 7, size=6)
        got = ops.convert_to_numpy(losses.dkd_loss(t.astype("float32"), s.astype("float32"), y, alpha, beta, T))
        np.testing.assert_allclose(got, np_dkd(t, s, y, alpha, beta, T), rtol=1e-4)
    # soft labels count as their arg-max class
    soft = np.eye(7)[y] * 0.8 + 0.2 / 7
    got = ops.convert_to_numpy(losses.dkd_loss(t.astype("float32"), s.astype("float32"), soft.astype("float32"), 0.5, 2.0, 1.0))
    np.testing.assert_allclose(got, np_dkd(t, s, y, 0.5, 2.0, 1.0), rtol=1e-4)


def test_dkd_gradient_matches_finite_differences():
    t, s = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    y = np.array([0, 3, 4])
    got = backend_grad(lambda v: losses.dkd_loss(t.astype("float32"), v, y, 1.0, 8.0, 4.0), s.astype("float32"))
    np.testing.assert_allclose(got, finite_difference(lambda v: np_dkd(t, v, y, 1.0, 8.0, 4.0), s), rtol=2e-3, atol=1e-4)


def test_dist_matches_its_formula():
    for beta, gamma, T in [(2.0, 2.0, 4.0), (1.0, 0.5, 1.0)]:
        t, s = rng.normal(size=(8, 6)) * 2, rng.normal(size=(8, 6)) * 2
        got = ops.convert_to_numpy(losses.dist_loss(t.astype("float32"), s.astype("float32"), beta, gamma, T))
        np.testing.assert_allclose(got, np_dist(t, s, beta, gamma, T), rtol=1e-4)
    assert float(ops.convert_to_numpy(losses.dist_loss(t.astype("float32"), t.astype("float32")))) == pytest.approx(0.0, abs=1e-4)


def test_dist_gradient_matches_finite_differences():
    t, s = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    got = backend_grad(lambda v: losses.dist_loss(t.astype("float32"), v, 2.0, 2.0, 4.0), s.astype("float32"))
    np.testing.assert_allclose(got, finite_difference(lambda v: np_dist(t, v, 2.0, 2.0, 4.0), s), rtol=2e-3, atol=1e-4)


def test_cross_correlation_matches_its_formula():
    zs, zt = rng.normal(size=(16, 6)), rng.normal(size=(16, 6))
    for lam in (5e-3, 1.0):
        got = ops.convert_to_numpy(losses.cross_correlation_loss(zs.astype("float32"), zt.astype("float32"), lam))
        np.testing.assert_allclose(got, np_cross_correlation(zs, zt, lam), rtol=1e-4)
    # identical embeddings: the diagonal is 1, only the off-diagonal part remains
    same = ops.convert_to_numpy(losses.cross_correlation_loss(zs.astype("float32"), zs.astype("float32"), 0.0))
    assert float(same) == pytest.approx(0.0, abs=1e-4)


def test_cross_correlation_gradient_matches_finite_differences():
    zs, zt = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    got = backend_grad(lambda v: losses.cross_correlation_loss(v, zt.astype("float32"), 0.1), zs.astype("float32"))
    np.testing.assert_allclose(got, finite_difference(lambda v: np_cross_correlation(v, zt, 0.1), zs), rtol=2e-3, atol=1e-4)


def normalise(z):
    return z / np.linalg.norm(z, axis=-1, keepdims=True)


def np_crd_noise_scale(a, p, n, T):
    return np.concatenate([np.exp((a * p).sum(-1) / T), np.exp(a @ n.T / T).ravel()]).mean()


def np_crd_nce(a, p, n, z, T):
    """CRD's code: P = e / Z with Z = z * M, h = P / (P + K / M); loss = -log h(pos) - sum log(1 - h(neg))."""
    m, k = 5000.0, len(n)  # any dataset size M: it cancels
    h = lambda e: (e / (z * m)) / (e / (z * m) + k / m)
    return (-np.log(h(np.exp((a * p).sum(-1) / T))) - np.log(1 - h(np.exp(a @ n.T / T))).sum(-1)).mean()


def test_crd_nce_matches_its_formula():
    a, p, n = normalise(rng.normal(size=(6, 8))), normalise(rng.normal(size=(6, 8))), normalise(rng.normal(size=(20, 8)))
    for T in (0.07, 0.5):
        z = np_crd_noise_scale(a, p, n, T)
        got_z = ops.convert_to_numpy(losses.crd_noise_scale(a.astype("float32"), p.astype("float32"), n.astype("float32"), T))
        np.testing.assert_allclose(got_z, z, rtol=1e-4)
        got = ops.convert_to_numpy(losses.crd_nce_loss(a.astype("float32"), p.astype("float32"), n.astype("float32"), z, T))
        np.testing.assert_allclose(got, np_crd_nce(a, p, n, z, T), rtol=1e-4)
    # a positive that matches its anchor scores a lower loss than a random one
    assert float(losses.crd_nce_loss(a, a, n, 1.0, 0.07)) < float(losses.crd_nce_loss(a, p, n, 1.0, 0.07))


def test_crd_nce_gradient_matches_finite_differences():
    a, p, n = rng.normal(size=(3, 4)), normalise(rng.normal(size=(3, 4))), normalise(rng.normal(size=(5, 4)))
    got = backend_grad(lambda v: losses.crd_nce_loss(v, p.astype("float32"), n.astype("float32"), 1.3, 0.5), a.astype("float32"))
    np.testing.assert_allclose(got, finite_difference(lambda v: np_crd_nce(v, p, n, 1.3, 0.5), a), rtol=2e-3, atol=1e-4)
