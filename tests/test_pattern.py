"""PatternNet / PatternAttribution (Kindermans et al., ICLR 2018) against plain-numpy references.

* signal recovery on x = s a_true + distractor (the point of the method),
* the "linear" and "relu" patterns of every layer against a direct numpy
  computation (im2col patches, two-pass covariances over the active samples),
* PatternNet / PatternAttribution heatmaps against a numpy forward/backward pass,
* streaming: batch size, steps, iterables, save/load,
* the errors.
"""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from xaibench.analyzers.pattern import PatternsNotFittedError
from xaibench.prepare import UnsupportedLayerError

L = tf.keras.layers


# --------------------------------------------------------------------------- numpy reference

def im2col(x, k, pad):
    """Patches (N, H', W', k*k*C) of a stride-1 k x k convolution, ordered (di, dj, c)."""
    if pad:
        p = k // 2
        x = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    n, h, w, c = x.shape
    ho, wo = h - k + 1, w - k + 1
    cols = [x[:, i:i + ho, j:j + wo, :] for i in range(k) for j in range(k)]
    return np.concatenate(cols, axis=-1)


def numpy_forward(params, x):
    """Forward pass of the small CNN: conv3x3 same relu, maxpool 2, flatten, dense relu, dense."""
    (w1, b1), (w2, b2), (w3, b3) = params
    p1 = im2col(x, 3, pad=True)                              # inputs of conv neurons
    z1 = p1 @ w1.reshape(-1, w1.shape[-1]) + b1
    a1 = np.maximum(z1, 0)
    n, h, w, c = a1.shape
    win = a1.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(
        n, h // 2, w // 2, c, 4)
    arg = win.argmax(-1)                                     # max-pool switches
    pooled = win.max(-1)
    f = pooled.reshape(n, -1)
    z2 = f @ w2 + b2
    a2 = np.maximum(z2, 0)
    z3 = a2 @ w3 + b3
    return dict(p1=p1, z1=z1, arg=arg, f=f, z2=z2, a2=a2, z3=z3, shape1=a1.shape)


def numpy_patterns(params, x, pattern_type):
    """Patterns of the three kernel layers computed directly from the sample matrices."""
    fw = numpy_forward(params, x)
    ins = [fw["p1"].reshape(-1, fw["p1"].shape[-1]), fw["f"], fw["a2"]]
    outs = [fw["z1"].reshape(-1, fw["z1"].shape[-1]), fw["z2"], fw["z3"]]
    result = []
    for (w, b), X, Z in zip(params, ins, outs):
        W = w.reshape(-1, w.shape[-1]).astype(np.float64)
        X = X.astype(np.float64)
        Y = X @ W                                            # y = w^T x (no bias)
        A = np.zeros_like(W)
        for k in range(W.shape[1]):
            sel = Z[:, k] > 0 if pattern_type == "relu" else np.ones(len(X), bool)
            xs, ys = X[sel], Y[sel, k]
            cov = ((xs - xs.mean(0)) * (ys - ys.mean())[:, None]).mean(0)   # cov(x, y) on the subset
            A[:, k] = cov / (W[:, k] @ cov)
        result.append(A.reshape(w.shape))
    return result


def numpy_backward(params, kernels, x, selection):
    """r^L = y_c, r^{l-1} = P^T (relu'(z^l) r^l), max-pool switches, as in Kindermans et al."""
    fw = numpy_forward(params, x)
    n = len(x)
    (w1, _), (w2, _), (w3, _) = params
    p1, p2, p3 = kernels
    r3 = np.zeros_like(fw["z3"])
    r3[np.arange(n), selection] = fw["z3"][np.arange(n), selection]
    r2 = (r3 @ p3.T) * (fw["z2"] > 0)
    rf = r2 @ p2.T
    nh, nw, c = fw["arg"].shape[1:]
    rpool = rf.reshape(n, nh, nw, c)
    r1 = np.zeros(fw["shape1"])
    for i in range(nh):
        for j in range(nw):
            for q in range(4):
                di, dj = divmod(q, 2)
                hit = fw["arg"][:, i, j, :] == q
                r1[:, 2 * i + di, 2 * j + dj, :] += np.where(hit, rpool[:, i, j, :], 0.0)
    r1 *= fw["z1"] > 0
    h, w = x.shape[1:3]
    rin = np.zeros((n, h + 2, w + 2, x.shape[3]))
    for i in range(3):
        for j in range(3):
            rin[:, i:i + h, j:j + w, :] += np.einsum("nhwk,ck->nhwc", r1, p1[i, j])
    return rin[:, 1:-1, 1:-1, :]


# --------------------------------------------------------------------------- fixtures

def small_cnn(seed=0, softmax=True):
    tf.keras.utils.set_random_seed(seed)
    inp = L.Input((8, 8, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inp)
    h = L.MaxPooling2D(2, name="pool")(h)
    h = L.Flatten(name="flat")(h)
    h = L.Dense(6, activation="relu", name="fc")(h)
    out = L.Dense(3, activation="softmax" if softmax else None, name="out")(h)
    model = tf.keras.Model(inp, out)
    rng = np.random.RandomState(seed)
    for layer in model.layers:
        if layer.weights:   # non-zero biases so the relu masks differ from y > 0
            k, b = layer.get_weights()
            layer.set_weights([k, rng.normal(0, 0.2, b.shape).astype(np.float32)])
    return model


def params_of(model):
    return [tuple(np.asarray(v, np.float64) for v in model.get_layer(n).get_weights())
            for n in ("conv", "fc", "out")]


@pytest.fixture(scope="module")
def cnn():
    return small_cnn()


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(1)
    return (rng.normal(0.3, 1.0, (300, 8, 8, 2))).astype(np.float32)


@pytest.fixture(scope="module")
def fitted(cnn, data):
    return {t: xb.create_analyzer("pattern.attribution", cnn, pattern_type=t).fit(data, batch_size=64)
            for t in ("relu", "linear")}


# --------------------------------------------------------------------------- tests

def test_linear_pattern_recovers_signal_direction_where_filter_does_not():
    rng = np.random.RandomState(0)
    d, n = 16, 4000
    a_true = rng.normal(size=d)
    a_true /= np.linalg.norm(a_true)
    a_dist = 0.9 * a_true + 0.45 * rng.normal(size=d) / np.sqrt(d)   # distractor overlapping a_true
    s = rng.normal(size=n)
    eps = rng.normal(size=n)
    x = s[:, None] * a_true + 2.0 * eps[:, None] * a_dist + 0.02 * rng.normal(size=(n, d))
    # the linear model y = w^T x + b trained (least squares) to output the signal s
    design = np.hstack([x, np.ones((n, 1))])
    coef = np.linalg.lstsq(design, s, rcond=None)[0]
    model = tf.keras.Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(1)])
    model.layers[-1].set_weights([coef[:d, None].astype(np.float32), coef[d:].astype(np.float32)])
    images = x.reshape(n, 4, 4, 1).astype(np.float32)
    an = xb.create_analyzer("pattern.net", model, pattern_type="linear").fit(images, batch_size=500)
    a = an.get_patterns()[0][:, 0]
    w = coef[:d]

    def cos(u, v):
        return abs(u @ v) / np.linalg.norm(u) / np.linalg.norm(v)

    assert cos(a, a_true) > 0.99
    assert cos(w, a_true) < 0.7          # the filter also cancels the distractor
    assert abs(w @ a - 1) < 1e-4         # normalisation w^T a = 1


