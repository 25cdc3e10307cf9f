"""LRP and Deep Taylor on the keras.applications architectures, canonized by
``xb.prepare`` the Zennit way, and checked against a numpy re-derivation of their
building blocks (``lrp_blocks_numpy.py``).

* ``prepare`` keeps each architecture's logits with batch norm folded or kept before
  activations (float64: 1e-10 of max |logit|; float32: 1e-4, the round-off of these
  deep random networks) and leaves the user's model untouched;
* every LRP name and Deep Taylor gives finite heatmaps of the input's shape on every
  architecture (every name on MobileNetV2, with ``Add``, and InceptionV3, with
  ``Concatenate``; every batch-norm rule on ResNet50V2's kept batch norms; a subset
  on the others);
* residual ``Add``, DenseNet ``Concatenate`` with pre-activation batch norm, ReLU6,
  squeeze-and-excitation ``Multiply`` and depthwise conv blocks equal the hand formula;
* LRP-z conserves relevance on ResNet50 and DenseNet121 without biases and shifts;
* a layer without a rule is refused, before any work, with a message that says what
  would accept it.

Speed (2 CPU cores): each architecture is built once per module, the walks run
eagerly (``tf.config.run_functions_eagerly``; ``test_traced_walk_equals_eager`` checks
the traced one on two architectures) and ``xaibench.prepare.prepare`` is memoised
per model within this module (``test_prepare_keeps_the_logits`` checks the rebuilt
model once per architecture).
"""
import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import lrp_blocks_numpy as nb
import xaibench as xb
from xaibench.analyzers.innvestigate_names import SPECS
from xaibench._keras import default_float, is_keras3
from xaibench.prepare import UnsupportedLayerError, logits_model

A = tf.keras.applications
L = tf.keras.layers
xp = importlib.import_module("xaibench.prepare")     # the module (xb.prepare is the function)

ARCHS = {
    "VGG16": lambda: A.VGG16(weights=None, input_shape=(32, 32, 3), classes=10),
    "VGG19": lambda: A.VGG19(weights=None, input_shape=(32, 32, 3), classes=10),
    "ResNet50": lambda: A.ResNet50(weights=None, input_shape=(32, 32, 3), classes=10),
    "ResNet50V2": lambda: A.ResNet50V2(weights=None, input_shape=(32, 32, 3), classes=10),
    "MobileNetV2": lambda: A.MobileNetV2(weights=None, input_shape=(32, 32, 3), classes=10),
    "DenseNet121": lambda: A.DenseNet121(weights=None, input_shape=(32, 32, 3), classes=10),
    "EfficientNetB0": lambda: A.EfficientNetB0(weights=None, input_shape=(32, 32, 3),
                                               classes=10),
    "InceptionV3": lambda: A.InceptionV3(weights=None, input_shape=(75, 75, 3), classes=10),
    # hard sigmoid written as Python arithmetic, relu6(x + 3.0) * (1.0 / 6.0): Keras 3
    # operation nodes / Keras 2 TFOpLambda layers, traced as Rescaling layers
    "MobileNetV3Small": lambda: A.MobileNetV3Small(weights=None, input_shape=(32, 32, 3),
                                                   classes=10),
    # grouped 7x7 convolutions, LayerNormalization (the LN-rule), GELU, LayerScale
    "ConvNeXtTiny": lambda: A.ConvNeXtTiny(weights=None, input_shape=(32, 32, 3), classes=10),
}
#: swish / sigmoid gates (EfficientNet), Keras 3's hard_silu activation (MobileNetV3; Keras 2
#: builds its hard swish as x * relu6(x + 3) / 6): Deep Taylor refuses
NON_RELU = ("EfficientNetB0", "ConvNeXtTiny") + (("MobileNetV3Small",) if is_keras3() else ())

#: the parameters the names need
PARAMS = {
    "lrp": {"rule": "Epsilon"}, "lrp.alpha_beta": {"alpha": 3, "beta": 2},
    "lrp.sequential_preset_b_flat_until_idx": {"until_layer_idx": 3},
    "lrp.cmp_flat_until": {"flat_layers": 2},
    "deep_taylor.bounded": {"low": 0.0, "high": 1.0},
}
LRP_NAMES = sorted(n for n, spec in SPECS.items() if spec.family == "lrp")
ALL_NAMES = LRP_NAMES + ["deep_taylor", "deep_taylor.bounded"]
SUBSET = ("lrp.z", "lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.sequential_preset_a_flat",
          "deep_taylor")
#: the names run per architecture: all of them on MobileNetV2 (Add) and InceptionV3
#: (Concatenate), every batch-norm rule on ResNet50V2's kept batch norms
NAMES = dict({arch: SUBSET for arch in ARCHS}, MobileNetV2=ALL_NAMES, InceptionV3=ALL_NAMES,
             ResNet50V2=SUBSET + ("lrp", "lrp.w_square", "lrp.flat", "lrp.z_plus_fast",
                                  "lrp.alpha_1_beta_0_IB", "lrp.sequential_preset_b"))


