"""The public analyzer API in an ordinary eager session: the issue's example, many
analyzers on many models, and every documented input error."""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from stacks import needs_innvestigate
from xaibench.analyzers import innvestigate_backend as backend

L = tf.keras.layers

INNVESTIGATE_NAMES = [
    "input", "random", "gradient", "gradient.baseline", "input_t_gradient", "deconvnet",
    "guided_backprop", "integrated_gradients", "smoothgrad", "lrp", "lrp.z", "lrp.epsilon",
    "lrp.w_square", "lrp.flat", "lrp.alpha_beta", "lrp.alpha_2_beta_1", "lrp.alpha_2_beta_1_IB",
    "lrp.alpha_1_beta_0", "lrp.alpha_1_beta_0_IB", "lrp.z_plus", "lrp.z_plus_fast",
    "lrp.sequential_preset_a", "lrp.sequential_preset_b", "lrp.sequential_preset_a_flat",
    "lrp.sequential_preset_b_flat", "lrp.sequential_preset_b_flat_until_idx", "deep_taylor",
    "deep_taylor.bounded",
]
PAPER_NAMES = ["lrp.cmp_alpha1", "lrp.cmp_alpha1_flat", "lrp.cmp_alpha2", "lrp.cmp_alpha2_flat",
               "lrp.cmp_flat_until", "lrp.cam"]


@pytest.fixture(scope="module")
def mnist():
    tf.keras.utils.set_random_seed(0)
    model = xb.zoo.mnist_cnn()
    x = np.random.default_rng(0).uniform(0, 1, (5, 28, 28, 1)).astype("float32")
    y = np.array([3, 1, 4, 1, 5])
    return model, x, y


def test_issue_example_in_an_eager_session(mnist):
    model, x, y = mnist
    assert tf.executing_eagerly()
    before = model.predict(x, verbose=0)
    an = xb.create_analyzer("lrp.sequential_preset_a_flat", model)
    R = an.analyze(x, neuron_selection=y)
    assert isinstance(R, np.ndarray) and R.shape == x.shape and R.dtype == np.float32
    assert np.abs(R).max() > 0
    # the numbers, against references computed here: the logit y_c by the user's layers up
    # to "flatten" and the Dense layer by hand without its softmax
    features = tf.keras.Model(model.inputs, model.get_layer("flatten").output)
    kernel, bias = model.get_layer("predictions").get_weights()
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yc = tf.gather(tf.matmul(features(xt), kernel) + bias, y, axis=1, batch_dims=1)
    grad = tape.gradient(yc, xt).numpy()
    yc = yc.numpy().astype(np.float64)
    # gradient: d y_c / d x
    np.testing.assert_allclose(xb.create_analyzer("gradient", model).analyze(x, y), grad,
                               rtol=1e-5, atol=1e-6 * np.abs(grad).max())
    # preset A flat: flat on conv1, alpha1-beta0 on conv2/conv3 conserve the relevance
    # exactly here (an untrained zoo model: every bias, batch-norm shift and mean 0), and
    # epsilon = 0.1 on the Dense layer keeps sum_i R_i = y_c * y_c / (y_c + 0.1 sign(y_c))
    shifts = [w for w in model.weights if any(k in w.name for k in ("bias", "beta", "moving_mean"))]
    assert len(shifts) == 3 * 3 + 1 and not any(np.any(w.numpy()) for w in shifts)
    total = R.reshape(len(x), -1).sum(1, dtype=np.float64)
    np.testing.assert_allclose(total, yc * yc / (yc + 0.1 * np.sign(yc)), rtol=2e-5)
    # the user's model, eager execution and tf.function code are untouched
    assert tf.executing_eagerly()
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)
    np.testing.assert_allclose(model(x).numpy(), before, rtol=1e-6)
    traced = tf.function(lambda t: model(t) * 2.0)
    np.testing.assert_allclose(traced(tf.constant(x)).numpy(), 2 * before, rtol=1e-5)
    # and the model can still be trained
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)


def test_many_analyzers_on_many_models(mnist):
    model, x, y = mnist
    other = tf.keras.Sequential([L.Input((28, 28, 1)), L.Conv2D(2, 5, activation="relu"),
                                 L.Flatten(), L.Dense(10, activation="softmax")])
    names = ["lrp.epsilon", "lrp.z", "gradient", "deep_taylor", "lrp.cmp_alpha2_flat"]
    first = {}
    for m in (model, other):
        for name in names:
            first[m.name, name] = xb.create_analyzer(name, m).analyze(x, y)
    for m in (other, model):
        for name in reversed(names):
            again = xb.create_analyzer(name, m).analyze(x, y)
            np.testing.assert_array_equal(again, first[m.name, name])
    assert not np.allclose(first[model.name, "lrp.z"], first[other.name, "lrp.z"])


def test_analyzer_follows_changed_weights():
    tf.keras.utils.set_random_seed(1)
    model = tf.keras.Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(3)])
    x = np.ones((1, 4, 4, 1), "float32")
    g1 = xb.create_analyzer("gradient", model).analyze(x, 0)
    w, b = model.get_weights()
    model.set_weights([w * 2, b])
    g2 = xb.create_analyzer("gradient", model).analyze(x, 0)
    np.testing.assert_allclose(g2, 2 * g1, rtol=1e-6)
    np.testing.assert_allclose(g2.ravel(), 2 * w[:, 0], rtol=1e-6)


def test_list_analyzers_names_and_descriptions():
    names = xb.list_analyzers()
    for name in INNVESTIGATE_NAMES + PAPER_NAMES:
        assert name in names and len(names[name]) > 10
    assert set(xb.list_analyzers("lrp")) >= {"lrp.z", "lrp.cam"}


