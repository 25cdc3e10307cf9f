"""Grad-CAM (Selvaraju et al., eq. 1-2) against a plain-numpy forward/backward pass and
bilinear (half-pixel) upsampling written with np.interp."""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb

L = tf.keras.layers


def conv_same(x, w, b):
    """Stride-1 'same' convolution by shifted einsums."""
    k = w.shape[0]
    p = k // 2
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    h, wd = x.shape[1:3]
    out = sum(np.einsum("nhwc,ck->nhwk", xp[:, i:i + h, j:j + wd], w[i, j])
              for i in range(k) for j in range(k))
    return out + b


def upsample_bilinear(m, h, w):
    """(N, u, v) -> (N, h, w): separable linear interpolation at half-pixel centres,
    edges clamped (what tf.image.resize(method='bilinear') does without antialiasing)."""
    n, u, v = m.shape
    rows = (np.arange(h) + 0.5) * u / h - 0.5
    cols = (np.arange(w) + 0.5) * v / w - 0.5
    tmp = np.stack([[np.interp(rows, np.arange(u), m[i, :, j]) for j in range(v)]
                    for i in range(n)]).transpose(0, 2, 1)          # (n, h, v)
    return np.stack([[np.interp(cols, np.arange(v), tmp[i, r]) for r in range(h)]
                     for i in range(n)])


def numpy_gradcam(model, x, selection, relu=True, rectified=True):
    g = lambda n: [np.asarray(a, np.float64) for a in model.get_layer(n).get_weights()]  # noqa
    (w1, b1), (w2, b2), (w3, b3), (w4, b4) = g("conv1"), g("conv2"), g("fc"), g("out")
    a1 = np.maximum(conv_same(x, w1, b1), 0)
    n, h, w, c = a1.shape
    pooled = a1.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))
    z2 = conv_same(pooled, w2, b2)
    A = np.maximum(z2, 0)                                        # feature maps of the last conv
    z3 = A.reshape(n, -1) @ w3 + b3
    logits = np.maximum(z3, 0) @ w4 + b4                         # pre-softmax scores
    sel = logits.argmax(1) if selection is None else selection
    g_h = w4[:, sel].T * (z3 > 0)                                # d y_c / d fc
    grads = (g_h @ w3.T).reshape(A.shape)                        # d y_c / d A
    if not rectified:                  # the maps before the ReLU: d y_c / d z2
        grads, A = grads * (z2 > 0), z2
    alpha = grads.mean(axis=(1, 2))                              # eq. 1
    cam = np.einsum("nk,nuvk->nuv", alpha, A)                    # eq. 2 (before the ReLU)
    if relu:
        cam = np.maximum(cam, 0)
    return upsample_bilinear(cam, x.shape[1], x.shape[2]), logits


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(3)
    inp = L.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    h = L.MaxPooling2D(2, name="pool")(h)
    h = L.Conv2D(5, 3, padding="same", name="conv2")(h)
    h = L.BatchNormalization(name="bn")(h)      # folded by prepare
    h = L.ReLU(name="relu2")(h)                 # merged by prepare
    h = L.Flatten(name="flat")(h)
    h = L.Dense(6, activation="relu", name="fc")(h)
    out = L.Dense(3, activation="softmax", name="out")(h)
    m = tf.keras.Model(inp, out)
    bn = m.get_layer("bn")
    rng = np.random.RandomState(0)
    bn.set_weights([rng.uniform(0.5, 1.5, 5), rng.normal(0, 0.3, 5), rng.normal(0, 0.2, 5),
                    rng.uniform(0.5, 2, 5)])
    return m


def folded(model):
    """The same network with the batch norm folded by hand (the reference's weights)."""
    inp = L.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(h)
    h = L.Flatten()(h)
    h = L.Dense(6, activation="relu", name="fc")(h)
    out = L.Dense(3, name="out")(h)
    ref = tf.keras.Model(inp, out)
    for n in ("conv1", "fc", "out"):
        ref.get_layer(n).set_weights(model.get_layer(n).get_weights())
    gamma, beta, mean, var = model.get_layer("bn").get_weights()
    k, b = model.get_layer("conv2").get_weights()
    s = gamma / np.sqrt(var + model.get_layer("bn").epsilon)
    ref.get_layer("conv2").set_weights([k * s, (b - mean) * s + beta])
    return ref