def _cases():
    for arch in ARCHS:
        for name in NAMES[arch]:
            if not (arch in NON_RELU and name.startswith("deep_taylor")):
                yield arch, name


@pytest.fixture(scope="module", autouse=True)
def fast():
    """Eager walks and one ``prepare`` per model for this module (see the docstring)."""
    real, cache = xp.prepare, {}

    def prepare_once(model, name=None):
        if id(model) not in cache:
            cache[id(model)] = (model, real(model, name))
        return cache[id(model)][1]

    eager = tf.config.functions_run_eagerly()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xp, "prepare", prepare_once)
        tf.config.run_functions_eagerly(True)
        try:
            yield real
        finally:
            tf.config.run_functions_eagerly(eager)
            cache.clear()
            _BUILT.clear()
            _BLOCKS.clear()


def calibrate(model, x, rng, shifts=True):
    """Batch-norm statistics from ``x``, set layer by layer in one inference pass:
    variance ~ E[z^2] of the layer's input, averaged with the layer's mean over
    channels (no mean subtracted and no channel of near-cancelled sums scaled up: no
    float32 round-off amplified through the depth), random scales and, with
    ``shifts``, random beta and moving mean: activations of unit size and folding
    that matters."""
    bns = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]

    def calibrating(bn):
        call = bn.call

        def calibrated(inputs, training=None, **kwargs):
            z = inputs.numpy().astype(np.float64)
            ms = np.mean(z ** 2, axis=tuple(range(z.ndim - 1)))
            rms = np.sqrt(0.5 * ms + 0.5 * ms.mean())    # near-cancelled channels not blown up
            n = rms.shape
            if bn.scale:
                bn.gamma.assign(rng.uniform(0.5, 1.5, n))
            if bn.center:
                bn.beta.assign(rng.normal(0, 0.1, n) if shifts else np.zeros(n))
            bn.moving_mean.assign(rng.normal(0, 0.1, n) * rms if shifts else np.zeros(n))
            bn.moving_variance.assign(rms ** 2 * rng.uniform(0.9, 1.1, n))
            return call(inputs, training=False, **kwargs)
        return calibrated

    for bn in bns:
        bn.call = calibrating(bn)
    try:
        model(x, training=False)
    finally:
        for bn in bns:
            del bn.call


_BUILT = {}


def built(arch):
    """``(model, x, top class, model(x) before any analysis)``, built once per module."""
    if arch not in _BUILT:
        tf.keras.utils.set_random_seed(0)
        model = ARCHS[arch]()
        rng = np.random.default_rng(0)
        shape = model.input_shape[1:]
        xs = rng.uniform(0, 1, (4,) + shape).astype("float32")
        calibrate(model, xs, rng)
        x = xs[:1]                    # one of the calibration images: no tiny-batch drift
        before = model(x, training=False).numpy()
        _BUILT[arch] = (model, x, before.argmax(1), before)
    return _BUILT[arch]


# --------------------------------------------------------------------------- architectures

@pytest.mark.parametrize("arch", list(ARCHS))
def test_prepare_keeps_the_logits(fast, arch):
    """float32: within 1e-4 of max |logit|, the round-off of these deep random networks
    (the unmodified model traced differs from its eager run by as much, see
    ``test_users_model_is_untouched``); float64: ``test_prepare_is_exact_in_float64``."""
    model, x, _, _ = built(arch)
    prepared = fast(model)                                  # a fresh, unmemoised prepare
    kinds = {type(layer).__name__ for layer in prepared.layers}
    assert not kinds & {"Dropout", "Softmax", "Functional", "Sequential"}
    got, want = prepared(x).numpy(), reference_logits(model, x)
    assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()
    folded = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)]
    kept = [layer for layer in prepared.layers if isinstance(layer, L.BatchNormalization)]
    assert len(kept) < len(folded) or not folded            # folding happened
    if arch in ("ResNet50V2", "DenseNet121"):
        assert kept                                         # pre-activation batch norms stay


def reference_logits(model, x):
    """The pre-softmax logits, by hand: the final Dense layer's W a + b, or (MobileNetV3:
    1x1 conv, Flatten, softmax Activation) the user's model cut before its softmax."""
    dense = model.layers[-1]
    if not isinstance(dense, L.Dense):
        return tf.keras.Model(model.input, dense.input)(x).numpy()
    a = tf.keras.Model(model.input, dense.input)(x).numpy()
    return a @ dense.kernel.numpy() + dense.bias.numpy()


@pytest.mark.parametrize("arch", ["EfficientNetB0", "ResNet50V2"])
def test_prepare_is_exact_in_float64(fast, arch):
    """Folding, merging and keeping layers change no logit beyond float64 round-off
    (EfficientNet: depthwise folds, swish merges, Rescaling / Normalization, gates,
    Dropout; ResNet50V2: kept pre-activation batch norms, ReLU after Add)."""
    with default_float("float64"):
        tf.keras.utils.set_random_seed(2)
        model = ARCHS[arch]()
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (4,) + model.input_shape[1:])
    calibrate(model, x, rng)
    got, want = fast(model)(x).numpy(), reference_logits(model, x)
    assert got.dtype == np.float64
    assert np.abs(got - want).max() <= 1e-10 * np.abs(want).max()


