"""Randomisation sanity checks (Adebayo et al. 2018; eMPRT, Hedstroem et al. 2023; random
logit, Sixt et al. 2020): against Quantus 0.6.0 on the same randomised weights, the sanity
check on a trained CNN, the user's weights untouched, seeds and refused input."""
import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from metrics_common import CountCalls, counting_model
from xaibench.evaluate.randomisation import hog_features, hog_similarity, ssim


@pytest.fixture(scope="module")
def digits():
    model = xb.zoo.shipped("digits")                     # trained: test accuracy 0.989
    x = xb.data.digits().x[:6]
    return model, x, model.predict(x, verbose=0).argmax(1)


def quantus_permutation(weights, layer, seed):
    """Quantus 0.6.0's randomisation of a layer (tf_model.get_random_layer_generator)."""
    np.random.seed(seed=42 + 1)
    return [np.random.permutation(w) for w in weights]


def explain_func(analyzer):
    def fn(model, inputs, targets, **kwargs):
        x = np.asarray(inputs)
        if x.shape[1] == 1 and x.shape[-1] != 1:         # Quantus hands channels first
            x = np.moveaxis(x, 1, -1)
        R = xb.create_analyzer(analyzer, model).analyze(x, neuron_selection=np.asarray(targets))
        return np.moveaxis(R.sum(-1, keepdims=True), -1, 1)
    return fn


@pytest.fixture
def quantus_copying_clone(monkeypatch):
    """Quantus 0.6.0 clones the model with keras clone_model, which RE-INITIALISES every
    weight, and never restores them in the cascading order: its top-down scores are those of
    a fully re-initialised model at every step. Patched here to copy the weights, so both
    sides randomise the same layers of the same trained model."""
    import quantus

    from quantus.helpers.model import tf_model

    def clone(model):
        copy = tf.keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        return copy
    monkeypatch.setattr(tf_model, "clone_model", clone)
    return quantus


@pytest.mark.parametrize("order", ["cascading", "independent"])
def test_mprt_equals_quantus(digits, quantus_copying_clone, order):
    quantus = quantus_copying_clone
    from quantus.functions.similarity_func import correlation_spearman
    model, x, y = digits
    metric = quantus.MPRT(layer_order="top_down" if order == "cascading" else "independent",
                          similarity_func=correlation_spearman, abs=True, normalise=False,
                          disable_warnings=True)
    ref = metric(model=model, x_batch=x, y_batch=y, a_batch=None, channel_first=False,
                 explain_func=explain_func("gradient"), batch_size=len(x))
    ours = xb.evaluate.randomisation(model, x, "gradient", y=y, order=order,
                                     similarity="spearman", randomise=quantus_permutation,
                                     abs=True, normalise=False)
    for step, name in enumerate(ours["layers"]):
        np.testing.assert_allclose(ours["spearman"][:, step], ref[name], atol=1e-5, err_msg=name)


def test_efficient_mprt_equals_quantus(digits, quantus_copying_clone):
    quantus = quantus_copying_clone
    model, x, y = digits
    metric = quantus.EfficientMPRT(complexity_func_kwargs={"n_bins": 100}, abs=False,
                                   normalise=False, disable_warnings=True)
    # channel_first=None: with False, Quantus 0.6.0 feeds its channels-first copy of x to
    # the Keras model when it scores the model's own entropy
    ref = metric(model=model, x_batch=x, y_batch=y, a_batch=None, channel_first=None,
                 explain_func=explain_func("gradient"), batch_size=len(x))
    ours = xb.evaluate.efficient_randomisation(model, x, "gradient", y=y, n_bins=100,
                                               randomise=quantus_permutation)
    np.testing.assert_allclose(ours["rise"], ref, atol=1e-5)


def test_random_logit_equals_quantus(digits):
    import quantus

    from quantus.functions.similarity_func import correlation_spearman
    model, x, y = digits
    metric = quantus.RandomLogit(num_classes=10, seed=42, similarity_func=correlation_spearman,
                                 abs=False, normalise=False, disable_warnings=True)
    ref = metric(model=model, x_batch=x, y_batch=y, a_batch=None, channel_first=False,
                 explain_func=explain_func("gradient"), batch_size=len(x))
    np.random.seed(42)                                   # Quantus's draw of the other class
    off = np.random.randint(0, 9, len(x))
    others = np.array([np.delete(np.arange(10), c) for c in y])[np.arange(len(x)), off]
    ours = xb.evaluate.random_logit(model, x, "gradient", y=y, random_classes=others,
                                    similarity="spearman")
    np.testing.assert_allclose(ours["spearman"], ref, atol=1e-5)
    assert np.all(ours["random_classes"] != y)