@pytest.mark.parametrize("relu", [True, False])
def test_gradcam_equals_numpy_reference(model, relu):
    x = np.random.RandomState(1).normal(0, 1, (6, 8, 8, 2)).astype(np.float32)
    an = xb.create_analyzer("grad_cam", model, relu=relu)
    assert an.layer_name == "relu2"   # default: the last conv layer's rectified maps
    ref_model = folded(model)
    for selection in (None, np.array([0, 1, 2, 2, 1, 0])):
        R = an.analyze(x, neuron_selection=selection)
        ref, logits = numpy_gradcam(ref_model, x.astype(np.float64), selection, relu)
        assert R.shape == x.shape
        np.testing.assert_array_equal(R[..., 0], R[..., 1])   # the map repeated over channels
        scale = np.abs(ref).max()
        assert scale > 1e-3
        np.testing.assert_allclose(R[..., 0], ref, rtol=1e-4, atol=1e-5 * scale)
        if relu:
            assert R.min() >= 0
        else:
            assert (ref < 0).any()
    # the explained score is the pre-softmax logit: the same map for the model without softmax
    np.testing.assert_allclose(xb.create_analyzer("grad_cam", ref_model, relu=relu).analyze(x, selection), R,
                               rtol=1e-5, atol=1e-6 * scale)
    assert np.allclose(model.predict(x, verbose=0).argmax(1), logits.argmax(1))


def test_gradcam_at_any_layer_of_the_users_model(model):
    """Any layer of the user's model can be named, also one that prepare() would fold:
    at the batch norm's output (before the ReLU) the maps are the folded conv's z."""
    x = np.random.RandomState(4).normal(0, 1, (4, 8, 8, 2)).astype(np.float32)
    R = xb.create_analyzer("grad_cam", model, layer="bn", relu=False).analyze(x)
    ref, _ = numpy_gradcam(folded(model), x.astype(np.float64), None, relu=False,
                           rectified=False)
    scale = np.abs(ref).max()
    np.testing.assert_allclose(R[..., 0], ref, rtol=1e-4, atol=1e-5 * scale)
    default = xb.create_analyzer("grad_cam", model).analyze(x)
    np.testing.assert_array_equal(xb.create_analyzer("grad_cam", model, layer="relu2").analyze(x),
                                  default)


def test_gradcam_layer_choice_and_errors(model):
    x = np.random.RandomState(2).normal(0, 1, (2, 8, 8, 2)).astype(np.float32)
    # eq. 1-2 at the pooled maps A (N, 4, 4, 4) by hand: the user's layers after "pool"
    # called directly (batch norm in inference mode), the last one without its softmax,
    # d y_c / d A by a GradientTape; then bilinear upsampling (np.interp) to 8 x 8
    xs = np.random.RandomState(5).normal(0, 1, (8, 8, 8, 2)).astype(np.float32)
    A = tf.constant(tf.keras.Model(model.inputs, model.get_layer("pool").output)(xs))
    kernel, bias = model.get_layer("out").get_weights()
    with tf.GradientTape() as tape:
        tape.watch(A)
        h = model.get_layer("relu2")(model.get_layer("bn")(model.get_layer("conv2")(A),
                                                             training=False))
        logits = tf.matmul(model.get_layer("fc")(model.get_layer("flat")(h)), kernel) + bias
        c = tf.argmax(logits, axis=1)
        yc = tf.gather(logits, c, axis=1, batch_dims=1)
    grads = tape.gradient(yc, A).numpy().astype(np.float64)
    np.testing.assert_array_equal(c.numpy(), model.predict(xs, verbose=0).argmax(1))
    alpha = grads.mean(axis=(1, 2))                                          # eq. 1
    signed = np.einsum("nk,nuvk->nuv", alpha, A.numpy().astype(np.float64))  # eq. 2, no ReLU
    assert (signed > 0).any() and (signed < 0).any()                         # the ReLU matters
    for relu, cam in ((True, np.maximum(signed, 0)), (False, signed)):
        R = xb.create_analyzer("grad_cam", model, layer="pool", relu=relu).analyze(xs)
        assert R.shape == xs.shape
        np.testing.assert_array_equal(R[..., 0], R[..., 1])
        ref = upsample_bilinear(cam, 8, 8)
        scale = np.abs(ref).max()
        assert scale > 1e-3
        np.testing.assert_allclose(R[..., 0], ref, rtol=1e-4, atol=1e-5 * scale)
    with pytest.raises(ValueError, match="not a layer of model"):
        xb.create_analyzer("grad_cam", model, layer="nope")
    with pytest.raises(ValueError, match="feature maps"):
        xb.create_analyzer("grad_cam", model, layer="fc")
    with pytest.raises(TypeError, match="layer name"):
        xb.create_analyzer("grad_cam", model, layer=3)
    dense = tf.keras.Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(2)])
    with pytest.raises(ValueError, match="no 2-D convolution"):
        xb.create_analyzer("grad_cam", dense)
    with pytest.raises(ValueError, match="out of range"):
        xb.create_analyzer("grad_cam", model).analyze(x, neuron_selection=3)