@pytest.mark.parametrize("arch,name", list(_cases()))
def test_every_name_gives_finite_heatmaps(arch, name):
    model, x, top, _ = built(arch)
    R = xb.create_analyzer(name, model, **PARAMS.get(name, {})).analyze(x, neuron_selection=top)
    assert R.shape == x.shape and R.dtype == np.float32
    assert np.isfinite(R).all()
    assert np.abs(R).max() > 0


#: Grad-CAM's default layer: the last block's output before the classifier head (the layers
#: the Grad-CAM literature and Keras' own Grad-CAM example use)
CAM_LAYERS = {"VGG16": "block5_conv3", "VGG19": "block5_conv4", "ResNet50": "conv5_block3_out",
              "ResNet50V2": "post_relu", "MobileNetV2": "out_relu", "DenseNet121": "relu",
              "EfficientNetB0": "top_activation", "InceptionV3": "mixed10"}


@pytest.mark.parametrize("arch", list(CAM_LAYERS))
def test_grad_cam_default_layer_is_the_last_block_before_the_head(arch):
    model, x, top, _ = built(arch)
    an = xb.create_analyzer("grad_cam", model)
    assert an.layer_name == CAM_LAYERS[arch]
    np.testing.assert_array_equal(
        an.analyze(x), xb.create_analyzer("grad_cam", model, layer=CAM_LAYERS[arch]).analyze(x))


@pytest.mark.parametrize("arch", NON_RELU)
def test_deep_taylor_refuses_non_relu_architectures(arch):
    model, _, _, _ = built(arch)
    with pytest.raises(ValueError, match=r"only supports ReLU.*(swish|silu)|LayerNormalization "
                                         r"has no Deep Taylor rule.*accept it: LRP\."):
        xb.create_analyzer("deep_taylor", model)


@pytest.mark.parametrize("arch,name", [("EfficientNetB0", "lrp.epsilon"),
                                       ("VGG16", "deep_taylor")])
def test_traced_walk_equals_eager(arch, name):
    model, x, top, _ = built(arch)
    an = xb.create_analyzer(name, model)
    eager = an.analyze(x, neuron_selection=top)
    tf.config.run_functions_eagerly(False)
    try:
        traced = an.analyze(x, neuron_selection=top)
    finally:
        tf.config.run_functions_eagerly(True)
    # graph-mode kernels sum in another order: float32 round-off, amplified through
    # EfficientNet's depth to ~1.5e-4 of max |R| (its own logits move ~1e-4 traced)
    assert np.abs(traced - eager).max() <= 1e-3 * np.abs(eager).max()


# --------------------------------------------------------------------------- conservation

@pytest.mark.parametrize("arch", ["ResNet50", "DenseNet121"])
def test_lrp_z_conserves_relevance_without_biases_and_shifts(arch):
    """Kohlbrenner eq. 1 sums to the logit when no bias absorbs relevance: conv/dense
    biases, batch-norm beta and moving mean set to 0 (batch norm then scales only)."""
    tf.keras.utils.set_random_seed(1)
    model = ARCHS[arch]()
    rng = np.random.default_rng(1)
    for layer in model.layers:
        if getattr(layer, "use_bias", False):
            layer.bias.assign(tf.zeros_like(layer.bias))
    calibrate(model, rng.uniform(0, 1, (4, 32, 32, 3)).astype("float32"), rng, shifts=False)
    x = rng.uniform(0, 1, (2, 32, 32, 3)).astype("float32")
    logits = logits_model(model)(x, training=False).numpy()
    top = logits.argmax(1)
    R = xb.create_analyzer("lrp.z", model).analyze(x, neuron_selection=top)
    np.testing.assert_allclose(R.reshape(2, -1).sum(1, dtype=np.float64),
                               logits[np.arange(2), top], rtol=1e-4)


# --------------------------------------------------------------------------- blocks vs numpy

def _randomise(model, rng, kernel_scale=0.5):
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if ("gamma" in w.name or
                                                                  "variance" in w.name)
                               else rng.normal(0, 0.3, w.shape) for w in layer.weights])
        else:
            layer.set_weights([rng.normal(0, kernel_scale, w.shape) if w.ndim > 1 else
                               rng.normal(0, 0.3, w.shape) for w in layer.get_weights()])
    return model


def residual_block():
    inp = L.Input((5, 5, 2))
    h = L.Conv2D(3, 3, padding="same", name="c1")(inp)
    h = L.BatchNormalization(name="bn1")(h)
    h = L.Activation("relu")(h)
    h = L.Conv2D(3, 3, padding="same", name="c2")(h)
    h = L.BatchNormalization(name="bn2")(h)
    s = L.Conv2D(3, 1, name="sc")(inp)
    s = L.BatchNormalization(name="bn_sc")(s)
    a = L.Activation("relu")(L.Add()([s, h]))
    out = L.Dense(4, activation="softmax", name="logits")(L.GlobalAveragePooling2D()(a))
    return tf.keras.Model(inp, out)


