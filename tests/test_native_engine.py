"""The native engine on the models users bring: subclassed and nested models, layers
with Keras' default names, the user's model untouched, no worker process, and
keywords checked before any work. References: ``tf.GradientTape`` on the user's
model run by the test itself, and the same analyzer on the equivalent functional
model (which the differential and numpy tests pin down)."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb

L = tf.keras.layers


class Subclassed(tf.keras.Model):
    """conv(relu) -> conv -> ReLU6 -> flatten -> dense logits, written as a subclass."""

    def __init__(self):
        super().__init__()
        self.conv1 = L.Conv2D(4, 3, activation="relu")
        self.conv2 = L.Conv2D(3, 3)
        self.relu6 = L.ReLU(max_value=6.0)
        self.flat = L.Flatten()
        self.out = L.Dense(3)

    def call(self, x):
        return self.out(self.flat(self.relu6(self.conv2(self.conv1(x)))))


def functional_twin(sub):
    """The same layers (the same variables) as a Sequential model."""
    return tf.keras.Sequential([L.Input((10, 10, 2)), sub.conv1, sub.conv2, sub.relu6, sub.flat,
                                sub.out])


@pytest.fixture(scope="module")
def subclassed():
    tf.keras.utils.set_random_seed(11)
    model = Subclassed()
    x = np.random.default_rng(0).normal(size=(4, 10, 10, 2)).astype("float32")
    model(x)                                  # called once: built, but no model.inputs
    return model, x


def tape_gradient(model, x, y):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        logits = model(xt)
        chosen = tf.gather(logits, y, axis=1, batch_dims=1)
    return tape.gradient(chosen, xt).numpy()


def test_gradient_family_on_a_subclassed_model(subclassed):
    model, x = subclassed
    y = np.array([0, 1, 2, 1])
    before = model(x).numpy()
    g = tape_gradient(model, x, y)
    np.testing.assert_array_equal(xb.create_analyzer("gradient", model).analyze(x, y), g)
    np.testing.assert_allclose(xb.create_analyzer("input_t_gradient", model).analyze(x, y),
                               x * g, rtol=1e-6)
    twin = functional_twin(model)
    for name, params in [("smoothgrad", {"augment_by_n": 3}), ("integrated_gradients",
                                                                  {"steps": 4}),
                         ("guided_backprop", {}), ("deconvnet", {})]:
        R = xb.create_analyzer(name, model, **params).analyze(x, y)
        expected = xb.create_analyzer(name, twin, **params).analyze(x, y)
        assert np.abs(expected).max() > 0
        np.testing.assert_allclose(R, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    # the user's model predicts the same, eagerly and inside a tf.function
    np.testing.assert_array_equal(model(x).numpy(), before)
    np.testing.assert_allclose(tf.function(model)(tf.constant(x)).numpy(), before, rtol=1e-6)
    assert model.relu6.max_value == 6.0 and "call" not in vars(model.relu6)


def test_guided_backprop_masks_relu6_both_ways(subclassed):
    """Guided backprop through ReLU6 passes only where 0 < z < 6 and the signal is positive:
    checked against a tape with the mask applied by hand."""
    model, x = subclassed
    xs = x * 4                                   # push some pre-activations above 6
    xt = tf.constant(xs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        a1 = model.conv1(xt)
        z2 = model.conv2(a1)
        out = model.out(model.flat(tf.clip_by_value(z2, 0.0, 6.0)))
        chosen = tf.reduce_max(out, axis=-1)
    assert (z2.numpy() > 6).any()
    inside = ((z2 > 0) & (z2 < 6)).numpy()
    head = tf.one_hot(tf.argmax(out, -1), 3) * chosen[:, None]     # the selected logit's value
    g_z2 = np.maximum(tape.gradient(out, z2, output_gradients=head).numpy(), 0) * inside
    g_a1 = tape.gradient(z2, a1, output_gradients=tf.constant(g_z2)).numpy()
    g_a1 = np.maximum(g_a1, 0) * (a1.numpy() > 0)
    with tf.GradientTape() as t2:
        t2.watch(xt)
        a1b = model.conv1.convolution_op(xt, model.conv1.kernel) + model.conv1.bias
    expected = t2.gradient(a1b, xt, output_gradients=tf.constant(g_a1)).numpy()
    R = xb.create_analyzer("guided_backprop", model).analyze(xs)
    np.testing.assert_allclose(R, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def test_perturbation_analyzers_on_a_subclassed_model(subclassed):
    model, x = subclassed
    twin = functional_twin(model)
    for name, params in [("occlusion", {"patch": 3}),
                         ("lime", {"segments": 6, "num_samples": 40, "seed": 1})]:
        R = xb.create_analyzer(name, model, **params).analyze(x[:2], [0, 2])
        expected = xb.create_analyzer(name, twin, **params).analyze(x[:2], [0, 2])
        assert np.abs(expected).max() > 0
        np.testing.assert_allclose(R, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())


def nested_with_default_names():
    """Two nested functional blocks whose layers have the same names (``add``, ``conv_a``
    in both, as blocks built by one function in a fresh session get), inside an outer
    functional model whose own layers keep Keras' default names."""
    tf.keras.utils.set_random_seed(5)

    def block(channels, name):
        inp = L.Input((8, 8, channels))
        h = L.Conv2D(channels, 3, padding="same", activation="relu", name="conv_a")(inp)
        h = L.Conv2D(channels, 3, padding="same", name="conv_b")(h)
        return tf.keras.Model(inp, L.ReLU(name="relu")(L.Add(name="add")([inp, h])), name=name)

    inp = L.Input((8, 8, 3))
    h = L.Conv2D(4, 1, activation="relu")(inp)
    h = block(4, "block_1")(h)
    h = block(4, "block_2")(h)
    h = L.GlobalAveragePooling2D()(h)
    return tf.keras.Model(inp, L.Dense(5, activation="softmax")(h))