def test_sanity_check_on_a_trained_cnn_and_user_weights_untouched(digits):
    model, x, y = digits
    before = [w.copy() for w in model.get_weights()]
    f_before = model.predict(x, verbose=0)
    for name in ("gradient", "lrp.epsilon"):
        # signed heatmaps (Adebayo et al. report both); with abs=True lrp.epsilon keeps a rank
        # correlation of about 0.86 here: the digits' zero background is zero in every map
        r = xb.evaluate.randomisation(model, x, name, order="cascading", abs=False, seed=1)
        assert r["layers"][0] == "predictions" and r["layers"][-1] == "conv1"
        assert r["spearman"].shape == (6, 7) and r["ssim"].shape == (6, 7)
        assert r["spearman"][:, -1].mean() < 0.5, (name, r["spearman"].mean(0))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(f_before, model.predict(x, verbose=0))


def test_independent_leaves_other_layers_trained(digits):
    model, x, y = digits
    r = xb.evaluate.randomisation(model, x, "gradient", order="independent",
                                  layers=["conv1", "predictions"], similarity=("spearman",))
    assert r["layers"] == ["predictions", "conv1"] and r["spearman"].shape == (6, 2)


def test_same_seed_same_numbers(digits):
    model, x, y = digits
    kw = dict(analyzer="gradient", layers=["conv3", "predictions"], similarity=("spearman", "hog"))
    a = xb.evaluate.randomisation(model, x, seed=5, **kw)
    b = xb.evaluate.randomisation(model, x, seed=5, **kw)
    c = xb.evaluate.randomisation(model, x, seed=6, **kw)
    np.testing.assert_array_equal(a["spearman"], b["spearman"])
    np.testing.assert_array_equal(a["hog"], b["hog"])
    assert not np.allclose(a["spearman"], c["spearman"])
    e1 = xb.evaluate.efficient_randomisation(model, x, "gradient", seed=5)
    e2 = xb.evaluate.efficient_randomisation(model, x, "gradient", seed=5)
    np.testing.assert_array_equal(e1["rise"], e2["rise"])
    r1 = xb.evaluate.random_logit(model, x, "gradient", seed=5)
    r2 = xb.evaluate.random_logit(model, x, "gradient", seed=5)
    np.testing.assert_array_equal(r1["random_classes"], r2["random_classes"])


def test_bad_input_is_refused_before_any_model_call():
    model = counting_model()
    x = np.zeros((2, 12, 12, 1), np.float32)
    CountCalls.calls = 0
    with pytest.raises(ValueError, match="no such layer with weights.*Did you mean dense\\?"):
        xb.evaluate.randomisation(model, x, "gradient", layers=["conv", "dense_9"])
    with pytest.raises(ValueError, match="no such layer with weights"):
        xb.evaluate.efficient_randomisation(model, x, "gradient", layers="nope")
    with pytest.raises(KeyError, match="unknown analyzer"):
        xb.evaluate.randomisation(model, x, "gradinet")
    with pytest.raises(ValueError, match="order"):
        xb.evaluate.randomisation(model, x, order="bottom_up")
    with pytest.raises(ValueError, match="similarity"):
        xb.evaluate.randomisation(model, x, similarity="pearson")
    with pytest.raises(ValueError, match="single image"):
        xb.evaluate.randomisation(model, x[0])
    with pytest.raises(ValueError, match="out of range"):
        xb.evaluate.random_logit(model, x, y=7)
    with pytest.raises(TypeError, match="unknown parameter"):
        xb.evaluate.randomisation(model, x, "lrp.epsilon", analyzer_params={"epsilom": 1})
    assert CountCalls.calls == 0