def dense_block():
    inp = L.Input((4, 4, 2))
    s = L.Conv2D(3, 3, padding="same", activation="relu", name="stem")(inp)
    h = L.ReLU()(L.BatchNormalization(name="bn1")(s))
    h = L.Conv2D(2, 3, padding="same", name="c1")(h)
    h = L.Concatenate()([s, h])
    h = L.Activation("relu")(L.BatchNormalization(name="bn2")(h))
    h = L.Flatten()(L.AveragePooling2D(2)(h))
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(h))


def post_activation_bn_block():
    inp = L.Input((4, 4, 2))
    h = L.BatchNormalization(name="bn1")(L.Conv2D(3, 3, padding="same", activation="relu",
                                                  name="c1")(inp))
    h = L.AveragePooling2D(2)(L.Conv2D(2, 3, padding="same", activation="relu", name="c2")(h))
    h = L.Flatten()(L.BatchNormalization(name="bn2")(h))
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(h))


def resizing_block():
    inp = L.Input((4, 4, 2))
    h = L.Conv2D(3, 3, padding="same", activation="relu", name="c0")(inp)
    h = L.Resizing(6, 6, name="resize")(h)                            # bilinear
    h = L.Conv2D(3, 3, padding="same", activation="relu", name="c1")(h)
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(L.Flatten()(h)))


def grouped_block():
    inp = L.Input((4, 4, 4))
    h = L.Conv2D(6, 3, padding="same", groups=2, use_bias=False, name="c1")(inp)
    h = L.ReLU()(L.BatchNormalization(name="bn1")(h))
    h = L.Conv2D(4, 1, groups=2, activation="relu", name="c2")(h)
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(L.Flatten()(h)))


def layer_norm_block():
    inp = L.Input((3, 3, 2))
    h = L.LayerNormalization(name="ln")(L.Conv2D(4, 3, padding="same", name="c1")(inp))
    h = L.Dense(3, activation="relu", name="pw")(h)
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(L.Flatten()(h)))


def relu6_block():
    inp = L.Input((4, 4, 2))
    h = L.Conv2D(5, 1, use_bias=False, name="expand")(inp)
    h = L.ReLU(6.0)(L.BatchNormalization(name="bn_e")(h))
    h = L.Conv2D(2, 3, padding="same", use_bias=False, name="project")(h)
    h = L.BatchNormalization(name="bn_p")(h)
    h = L.Flatten()(L.Add()([inp, h]))
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(h))


def squeeze_excite_block():
    inp = L.Input((4, 4, 3))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
    g = L.Reshape((1, 1, 4))(L.GlobalAveragePooling2D()(h))
    g = L.Conv2D(2, 1, activation="relu", name="se_r")(g)
    g = L.Conv2D(4, 1, activation="sigmoid", name="se_e")(g)
    h = L.Flatten()(L.Multiply()([h, g]))
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(h))


def depthwise_block():
    inp = L.Input((6, 6, 2))
    h = L.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(inp)
    h = L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, use_bias=False, name="dw")(h)
    h = L.ReLU(6.0)(L.BatchNormalization(name="bn")(h))
    h = L.Flatten()(L.Conv2D(3, 1, name="pw")(h))
    return tf.keras.Model(inp, L.Dense(4, activation="softmax", name="logits")(h))


BLOCKS = {   # name: (Keras block, numpy reference, input scale)
    "residual_add": (residual_block, nb.residual, 1.0),
    "dense_concatenate_preact_bn": (dense_block, nb.dense_block, 1.0),
    "post_activation_bn": (post_activation_bn_block, nb.post_activation_bn, 1.0),
    "resizing_bilinear": (resizing_block, nb.resized, 1.0),
    "grouped_conv": (grouped_block, nb.grouped, 1.0),
    "layer_norm": (layer_norm_block, nb.layer_norm_block, 1.0),
    "relu6": (relu6_block, nb.relu6_block, 6.0),
    "squeeze_excite_multiply": (squeeze_excite_block, nb.squeeze_excite, 1.0),
    "depthwise": (depthwise_block, nb.depthwise_block, 2.0),
}
RULES = {    # name: (parameters, numpy rule)
    "lrp.z": ({}, nb.z_rule),
    "lrp.epsilon": ({"epsilon": 0.1}, nb.epsilon_rule(0.1)),
    "lrp.alpha_1_beta_0": ({}, nb.alpha_beta_rule(1, 0)),
    "lrp.alpha_2_beta_1_IB": ({}, nb.alpha_beta_rule(2, 1, bias=False)),
    "lrp.w_square": ({}, nb.w_square_rule),
    "lrp.flat": ({}, nb.flat_rule),
}
_BLOCKS = {}


