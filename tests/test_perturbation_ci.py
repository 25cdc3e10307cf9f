"""Contextual importance (Anjomshoae eq. 2) against a hand computation on a toy model."""
import numpy as np
import pytest

import xaibench as xb
from xaibench.analyzers.perturbation import display
from test_perturbation_common import count_of, linear_model, softmax

# four hand-made regions of an 8x8 image: quadrants 0 1 / 2 3
QUADRANTS = np.kron(np.array([[0, 1], [2, 3]]), np.ones((4, 4), int))


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(2, 8, 8, 1)).astype(np.float32)
    model, w, b = linear_model((8, 8, 1), 3, activation="softmax", seed=2, counted=True)
    return x, model, w.astype(np.float64), b.astype(np.float64)


def _hand_ci(x, w, b, cls, absmin=0.0, absmax=1.0):
    """CI_j(C, {i}) = (out_j(C) - out_j(C, {i})) / (absmax - absmin), region i set to 0."""
    out = np.zeros(x.shape[:3])
    for n in range(len(x)):
        p = softmax(x[n].reshape(-1) @ w + b)[cls[n]]
        for i in range(4):
            xm = x[n].astype(np.float64).copy()
            xm[QUADRANTS == i] = 0.0
            p_i = softmax(xm.reshape(-1) @ w + b)[cls[n]]
            out[n][QUADRANTS == i] = (p - p_i) / (absmax - absmin)
    return out


def test_equals_hand_computed_ci(toy):
    x, model, w, b = toy
    top = np.argmax(x.reshape(2, -1) @ w + b, axis=1)
    before = count_of(model)
    r = xb.create_analyzer("contextual_importance", model, segments=QUADRANTS).analyze(x)
    np.testing.assert_allclose(r[..., 0], _hand_ci(x, w, b, top), rtol=1e-4, atol=1e-6)
    assert count_of(model) - before == 2 * (1 + 4)
    r = xb.create_analyzer("contextual_importance", model, segments=QUADRANTS, absmin=0.2,
                           absmax=0.7).analyze(x, [1, 2])
    np.testing.assert_allclose(r[..., 0], _hand_ci(x, w, b, [1, 2], 0.2, 0.7), rtol=1e-4,
                               atol=1e-6)


def test_contrastive_explanation(toy):
    x, model, w, b = toy
    p = softmax(x.reshape(2, -1) @ w + b)
    order = np.argsort(-p, axis=1)
    an = xb.create_analyzer("contextual_importance", model, segments=QUADRANTS,
                            contrast_class="second")
    ci_j, ci_c = an.analyze_pair(x)
    np.testing.assert_allclose(ci_j[..., 0], _hand_ci(x, w, b, order[:, 0]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(ci_c[..., 0], _hand_ci(x, w, b, order[:, 1]), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(an.analyze(x), ci_j - ci_c, atol=1e-6)
    an0 = xb.create_analyzer("contextual_importance", model, segments=QUADRANTS, contrast_class=0)
    _, ci_0 = an0.analyze_pair(x, 1)
    np.testing.assert_allclose(ci_0[..., 0], _hand_ci(x, w, b, [0, 0]), rtol=1e-4, atol=1e-6)


def test_threshold_only_in_display():
    ci = np.array([-0.2, 0.0, 0.005, 0.01, 0.3])
    np.testing.assert_array_equal(display(ci), [0.0, 0.0, 0.0, 0.01, 0.3])
    np.testing.assert_array_equal(display(ci, threshold=0.1), [0, 0, 0, 0, 0.3])


def test_slic_segments_by_count(toy):
    x, model, w, b = toy
    an = xb.create_analyzer("contextual_importance", model, segments=6)
    r = an.analyze(x, 0)
    for n in range(2):
        lab = an.last_segments[n]
        assert lab.max() + 1 == 6
        for i in range(6):   # constant over each region, equal to the hand CI of that region
            xm = x[n].astype(np.float64).copy()
            xm[lab == i] = 0.0
            ci = softmax(x[n].reshape(-1) @ w + b)[0] - softmax(xm.reshape(-1) @ w + b)[0]
            np.testing.assert_allclose(r[n, ..., 0][lab == i], ci, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("params,msg", [
    ({"segments": lambda img: np.zeros(img.shape[:2], int)}, "single region"),
    ({"segments": 1}, "single region"), ({"segments": np.ones((8, 8), int)}, "single region"),
    ({"segments": np.zeros((7, 8), int)}, "shape"), ({"output": "logit"}, "absmin and absmax"),
    ({"absmin": 1.0, "absmax": 0.5}, "larger than absmin"),
    ({"contrast_class": 3}, "contrast_class"),
])
def test_bad_input_is_refused_before_any_model_call(params, msg):
    model, _, _ = linear_model((8, 8, 1), 3, counted=True)
    with pytest.raises((ValueError, TypeError), match=msg):
        xb.create_analyzer("contextual_importance", model, **params).analyze(np.ones((1, 8, 8, 1)))
    assert count_of(model) == 0