@pytest.mark.parametrize("pattern_type", ["relu", "linear"])
def test_patterns_equal_direct_numpy_computation(cnn, data, fitted, pattern_type):
    expected = numpy_patterns(params_of(cnn), data.astype(np.float64), pattern_type)
    got = fitted[pattern_type].get_patterns()
    assert len(got) == 3
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())
    # the relu and linear estimators really differ on this data
    assert np.abs(fitted["relu"].get_patterns()[0] - fitted["linear"].get_patterns()[0]).max() > 1e-2


@pytest.mark.parametrize("pattern_type", ["relu", "linear"])
@pytest.mark.parametrize("method", ["pattern.attribution", "pattern.net"])
def test_heatmaps_equal_numpy_backward_pass(cnn, data, fitted, method, pattern_type):
    patterns = fitted[pattern_type].get_patterns()
    an = xb.create_analyzer(method, cnn, pattern_type=pattern_type, patterns=patterns)
    # the default projection of iNNvestigate 1.x: PatternNet per-image max |R| = 1, PA raw
    projected = xb.create_analyzer(method, cnn, pattern_type=pattern_type, patterns=patterns,
                                   reverse_project_bottleneck_layers=True)
    raw = xb.create_analyzer(method, cnn, pattern_type=pattern_type, patterns=patterns,
                             reverse_project_bottleneck_layers=False)
    assert an.project == (method == "pattern.net")
    x = data[:10]
    params = params_of(cnn)
    kernels = [np.asarray(p, np.float64) for p in patterns]
    if method == "pattern.attribution":
        kernels = [w * p for (w, _), p in zip(params, kernels)]        # w ⊙ a
    logits = numpy_forward(params, x.astype(np.float64))["z3"]
    for selection in (None, np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])):
        R = an.analyze(x, neuron_selection=selection)
        sel = logits.argmax(1) if selection is None else selection
        ref = numpy_backward(params, kernels, x.astype(np.float64), sel)
        assert R.shape == x.shape and R.dtype == np.float32
        assert np.abs(ref).max() > 1e-3
        np.testing.assert_allclose(raw.analyze(x, neuron_selection=selection), ref, rtol=1e-4,
                                   atol=1e-4 * np.abs(ref).max())
        unit = ref / np.abs(ref).max(axis=(1, 2, 3), keepdims=True)
        np.testing.assert_allclose(projected.analyze(x, neuron_selection=selection), unit,
                                   rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(R, (projected if an.project else raw).analyze(x, selection))


@pytest.mark.parametrize("pattern_type", ["relu", "linear"])
def test_streaming_batch_sizes_steps_and_iterables_agree(cnn, data, pattern_type):
    def fit(x, **kw):
        an = xb.create_analyzer("pattern.net", cnn, pattern_type=pattern_type)
        return an.fit(x, **kw).get_patterns()

    p16, p256 = fit(data, batch_size=16), fit(data, batch_size=256)
    for a, b in zip(p16, p256):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
    # steps limits the number of batches; a tf.data.Dataset of (x, y) works like the array
    first = fit(data[:64])
    for a, b in zip(fit(data, batch_size=32, steps=2), first):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ds = tf.data.Dataset.from_tensor_slices((data[:64], np.zeros(64))).batch(20)
    for a, b in zip(fit(ds), first):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    gen = (data[i:i + 8] for i in range(0, 300, 8))       # iNNvestigate 1.x fit_generator
    an = xb.create_analyzer("pattern.net", cnn, pattern_type=pattern_type)
    an.fit_generator(gen, steps_per_epoch=8)
    assert an.fitted_images == 64
    for a, b in zip(an.get_patterns(), first):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_save_and_load_patterns(cnn, data, fitted, tmp_path):
    an = fitted["relu"]
    path = tmp_path / "patterns.npz"
    an.save_patterns(path)
    loaded = xb.create_analyzer("pattern.attribution", cnn, patterns=str(path))
    for a, b in zip(loaded.get_patterns(), an.get_patterns()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(loaded.analyze(data[:4]), an.analyze(data[:4]))
    with pytest.raises(ValueError, match="pattern_type='relu'"):
        xb.create_analyzer("pattern.net", cnn, pattern_type="linear", patterns=path)


def folded_mnist_cnn(model):
    """The zoo mnist_cnn's weights with each batch norm folded into its convolution by
    hand (W s, (b - mean) s + beta, s = gamma / sqrt(var + eps)), and its Dense layer."""
    blocks = []
    for b in (1, 2, 3):
        k, bias = (np.asarray(v, np.float64) for v in model.get_layer(f"conv{b}").get_weights())
        bn = model.get_layer(f"bn{b}")
        gamma, beta, mean, var = (np.asarray(v, np.float64) for v in bn.get_weights())
        s = gamma / np.sqrt(var + bn.epsilon)
        blocks.append((k * s, (bias - mean) * s + beta))
    dense = tuple(np.asarray(v, np.float64) for v in model.get_layer("predictions").get_weights())
    return blocks, dense


def chain_forward(blocks, dense, x):
    """[conv3x3 same, relu, maxpool 2 (floor)] per block, flatten, dense (no softmax)."""
    h, steps = x, []
    for k, b in blocks:
        p = im2col(h, 3, pad=True)
        z = p @ k.reshape(-1, k.shape[-1]) + b
        a = np.maximum(z, 0)
        n, hh, ww, c = a.shape
        ho, wo = hh // 2, ww // 2
        win = a[:, :2 * ho, :2 * wo].reshape(n, ho, 2, wo, 2, c).transpose(0, 1, 3, 5, 2, 4)
        win = win.reshape(n, ho, wo, c, 4)
        steps.append(dict(p=p, z=z, arg=win.argmax(-1)))
        h = win.max(-1)
    f = h.reshape(len(x), -1)
    return steps, f, f @ dense[0] + dense[1]


def chain_patterns(blocks, dense, x):
    """The "relu" patterns of every kernel layer from the sample matrices, as numpy_patterns."""
    steps, f, logits = chain_forward(blocks, dense, x)
    layers = [(k.reshape(-1, k.shape[-1]), st["p"].reshape(-1, st["p"].shape[-1]),
               st["z"].reshape(-1, k.shape[-1])) for (k, _), st in zip(blocks, steps)]
    layers.append((dense[0], f, logits))
    result = []
    for W, X, Z in layers:
        Y = X @ W
        A = np.zeros_like(W)
        for k in range(W.shape[1]):
            sel = Z[:, k] > 0
            if sel.any():
                xs, ys = X[sel], Y[sel, k]
                cov = ((xs - xs.mean(0)) * (ys - ys.mean())[:, None]).mean(0)
                A[:, k] = cov / (W[:, k] @ cov)
        result.append(A)
    return result


def chain_backward(blocks, dense, kernels, x, selection):
    """r^L = y_c; r^{l-1} = P^T (relu'(z^l) r^l), max-pool switches (numpy_backward)."""
    steps, f, logits = chain_forward(blocks, dense, x)
    n = len(x)
    r = np.zeros_like(logits)
    r[np.arange(n), selection] = logits[np.arange(n), selection]
    r = r @ kernels[-1].T
    for st, P in zip(steps[::-1], kernels[-2::-1]):
        ho, wo, c = st["arg"].shape[1:]
        r = r.reshape(n, ho, wo, c)
        up = np.zeros(st["z"].shape)
        for q in range(4):
            di, dj = divmod(q, 2)
            up[:, di:2 * ho:2, dj:2 * wo:2, :] = np.where(st["arg"] == q, r, 0.0)
        up *= st["z"] > 0
        hh, ww = up.shape[1:3]
        rin = np.zeros((n, hh + 2, ww + 2, P.shape[2]))
        for i in range(3):
            for j in range(3):
                rin[:, i:i + hh, j:j + ww, :] += np.einsum("nhwk,ck->nhwc", up, P[i, j])
        r = rin[:, 1:-1, 1:-1, :]
    return r


def test_zoo_mnist_cnn_with_batch_norm():
    tf.keras.utils.set_random_seed(0)
    model = xb.zoo.mnist_cnn()
    rng = np.random.RandomState(2)                  # batch norms that are not identities
    for b in (1, 2, 3):
        bn = model.get_layer(f"bn{b}")
        c = bn.get_weights()[0].shape
        bn.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.3, c), rng.normal(0, 0.3, c),
                        rng.uniform(0.5, 1.5, c)])
    x = np.random.RandomState(0).rand(24, 28, 28, 1).astype(np.float32)
    before = model.predict(x, verbose=0)
    an = xb.create_analyzer("pattern.attribution", model).fit(x, batch_size=8)
    got = an.get_patterns()
    assert [p.shape for p in got] == [(3, 3, 1, 8), (3, 3, 8, 16), (3, 3, 16, 32), (288, 10)]
    # the patterns and the heatmap against numpy on the batch norms folded by hand
    blocks, dense = folded_mnist_cnn(model)
    want = chain_patterns(blocks, dense, x.astype(np.float64))
    for g, e in zip(got, want):
        g = g.reshape(e.shape)
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())
    kernels = [k for k, _ in blocks] + [dense[0]]
    kernels = [w * np.asarray(p, np.float64).reshape(w.shape) for w, p in zip(kernels, got)]
    logits = chain_forward(blocks, dense, x[:3].astype(np.float64))[2]
    # (the "relu" pattern of a logit that is never positive on x is 0: pick ones that are)
    for selection in (None, np.array([3, 5, 9])):
        R = an.analyze(x[:3], neuron_selection=selection)
        assert R.shape == x[:3].shape and R.dtype == np.float32
        sel = logits.argmax(1) if selection is None else selection
        ref = chain_backward(blocks, dense, kernels, x[:3].astype(np.float64), sel)
        assert np.abs(ref).max() > 1e-3
        np.testing.assert_allclose(R, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
    # the user's session stays eager and the user's model is untouched
    assert tf.executing_eagerly()
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


def test_errors(cnn, data, fitted, tmp_path):
    an = xb.create_analyzer("pattern.net", cnn)
    with pytest.raises(PatternsNotFittedError, match=r"fit\(x_train\)|patterns="):
        an.analyze(data[:2])
    with pytest.raises(PatternsNotFittedError):
        an.save_patterns(tmp_path / "p.npz")
    with pytest.raises(ValueError, match="pattern_type"):
        xb.create_analyzer("pattern.net", cnn, pattern_type="relu.positive")
    good = fitted["relu"].get_patterns()
    with pytest.raises(ValueError, match="3 kernel layers"):
        xb.create_analyzer("pattern.net", cnn, patterns=good[:2])
    with pytest.raises(ValueError, match="has shape"):
        xb.create_analyzer("pattern.net", cnn, patterns=[good[0], good[1].T, good[2]])
    with pytest.raises(ValueError, match="NaN"):
        xb.create_analyzer("pattern.net", cnn, patterns=[good[0] * np.nan, good[1], good[2]])
    with pytest.raises(ValueError, match="unknown"):
        xb.create_analyzer("pattern.net", cnn, patterns={"conv": good[0], "fc": good[1], "x": good[2]})
    with pytest.raises(FileNotFoundError, match="save_patterns"):
        xb.create_analyzer("pattern.net", cnn, patterns=str(tmp_path / "missing.npz"))
    with pytest.raises(ValueError, match="expects"):
        an.fit(data[:, :4])
    with pytest.raises(ValueError, match="no images"):
        an.fit(iter([]))
    with pytest.raises(ValueError, match="batch_size"):
        an.fit(data, batch_size=0)
    with pytest.raises(TypeError, match="reverse_project_bottleneck_layers"):
        xb.create_analyzer("pattern.net", cnn, reverse_project_bottleneck_layers="yes")
    tanh = tf.keras.Sequential([L.Input((4, 4, 1)), L.Flatten(), L.Dense(3, activation="tanh"),
                                L.Dense(2)])
    with pytest.raises(UnsupportedLayerError, match="tanh"):
        xb.create_analyzer("pattern.attribution", tanh)


def test_block_accumulators_do_not_change_patterns(cnn, data, monkeypatch):
    """Large layers accumulate X^T G in blocks of output neurons; blocks of 2 neurons
    give the same patterns as one block."""
    from xaibench.analyzers import patterns as P
    whole_stats = P.PatternStatistics(xb.prepare(cnn), "relu")
    monkeypatch.setattr(P, "BLOCK_ELEMENTS", 40)      # conv: dim 18 -> 2 neurons per block
    block_stats = P.PatternStatistics(xb.prepare(cnn), "relu")
    assert len(block_stats.stats["conv"].blocks) == 2 and len(whole_stats.stats["conv"].blocks) == 1
    for st in (whole_stats, block_stats):
        st.update(data[:100])
    whole, blocked = whole_stats.patterns(), block_stats.patterns()
    for name in whole:
        np.testing.assert_allclose(whole[name], blocked[name], rtol=1e-6, atol=1e-7)


def test_branching_model_with_add_equals_numpy():
    """A functional graph (two conv branches summed): PatternAttribution follows the
    gradient through Add, so R = sum over branches of (w ⊙ a)^T (relu' r)."""
    tf.keras.utils.set_random_seed(5)
    inp = L.Input((5, 5, 1))
    f = L.Flatten(name="flat")(inp)
    b1 = L.Dense(4, activation="relu", name="b1")(f)
    b2 = L.Dense(4, activation="relu", name="b2")(f)
    h = L.Add(name="add")([b1, b2])
    out = L.Dense(2, name="out")(h)
    model = tf.keras.Model(inp, out)
    model.get_layer("out").set_weights([
        np.array([[1.0, -1.0], [-0.5, 0.8], [0.7, -0.3], [-0.6, 0.9]], np.float32),
        np.array([0.2, -0.1], np.float32)])
    x = np.random.RandomState(0).normal(size=(200, 5, 5, 1)).astype(np.float32)
    an = xb.create_analyzer("pattern.attribution", model).fit(x, batch_size=50)
    pats = dict(zip(["b1", "b2", "out"], an.get_patterns()))
    xf = x.reshape(len(x), -1).astype(np.float64)
    W = {n: [np.asarray(v, np.float64) for v in model.get_layer(n).get_weights()] for n in pats}
    z1, z2 = xf @ W["b1"][0] + W["b1"][1], xf @ W["b2"][0] + W["b2"][1]
    hsum = np.maximum(z1, 0) + np.maximum(z2, 0)
    y = hsum @ W["out"][0] + W["out"][1]
    # relu pattern of the output layer, computed directly over the samples with y_k + b > 0
    for k in range(2):
        sel = y[:, k] > 0
        assert 20 < sel.sum() < len(y) - 20      # a real subset of the samples
        yk = (hsum @ W["out"][0])[sel, k]
        cov = ((hsum[sel] - hsum[sel].mean(0)) * (yk - yk.mean())[:, None]).mean(0)
        np.testing.assert_allclose(pats["out"][:, k], cov / (W["out"][0][:, k] @ cov), rtol=1e-4,
                                   atol=1e-6)
    c = y.argmax(1)
    r_out = np.zeros_like(y)
    r_out[np.arange(len(y)), c] = y[np.arange(len(y)), c]
    r_h = r_out @ (W["out"][0] * pats["out"]).T
    ref = ((r_h * (z1 > 0)) @ (W["b1"][0] * pats["b1"]).T
           + (r_h * (z2 > 0)) @ (W["b2"][0] * pats["b2"]).T)
    R = an.analyze(x[:20]).reshape(20, -1)
    np.testing.assert_allclose(R, ref[:20], rtol=1e-4, atol=1e-4 * np.abs(ref).max())