def block(name):
    if name not in _BLOCKS:
        build, ref, scale = BLOCKS[name]
        tf.keras.utils.set_random_seed(3)
        model = build()
        rng = np.random.default_rng(4)
        _randomise(model, rng)
        x = rng.uniform(-1, 1, (3,) + model.input_shape[1:]).astype("float32") * scale
        _BLOCKS[name] = (model, ref, x, np.array([0, 2, 3]))
    return _BLOCKS[name]


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("name", list(BLOCKS))
def test_block_matches_numpy(name, rule):
    model, ref, x, y = block(name)
    params, numpy_rule = RULES[rule]
    R = xb.create_analyzer(rule, model, **params).analyze(x, neuron_selection=y)
    want, logits = zip(*[ref(model, x[i], y[i], numpy_rule) for i in range(len(x))])
    np.testing.assert_allclose(np.stack(logits), logits_model(model)(x).numpy(), rtol=1e-5,
                               atol=1e-6)
    want = np.stack(want)
    deviation = np.abs(R - want).max() / np.abs(want).max()
    assert deviation < 1e-5, f"max deviation {deviation:.2e} of max |R|"


def test_relu6_block_saturates():
    """The ReLU6 block's inputs drive some units past 6 (where ReLU6 is not a ReLU)."""
    model, _, x, _ = block("relu6")
    pre = tf.keras.Model(model.input, model.get_layer("bn_e").output)(x).numpy()
    assert (pre > 6).any() and (pre < 0).any()


# --------------------------------------------------------------------------- canonizer

def _residual(name, channels=3):
    """A small functional block with Keras' default-looking names, the same in every copy."""
    inp = L.Input((8, 8, channels))
    h = L.Conv2D(channels, 3, padding="same", use_bias=False, name="conv")(inp)
    h = L.ReLU(name="relu")(L.BatchNormalization(name="bn")(h))
    return tf.keras.Model(inp, L.Add(name="add")([inp, h]), name=name)


def test_nested_models_with_repeated_layer_names(fast):
    tf.keras.utils.set_random_seed(5)
    inp = L.Input((8, 8, 3))
    shared = _residual("shared")
    h = shared(shared(_residual("first")(inp)))                 # one model called twice
    tail = tf.keras.Sequential([L.GlobalAveragePooling2D(), L.Dense(4, activation="softmax")],
                               name="tail")
    model = tf.keras.Model(inp, tail(h))
    _randomise(model.get_layer("first"), np.random.default_rng(6))
    x = np.random.default_rng(7).uniform(-1, 1, (2, 8, 8, 3)).astype("float32")
    prepared = fast(model)
    names = [layer.name for layer in prepared.layers]
    assert len(names) == len(set(names))
    assert not any(isinstance(layer, tf.keras.Model) for layer in prepared.layers)
    assert [type(layer).__name__ for layer in prepared.layers].count("Add") == 3
    logits = prepared(x).numpy()                    # the softmax of the nested tail is cut
    assert prepared.layers[-1].get_config()["activation"] == "linear"
    np.testing.assert_allclose(tf.nn.softmax(logits).numpy(), model(x).numpy(), atol=1e-6)
    for name in ("lrp.z", "lrp.sequential_preset_a_flat", "deep_taylor"):
        R = xb.create_analyzer(name, model).analyze(x, neuron_selection=logits.argmax(1))
        assert R.shape == x.shape and np.isfinite(R).all()


def _arithmetic(written: bool):
    """A residual, gated block with an affine pre-activation, written as Python arithmetic
    on Keras tensors (``written``) or as the layers that compute the same."""
    tf.keras.utils.set_random_seed(8)
    inp = L.Input((8, 8, 3))
    h = L.Conv2D(4, 3, padding="same", name="c1")(inp)
    a = L.ReLU()(h * 0.5 + 1.0 if written else L.Rescaling(0.5, 1.0)(h))
    b = L.Conv2D(4, 3, padding="same", activation="relu", name="c2")(a)
    s = a + b if written else L.Add()([a, b])
    g = L.Dense(4, activation="sigmoid", name="g")(L.GlobalAveragePooling2D(keepdims=True)(s))
    s = s * g if written else L.Multiply()([s, g])
    s = 2.0 - s if written else L.Rescaling(-1.0, 2.0)(s)
    return tf.keras.Model(inp, L.Dense(3, name="d")(L.Flatten()(s)))


@pytest.mark.parametrize("name", ["lrp.z", "lrp.epsilon", "lrp.alpha_2_beta_1",
                                  "lrp.sequential_preset_a_flat", "grad_cam", "gradient",
                                  "guided_backprop"])
def test_python_arithmetic_on_tensors_equals_its_layers(fast, name):
    """``a + b``, ``a * b``, ``x * c + d`` and ``c - x`` give the heatmaps of ``Add``,
    ``Multiply`` and ``Rescaling`` layers with the same weights."""
    x = np.random.default_rng(9).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    _same_heatmaps(_arithmetic(True), _arithmetic(False), x, name, "c1")


