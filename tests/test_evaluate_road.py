"""ROAD (Rong et al. 2022): the noisy linear imputation against scipy's direct solve and
Quantus 0.6.0, a linear ramp reproduced, the curve on a linear model by hand, seeds and
refused input."""
import numpy as np
import pytest
from scipy.sparse import csc_matrix, lil_matrix
from scipy.sparse.linalg import spsolve

import xaibench as xb
from metrics_common import CountCalls, counting_model, linear_model

#: the 8-neighbourhood of Rong et al. (Sec. 4.2): 1/6 direct, 1/12 diagonal
WEIGHTS = {(-1, 0): 1 / 6, (1, 0): 1 / 6, (0, -1): 1 / 6, (0, 1): 1 / 6,
           (-1, -1): 1 / 12, (-1, 1): 1 / 12, (1, -1): 1 / 12, (1, 1): 1 / 12}


def system(img, removed):
    """The system written out in scipy: one row per removed pixel; (A, b, their indices)."""
    h, w, c = img.shape
    idx = np.flatnonzero(removed.ravel())
    var = -np.ones(h * w, int)
    var[idx] = np.arange(len(idx))
    A = lil_matrix((len(idx), len(idx)))
    b = np.zeros((len(idx), c))
    for t, p in enumerate(idx):
        i, j = divmod(p, w)
        total = 0.0
        for (di, dj), wt in WEIGHTS.items():
            a, bb = i + di, j + dj
            if 0 <= a < h and 0 <= bb < w:
                total += wt
                if removed[a, bb]:
                    A[t, var[a * w + bb]] -= wt
                else:
                    b[t] += wt * img[a, bb]
        A[t, t] = total
    return csc_matrix(A), b, idx


def spsolve_imputation(img, removed):
    """The system of :func:`system` solved directly."""
    h, w, c = img.shape
    A, b, idx = system(img, removed)
    sol = spsolve(A, b).reshape(len(idx), c)
    out = img.astype(np.float64).reshape(-1, c).copy()
    out[idx] = sol
    return out.reshape(h, w, c)


def test_imputation_equals_spsolve():
    rng = np.random.default_rng(0)
    x = rng.random((4, 20, 17, 3), dtype=np.float32)
    removed = rng.random((4, 20, 17)) < np.array([0.1, 0.5, 0.9, 0.99])[:, None, None]
    removed[3, 2:15, 3:14] = True                       # a large block too
    out = xb.evaluate.linear_imputation(x, removed)
    for i in range(4):
        np.testing.assert_allclose(out[i], spsolve_imputation(x[i], removed[i]), atol=1e-4)
        np.testing.assert_array_equal(out[i][~removed[i]], x[i][~removed[i]])


def test_mixed_precision_solve_meets_tol_in_float64():
    """The float32 inner CG solves with float64 refinement: on a larger RGB image with 90 %
    removed (irregular, with a large hole) and pixel values of the 255 scale, the float64
    residual of the returned solution (scipy's matrix) is <= tol * |b| per channel -- also for
    a tol far below float32's precision (1e-11; spsolve's own residual here is ~4e-8) -- and
    the solution equals spsolve's within 1e-4 (1e-6 of the values' scale)."""
    import importlib
    road_mod = importlib.import_module("xaibench.evaluate.road")
    rng = np.random.default_rng(7)
    x = rng.random((1, 64, 56, 3), dtype=np.float32) * 255 - 128
    removed = rng.random((1, 64, 56)) < 0.9
    removed[0, 8:50, 5:40] = True
    m = removed.astype(np.float32)[..., None]
    A, b, idx = system(x[0].astype(np.float64), removed[0])
    ref = spsolve_imputation(x[0], removed[0])
    for tol in (1e-7, 1e-11):
        out, it = road_mod._impute_fn(x, m, tol, 100000)
        u = out.numpy()[0].reshape(-1, 3)[idx]
        res = np.linalg.norm(A @ u - b, axis=0) / np.linalg.norm(b, axis=0)
        assert np.all(res <= tol), (tol, res)
        assert 0 < int(it) < 1000
        np.testing.assert_allclose(out.numpy()[0], ref, atol=1e-4)
    out = xb.evaluate.linear_imputation(x, removed)[0]
    np.testing.assert_allclose(out, ref, atol=1e-4)
    np.testing.assert_array_equal(out[~removed[0]], x[0][~removed[0]])


def test_linear_ramp_is_reproduced():
    i, j = np.mgrid[0:16, 0:16].astype(np.float32)
    ramp = (0.3 * i - 0.2 * j + 1.0)[None, :, :, None] * np.array([1.0, -2.0], np.float32)
    removed = np.zeros((1, 16, 16), bool)
    removed[0, 3:12, 2:14] = True                       # interior: all 8 neighbours exist
    removed[0, 5, 1] = True
    out = xb.evaluate.linear_imputation(ramp, removed)
    np.testing.assert_allclose(out, ramp, atol=1e-5)
    assert np.abs(xb.evaluate.linear_imputation(np.zeros_like(ramp), removed)).max() == 0


