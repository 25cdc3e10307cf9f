"""Prediction difference (Seo Alg. 2) against a loop-by-loop numpy re-derivation
sharing only the noise generator, and the noise generator's own properties."""
import numpy as np
import pytest

import xaibench as xb
from xaibench.analyzers.perturbation._kernels import normal_noise
from test_perturbation_common import count_of, linear_model, softmax

H, W, C, K = 9, 8, 2, 3


def _reference(x, w, b, k, l, r, stride, seed, difference="probability", marginal=None,
               laplace_n=10000, target=None):
    """Alg. 2 literally: every window, r resamples of x_in from the ring's normal, g, s / c."""
    n = len(x)
    rows = sorted(set(list(range(0, H - k + 1, stride)) + [H - k]))
    cols = sorted(set(list(range(0, W - k + 1, stride)) + [W - k]))
    pad = (l - k) // 2
    out = np.zeros((n, H, W))
    for i in range(n):
        p_all = softmax(x[i].reshape(-1) @ w + b)
        c = int(np.argmax(p_all)) if target is None else target
        acc, cnt = np.zeros((H, W)), np.zeros((H, W))
        for wi, (a, q) in enumerate([(a, q) for a in rows for q in cols]):
            # the l x l outer window around the inner one, moved inside the image at its border
            y0, z0 = max(0, min(a - pad, H - l)), max(0, min(q - pad, W - l))
            ring = [x[i, y, z] for y in range(y0, min(H, y0 + l)) for z in range(z0, min(W, z0 + l))
                    if not (a <= y < a + k and q <= z < q + k)]
            if marginal is None:
                assert len(ring) == min(l, H) * min(l, W) - k * k
                mu, sd = np.mean(ring, axis=0), np.std(ring, axis=0)
            noise = normal_noise(seed, np.arange(wi * r, wi * r + r), (k, k, C)).numpy()
            ps = []
            for j in range(r):
                xp = x[i].astype(np.float64).copy()
                if marginal is None:
                    xp[a:a + k, q:q + k] = mu + sd * noise[j]
                else:
                    xp[a:a + k, q:q + k] = (marginal[0][a:a + k, q:q + k]
                                             + marginal[1][a:a + k, q:q + k] * noise[j])
                ps.append(softmax(xp.reshape(-1) @ w + b)[c])
            pw, p = np.mean(ps), p_all[c]
            if difference == "probability":
                g = p - pw
            else:
                lo = lambda v: np.log2(((v * laplace_n + 1) / (laplace_n + K))
                                       / (1 - (v * laplace_n + 1) / (laplace_n + K)))
                g = lo(p) - lo(pw)
            acc[a:a + k, q:q + k] += g
            cnt[a:a + k, q:q + k] += 1
        out[i] = acc / cnt
    return out


@pytest.fixture(scope="module")
def setup():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, H, W, C)).astype(np.float32)
    model, w, b = linear_model((H, W, C), K, activation="softmax", seed=1, counted=True)
    return x, model, w.astype(np.float64), b.astype(np.float64)


@pytest.mark.parametrize("difference", ["probability", "weight_of_evidence"])
def test_matches_algorithm_2(setup, difference):
    x, model, w, b = setup
    an = xb.create_analyzer("prediction_difference", model, inner=3, outer=6, samples=3,
                            stride=2, seed=11, difference=difference, batch_size=32)
    r = an.analyze(x)
    ref = _reference(x, w, b, 3, 6, 3, 2, 11, difference)
    # log-odds of float32 probabilities near 1 carry ~1e-4 relative rounding
    atol = 1e-5 if difference == "probability" else 1e-3
    np.testing.assert_allclose(r[..., 0], ref, rtol=1e-3, atol=atol)
    assert np.all(r[..., 0] == r[..., 1])
    assert an.stats["model_images"] == 2 + 2 * (4 * 4) * 3  # 4 x 4 windows, r = 3


def test_marginal_sampling_from_x_train(setup):
    x, model, w, b = setup
    x_train = np.random.default_rng(5).normal(1.0, 2.0, size=(50, H, W, C)).astype(np.float32)
    an = xb.create_analyzer("prediction_difference", model, inner=4, outer=5, samples=2,
                            stride=4, seed=3, x_train=x_train)
    r = an.analyze(x, 1)
    ref = _reference(x, w, b, 4, 5, 2, 4, 3, marginal=(x_train.mean(0), x_train.std(0)),
                     target=1)
    np.testing.assert_allclose(r[..., 0], ref, rtol=1e-3, atol=1e-5)


def test_seed_and_batch_size(setup):
    x, model, _, _ = setup
    make = lambda **kw: xb.create_analyzer("prediction_difference", model, inner=2, outer=4,
                                           samples=2, stride=3, **kw)
    a = make(seed=1, batch_size=64).analyze(x)
    np.testing.assert_array_equal(a, make(seed=1, batch_size=64).analyze(x))
    np.testing.assert_allclose(a, make(seed=1, batch_size=5).analyze(x), atol=1e-6)
    assert not np.allclose(a, make(seed=2, batch_size=64).analyze(x), atol=1e-6)


def test_noise_is_standard_normal_and_seeded():
    z = normal_noise(0, np.arange(200), (20, 25, 2)).numpy()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert abs(np.corrcoef(z[:-1].ravel(), z[1:].ravel())[0, 1]) < 0.01
    np.testing.assert_array_equal(z[5:9], normal_noise(0, np.arange(5, 9), (20, 25, 2)).numpy())
    assert not np.allclose(z[:4], normal_noise(1, np.arange(4), (20, 25, 2)).numpy())


@pytest.mark.parametrize("params,msg", [
    ({"inner": 4, "outer": 4}, "larger than inner"), ({"inner": 5, "outer": 3}, "l > k"),
    ({"inner": 8}, "inner < 8"), ({"samples": 0}, "samples"),
    ({"difference": "woe"}, "difference"),
    ({"difference": "weight_of_evidence", "output": "logit"}, "probabilities"),
])
def test_bad_parameters_are_refused_before_any_model_call(params, msg):
    model, _, _ = linear_model((8, 8, 1), 2, counted=True)
    with pytest.raises((ValueError, TypeError), match=msg):
        xb.create_analyzer("prediction_difference", model, **params).analyze(np.zeros((1, 8, 8, 1)))
    assert count_of(model) == 0