def _same_heatmaps(model, twin, x, name: str, cam_layer: str):
    """``twin`` (given ``model``'s weights) computes what ``model`` does, and analyzer
    ``name`` (Grad-CAM at ``cam_layer``) gives it the same heatmaps, 1e-6 of max |R|."""
    twin.set_weights(model.get_weights())
    np.testing.assert_array_equal(model(x).numpy(), twin(x).numpy())
    kw = {"layer": cam_layer} if name == "grad_cam" else {}
    got = xb.create_analyzer(name, model, **kw).analyze(x, neuron_selection=[0, 2])
    want = xb.create_analyzer(name, twin, **kw).analyze(x, neuron_selection=[0, 2])
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def _scaled_residual(custom: bool, bias: bool = True):
    """A conv block with InceptionResNetV2's scaled residual x + r * 0.17, as its
    ``CustomScaleLayer`` (``custom``) or as ``Add`` and ``Rescaling`` layers."""
    tf.keras.utils.set_random_seed(18)
    inp = L.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu", use_bias=bias, name="c1")(inp)
    r = L.Conv2D(4, 3, padding="same", use_bias=bias, name="c2")(x)
    if custom:
        scale = importlib.import_module("keras.src.applications.inception_resnet_v2")
        h = scale.CustomScaleLayer(0.17)([x, r])
    else:
        h = L.Add()([x, L.Rescaling(0.17)(r)])
    h = L.Activation("relu")(h)
    return tf.keras.Model(inp, L.Dense(3, use_bias=bias, name="d")(L.Flatten()(h)))


@pytest.mark.parametrize("name", ["lrp.z", "lrp.epsilon", "lrp.alpha_2_beta_1",
                                  "lrp.sequential_preset_a_flat", "deep_taylor", "grad_cam"])
def test_inception_resnet_scaled_residual_is_add_of_the_rescaled_branch(name):
    """InceptionResNetV2's ``CustomScaleLayer`` (x + r * scale) gives the heatmaps of
    ``Add`` and ``Rescaling`` with the same weights, and LRP-z over it conserves the logit
    without biases."""
    x = np.random.default_rng(19).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    _same_heatmaps(_scaled_residual(True), _scaled_residual(False), x, name, "c2")
    if name == "lrp.z":
        unbiased = _scaled_residual(True, bias=False)
        R = xb.create_analyzer(name, unbiased).analyze(x)
        np.testing.assert_allclose(R.reshape(2, -1).sum(1), unbiased(x).numpy().max(1),
                                   rtol=1e-4)


def _augmented(augment: bool):
    """A small CNN with Keras' data augmentation layers in front (``augment``) or without."""
    tf.keras.utils.set_random_seed(12)
    inp = L.Input((8, 8, 3))
    h = inp
    if augment:
        for layer in (L.RandomFlip(), L.RandomRotation(0.2), L.RandomZoom(0.2),
                      L.RandomTranslation(0.1, 0.1), L.RandomContrast(0.3)):
            h = layer(h)
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(h)
    h = L.MaxPooling2D()(h)
    if augment:     # keras.layers.AlphaDropout: Keras 3's tf.keras names a legacy class so
        for layer in (L.GaussianNoise(0.1), L.SpatialDropout2D(0.3), L.GaussianDropout(0.2),
                      keras.layers.AlphaDropout(0.2), L.ActivityRegularization(0.1)):
            h = layer(h)
    h = L.Conv2D(4, 3, activation="relu", name="c2")(h)
    return tf.keras.Model(inp, L.Dense(3, activation="softmax", name="d")(L.Flatten()(h)))


@pytest.mark.parametrize("name", ["lrp.epsilon", "lrp.alpha_2_beta_1", "deep_taylor",
                                  "lrp.sequential_preset_a_flat", "grad_cam",
                                  "guided_backprop", "gradient"])
