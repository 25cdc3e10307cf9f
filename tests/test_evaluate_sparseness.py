"""Sparseness (Gini index of |R|, Chalasani et al. 2020): closed forms and Quantus 0.6.0."""
import numpy as np
import pytest

import xaibench as xb


def test_closed_forms():
    R = np.zeros((3, 4, 5), np.float32)
    R[0] = 1.0                                           # uniform: 0
    R[1, 2, 3] = -7.0                                    # one pixel: (n - 1) / n
    R[2, :2] = np.arange(10).reshape(2, 5)
    g = xb.evaluate.sparseness(R, eps=0.0)
    a = np.sort(np.abs(R[2]).ravel())
    i = np.arange(1, 21)
    np.testing.assert_allclose(g, [0.0, 19 / 20, ((2 * i - 21) * a).sum() / (20 * a.sum())],
                               atol=1e-12)
    assert xb.evaluate.sparseness(np.zeros((1, 3, 3))) == 0
    # channels pooled (sum) before the absolute value
    R4 = np.stack([R, -R], -1)
    np.testing.assert_allclose(xb.evaluate.sparseness(R4, channel_reduce="abs"),
                               xb.evaluate.sparseness(2 * R))


def test_equals_quantus():
    import quantus

    rng = np.random.default_rng(0)
    R = rng.normal(size=(5, 1, 10, 10)).astype(np.float32) ** 3
    x = rng.random((5, 1, 10, 10)).astype(np.float32)
    ref = quantus.Sparseness(abs=True, normalise=False, disable_warnings=True)(
        model=None, x_batch=x, y_batch=np.zeros(5, int), a_batch=R.copy(), channel_first=True)
    np.testing.assert_allclose(xb.evaluate.sparseness(R[:, 0]), ref, atol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        xb.evaluate.sparseness(np.ones((4, 4)))
    with pytest.raises(ValueError, match="NaN"):
        xb.evaluate.sparseness(np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="channel_reduce"):
        xb.evaluate.sparseness(np.ones((1, 2, 2, 3)), channel_reduce="max")
