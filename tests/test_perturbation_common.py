"""Shared helpers of the perturbation tests, and the checks common to all five methods."""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb

L = tf.keras.layers
NAMES = ("occlusion", "prediction_difference", "rmpd", "contextual_importance", "lime")


class CountImages(L.Layer):
    """Identity layer that counts the images flowing through the model."""

    def build(self, input_shape):
        self.count = self.add_weight(name="count", shape=(), dtype=tf.int64, initializer="zeros",
                                     trainable=False)

    def call(self, x):
        self.count.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
        return x


def linear_model(shape, classes, activation=None, seed=0, bias=True, counted=False):
    """Flatten -> Dense(classes) with seeded weights; returns (model, W, b)."""
    rng = np.random.default_rng(seed)
    inp = L.Input(shape=shape)
    h = CountImages(name="count")(inp) if counted else inp
    dense = L.Dense(classes, activation=activation, use_bias=bias)
    out = dense(L.Flatten()(h))
    model = tf.keras.Model(inp, out)
    w = rng.normal(size=(int(np.prod(shape)), classes)).astype(np.float32)
    b = rng.normal(size=classes).astype(np.float32)
    dense.set_weights([w, b] if bias else [w])
    return model, w, (b if bias else np.zeros(classes, np.float32))


def count_of(model) -> int:
    return int(model.get_layer("count").count.numpy())


def softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def test_registered_in_perturbation_family():
    names = xb.list_analyzers(family="perturbation")
    assert set(NAMES) <= set(names)
    assert all(names[n] for n in NAMES)


@pytest.mark.parametrize("output", ["probability", "logit"])
def test_softmax_model_is_not_softmaxed_twice(output):
    """A model ending in softmax and its logit twin give the same explanation."""
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 1)).astype(np.float32)
    soft, w, b = linear_model((6, 6, 1), 4, activation="softmax", seed=3)
    lin, _, _ = linear_model((6, 6, 1), 4, activation=None, seed=3)
    r_soft = xb.create_analyzer("occlusion", soft, patch=3, output=output).analyze(x, 2)
    r_lin = xb.create_analyzer("occlusion", lin, patch=3, output=output).analyze(x, 2)
    np.testing.assert_allclose(r_soft, r_lin, rtol=1e-5, atol=1e-6)
    # and the numbers are those of the output asked for: window (0, 0) of image 0
    xf = x.copy()
    xf[:, :3, :3] = 0.0
    z, zf = x.reshape(2, -1) @ w + b, xf.reshape(2, -1) @ w + b
    f, ff = (softmax(z), softmax(zf)) if output == "probability" else (z, zf)
    np.testing.assert_allclose(r_soft[:, 0, 0, 0], f[:, 2] - ff[:, 2], rtol=1e-4, atol=1e-6)


def test_top_class_is_explained_by_default():
    x = np.random.default_rng(2).normal(size=(3, 6, 6, 1)).astype(np.float32)
    model, w, b = linear_model((6, 6, 1), 5, seed=4)
    top = np.argmax(x.reshape(3, -1) @ w + b, axis=1)
    quarters = np.arange(36).reshape(6, 6) // 9
    an = xb.create_analyzer("contextual_importance", model, segments=quarters)
    np.testing.assert_allclose(an.analyze(x), an.analyze(x, top), atol=1e-7)
    other = (top + 1) % 5
    assert not np.allclose(an.analyze(x), an.analyze(x, other))


@pytest.mark.parametrize("name,params", [
    ("occlusion", {"output": "softmax"}), ("lime", {"batch_size": 0}), ("rmpd", {"seed": -1}),
    ("prediction_difference", {"jit_compile": "yes"}), ("lime", {"fill": "blur"}),
])
def test_common_parameters_are_checked(name, params):
    model, _, _ = linear_model((8, 8, 1), 3)
    with pytest.raises((ValueError, TypeError)):
        xb.create_analyzer(name, model, **params)