def test_augmentation_layers_are_identities(fast, name):
    """Keras' ``Random*`` augmentation layers, ``GaussianNoise`` and the dropout layers are
    identities at inference: the heatmaps are those of the same model without them."""
    with_aug, without = _augmented(True), _augmented(False)
    with_aug.set_weights(without.get_weights())
    x = np.random.default_rng(13).uniform(0, 1, (2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(with_aug.predict(x, verbose=0), without.predict(x, verbose=0))
    got = xb.create_analyzer(name, with_aug).analyze(x)      # the top class (Deep Taylor's
    want = xb.create_analyzer(name, without).analyze(x)      # max(0, logit) is > 0 there)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def _preprocessed(mode: str, inside: bool):
    """A small CNN with ``keras.applications``' ``preprocess_input`` of ``mode`` (caffe:
    channels reversed, ImageNet means subtracted; tf: x / 127.5 - 1; torch: x / 255, means
    subtracted, divided by the deviations) applied inside the model, or without it."""
    tf.keras.utils.set_random_seed(14)
    inp = L.Input((8, 8, 3))
    h = A.imagenet_utils.preprocess_input(inp, mode=mode) if inside else inp
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="c1")(h)
    h = L.Conv2D(4, 3, activation="relu", name="c2")(L.MaxPooling2D()(h))
    return tf.keras.Model(inp, L.Dense(3, name="d")(L.Flatten()(h)))


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("name", ["lrp.epsilon", "lrp.alpha_2_beta_1", "deep_taylor",
                                  "grad_cam"])
def test_preprocess_input_inside_the_model_passes_relevance_through(mode, name):
    """LRP sends relevance unchanged through the affine preprocessing (and back through the
    channel reversal), Grad-CAM's maps and gradients are those after it: the heatmaps equal
    the bare network's on the preprocessed images (caffe: channels reversed back)."""
    full, bare = _preprocessed(mode, True), _preprocessed(mode, False)
    bare.set_weights(full.get_weights())
    x = np.random.default_rng(15).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    inp = L.Input((8, 8, 3))
    pre = tf.keras.Model(inp, A.imagenet_utils.preprocess_input(inp, mode=mode))(x).numpy()
    np.testing.assert_allclose(full(x).numpy(), bare(pre).numpy(), rtol=1e-5, atol=1e-4)
    got = xb.create_analyzer(name, full).analyze(x)
    want = xb.create_analyzer(name, bare).analyze(pre)
    want = want[..., ::-1] if mode == "caffe" and name != "grad_cam" else want
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_transfer_learning_tutorial_model(fast):
    """TensorFlow's transfer-learning tutorial model: augmentation (a nested Sequential),
    ``mobilenet_v2.preprocess_input``, a nested MobileNetV2 base called with
    ``training=False``, pooling, dropout, one logit. Grad-CAM finds the base's last block;
    LRP equals the bare base + head on the preprocessed images (x / 127.5 - 1 passes
    relevance through)."""
    tf.keras.utils.set_random_seed(18)
    base = A.MobileNetV2(input_shape=(32, 32, 3), include_top=False, weights=None, alpha=0.35)
    head = L.Dense(1, name="logit")
    inp = L.Input((32, 32, 3))
    h = tf.keras.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.2)])(inp)
    h = base(A.mobilenet_v2.preprocess_input(h), training=False)
    model = tf.keras.Model(inp, head(L.Dropout(0.2)(L.GlobalAveragePooling2D()(h))))
    bare_in = L.Input((32, 32, 3))
    bare = tf.keras.Model(bare_in, head(L.GlobalAveragePooling2D()(base(bare_in))))
    x = np.random.default_rng(19).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert xb.create_analyzer("grad_cam", model).layer_name == "out_relu"
    for name in ("lrp.epsilon", "lrp.sequential_preset_a_flat"):
        got = xb.create_analyzer(name, model).analyze(x, neuron_selection=[0, 0])
        want = xb.create_analyzer(name, bare).analyze(x / 127.5 - 1.0, neuron_selection=[0, 0])
        assert np.abs(want).max() > 0
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())


def test_other_operations_trace_for_grad_cam_and_are_refused_by_lrp():
    """A tensor divided by a tensor: Grad-CAM runs through it (eq. 1-2 by a GradientTape on
    the user's model), LRP refuses it by the operation's name."""
    tf.keras.utils.set_random_seed(16)
    inp = L.Input((4, 4, 1))
    h = L.Conv2D(2, 3, padding="same", name="c")(inp)
    model = tf.keras.Model(inp, L.Dense(2)(L.Flatten()(h / (h * h + 1.0))))
    with pytest.raises(UnsupportedLayerError, match=r"operation (TrueDivide|math.truediv) "
                                                    r"applied to a Keras tensor"):
        xb.create_analyzer("lrp.epsilon", model)
    x = np.random.default_rng(17).normal(0, 1, (3, 4, 4, 1)).astype("float32")
    maps = tf.keras.Model(model.inputs, [model.get_layer("c").output, model.output])
    with tf.GradientTape() as tape:
        A_k, y = maps(x)
        yc = tf.reduce_max(y, axis=1)
    alpha = tf.reduce_mean(tape.gradient(yc, A_k), axis=(1, 2), keepdims=True)     # eq. 1
    cam = tf.nn.relu(tf.reduce_sum(alpha * A_k, axis=-1)).numpy()                  # eq. 2
    R = xb.create_analyzer("grad_cam", model, layer="c").analyze(x)
    assert cam.max() > 0
    np.testing.assert_allclose(R[..., 0], cam, rtol=1e-5, atol=1e-6 * cam.max())


def _sequential(*layers):
    return tf.keras.Sequential([L.Input((6, 6, 2)), L.Conv2D(3, 3, name="c")] + list(layers)
                               + [L.Flatten(), L.Dense(2)])


def _after_add(layer):
    inp = L.Input((6, 6, 2))
    h = L.Add()([inp, L.Conv2D(2, 3, padding="same")(inp)])
    return tf.keras.Model(inp, L.Dense(2)(L.Flatten()(layer(h))))