def _nested(model):
    """The fixture's network with its convolutional part as a nested base model (the
    transfer-learning shape ``Sequential([base, head...])``), sharing the weights."""
    inp = L.Input((8, 8, 2))
    h = model.get_layer("conv1")(inp)
    h = model.get_layer("pool")(h)
    h = model.get_layer("relu2")(model.get_layer("bn")(model.get_layer("conv2")(h)))
    base = tf.keras.Model(inp, h, name="base")
    return tf.keras.Sequential([L.Input((8, 8, 2)), base, model.get_layer("flat"),
                                model.get_layer("fc"), model.get_layer("out")])


def test_gradcam_in_a_nested_base_model(model):
    """The last conv layer of a nested base model is found, and its layers can be named
    (``"base/bn"``, a bare unique name, or the layer object): eq. 1-2 as on the flat model."""
    x = np.random.RandomState(6).normal(0, 1, (4, 8, 8, 2)).astype(np.float32)
    nested = _nested(model)
    np.testing.assert_array_equal(nested.predict(x, verbose=0), model.predict(x, verbose=0))
    an = xb.create_analyzer("grad_cam", nested)
    assert an.layer_name == "relu2"
    ref, _ = numpy_gradcam(folded(model), x.astype(np.float64), None)
    scale = np.abs(ref).max()
    assert scale > 1e-3
    np.testing.assert_allclose(an.analyze(x)[..., 0], ref, rtol=1e-4, atol=1e-5 * scale)
    ref_bn, _ = numpy_gradcam(folded(model), x.astype(np.float64), None, relu=False,
                              rectified=False)
    for layer in ("base/bn", "bn", model.get_layer("bn")):
        R = xb.create_analyzer("grad_cam", nested, layer=layer, relu=False).analyze(x)
        np.testing.assert_allclose(R[..., 0], ref_bn, rtol=1e-4,
                                   atol=1e-5 * np.abs(ref_bn).max())
    with pytest.raises(ValueError, match=r"Did you mean 'base/bn'"):
        xb.create_analyzer("grad_cam", nested, layer="base/bm")


def test_gradcam_names_a_layer_by_path_where_names_repeat():
    def block(name, channels):
        inp = L.Input((6, 6, channels))
        return tf.keras.Model(inp, L.Conv2D(2, 3, padding="same", activation="relu",
                                            name="conv")(inp), name=name)
    inp = L.Input((6, 6, 1))
    model = tf.keras.Model(inp, L.Dense(2)(L.Flatten()(block("second", 2)(block("first", 1)(inp)))))
    x = np.random.RandomState(7).normal(0, 1, (2, 6, 6, 1)).astype(np.float32)
    with pytest.raises(ValueError, match=r"2 layers .* named 'conv'; name one by its path: "
                                         r"first/conv, second/conv"):
        xb.create_analyzer("grad_cam", model, layer="conv")
    first = xb.create_analyzer("grad_cam", model, layer="first/conv").analyze(x)
    default = xb.create_analyzer("grad_cam", model).analyze(x)
    np.testing.assert_array_equal(
        xb.create_analyzer("grad_cam", model, layer="second/conv").analyze(x), default)
    assert not np.array_equal(first, default)