def test_batch_size_does_not_change_results(mnist):
    model, x, y = mnist
    a = xb.create_analyzer("lrp.epsilon", model, batch_size=2).analyze(x, y)
    b = xb.create_analyzer("lrp.epsilon", model).analyze(x, y)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- errors

@pytest.fixture
def no_worker(monkeypatch):
    """Fail the test if anything reaches the worker: errors must come before work."""
    def refuse():
        raise AssertionError("the worker was called before the input was checked")
    monkeypatch.setattr(backend, "worker", refuse)


@pytest.mark.parametrize("bad,match", [
    (np.zeros((28, 28, 1), "float32"), "single image"),
    (np.zeros((2, 28, 28), "float32"), "rank 3"),
    (np.zeros((2, 32, 32, 1), "float32"), "expects"),
    (np.zeros((2, 28, 28, 3), "float32"), "expects"),
    (np.full((2, 28, 28, 1), np.nan, "float32"), "NaN"),
    (np.full((2, 28, 28, 1), np.inf, "float32"), "infinite"),
    (np.zeros((0, 28, 28, 1), "float32"), "empty"),
])
def test_bad_images_are_refused(mnist, no_worker, bad, match):
    model, _, _ = mnist
    an = xb.create_analyzer("lrp.z", model)
    with pytest.raises(ValueError, match=match):
        an.analyze(bad)


@pytest.mark.parametrize("selection,error,match", [
    (10, ValueError, "out of range.*10 classes"),
    (-1, ValueError, "out of range"),
    ([1, 2], ValueError, "one int per image"),
    ([0, 1, 2, 3, 12], ValueError, "class index 12"),
    ([0.5] * 5, TypeError, "integer"),
    ("top", ValueError, "max_activation"),
])
def test_bad_class_selection_is_refused(mnist, no_worker, selection, error, match):
    model, x, _ = mnist
    with pytest.raises(error, match=match):
        xb.create_analyzer("gradient", model).analyze(x, neuron_selection=selection)


def test_unknown_name_lists_close_matches(mnist):
    model, _, _ = mnist
    with pytest.raises(KeyError, match="lrp.epsilon"):
        xb.create_analyzer("lrp.epsilom", model)
    with pytest.raises(KeyError, match="list_analyzers"):
        xb.create_analyzer("no-such-method", model)


@pytest.mark.parametrize("name,params,error,match", [
    ("lrp.epsilon", {"epsilon": 0}, ValueError, "epsilon"),
    ("lrp.epsilon", {"epsilon": -1.0}, ValueError, "out of range"),
    ("lrp.epsilon", {"eps": 0.1}, TypeError, "unknown parameter.*eps.*accepts: bias, epsilon"),
    ("lrp.alpha_beta", {"alpha": 0.5}, ValueError, "alpha"),
    ("lrp.alpha_beta", {"alpha": 2, "beta": 2}, ValueError, "alpha - beta must be 1"),
    ("deep_taylor.bounded", {"low": 1, "high": 0}, ValueError, "low=1.0 must be below"),
    ("deep_taylor.bounded", {}, TypeError, "needs the parameter"),
    ("integrated_gradients", {"steps": 0}, ValueError, "steps"),
    ("smoothgrad", {"augment_by_n": 2.5}, TypeError, "augment_by_n must be an int"),
    ("lrp.cmp_flat_until", {"flat_layers": 9}, ValueError, "exceeds the 4 conv/dense"),
    ("lrp.cmp_flat_until", {"flat_layers": 1, "alpha": 3}, ValueError, "alpha"),
    ("lrp", {"rule": "Zed"}, ValueError, "not an iNNvestigate rule"),
    ("gradient", {"postprocess": "cube"}, ValueError, "postprocess"),
    ("lrp.z", {"batch_size": 0}, ValueError, "batch_size"),
])
def test_bad_parameters_are_refused(mnist, no_worker, name, params, error, match):
    model, _, _ = mnist
    with pytest.raises(error, match=match):
        xb.create_analyzer(name, model, **params)


def test_not_a_model_is_refused():
    with pytest.raises(TypeError, match="tf.keras Model"):
        xb.create_analyzer("lrp.z", lambda t: t)


@needs_innvestigate
def test_innvestigate_model_check_becomes_a_clear_error():
    model = tf.keras.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, activation="tanh"),
                                 L.Flatten(), L.Dense(3)])
    x = np.ones((1, 6, 6, 1), "float32")
    with pytest.raises(ValueError, match="not advised for networks with non-ReLU"):
        xb.create_analyzer("lrp.sequential_preset_a", model, backend="innvestigate").analyze(x)
    with pytest.raises(ValueError, match="only supports ReLU"):
        xb.create_analyzer("deep_taylor", model, backend="innvestigate").analyze(x)


def test_native_engine_keeps_innvestigates_model_checks():
    """The presets warn on non-ReLU networks (iNNvestigate's check of type 'warning')
    and still explain them; Deep Taylor, defined for ReLU networks, refuses them."""
    model = tf.keras.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3, activation="tanh"),
                                 L.Flatten(), L.Dense(3)])
    x = np.ones((1, 6, 6, 1), "float32")
    with pytest.warns(UserWarning, match="not advised for networks with non-ReLU"):
        R = xb.create_analyzer("lrp.sequential_preset_a", model).analyze(x)
    assert np.isfinite(R).all() and np.abs(R).max() > 0
    with pytest.raises(ValueError, match="only supports ReLU.*tanh"):
        xb.create_analyzer("deep_taylor", model)