def test_nested_model_with_default_names():
    model = nested_with_default_names()
    names = [lay.name for sub in model.layers if isinstance(sub, tf.keras.Model)
             for lay in sub.layers]
    assert len(names) != len(set(names))            # "add", "conv2d", ... repeat
    x = np.random.default_rng(3).normal(size=(3, 8, 8, 3)).astype("float32")
    y = np.array([0, 3, 4])
    from xaibench.prepare import logits_model

    net = logits_model(model)
    np.testing.assert_allclose(xb.create_analyzer("gradient", model).analyze(x, y),
                               tape_gradient(net, x, y), rtol=1e-5, atol=1e-7)
    for name in ("guided_backprop", "occlusion"):
        R = xb.create_analyzer(name, model).analyze(x, y)
        assert R.shape == x.shape and np.isfinite(R).all() and np.abs(R).max() > 0


def test_no_worker_and_no_innvestigate_without_asking(tmp_path):
    """The native engine neither imports iNNvestigate nor starts a process."""
    script = textwrap.dedent("""
        import os, sys
        import numpy as np
        import xaibench as xb
        model = xb.zoo.mnist_cnn()
        x = np.random.default_rng(0).uniform(0, 1, (2, 28, 28, 1)).astype("float32")
        for name in ("gradient", "lrp.epsilon", "lrp.sequential_preset_a_flat", "deep_taylor",
                     "guided_backprop", "smoothgrad"):
            xb.create_analyzer(name, model).analyze(x)
        me = str(os.getpid())
        children = [p for p in os.listdir("/proc") if p.isdigit() and
                    open(f"/proc/{p}/stat").read().split()[3] == me]
        print("children", len(children), "innvestigate" in sys.modules)
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "children 0 False"


@pytest.mark.parametrize("name, params, match", [
    ("occlusion", {"pach": 3}, "pach.*accepts: batch_size, fill.*Did you mean patch"),
    ("lime", {"num_sample": 10}, "Did you mean num_samples"),
    ("grad_cam", {"layers": "conv1"}, "Did you mean layer"),
    ("pattern.attribution", {"pattern": "relu"}, "Did you mean pattern_type, patterns"),
    ("rmpd", {"scale": 3}, "Did you mean scales"),
    ("lrp.z", {"epsilon": 0.1}, "accepts: input_layer_rule, until_layer_idx, until_layer_rule"),
])
def test_unknown_keywords_are_refused_with_close_matches(name, params, match):
    model = xb.zoo.mnist_cnn()
    with pytest.raises(TypeError, match=match):
        xb.create_analyzer(name, model, **params)


def test_backend_choice_is_checked():
    model = xb.zoo.mnist_cnn()
    with pytest.raises(ValueError, match="backend='graph' is not known; use one of"):
        xb.create_analyzer("lrp.z", model, backend="graph")
    with pytest.raises(ValueError, match="jit_compile applies to the native engine"):
        xb.create_analyzer("lrp.z", model, backend="innvestigate", jit_compile=True)


def test_innvestigate_backend_is_refused_in_one_line_where_it_cannot_run(monkeypatch):
    """Without a usable iNNvestigate (Keras 3, or not installed) ``backend="innvestigate"``
    names what to install and on which stack, before any model is prepared."""
    import importlib
    import importlib.util

    from xaibench._keras import is_keras3
    from xaibench.analyzers.innvestigate_backend import BackendUnavailableError

    if not is_keras3():                  # the legacy stack: as if iNNvestigate were missing
        real = importlib.util.find_spec
        monkeypatch.setattr(importlib.util, "find_spec",
                            lambda name, *a: None if name == "innvestigate" else real(name, *a))
    monkeypatch.setattr(importlib.import_module("xaibench.prepare"), "cached_prepare",
                        lambda model: pytest.fail("prepared first"))
    model = xb.zoo.mnist_cnn()
    with pytest.raises(BackendUnavailableError) as info:
        xb.create_analyzer("lrp.z", model, backend="innvestigate")
    message = str(info.value)
    assert "\n" not in message
    assert "pip install 'xaibench[innvestigate]'" in message
    assert "TensorFlow < 2.15 with Keras 2" in message


def test_jit_compiled_walk_equals_the_plain_one():
    tf.keras.utils.set_random_seed(2)
    model = xb.zoo.mnist_cnn()
    x = np.random.default_rng(4).uniform(0, 1, (3, 28, 28, 1)).astype("float32")
    for name in ("lrp.epsilon", "lrp.alpha_2_beta_1", "gradient"):
        plain = xb.create_analyzer(name, model).analyze(x)
        fused = xb.create_analyzer(name, model, jit_compile=True).analyze(x)
        np.testing.assert_allclose(fused, plain, rtol=1e-4, atol=1e-6 * np.abs(plain).max())


def test_input_layer_rule_reaches_the_first_conv_behind_padding():
    """ResNet-style inputs (ZeroPadding2D, Rescaling before the first conv): the flat
    input rule applies to that conv, so the flat preset differs from the plain one, and
    the flat heatmap does not depend on the input's values inside the receptive field
    (the flat rule ignores x)."""
    tf.keras.utils.set_random_seed(8)
    model = tf.keras.Sequential([L.Input((8, 8, 1)), L.Rescaling(0.5), L.ZeroPadding2D(1),
                                 L.Conv2D(3, 3, activation="relu"), L.Flatten(), L.Dense(2)])
    x = np.random.default_rng(6).uniform(0, 1, (2, 8, 8, 1)).astype("float32")
    plain = xb.create_analyzer("lrp.sequential_preset_a", model).analyze(x, [0, 1])
    flat = xb.create_analyzer("lrp.sequential_preset_a_flat", model).analyze(x, [0, 1])
    assert np.abs(flat - plain).max() > 0.05 * np.abs(plain).max()
    # the flat rule spreads each conv output's relevance evenly over its 3x3 window
    ref = xb.create_analyzer("lrp", model, rule="Flat").analyze(x, [0, 1])
    assert ref.shape == flat.shape and np.isfinite(flat).all()


def _walk_net():
    tf.keras.utils.set_random_seed(11)
    return tf.keras.Sequential([
        L.Input((9, 9, 2)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(3, 2, activation="relu"), L.Flatten(), L.Dense(5, activation="relu"),
        L.Dense(3)])


def test_known_nonnegative_inputs_are_the_ones_behind_relus():
    """The first conv reads the raw input; every later kernel layer reads ReLU outputs
    (through max pooling and Flatten), so its alpha-beta rule may drop the x- terms."""
    from xaibench.analyzers.native import composites as C
    from xaibench.analyzers.native.graph import trace

    graph = trace(_walk_net())
    kernels = [i for i, c in enumerate(graph.calls) if C.has_kernel(c.layer)]
    assert [i in C.nonnegative_calls(graph) for i in kernels] == [False, True, True, True]


@pytest.mark.parametrize("rule", ["Alpha2Beta1", "Alpha1Beta0IgnoreBias", "Epsilon", "Z"])
def test_forward_shortcuts_change_no_number(rule):
    """The x- terms dropped where x >= 0, and z taken from the forward pass, give the
    same numbers as the rules computed in full (bit for bit)."""
    from xaibench.analyzers.native import rules as R
    from xaibench.analyzers.native.linear import linear_of

    model = _walk_net()
    rng = np.random.default_rng(3)
    for layer, shape in ((model.layers[2], (2, 4, 4, 4)), (model.layers[4], (2, 12))):
        op, r = linear_of(layer), R.rule_from(rule)
        x = tf.nn.relu(tf.constant(rng.normal(size=shape), tf.float32))
        z = op.apply(layer, x, op.kernels(layer), op.bias(layer))
        rel = tf.constant(rng.normal(size=z.shape), tf.float32)
        full = r(op, layer, x, rel).numpy()
        short = r(op, layer, x, rel, z=z if r.uses_forward_z else None, nonnegative=True)
        np.testing.assert_array_equal(short.numpy(), full)
        y = layer(x)
        np.testing.assert_array_equal(layer.activation(z).numpy(), y.numpy())


def test_default_batch_size_follows_the_activations():
    """batch_size=None: the whole input in one call for a small model, a few images for
    VGG-sized activations, 32 where the activations cannot be read; the heatmaps do not
    depend on it."""
    from xaibench.analyzers.native.analyzers import ACTIVATION_BUDGET, auto_batch_size

    model = xb.zoo.mnist_cnn()
    assert auto_batch_size(model) > 1000
    assert auto_batch_size(Subclassed()) == 32
    big = tf.keras.Sequential([L.Input((224, 224, 3)), L.Conv2D(64, 3, padding="same"),
                               L.Conv2D(64, 3, padding="same")])
    conv_outputs = 4 * 2 * 224 * 224 * 64            # bytes per image (and maybe the input's)
    assert auto_batch_size(big) in (ACTIVATION_BUDGET // (conv_outputs + 4 * 224 * 224 * 3),
                                    ACTIVATION_BUDGET // conv_outputs)
    x = np.random.default_rng(5).uniform(0, 1, (5, 28, 28, 1)).astype("float32")
    for name in ("lrp.alpha_2_beta_1", "guided_backprop"):
        whole = xb.create_analyzer(name, model).analyze(x, [0, 1, 2, 3, 4])
        ones = xb.create_analyzer(name, model, batch_size=2).analyze(x, [0, 1, 2, 3, 4])
        np.testing.assert_allclose(whole, ones, rtol=1e-6, atol=1e-7 * np.abs(ones).max())


def test_analyzers_follow_the_users_weights_after_training():
    """Analyzers created before training explain the trained model: the canonized model's
    folded batch norms are re-derived from the user's weights at every call (the same
    numbers as an analyzer created after training)."""
    from test_prepare import randomise_bn

    tf.keras.utils.set_random_seed(4)
    model = randomise_bn(xb.zoo.mnist_cnn())
    rng = np.random.default_rng(4)
    x = rng.uniform(0, 1, (32, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, 32)
    names = ("lrp.epsilon", "lrp.alpha_2_beta_1", "deep_taylor", "guided_backprop", "gradient")
    analyzers = {name: xb.create_analyzer(name, model) for name in names}
    before = {name: an.analyze(x[:4], neuron_selection=y[:4]) for name, an in analyzers.items()}
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1),
                  loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)   # kernels and moving statistics move
    for name, an in analyzers.items():
        after = an.analyze(x[:4], neuron_selection=y[:4])
        fresh = xb.create_analyzer(name, model).analyze(x[:4], neuron_selection=y[:4])
        assert np.abs(after - before[name]).max() > 1e-3 * np.abs(before[name]).max(), name
        np.testing.assert_array_equal(after, fresh, err_msg=name)