def test_imputation_equals_quantus():
    import quantus

    from quantus.functions.perturb_func import noisy_linear_imputation
    rng = np.random.default_rng(1)
    x = rng.random((3, 14, 14, 2), dtype=np.float32)
    for i in range(3):
        idx = rng.choice(14 * 14, size=(30, 100, 180)[i], replace=False)
        removed = np.zeros(14 * 14, bool)
        removed[idx] = True
        ref = noisy_linear_imputation(np.moveaxis(x[i], -1, 0), idx, noise=0.0)
        ours = xb.evaluate.linear_imputation(x[i:i + 1], removed.reshape(1, 14, 14))[0]
        np.testing.assert_allclose(ours, np.moveaxis(ref, 0, -1), atol=1e-4)
    assert quantus.__version__ == "0.6.0"


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(10, 10, 1)).astype(np.float32)
    x = rng.random((3, 10, 10, 1), dtype=np.float32)
    return linear_model(w), w, x


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_road_curve_equals_hand_computation(linear, order):
    model, w, x = linear
    R = w * x                                            # distinct values: no ties
    fr = (0.0, 0.13, 0.5, 0.9, 1.0)
    out = xb.evaluate.road(model, x, R, fractions=fr, order=order, noise=0.0, y=0)
    assert out["values"].shape == (3, 5) and list(out["pixels"]) == [0, 13, 50, 90, 100]
    for n in range(3):
        h = R[n, ..., 0].ravel()
        rank = np.argsort(-h if order == "morf" else h)
        for f, k in enumerate(out["pixels"]):
            removed = np.zeros(100, bool)
            removed[rank[:k]] = True
            imp = xb.evaluate.linear_imputation(x[n:n + 1], removed.reshape(1, 10, 10))
            if k == 100:
                imp = np.zeros_like(imp)                 # nothing kept: imputed by 0
            assert abs(out["values"][n, f] - float((w * imp[0]).sum())) < 1e-4
    np.testing.assert_allclose(out["values"][:, 0], out["original"], atol=1e-5)


def test_road_accuracy_equals_quantus():
    import quantus

    model = xb.zoo.shipped("digits")
    ds = xb.data.digits()
    x = ds.x[:12]
    R = xb.create_analyzer("gradient", model).analyze(x)
    R = R + np.random.default_rng(0).normal(scale=1e-6, size=R.shape).astype(np.float32)
    y = model.predict(x, verbose=0).argmax(1)
    pct = [5, 20, 40, 60, 80, 95]
    metric = quantus.ROAD(percentages=pct, noise=0.0, abs=False, normalise=False,
                          disable_warnings=True)
    ref = metric(model=model, x_batch=x, y_batch=y, a_batch=np.moveaxis(R, -1, 1),
                 channel_first=False, softmax=False, batch_size=len(x))
    ours = xb.evaluate.road(model, x, R, fractions=np.array(pct) / 100, noise=0.0, y=y)
    assert list(ours["pixels"]) == [int(784 * p / 100) for p in pct]
    np.testing.assert_allclose(ours["accuracy"], [ref[p] for p in pct], atol=1e-9)


def test_same_seed_same_numbers_and_batch_size_does_not_matter(linear):
    model, w, x = linear
    R = w * x
    kw = dict(fractions=(0.2, 0.6), noise=0.05, y=0)
    a = xb.evaluate.road(model, x, R, seed=3, **kw)
    b = xb.evaluate.road(model, x, R, seed=3, batch_size=2, **kw)
    c = xb.evaluate.road(model, x, R, seed=4, **kw)
    np.testing.assert_allclose(a["values"], b["values"], atol=1e-5)
    assert not np.allclose(a["values"], c["values"])
    d = xb.evaluate.road(model, x[1:], R[1:], seed=3, image_ids=[1, 2], **kw)
    np.testing.assert_allclose(a["values"][1:], d["values"], atol=1e-5)
    # the noise is one field per image: a fraction's values do not depend on the others asked
    e = xb.evaluate.road(model, x, R, seed=3, **dict(kw, fractions=(0.6,)))
    np.testing.assert_allclose(a["values"][:, 1:], e["values"], atol=1e-5)


def test_bad_input_is_refused_before_any_model_call():
    model = counting_model()
    x = np.zeros((2, 12, 12, 1), np.float32)
    R = np.ones((2, 12, 12), np.float32)
    CountCalls.calls = 0
    with pytest.raises(ValueError, match="fractions"):
        xb.evaluate.road(model, x, R, fractions=(0.1, 1.5))
    with pytest.raises(ValueError, match="fractions"):
        xb.evaluate.road(model, x, R, fractions=(-0.1,))
    with pytest.raises(ValueError, match="heatmap must have x's shape"):
        xb.evaluate.road(model, x, R[:, :11])
    with pytest.raises(ValueError, match="order"):
        xb.evaluate.road(model, x, R, order="random")
    with pytest.raises(ValueError, match="noise"):
        xb.evaluate.road(model, x, R, noise=-1)
    with pytest.raises(ValueError, match="out of range"):
        xb.evaluate.road(model, x, R, y=5)
    assert CountCalls.calls == 0
    xb.evaluate.road(model, x, R, fractions=(0.5,))
    assert CountCalls.calls > 0


def test_original_scores_equal_predict():
    """The unperturbed scores (a traced model call, not Keras predict) equal model.predict,
    for logits and probabilities, also across batches."""
    model = xb.zoo.shipped("digits")
    x = xb.data.digits().x[:7]
    f = model.predict(x, verbose=0)
    y = f.argmax(1)
    out = xb.evaluate.road(model, x, np.ones(x.shape, np.float32), fractions=(0.5,),
                           batch_size=3)
    np.testing.assert_array_equal(out["y"], y)
    from xaibench.prepare import logits_model
    logits = logits_model(model).predict(x, verbose=0)
    np.testing.assert_allclose(out["original"], logits[np.arange(7), y], rtol=1e-5, atol=1e-5)
    prob = xb.evaluate.road(model, x, np.ones(x.shape, np.float32), fractions=(0.5,),
                            output="probability")["original"]
    np.testing.assert_allclose(prob, f[np.arange(7), y], rtol=1e-5, atol=1e-6)
