"""LIME against the ``lime`` package's LimeImageExplainer with shared segments and masks."""
import numpy as np
import pytest
import tensorflow as tf
from scipy.stats import spearmanr

import xaibench as xb
from xaibench.analyzers.perturbation.segmentation import segment
from test_perturbation_common import count_of, linear_model

L = tf.keras.layers


@pytest.fixture(scope="module")
def toy():
    tf.keras.utils.set_random_seed(0)
    inp = L.Input((16, 16, 3))
    h = L.Conv2D(4, 3, activation="relu")(inp)
    h = L.GlobalAveragePooling2D()(h)
    model = tf.keras.Model(inp, L.Dense(4, activation="softmax")(h))
    yy, xx = np.mgrid[:16, :16] / 15.0
    rng = np.random.default_rng(0)
    x = np.stack([np.stack([yy, xx, (yy + xx) / 2], -1) + rng.normal(0, .1, (16, 16, 3))
                  for _ in range(2)]).astype(np.float32)
    return model, x


@pytest.mark.parametrize("fill,hide_color", [("mean", None), (0.0, 0.0)])
def test_coefficients_match_the_lime_package(toy, fill, hide_color):
    from lime.lime_image import LimeImageExplainer

    model, x = toy
    seg_fn = lambda img: segment(img, 10)
    an = xb.create_analyzer("lime", model, segments=seg_fn, num_samples=300, kernel_width=0.25,
                            fill=fill, seed=7, batch_size=50)
    r = an.analyze(x, 2)
    for n in range(2):
        exp = LimeImageExplainer(kernel_width=0.25, random_state=7).explain_instance(
            x[n], lambda imgs: model(imgs.astype(np.float32), training=False).numpy(),
            labels=(2,), top_labels=None, hide_color=hide_color, num_features=100000,
            num_samples=300, batch_size=50, segmentation_fn=seg_fn,
            random_seed=0)  # given, so that random_state's first draw is the masks
        theirs = np.zeros(10)
        for feature, weight in exp.local_exp[2]:
            theirs[feature] = weight
        ours = an.coefficients[n]
        assert spearmanr(ours, theirs).correlation > 0.99
        np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-5 * np.abs(theirs).max())
        np.testing.assert_allclose(an.intercepts[n], exp.intercept[2], rtol=1e-3, atol=1e-6)
        np.testing.assert_allclose(r[n, ..., 1], ours[exp.segments], rtol=1e-6)


def test_seed_same_numbers_different_samples(toy):
    model, x = toy
    make = lambda seed, bs=64: xb.create_analyzer("lime", model, segments=8, num_samples=40,
                                                  seed=seed, batch_size=bs)
    a = make(3).analyze(x)
    np.testing.assert_allclose(a, make(3, bs=7).analyze(x), atol=1e-6)
    assert not np.allclose(a, make(4).analyze(x))


@pytest.mark.parametrize("params,msg", [
    ({"num_samples": 1}, "num_samples"), ({"kernel_width": 0}, "kernel_width"),
    ({"segments": lambda img: np.zeros(img.shape[:2], int)}, "single region"),
    ({"segments": "slic"}, "segments"),
])
def test_bad_input_is_refused_before_any_model_call(params, msg):
    model, _, _ = linear_model((8, 8, 1), 3, counted=True)
    with pytest.raises((ValueError, TypeError), match=msg):
        xb.create_analyzer("lime", model, **params).analyze(np.ones((1, 8, 8, 1)))
    assert count_of(model) == 0