class _Subclassed(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.count, self.flat, self.dense = CountCalls(), tf.keras.layers.Flatten(), \
            tf.keras.layers.Dense(3)

    def call(self, x):
        return self.dense(self.flat(self.count(x)))


def test_subclassed_model_is_refused_before_any_model_call():
    model = _Subclassed()
    x = np.zeros((2, 12, 12, 1), np.float32)
    model(x)
    CountCalls.calls = 0
    for metric in (xb.evaluate.randomisation, xb.evaluate.efficient_randomisation):
        with pytest.raises(TypeError, match="subclassed.*build the same layers functionally"):
            metric(model, x, "gradient")
    assert CountCalls.calls == 0


def _shuffle(weights, layer, seed):
    """A randomisation that depends on the layer's name only (reproducible by the reference
    below): every array's values shuffled (BN variances stay positive)."""
    import zlib

    rng = np.random.default_rng(zlib.crc32(layer.name.encode()))
    return [rng.permutation(np.asarray(w).ravel()).reshape(np.shape(w)) for w in weights]


def _reference_mprt(model, x, y, analyzer, order, layers=None):
    """A plain loop: a fresh ``clone_model`` with the step's randomised weights and a fresh
    ``xb.create_analyzer`` on it at every step; Spearman by scipy."""
    from scipy.stats import spearmanr

    from xaibench.evaluate.randomisation import weighted_layers

    def heat(m):
        R = xb.create_analyzer(analyzer, m).analyze(x, neuron_selection=y)
        return np.abs(R.sum(-1)).reshape(len(x), -1)

    h0 = heat(model)
    names = weighted_layers(model) if layers is None else layers
    work = tf.keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    cols = []
    for name in names[::-1]:
        if order == "independent":
            work.set_weights(model.get_weights())
        layer = work.get_layer(name)
        layer.set_weights(_shuffle(layer.get_weights(), layer, None))
        fresh = tf.keras.models.clone_model(work)
        fresh.set_weights(work.get_weights())
        h1 = heat(fresh)
        cols.append([spearmanr(a, b)[0] for a, b in zip(h0, h1)])
    return np.array(cols).T


@pytest.mark.parametrize("analyzer,order", [("gradient", "cascading"),
                                            ("lrp.epsilon", "cascading"),
                                            ("lrp.epsilon", "independent"),
                                            ("guided_backprop", "cascading")])
def test_reused_analyzer_equals_a_fresh_analyzer_per_step(digits, analyzer, order):
    """One analyzer traced once on the kept copy, the randomised weights assigned into its
    variables (and into the batch-norm-folded canonized copies for LRP): the same
    similarities as a fresh clone and a fresh analyzer at every step; the user's weights
    untouched; a second call (the kept copy and analyzer reused) and a call after the user's
    weights changed give the reference's numbers too."""
    import importlib

    mod = importlib.import_module("xaibench.evaluate.randomisation")
    model, x, y = digits
    model = tf.keras.models.clone_model(model)            # weights changed below: a private one
    model.set_weights(xb.zoo.shipped("digits").get_weights())
    before = [w.copy() for w in model.get_weights()]
    kw = dict(y=y, order=order, similarity="spearman", randomise=_shuffle, abs=True,
              normalise=False)
    ref = _reference_mprt(model, x, y, analyzer, order)
    for _ in range(2):
        ours = xb.evaluate.randomisation(model, x, analyzer, **kw)
        np.testing.assert_allclose(ours["spearman"], ref, atol=1e-6)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    kept = mod._COPIES[model]["analyzers"]
    assert len(kept) == 1 and isinstance(next(iter(kept.values())), mod._Reused)
    # the user trains on: the next call explains the new weights
    model.get_layer("conv2").set_weights([w * 1.5 for w in model.get_layer("conv2").get_weights()])
    model.get_layer("bn1").set_weights([w[::-1].copy() for w in model.get_layer("bn1").get_weights()])
    ref2 = _reference_mprt(model, x, y, analyzer, order)
    assert not np.allclose(ref, ref2, atol=1e-3)
    ours = xb.evaluate.randomisation(model, x, analyzer, **kw)
    np.testing.assert_allclose(ours["spearman"], ref2, atol=1e-6)


# --------------------------------------------------------------------------------------------
# batched similarities against scikit-image image by image

def _heatmap_stacks(shape, n=3, seed=0):
    """Stacks (n, H, W) of heatmaps: random, with ties (few integer levels), sparse (mostly
    zeros), all zeros, constant regions, float32, and gradients at the orientation edges
    (0 / 180 degrees, a tiny negative row gradient that wraps to 180)."""
    rng = np.random.default_rng(seed)
    size = (n,) + shape
    rows, cols = np.indices(shape)
    halves = np.full(size, 0.3)
    halves[:, :shape[0] // 2] = 1.0
    return {
        "random": rng.random(size),
        "ties": rng.integers(0, 3, size).astype(np.float64),
        "sparse": rng.random(size) * (rng.random(size) < 0.2),
        "zeros": np.zeros(size),
        "constant regions": halves,
        "float32": rng.random(size).astype(np.float32),
        "orientation edges": np.stack([cols * 1.0, -cols * 1.0, cols - rows * 1e-17])[:n],
    }


@pytest.mark.parametrize("shape, ppc, cpb", [((28, 28), 4, 2), ((28, 28), 3, 2),
                                             ((30, 17), 3, 2), ((64, 64), 8, 2),
                                             ((224, 224), 28, 2), ((7, 7), 2, 1),
                                             ((13, 29), 5, 1), ((28, 28), 7, 3)])
def test_batched_hog_features_equal_skimage_per_image(shape, ppc, cpb):
    from skimage.feature import hog

    for kind, x in _heatmap_stacks(shape).items():
        got = hog_features(x, 9, ppc, cpb)
        ref = np.array([hog(im, orientations=9, pixels_per_cell=(ppc, ppc),
                            cells_per_block=(cpb, cpb)) for im in x])
        assert got.dtype == ref.dtype and got.shape == ref.shape, kind
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12, err_msg=kind)


def test_batched_hog_features_refuse_too_small_images_as_skimage():
    from skimage.feature import hog

    x = np.zeros((2, 5, 9))
    with pytest.raises(ValueError, match="too small"):
        hog(x[0], orientations=9, pixels_per_cell=(3, 3), cells_per_block=(2, 2))
    with pytest.raises(ValueError, match="too small"):
        hog_features(x, 9, 3, 2)


def _reference_ssim(a, b):
    """The per-pair scikit-image loop (data range of the pair, 1.0 when 0; window 7 or the
    largest odd size that fits; NaN below 3)."""
    from skimage.metrics import structural_similarity

    out = []
    for aa, bb in zip(a, b):
        rng = float(max(aa.max(), bb.max()) - min(aa.min(), bb.min()))
        win = min(7, min(aa.shape) - (1 - min(aa.shape) % 2))
        out.append(structural_similarity(aa, bb, data_range=rng or 1.0, win_size=win)
                   if win >= 3 else np.nan)
    return np.asarray(out)


def _reference_hog_similarity(a, b, pixels_per_cell=None):
    """The per-image scikit-image loop, then the Pearson correlation of the features."""
    from skimage.feature import hog
    from xaibench.evaluate.statistics import pearson_rows

    ppc = pixels_per_cell or max(2, int(round(min(a.shape[1:]) / 8)))
    cpb = 2 if min(a.shape[1:]) >= 2 * ppc else 1
    feats = [[hog(im, orientations=9, pixels_per_cell=(ppc, ppc), cells_per_block=(cpb, cpb))
              for im in pair] for pair in zip(a, b)]
    return pearson_rows(np.array([f[0] for f in feats]), np.array([f[1] for f in feats]))


@pytest.mark.parametrize("shape", [(28, 28), (30, 17), (64, 64), (224, 224), (7, 7), (6, 5),
                                   (4, 9), (2, 9), (3, 3)])
def test_batched_ssim_and_hog_similarity_equal_a_skimage_loop(shape):
    rng = np.random.default_rng(1)
    stacks = _heatmap_stacks(shape, n=4, seed=2)
    others = _heatmap_stacks(shape, n=4, seed=3)
    pairs = [(stacks[k], others[k]) for k in stacks]
    a = rng.random((4,) + shape)
    b = a.copy()
    b[0] = 0.0
    b[1] = 2 * a[1]
    a[3] = b[3] = 0.5                                     # a pair with range 0
    pairs += [(a, b), (stacks["random"], stacks["random"]), (stacks["zeros"], others["ties"])]
    for a, b in pairs:
        got, ref = ssim(a, b), _reference_ssim(a, b)
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, equal_nan=True)
        got, ref = hog_similarity(a, b), _reference_hog_similarity(a, b)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, equal_nan=True)
        if max(shape) <= 64:                              # the skimage loop is slow there
            got, ref = hog_similarity(a, b, 2), _reference_hog_similarity(a, b, 2)
            np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10, equal_nan=True)


def test_batched_hog_features_equal_skimage_on_non_finite_heatmaps():
    from skimage.feature import hog

    x = np.random.default_rng(4).random((3, 28, 28))
    x[0, 5, 9] = np.nan
    x[1, 20, 3] = np.inf
    x[2, 10, 10], x[2, 11, 11] = -np.inf, np.nan
    with np.errstate(invalid="ignore"):
        got = hog_features(x, 9, 4, 2)
        ref = np.array([hog(im, orientations=9, pixels_per_cell=(4, 4),
                            cells_per_block=(2, 2)) for im in x])
    assert np.isnan(ref).any()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12, equal_nan=True)