def _tape_gradcam(model, layer, x, selection):
    """Eq. 1-2 from Keras' own forward pass of ``model`` to ``layer``'s maps and the
    logits, the gradient by ``tf.GradientTape``; upsampled by :func:`upsample_bilinear`."""
    both = tf.keras.Model(model.input, [model.get_layer(layer).output, model.output])
    with tf.GradientTape() as tape:
        A, logits = both(x)
        y = tf.gather(logits, selection, axis=1, batch_dims=1)
    grads = tape.gradient(y, A).numpy().astype(np.float64)
    cam = np.maximum(np.einsum("nk,nuvk->nuv", grads.mean(axis=(1, 2)),
                               A.numpy().astype(np.float64)), 0)
    return upsample_bilinear(cam, x.shape[1], x.shape[2])


def test_gradcam_on_a_model_with_attention():
    """A layer called on several tensors (attention over conv patches) is called as
    recorded: Grad-CAM at the patch convolution (the default: the last 4-D maps) equals
    eq. 1-2 on Keras' own forward pass; LRP refuses the attention layer by name."""
    tf.keras.utils.set_random_seed(8)
    inp = L.Input((8, 8, 3))
    patches = L.Conv2D(6, 2, strides=2, activation="relu", name="patches")(inp)
    tokens = L.Reshape((16, 6))(patches)
    attended = L.MultiHeadAttention(2, 3, name="attention")(tokens, tokens)
    h = L.GlobalAveragePooling1D()(L.LayerNormalization()(L.Add()([tokens, attended])))
    model = tf.keras.Model(inp, L.Dense(3)(h))
    x = np.random.RandomState(9).normal(0, 1, (3, 8, 8, 3)).astype(np.float32)
    sel = np.array([0, 1, 2])
    R = xb.create_analyzer("grad_cam", model).analyze(x, neuron_selection=sel)
    ref = _tape_gradcam(model, "patches", x, sel)
    assert ref.max() > 0
    np.testing.assert_allclose(R[..., 0], ref, rtol=1e-5, atol=1e-6 * ref.max())
    with pytest.raises(ValueError, match=r"'attention' of type MultiHeadAttention .* no "
                                         r"relevance rule"):
        xb.create_analyzer("lrp.epsilon", model)


def test_gradcam_default_is_a_depthwise_or_separable_convolution():
    """On a model whose only convolutions are depthwise / separable, the default maps are
    the last one's (after its activation), as eq. 1-2 on Keras' forward pass give them."""
    tf.keras.utils.set_random_seed(10)
    inp = L.Input((8, 8, 2))
    h = L.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(inp)
    h = L.SeparableConv2D(4, 3, padding="same", name="sep")(h)
    h = L.Activation("relu", name="sep_relu")(h)
    model = tf.keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(h)))
    x = np.random.RandomState(11).normal(0, 1, (2, 8, 8, 2)).astype(np.float32)
    R = xb.create_analyzer("grad_cam", model).analyze(x, neuron_selection=[1, 2])
    ref = _tape_gradcam(model, "sep_relu", x, np.array([1, 2]))
    assert ref.max() > 0
    np.testing.assert_allclose(R[..., 0], ref, rtol=1e-5, atol=1e-6 * ref.max())


def test_gradcam_on_grey_images_without_a_channel_axis():
    """A model of (N, H, W) images reshaped to one channel inside: the heatmaps have x's
    shape and equal eq. 1-2 on Keras' forward pass."""
    tf.keras.utils.set_random_seed(12)
    inp = L.Input((8, 8))
    h = L.Conv2D(3, 3, padding="same", activation="relu", name="c")(L.Reshape((8, 8, 1))(inp))
    model = tf.keras.Model(inp, L.Dense(2)(L.Flatten()(h)))
    x = np.random.RandomState(13).normal(0, 1, (2, 8, 8)).astype(np.float32)
    R = xb.create_analyzer("grad_cam", model).analyze(x, neuron_selection=[0, 1])
    assert R.shape == x.shape
    ref = _tape_gradcam(model, "c", x, np.array([0, 1]))
    assert ref.max() > 0
    np.testing.assert_allclose(R, ref, rtol=1e-5, atol=1e-6 * ref.max())