@pytest.mark.parametrize("strides,padding,output_padding",
                         [(1, "valid", None), (2, "same", None), (2, "valid", 1)])
def test_transposed_convolution_lrp_z_is_gradient_times_input(strides, padding,
                                                             output_padding):
    """Conv2DTranspose is a kernel layer (iNNvestigate counts it a conv layer): on a ReLU
    network without biases LRP-z equals gradient x input, here through a transposed conv
    and the batch norm folded into it (no shift: centre off, moving mean 0)."""
    tf.keras.utils.set_random_seed(20)
    inp = L.Input((6, 6, 2))
    h = L.Conv2D(3, 3, activation="relu", use_bias=False)(inp)
    h = L.Conv2DTranspose(4, 3, strides=strides, padding=padding, use_bias=False,
                          output_padding=output_padding, name="up")(h)
    bn = L.BatchNormalization(center=False)
    h = L.ReLU()(bn(h))
    model = tf.keras.Model(inp, L.Dense(3, use_bias=False)(L.Flatten()(h)))
    rng = np.random.default_rng(21)
    bn.set_weights([rng.uniform(0.5, 2, 4), np.zeros(4), rng.uniform(0.5, 2, 4)])
    x = rng.normal(size=(2, 6, 6, 2)).astype("float32")
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        top = tf.reduce_max(model(xt), axis=1)
    want = (tape.gradient(top, xt) * xt).numpy()
    got = xb.create_analyzer("lrp.z", model).analyze(x)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-5 * np.abs(want).max())
    for name in ("lrp.alpha_2_beta_1", "lrp.sequential_preset_a_flat", "deep_taylor"):
        assert np.isfinite(xb.create_analyzer(name, model).analyze(x)).all()


def _mixed_precision():
    """The model of :func:`_sequential` built under Keras' mixed-precision policy."""
    tf.keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        return _sequential()
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")


def test_mixed_precision_is_refused_by_lrp_and_runs_the_gradient_family():
    """A model computing in float16 is refused by LRP and Deep Taylor at creation, naming
    the fix; the gradient family differentiates it as it is (float32 heatmaps)."""
    model = _mixed_precision()
    for name in ("lrp.epsilon", "deep_taylor"):
        with pytest.raises(UnsupportedLayerError, match=r"layer 'c' of type Conv2D .* computes "
                                                        r"in float16 \(mixed precision\).*"
                                                        r"set_global_policy\('float32'\)"):
            xb.create_analyzer(name, model)
    x = np.random.default_rng(19).uniform(0, 1, (2, 6, 6, 2)).astype("float32")
    with tf.GradientTape() as tape:
        xt = tf.constant(x)
        tape.watch(xt)
        top = tf.reduce_max(tf.cast(model(xt), tf.float32), axis=1)
    want = tape.gradient(top, xt).numpy()
    got = xb.create_analyzer("gradient", model).analyze(x)
    assert got.dtype == np.float32 and np.abs(want).max() > 0
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


@pytest.mark.parametrize("build,layer_name,kind,accepted", [
    (lambda: _after_add(L.GroupNormalization(groups=1, name="gn")), "gn", "GroupNormalization",
     "none"),
    (lambda: _sequential(L.UnitNormalization(name="un")), "un", "UnitNormalization", "none"),
    (lambda: _sequential(L.MaxPooling2D(), L.ReLU(name="r")), "r", "ReLU", "none"),
    (lambda: _after_add(L.Activation("swish", name="sw")), "sw", "Activation", "LRP"),
])
def test_layer_without_a_rule_is_refused_before_any_work(build, layer_name, kind, accepted):
    model = build()
    for name in ("lrp.z", "deep_taylor"):
        if accepted == "LRP" and name == "lrp.z":
            xb.create_analyzer(name, model)                   # LRP passes the swish
            continue
        with pytest.raises(UnsupportedLayerError) as info:
            xb.create_analyzer(name, model)
        msg = str(info.value)
        assert f"layer {layer_name!r} of type {kind}" in msg
        assert f"Rule families that accept it: {accepted}" in msg
        assert "Analyzers that work on any model: gradient" in msg


# --------------------------------------------------------------------------- user's model

@pytest.mark.parametrize("arch", list(ARCHS))
def test_users_model_is_untouched(arch):
    """After every analysis above, the user's model predicts as before, eagerly and in a
    traced ``tf.function``."""
    model, x, _, before = built(arch)
    np.testing.assert_array_equal(model(x, training=False).numpy(), before)
    tf.config.run_functions_eagerly(False)
    try:
        traced = tf.function(lambda t: model(t, training=False))(tf.constant(x)).numpy()
    finally:
        tf.config.run_functions_eagerly(True)
    # graph-mode float32 kernels: ~1e-4 of the top probability on EfficientNetB0
    assert np.abs(traced - before).max() <= 1e-3 * np.abs(before).max()
    np.testing.assert_array_equal(traced.argmax(1), before.argmax(1))