@pytest.mark.parametrize("name, params", [
    ("occlusion", {"patch": 4}),
    ("prediction_difference", {"inner": 3, "outer": 5, "samples": 2, "stride": 3}),
    ("rmpd", {"scales": 3}),
    ("contextual_importance", {"segments": 6}),
    ("lime", {"segments": 6, "num_samples": 40}),
])
def test_fused_perturbation_equals_the_unfused_one(name, params, monkeypatch):
    """The perturbation runs under XLA; without XLA (xla_available() False) the same
    ops run on TensorFlow's kernels and must give the same heatmaps."""
    from xaibench.analyzers.perturbation import _kernels

    rng = np.random.default_rng(4)
    x = rng.random((2, 12, 12, 3)).astype(np.float32)
    model, _, _ = linear_model((12, 12, 3), 4, activation="softmax", seed=2)
    fused = xb.create_analyzer(name, model, batch_size=16, **params)
    assert fused.kernel._perturb is not fused._perturb         # the XLA-wrapped function
    monkeypatch.setattr(_kernels, "xla_available", lambda: False)
    plain = xb.create_analyzer(name, model, batch_size=16, **params)
    assert plain.kernel._perturb == plain._perturb
    np.testing.assert_allclose(fused.analyze(x), plain.analyze(x), rtol=1e-4, atol=1e-6)


def test_grey_images_without_a_channel_axis():
    """A model of (N, H, W) images (an MLP on ``Input((H, W))``, as in Keras' MNIST
    examples): occlusion's logit drops are the linear model's closed form
    sum_{window} w x (fill 0), and every method gives the maps of the same model taking
    (N, H, W, 1); a model of flat vectors is refused at creation, in one line."""
    grey, w, b = linear_model((6, 6), 3, seed=5)
    channel, _, _ = linear_model((6, 6, 1), 3, seed=5)
    x = np.random.default_rng(6).normal(size=(2, 6, 6)).astype(np.float32)
    R = xb.create_analyzer("occlusion", grey, patch=2, fill=0.0, output="logit").analyze(x, 1)
    assert R.shape == x.shape
    contribution = (x.reshape(2, 36) * w[:, 1]).reshape(2, 3, 2, 3, 2).sum(axis=(2, 4))
    np.testing.assert_allclose(R, np.repeat(np.repeat(contribution, 2, 1), 2, 2),
                               rtol=1e-5, atol=1e-6)
    quarters = np.arange(36).reshape(6, 6) // 9
    for name, params in (("occlusion", {"patch": 2}), ("rmpd", {"scales": 2}),
                         ("prediction_difference", {"inner": 2, "outer": 4, "samples": 2}),
                         ("contextual_importance", {"segments": quarters}),
                         ("lime", {"segments": quarters, "num_samples": 30})):
        got = xb.create_analyzer(name, grey, seed=1, **params).analyze(x)
        want = xb.create_analyzer(name, channel, seed=1, **params).analyze(x[..., None])
        assert np.abs(want).max() > 0
        np.testing.assert_array_equal(got, want[..., 0])
    ci = xb.create_analyzer("contextual_importance", grey, segments=quarters,
                            contrast_class="second")
    assert ci.analyze_pair(x)[0].shape == x.shape
    flat, _, _ = linear_model((36,), 3)
    with pytest.raises(ValueError, match=r"takes \(N, 36\)\. Reshape inside the model"):
        xb.create_analyzer("lime", flat)


@pytest.mark.parametrize("activation", ["sigmoid", None])
def test_binary_classifier_probability_is_its_sigmoid(activation):
    """A binary classifier with one output (a sigmoid, or the bare logit z): its probability
    is sigmoid(z), not a softmax over one unit (identically 1, so every map was 0): occlusion
    gives sigmoid(z) - sigmoid(z of the occluded image); a metric's probability curve
    starts at sigmoid(z)."""
    model, w, b = linear_model((12, 12, 1), 1, activation=activation, seed=7)
    x = np.random.default_rng(8).normal(size=(2, 12, 12, 1)).astype(np.float32)
    sigmoid = lambda v: 1 / (1 + np.exp(-v.astype(np.float64)))  # noqa: E731
    R = xb.create_analyzer("occlusion", model, patch=3, fill=0.0,
                           output="probability").analyze(x)
    occluded = x.copy()
    occluded[:, :3, :3] = 0.0
    z, zo = x.reshape(2, -1) @ w + b, occluded.reshape(2, -1) @ w + b
    np.testing.assert_allclose(R[:, 0, 0, 0], (sigmoid(z) - sigmoid(zo))[:, 0], rtol=1e-5,
                               atol=1e-7)
    curves = xb.evaluate.perturbation_curve(model, x, R, region=3, steps=2, output="probability")
    np.testing.assert_allclose(curves.values[:, 0, 0], sigmoid(z)[:, 0], rtol=1e-6)
    for name, params in (("lime", {"segments": 4}), ("contextual_importance", {"segments": 4}),
                         ("rmpd", {})):
        R = xb.create_analyzer(name, model, seed=1, **params).analyze(x)
        assert np.abs(R).max() > 1e-4, name
