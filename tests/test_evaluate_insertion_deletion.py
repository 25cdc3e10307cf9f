"""Deletion / insertion curves (Petsiuk et al. 2018) and ABPC (M4) against closed forms on a
linear model f(x) = sum(w x), seeds and refused input."""
import numpy as np
import pytest

import xaibench as xb
from metrics_common import CountCalls, counting_model, linear_model

H, W = 8, 6


def trapezoid(v, t):
    """The trapezoid rule (np.trapz is gone in numpy 2)."""
    return float(((v[1:] + v[:-1]) * np.diff(t) / 2).sum())


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(7)
    w = rng.normal(size=(H, W, 1)).astype(np.float32)
    x = rng.normal(size=(3, H, W, 1)).astype(np.float32)
    return linear_model(w), w, x


def test_curves_and_aucs_closed_form(linear):
    model, w, x = linear
    R = w * x
    out = xb.evaluate.insertion_deletion(model, x, R, y=0, steps=12, deletion_baseline=0.0,
                                         insertion_baseline="zero", output="logit")
    frac = np.arange(13) / 12
    np.testing.assert_allclose(out["fraction"], frac)
    for n in range(3):
        s = np.sort(R[n].ravel())[::-1].astype(np.float64)          # most relevant first
        top = np.concatenate([[0], np.cumsum(s)])[np.arange(13) * 4]  # 4 pixels per step
        np.testing.assert_allclose(out["deletion"][n], s.sum() - top, atol=1e-4)
        np.testing.assert_allclose(out["insertion"][n], top, atol=1e-4)
        np.testing.assert_allclose(out["deletion_auc"][n], trapezoid(s.sum() - top, frac), atol=1e-4)
        np.testing.assert_allclose(out["insertion_auc"][n], trapezoid(top, frac), atol=1e-4)
    # a constant baseline c: deletion replaces by c, insertion starts from c everywhere
    out = xb.evaluate.insertion_deletion(model, x, R, y=0, steps=48, deletion_baseline=0.5,
                                         insertion_baseline=0.5, output="logit")
    for n in range(3):
        order = np.argsort(-R[n].ravel(), kind="stable")
        xv, wv = x[n].ravel().astype(np.float64), w.ravel().astype(np.float64)
        for k in (0, 10, 48):
            d, i = xv.copy(), np.full_like(xv, 0.5)
            d[order[:k]] = 0.5
            i[order[:k]] = xv[order[:k]]
            assert abs(out["deletion"][n, k] - wv @ d) < 1e-4
            assert abs(out["insertion"][n, k] - wv @ i) < 1e-4


def test_blurred_insertion_baseline_starts_at_the_blurred_image(linear):
    from scipy import ndimage
    model, w, x = linear
    out = xb.evaluate.insertion_deletion(model, x, w * x, y=0, steps=4, blur_sigma=1.0,
                                         output="logit")
    blur = ndimage.gaussian_filter(x.astype(np.float64), (0, 1, 1, 0), mode="reflect",
                                   truncate=3.0)
    np.testing.assert_allclose(out["insertion"][:, 0], (w * blur).sum((1, 2, 3)), atol=1e-4)
    np.testing.assert_allclose(out["insertion"][:, -1], (w * x).sum((1, 2, 3)), atol=1e-4)


def test_abpc_closed_form(linear):
    model, w, x = linear
    R = w * x
    res = xb.evaluate.abpc(model, x, R, y=0, region=2, steps=12, perturbation="zero", repeats=1)
    for n in range(3):
        s = np.sort(R[n, ..., 0].reshape(4, 2, 3, 2).sum((1, 3)).ravel()).astype(np.float64)
        top = np.concatenate([[0], np.cumsum(s[::-1])])   # removed by MoRF after k steps
        bottom = np.concatenate([[0], np.cumsum(s)])      # removed by LeRF
        # f_lerf(k) - f_morf(k) = top_k - bottom_k; ABPC = their mean over k = 0..L
        assert abs(res["abpc"][n] - np.mean(top - bottom)) < 1e-4
    a_m = xb.evaluate.aopc(res["morf"])
    a_l = xb.evaluate.aopc(res["lerf"])
    np.testing.assert_allclose(res["abpc"], a_m - a_l, atol=1e-5)
    assert np.all(res["abpc"] > 0)


def test_same_seed_same_numbers(linear):
    model, w, x = linear
    R = np.round(w * x)                                   # ties: broken by the seed
    a = xb.evaluate.insertion_deletion(model, x, R, y=0, steps=6, seed=1)
    b = xb.evaluate.insertion_deletion(model, x, R, y=0, steps=6, seed=1, batch_size=3)
    np.testing.assert_allclose(a["deletion"], b["deletion"], atol=1e-6)
    np.testing.assert_allclose(a["insertion"], b["insertion"], atol=1e-6)


def test_bad_input_is_refused_before_any_model_call():
    model = counting_model()
    x = np.zeros((2, 12, 12, 1), np.float32)
    R = np.ones((2, 12, 12), np.float32)
    CountCalls.calls = 0
    with pytest.raises(ValueError, match="heatmap must have x's shape"):
        xb.evaluate.insertion_deletion(model, x, R[..., None, None])
    with pytest.raises(ValueError, match="steps"):
        xb.evaluate.insertion_deletion(model, x, R, steps=145)
    with pytest.raises(ValueError, match="baseline"):
        xb.evaluate.insertion_deletion(model, x, R, deletion_baseline="uniform")
    with pytest.raises(ValueError, match="heatmap must have x's shape"):
        xb.evaluate.abpc(model, x, R[:, 1:])
    assert CountCalls.calls == 0


def test_grey_images_without_a_channel_axis(linear):
    """A model of (N, H, W) grey images (``Input((H, W))``): the curves keep the closed form
    (deletion at step k = sum of the relevance not yet removed), and every metric that
    perturbs images equals that of the same model taking (N, H, W, 1)."""
    channel, w, x = linear
    grey, xg, Rg = linear_model(w[..., 0]), x[..., 0], (w * x)[..., 0]
    out = xb.evaluate.insertion_deletion(grey, xg, Rg, y=0, steps=12, output="logit")
    s = np.sort(Rg[0].ravel())[::-1].astype(np.float64)
    np.testing.assert_allclose(out["deletion"][0], s.sum() - np.concatenate(
        [[0], np.cumsum(s)])[np.arange(13) * 4], atol=1e-4)
    mask = np.zeros((3, H, W), bool)
    mask[:, 2:5, 1:4] = True
    for metric in (
            lambda m, x, R: xb.evaluate.insertion_deletion(m, x, R, steps=12),
            lambda m, x, R: xb.evaluate.perturbation_curve(m, x, R, region=2, steps=6, seed=1),
            lambda m, x, R: xb.evaluate.road(m, x, R, fractions=(0.2, 0.5), seed=1),
            lambda m, x, R: xb.evaluate.faithfulness_correlation(m, x, R, subset_size=6,
                                                                 runs=8, seed=1),
            lambda m, x, R: xb.evaluate.confidence_drop(m, x, R, seed=1),
            lambda m, x, R: xb.evaluate.kept_score(m, x, R),
            lambda m, x, R: xb.evaluate.object_occlusion(m, x, masks=mask)):
        got, want = (r if isinstance(r, dict) else vars(r) for r in
                     (metric(grey, xg, Rg), metric(channel, x, w * x)))
        arrays = [k for k, v in want.items() if isinstance(v, np.ndarray) and v.dtype != object]
        assert len(arrays) >= 2
        for key in arrays:
            np.testing.assert_allclose(got[key], want[key], rtol=1e-6, atol=1e-6, err_msg=key)
