"""``prepare`` keeps the pre-softmax outputs (1e-5) while removing what LRP cannot handle."""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from xaibench.prepare import UnsupportedLayerError, ends_with_softmax, logits_model

L = tf.keras.layers


def randomise_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([
                rng.uniform(0.5, 1.5, w.shape) if ("gamma" in w.name or "variance" in w.name)
                else rng.normal(0, 0.3, w.shape)
                for w in layer.weights
            ])
    return model


def reference_logits(model, x):
    """Logits computed independently of xaibench: the original model's own layer graph
    (Keras, batch norms and dropouts as they are) up to the input of its last layer, then
    that layer by hand in numpy with its softmax left out (a Dense layer: ``h W + b``; a
    Softmax / Activation("softmax") layer: its input is the logit)."""
    last = model.layers[-1]
    h = tf.keras.Model(model.inputs, last.input)(x, training=False).numpy().astype(np.float64)
    if isinstance(last, L.Dense):
        assert last.get_config()["activation"] == "softmax"
        kernel, bias = (np.asarray(w, np.float64) for w in last.get_weights())
        logits = h @ kernel + bias
    else:
        assert isinstance(last, (L.Softmax, L.Activation))
        logits = h
    # these are the softmax inputs: their softmax (numpy) is the model's output
    e = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(e / e.sum(1, keepdims=True), model(x, training=False).numpy(),
                               atol=1e-5)
    return logits


