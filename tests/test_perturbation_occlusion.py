"""Occlusion against the closed form of a linear model and a brute-force loop."""
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

import xaibench as xb
from test_perturbation_common import count_of, linear_model


def test_linear_model_zero_fill_stride_patch_is_patch_sum():
    """f(x) = sum(w * x): the drop of a zero-filled patch is sum over the patch of w * x."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 8, 12, 2)).astype(np.float32)
    model, w, _ = linear_model((8, 12, 2), 1, bias=False, seed=5)
    r = xb.create_analyzer("occlusion", model, patch=4, fill=0.0, output="logit").analyze(x)
    wx = x * w[:, 0].reshape(8, 12, 2)
    expected = wx.reshape(3, 2, 4, 3, 4, 2).sum(axis=(2, 4, 5))       # (3, 2, 3) patch sums
    expected = np.repeat(np.repeat(expected, 4, axis=1), 4, axis=2)
    np.testing.assert_allclose(r, np.repeat(expected[..., None], 2, axis=-1), rtol=1e-4,
                               atol=1e-4)


def _brute_force(x, w, patch, stride, fill_img):
    """Loop over every window, average the drops per pixel (linear model closed form)."""
    n, h, wd, c = x.shape
    wimg = w[:, 0].reshape(h, wd, c)
    acc, cnt = np.zeros((n, h, wd)), np.zeros((h, wd))
    rows = sorted(set(list(range(0, h - patch + 1, stride)) + [h - patch]))
    cols = sorted(set(list(range(0, wd - patch + 1, stride)) + [wd - patch]))
    for r in rows:
        for q in cols:
            sl = (slice(None), slice(r, r + patch), slice(q, q + patch))
            drop = ((x[sl] - fill_img[sl]) * wimg[r:r + patch, q:q + patch]).sum(axis=(1, 2, 3))
            acc[sl] += drop[:, None, None]
            cnt[r:r + patch, q:q + patch] += 1
    return acc / cnt


@pytest.mark.parametrize("fill", [0.5, "mean", "blur"])
def test_overlapping_windows_are_averaged(fill):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 9, 7, 3)).astype(np.float32)
    model, w, _ = linear_model((9, 7, 3), 1, seed=2, counted=True)
    an = xb.create_analyzer("occlusion", model, patch=3, stride=2, fill=fill, batch_size=16)
    r = an.analyze(x)
    if fill == "mean":
        f = np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape)
    elif fill == "blur":
        f = np.stack([gaussian_filter(i, sigma=(1.5, 1.5, 0), mode="reflect") for i in x])
    else:
        f = np.full_like(x, fill)
    ref = _brute_force(x.astype(np.float64), w.astype(np.float64), 3, 2, f)
    np.testing.assert_allclose(r, np.repeat(ref[..., None], 3, axis=-1), rtol=1e-4, atol=1e-4)
    # 4 x 3 windows per image plus the clean pass, 2 images packed in ceil(26 / 16) calls
    assert count_of(model) == 2 + 2 * 4 * 3
    assert an.stats["model_calls"] == 1 + 2


@pytest.mark.parametrize("params", [{"patch": 9}, {"patch": 0}, {"patch": 2, "stride": 0},
                                    {"fill": "noise"}])
def test_bad_parameters_are_refused_before_any_model_call(params):
    model, _, _ = linear_model((8, 8, 1), 2, counted=True)
    with pytest.raises((ValueError, TypeError)) as err:
        xb.create_analyzer("occlusion", model, **params).analyze(np.zeros((1, 8, 8, 1)))
    assert count_of(model) == 0
    if params == {"patch": 9}:
        assert "larger than the 8x8 image" in str(err.value)
