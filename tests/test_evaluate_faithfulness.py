"""Perturbation curves, AOPC and confidence drop against hand computations in numpy,
scipy and Quantus 0.6.0 run directly."""
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage

import xaibench as xb
from xaibench.evaluate import faithfulness

L = tf.keras.layers
H, W, C = 12, 12, 2


def linear_model(w):
    """f(x) = sum(w * x) as class 0 (and -f as class 1): a Keras model."""
    inp = L.Input(w.shape)
    out = L.Dense(2, use_bias=False)(L.Flatten()(inp))
    model = tf.keras.Model(inp, out)
    model.layers[-1].set_weights([np.stack([w.ravel(), -w.ravel()], 1)])
    return model


@pytest.fixture(scope="module")
def linear():
    # integer data: every float32 sum is exact, so "equal" means equal to 1e-6
    rng = np.random.default_rng(3)
    while True:
        w = rng.integers(-4, 5, size=(H, W, C)).astype(np.float32)
        x = rng.integers(-3, 4, size=(4, H, W, C)).astype(np.float32)
        s = (w * x).sum(-1).reshape(4, H // 3, 3, W // 3, 3).sum((2, 4)).reshape(4, -1)
        if all(len(np.unique(r)) == r.size for r in s):      # no ties between regions
            return linear_model(w), w, x


def hand_curve(w, x, R, region, steps, order, fill):
    """Samek eq. 11 in numpy: replace the regions one by one, in the order of their
    summed relevance, by ``fill(x)`` and record f = sum(w * x)."""
    h = R.sum(-1)
    gh, gw = x.shape[0] // region, x.shape[1] // region
    s = h[:gh * region, :gw * region].reshape(gh, region, gw, region).sum((1, 3)).ravel()
    rank = np.argsort(-s if order == "morf" else s, kind="stable")
    cur, repl = x.copy(), fill(x)
    vals = [float((w.astype(np.float64) * cur).sum())]
    for r in rank[:steps]:
        i, j = divmod(r, gw)
        sl = (slice(i * region, (i + 1) * region), slice(j * region, (j + 1) * region))
        cur[sl] = repl[sl]
        vals.append(float((w.astype(np.float64) * cur).sum()))
    return np.array(vals)


@pytest.mark.parametrize("order", ["morf", "lerf"])
def test_curve_and_aopc_equal_hand_computation(linear, order):
    model, w, x = linear
    R = w * x
    c = xb.evaluate.perturbation_curve(model, x, R, y=0, region=3, steps=12, order=order,
                                       perturbation="zero", repeats=2, seed=1)
    assert c.values.shape == (4, 2, 13)
    for i in range(4):
        ref = hand_curve(w, x[i], R[i], 3, 12, order, np.zeros_like)
        np.testing.assert_allclose(c.values[i, 0], ref, rtol=0, atol=1e-6)
        np.testing.assert_allclose(c.values[i, 1], ref, rtol=0, atol=1e-6)
        # eq. 12: 1/(L+1) sum_{k=0}^{L} f(x0) - f(xk)
        assert abs(xb.evaluate.aopc(c)[i] - np.sum(ref[0] - ref) / 13) < 1e-6
        # eq. 12 at every L = 0..12 (Samek's Fig. 4 curve), not only at its end
        hand = [np.sum(ref[0] - ref[:L + 1]) / (L + 1) for L in range(13)]
        np.testing.assert_allclose(xb.evaluate.aopc_curve(c)[i], hand, rtol=0, atol=1e-6)
    np.testing.assert_allclose(c.fraction, np.arange(13) * 9 / 144)


def test_mean_constant_and_blur_fills_equal_hand_computation(linear):
    model, w, x = linear
    R = w * x
    fills = {
        "mean": lambda im: np.broadcast_to(im.mean((0, 1)), im.shape),
        0.5: lambda im: np.full_like(im, 0.5),
        "blur": lambda im: ndimage.gaussian_filter(im.astype(np.float64), (1.5, 1.5, 0),
                                                   mode="reflect", truncate=3.0),
    }
    for pert, fill in fills.items():
        c = xb.evaluate.perturbation_curve(model, x, R, y=0, region=3, steps=16,
                                           perturbation=pert, repeats=1, blur_sigma=1.5)
        for i in range(4):
            ref = hand_curve(w, x[i], R[i], 3, 16, "morf", fill)
            np.testing.assert_allclose(c.values[i, 0], ref, rtol=1e-6, atol=1e-4, err_msg=str(pert))


def test_ideal_heatmap_morf_beats_lerf_and_random(linear):
    model, w, x = linear
    R = w * x
    kw = dict(y=0, region=3, steps=16, perturbation="zero", repeats=4, seed=0)
    morf = xb.evaluate.perturbation_curve(model, x, R, order="morf", **kw)
    lerf = xb.evaluate.perturbation_curve(model, x, R, order="lerf", **kw)
    rand = xb.evaluate.perturbation_curve(model, x, R, order="random", **kw)
    a_m, a_l, a_r = (xb.evaluate.aopc(c) for c in (morf, lerf, rand))
    assert np.all(a_m > a_r) and np.all(a_r > a_l)
    assert np.all(xb.evaluate.aopc(morf, relative_to=rand) > 0)
    np.testing.assert_allclose(xb.evaluate.aopc(rand, relative_to=rand), 0)
    # random orders differ between repeats; MoRF with a fixed fill does not
    assert not np.allclose(rand.values[:, 0], rand.values[:, 1])
    # the random baseline ignores R: a different heatmap gives the same random curves
    rand2 = xb.evaluate.perturbation_curve(model, x, -R, order="random", **kw)
    np.testing.assert_array_equal(rand.values, rand2.values)
    # AOPC(L) of Fig. 4 ends in the AOPC of eq. 12
    curve = xb.evaluate.aopc_curve(morf, relative_to=rand)
    np.testing.assert_allclose(curve[:, -1], a_m - a_r, atol=1e-9)
    np.testing.assert_allclose(curve[:, 0], 0)


def test_same_seed_same_curves_and_batch_size_does_not_matter(linear):
    model, w, x = linear
    R = w * x
    kw = dict(y=0, region=3, steps=10, repeats=3)
    a = xb.evaluate.perturbation_curve(model, x, R, seed=7, **kw)
    b = xb.evaluate.perturbation_curve(model, x, R, seed=7, batch_size=4, **kw)
    c = xb.evaluate.perturbation_curve(model, x, R, seed=8, **kw)
    np.testing.assert_allclose(a.values, b.values, rtol=0, atol=1e-5)
    assert not np.allclose(a.values, c.values)
    assert not np.allclose(a.values[:, 0], a.values[:, 1])   # fresh noise per repeat
    np.testing.assert_array_equal(a.values[:, :, 0], np.broadcast_to(a.values[:, :1, 0], (4, 3)))
    # the first two images get the same curves whether 2 or 4 images are evaluated
    d = xb.evaluate.perturbation_curve(model, x[:2], R[:2], seed=7, **kw)
    np.testing.assert_allclose(d.values, a.values[:2], rtol=0, atol=1e-5)
    # a shard with the images' global ids gives the numbers of the whole run
    e = xb.evaluate.perturbation_curve(model, x[2:], R[2:], seed=7, image_ids=[2, 3], **kw)
    np.testing.assert_allclose(e.values, a.values[2:], rtol=0, atol=1e-5)
    f = xb.evaluate.perturbation_curve(model, x[2:], R[2:], seed=7, **kw)
    assert not np.allclose(f.values, a.values[2:])


def test_callable_and_uniform_noise_in_value_range(linear):
    model, w, x = linear

    def spy(batch, seeds):                  # a callable perturbation gets the seeds
        noise = tf.random.stateless_uniform(tf.shape(batch), seeds[0])
        return noise * 0 + 2.0
    c = xb.evaluate.perturbation_curve(model, x, w * x, y=0, region=12, steps=1, repeats=2,
                                       perturbation=spy)
    np.testing.assert_allclose(c.values[:, :, 1], 2.0 * w.sum(), rtol=1e-6)
    # with the whole image replaced, f(x^(1)) = sum(w * u), u ~ U(lo, hi)
    c = xb.evaluate.perturbation_curve(model, x, w * x, y=0, region=12, steps=1, repeats=50,
                                       value_range=(10.0, 11.0))
    lo = np.where(w > 0, 10, 11) * w
    hi = np.where(w > 0, 11, 10) * w
    assert np.all(c.values[:, :, 1] >= lo.sum() - 1e-3) and np.all(c.values[:, :, 1] <= hi.sum() + 1e-3)
    np.testing.assert_allclose(c.values[:, :, 1].mean(), 10.5 * w.sum(), atol=0.05 * np.abs(w).sum())


def small_cnn(seed=0):
    tf.keras.utils.set_random_seed(seed)
    inp = L.Input((H, W, C))
    z = L.Conv2D(4, 3, activation="relu")(inp)
    z = L.MaxPooling2D(2)(z)
    out = L.Dense(3)(L.Flatten()(z))
    return tf.keras.Model(inp, out)


def test_morf_equals_quantus_region_perturbation():
    import quantus
    model = small_cnn()
    rng = np.random.default_rng(0)
    x = rng.random((3, H, W, C), dtype=np.float32)
    R = rng.normal(size=x.shape).astype(np.float32)
    y = np.array([0, 1, 2])
    steps, region, fill = 10, 3, 0.25
    ours = xb.evaluate.perturbation_curve(model, x, R, y=y, region=region, steps=steps,
                                          perturbation=fill, repeats=1)
    metric = quantus.RegionPerturbation(patch_size=region, regions_evaluation=steps, order="morf",
                                        perturb_baseline=fill, normalise=False, abs=False,
                                        disable_warnings=True)
    # Quantus: f(x) - f(x^(k)) for k = 1..L; it moves x to channels-first, so does a_batch
    theirs = np.asarray(metric(model=model, x_batch=x, y_batch=y, a_batch=R.transpose(0, 3, 1, 2),
                               softmax=False, channel_first=False))
    np.testing.assert_allclose(ours.drop[:, 0, 1:], theirs, rtol=0, atol=1e-5)
    assert np.abs(theirs).max() > 1e-2                      # the curves are not flat


def test_jit_compile_gives_the_same_curves():
    model = small_cnn(1)
    rng = np.random.default_rng(1)
    x = rng.random((2, H, W, C), dtype=np.float32)
    R = rng.normal(size=x.shape).astype(np.float32)
    kw = dict(region=2, steps=8, repeats=2, seed=3)
    a = xb.evaluate.perturbation_curve(model, x, R, jit_compile=False, **kw)
    b = xb.evaluate.perturbation_curve(model, x, R, jit_compile=True, **kw)
    np.testing.assert_allclose(a.values, b.values, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(a.y, model.predict(x, verbose=0).argmax(1))


def test_confidence_drop_equals_hand_computation(linear):
    model, w, x = linear
    R = (w * x) + np.linspace(0, 1e-3, H * W * C).reshape(H, W, C)   # no ties between pixels
    fr = (0.05, 0.25, 0.5)
    out = xb.evaluate.confidence_drop(model, x, R, fractions=fr, perturbation="zero", y=0,
                                      output="logit", repeats=2)
    assert out["drop"].shape == out["control"].shape == (4, 3)
    np.testing.assert_array_equal(out["pixels"], np.round(np.array(fr) * H * W))
    for i in range(4):
        order = np.argsort(-R[i].sum(-1).ravel(), kind="stable")
        contrib = (w * x[i]).sum(-1).ravel()
        for j, k in enumerate(out["pixels"]):
            assert abs(out["drop"][i, j] - contrib[order[:k]].sum()) < 1e-4   # Drop(k), eq. 3
    # the random control drops less than the ideal ordering at 5 %
    assert np.all(out["drop"][:, 0] > out["control"][:, 0])
    # probabilities: between -1 and 1
    p = xb.evaluate.confidence_drop(model, x, R, fractions=fr, perturbation="zero", y=0, repeats=1)
    assert np.all(np.abs(p["drop"]) <= 1)
    # the control ignores the heatmap: another R, or none at all, gives the same numbers
    kw = dict(fractions=fr, perturbation="zero", y=0, output="logit", repeats=2)
    other = xb.evaluate.confidence_drop(model, x, -R, **kw)
    alone = xb.evaluate.confidence_drop(model, x, None, **kw)
    assert "drop" not in alone
    np.testing.assert_array_equal(other["control"], out["control"])
    np.testing.assert_array_equal(alone["control"], out["control"])
    with pytest.raises(ValueError, match="R=None computes only the random-pixel control"):
        xb.evaluate.confidence_drop(model, x, None, control=None)


def test_bad_input_is_refused_before_any_model_call(linear, monkeypatch):
    model, w, x = linear
    R = w * x

    def no_model_call(*a, **k):
        raise AssertionError("the model was called before the input was checked")
    monkeypatch.setattr(faithfulness, "_run", no_model_call)
    pc = xb.evaluate.perturbation_curve
    with pytest.raises(ValueError, match="shape.*x has shape"):
        pc(model, x, R[:, :6])
    with pytest.raises(ValueError, match="shape"):
        pc(model, x, R[:3])
    with pytest.raises(ValueError, match="region=13 is larger than the 12x12 image"):
        pc(model, x, R, region=13)
    with pytest.raises(ValueError, match="steps=17 is more than the 16 regions"):
        pc(model, x, R, region=3, steps=17)
    bad = R.copy()
    bad[1, 2, 3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pc(model, x, bad, region=3, steps=4)
    with pytest.raises(ValueError, match="order="):
        pc(model, x, R, region=3, steps=4, order="best")
    with pytest.raises(ValueError, match="perturbation="):
        pc(model, x, R, region=3, steps=4, perturbation="noise")
    with pytest.raises(ValueError, match="channel_reduce="):
        pc(model, x, R, region=3, steps=4, channel_reduce="max")
    with pytest.raises(ValueError, match="out of range"):
        pc(model, x, R, region=3, steps=4, y=5)
    with pytest.raises(ValueError, match="value_range"):
        pc(model, x, R, region=3, steps=4, value_range=(1, 0))
    with pytest.raises(ValueError, match="fractions"):
        xb.evaluate.confidence_drop(model, x, R, fractions=(0.1, 1.5))
    c = xb.evaluate.Curves(values=np.zeros((1, 1, 3)), y=np.zeros(1), steps=np.array([0, 5, 9]),
                           fraction=np.zeros(3))
    with pytest.raises(ValueError, match="every step"):
        xb.evaluate.aopc(c)


class SoftmaxNet(tf.keras.Model):
    """Subclassed and ending in a softmax: its logits cannot be cut off."""

    def __init__(self):
        super().__init__()
        self.flat, self.dense = L.Flatten(), L.Dense(5, activation="softmax")

    def call(self, x):
        return self.dense(self.flat(x))


@pytest.mark.parametrize("kind", ["functional softmax", "subclassed softmax"])
def test_predicted_classes_equal_predict_argmax(kind):
    """The top classes the metrics use when y=None equal Keras predict's argmax, also on a
    subclassed model whose softmax cannot be cut off (batches of 3 over 7 images)."""
    tf.keras.utils.set_random_seed(1)
    if kind == "functional softmax":
        inp = L.Input((H, W, C))
        model = tf.keras.Model(inp, L.Dense(5, activation="softmax")(L.Flatten()(inp)))
    else:
        model = SoftmaxNet()
    x = np.random.default_rng(2).normal(size=(7, H, W, C)).astype(np.float32)
    model(x[:1])
    expected = model.predict(x, verbose=0).argmax(axis=1)
    np.testing.assert_array_equal(faithfulness.predicted_classes(model, x, batch_size=3),
                                  expected)