def assert_same_logits(model, x):
    prepared = xb.prepare(model)
    got = prepared(x).numpy()
    want = reference_logits(model, x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    # the model sharing the user's layers that outputs the pre-softmax scores, too
    np.testing.assert_allclose(logits_model(model)(x, training=False).numpy(), want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())
    # and the softmax of the prepared logits is the original output
    np.testing.assert_allclose(tf.nn.softmax(got).numpy(), model(x).numpy(), atol=1e-5)
    return prepared


def kinds(model):
    return [type(layer).__name__ for layer in model.layers]


ZOO = {
    "mnist_cnn": lambda: randomise_bn(xb.zoo.mnist_cnn()),
    "cifar_cnn": lambda: xb.zoo.cifar_cnn(weight_decay=1e-3, regularize="B2"),
    "caffenet": lambda: xb.zoo.caffenet(num_classes=20, input_shape=(99, 99, 3)),
    "vgg16": lambda: xb.zoo.vgg16(weights=None),
}


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_models_keep_their_logits(name):
    tf.keras.utils.set_random_seed(0)
    model = ZOO[name]()
    x = np.random.default_rng(1).uniform(0, 1, (2,) + model.input_shape[1:]).astype("float32")
    prepared = assert_same_logits(model, x)
    assert not ends_with_softmax(prepared)
    assert not {"BatchNormalization", "ReLU", "Dropout", "Softmax"} & set(kinds(prepared))


def test_mnist_cnn_is_folded_into_relu_convolutions():
    prepared = xb.prepare(randomise_bn(xb.zoo.mnist_cnn()))
    convs = [layer for layer in prepared.layers if isinstance(layer, L.Conv2D)]
    assert len(convs) == 3
    assert all(c.get_config()["activation"] == "relu" and c.use_bias for c in convs)


def test_batchnorm_after_dense_and_activation_layers():
    tf.keras.utils.set_random_seed(2)
    inp = L.Input((6, 6, 2))
    h = L.Conv2D(3, 3, use_bias=False)(inp)
    h = L.BatchNormalization(epsilon=1e-2)(h)
    h = L.Activation("relu")(h)
    h = L.Flatten()(h)
    h = L.Dropout(0.3)(h)
    h = L.Dense(5)(h)
    h = L.BatchNormalization(center=False)(h)
    h = L.ReLU()(h)
    h = L.Dense(4)(h)
    out = L.Softmax()(h)
    model = randomise_bn(tf.keras.Model(inp, out))
    x = np.random.default_rng(3).normal(size=(3, 6, 6, 2)).astype("float32")
    prepared = assert_same_logits(model, x)
    assert kinds(prepared) == ["InputLayer", "Conv2D", "Flatten", "Dense", "Dense"]


def test_sequential_with_activation_softmax_layer():
    tf.keras.utils.set_random_seed(4)
    model = tf.keras.Sequential([
        L.Input((8,)), L.Dense(6), L.BatchNormalization(), L.ReLU(), L.Dense(3),
        L.Activation("softmax"),
    ])
    randomise_bn(model)
    x = np.random.default_rng(5).normal(size=(4, 8)).astype("float32")
    prepared = assert_same_logits(model, x)
    assert kinds(prepared) == ["InputLayer", "Dense", "Dense"]


def test_sequential_built_by_calling_it_on_data():
    """No Input layer: the layer graph is the one the first call recorded."""
    tf.keras.utils.set_random_seed(6)
    model = tf.keras.Sequential([L.Conv2D(3, 3), L.BatchNormalization(), L.ReLU(), L.Flatten(),
                                 L.Dense(4, activation="softmax")])
    x = np.random.default_rng(6).normal(size=(3, 6, 6, 2)).astype("float32")
    model(x)
    randomise_bn(model)
    prepared = assert_same_logits(model, x)
    assert kinds(prepared) == ["InputLayer", "Conv2D", "Flatten", "Dense"]


def test_nested_models_are_inlined_by_their_calls():
    """A Sequential (with batch norm) nested in a functional model, called twice: one
    call per use, batch norms folded, the same logits."""
    tf.keras.utils.set_random_seed(7)
    block = tf.keras.Sequential([L.Input((6, 6, 2)), L.Conv2D(2, 3, padding="same"),
                                 L.BatchNormalization(), L.ReLU()], name="block")
    inp = L.Input((6, 6, 2))
    h = block(block(inp))
    model = tf.keras.Model(inp, L.Dense(3, activation="softmax")(L.Flatten()(h)))
    randomise_bn(block)
    x = np.random.default_rng(7).normal(size=(3, 6, 6, 2)).astype("float32")
    prepared = assert_same_logits(model, x)
    assert kinds(prepared) == ["InputLayer", "Conv2D", "Conv2D", "Flatten", "Dense"]


def test_the_original_model_is_untouched():
    model = randomise_bn(xb.zoo.mnist_cnn())
    before = [w.copy() for w in model.get_weights()]
    xb.prepare(model)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert "BatchNormalization" in kinds(model)


def test_model_without_softmax_is_kept_as_is():
    model = tf.keras.Sequential([L.Input((4,)), L.Dense(3)])
    x = np.ones((2, 4), "float32")
    np.testing.assert_allclose(xb.prepare(model)(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert logits_model(model) is model


@pytest.mark.parametrize("build,layer_name,kind", [
    (lambda: [L.Conv2D(2, 3, name="c"), L.LayerNormalization(axis=1, name="ln"), L.Flatten(),
              L.Dense(2)], "ln", "LayerNormalization"),              # not over channels
    (lambda: [L.Conv2D(2, 3, name="c"), L.MaxPooling2D(name="p"), L.ReLU(name="r"), L.Flatten(),
              L.Dense(2)], "r", "ReLU"),
    (lambda: [L.Conv2D(2, 3, activation="relu", name="c"), L.ReLU(max_value=6.0, name="r6"),
              L.Flatten(), L.Dense(2)], "r6", "ReLU"),
    (lambda: [L.Conv2D(2, 3, name="c"), L.Softmax(name="sm"), L.Flatten(), L.Dense(2)],
     "sm", "Softmax"),
    # an activation after a layer that has one already is not merged (it would replace it)
    (lambda: [L.Conv2D(2, 3, activation="relu", name="c"), L.Activation("sigmoid", name="sg"),
              L.Flatten(), L.Dense(2)], "sg", "Activation"),
    (lambda: [L.Conv2D(2, 3, name="c"), L.BatchNormalization(axis=1, name="bn1"),
              L.Flatten(), L.Dense(2)], "bn1", "BatchNormalization"),   # not over channels
    (lambda: [L.Resizing(8, 8, interpolation="bicubic", name="rs"), L.Conv2D(2, 3),
              L.Flatten(), L.Dense(2)], "rs", "Resizing"),     # negative interpolation weights
])
def test_unsupported_layers_are_named(build, layer_name, kind):
    model = tf.keras.Sequential([L.Input((6, 6, 1))] + build())
    with pytest.raises(UnsupportedLayerError) as info:
        xb.prepare(model)
    msg = str(info.value)
    assert repr(layer_name) in msg and kind in msg and "Supported:" in msg


def test_analyzer_refuses_unsupported_model_before_work():
    model = tf.keras.Sequential([L.Input((6, 6, 1)), L.Conv2D(2, 3),
                                 L.LayerNormalization(axis=1, name="ln"),
                                 L.Flatten(), L.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match="'ln'"):
        xb.create_analyzer("lrp.z", model)


def _numpy_folds(model):
    """W s and (b - mean) s + beta, s = gamma / sqrt(var + eps), of each conv of
    ``mnist_cnn`` and its batch norm, in float32 numpy."""
    out = []
    for b in (1, 2, 3):
        W, bias = model.get_layer(f"conv{b}").get_weights()
        bn = model.get_layer(f"bn{b}")
        gamma, beta, mean, var = bn.get_weights()
        s = gamma / np.sqrt(var + np.float32(bn.epsilon))
        out.append((W * s, (bias - mean) * s + beta))
    return out


def test_folded_weights_follow_the_users_model_inside_a_traced_function():
    """The folded weights equal the numpy fold bit for bit after ``prepare`` and, after the
    user's weights change, after ``sync`` ran inside a ``tf.function`` (where grappler would
    turn x / sqrt(y) into x * rsqrt(y), off in the last bit)."""
    from xaibench.prepare import sync

    model = randomise_bn(xb.zoo.mnist_cnn())
    prepared = xb.prepare(model)

    def check():
        for b, (W, bias) in enumerate(_numpy_folds(model), start=1):
            got_W, got_b = prepared.get_layer(f"conv{b}").get_weights()
            np.testing.assert_array_equal(got_W, W)
            np.testing.assert_array_equal(got_b, bias)
        np.testing.assert_array_equal(prepared.layers[-1].get_weights()[0],
                                      model.get_layer("predictions").get_weights()[0])
    check()
    randomise_bn(model, seed=1)
    for name in ("conv2", "predictions"):
        layer = model.get_layer(name)
        layer.set_weights([w * 1.5 + 0.1 for w in layer.get_weights()])
    with pytest.raises(AssertionError):
        check()
    tf.function(lambda: sync(prepared))()
    check()
