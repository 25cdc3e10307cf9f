"""Metrics declared once: each runner metric's defaults are its xb.evaluate function's
(the arguments a metric forwards without parameters are checked against the function's
signature), the report's baseline pairs come from the specs, kept_score and
object_occlusion in xb.evaluate equal a numpy computation on a linear softmax model, and
xb.zoo.load resolves model specs with one-line errors."""
import functools
import inspect

import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from xaibench.runner import ConfigError, from_mapping
from xaibench.runner.engine import Context
from xaibench.runner.metrics import (DESCRIPTIONS, METRICS, SCALAR, MetricSpec,
                                     baseline_setting, compared_to_baseline, rows)


class _Called(Exception):
    pass


@pytest.fixture
def recorded(monkeypatch):
    """Every public xb.evaluate function replaced by one that records its keyword
    arguments and stops the adapter."""
    calls = []

    def recorder(name, original):
        @functools.wraps(original)            # keeps the signature the runner reads
        def fn(*args, **kwargs):
            calls.append((name, kwargs))
            raise _Called(name)
        return fn

    for name in xb.evaluate.__all__:
        original = getattr(xb.evaluate, name)
        if inspect.isfunction(original):
            monkeypatch.setattr(xb.evaluate, name, recorder(name, original))
    return calls


def _signature(name):
    import importlib

    # the original function (xb.evaluate's attribute may be the recorder)
    for module in ("faithfulness", "localisation", "complexity", "occlusion", "road",
                   "randomisation", "insertion_deletion", "faithfulness_correlation",
                   "sparseness"):
        mod = importlib.import_module(f"xaibench.evaluate.{module}")
        if inspect.isfunction(getattr(mod, name, None)) and getattr(mod, name).__module__ == \
                mod.__name__:
            return inspect.signature(getattr(mod, name)).parameters
    raise AssertionError(name)


def _context():
    # 90 x 90: 100 regions of 9 x 9, so AOPC's / ABPC's steps are not capped by the grid,
    # and 224 pixels are less than a quarter of the image (faithfulness correlation)
    return Context(model=None, x=np.zeros((2, 90, 90, 1), np.float32), y=np.zeros(2, int),
                   boxes=[[(0, 0, 10, 10)], [(5, 5, 20, 30)]], masks=None, seed=0,
                   ids=np.arange(2), analyzer="gradient", analyzer_params={})


@pytest.mark.parametrize("name", list(METRICS))
def test_a_metric_without_parameters_calls_its_function_at_the_signature_defaults(
        name, recorded):
    spec = METRICS[name]
    ctx = _context()
    seen = []
    for call in (lambda: spec.compute(ctx, np.ones_like(ctx.x), {}),
                 *([lambda: spec.baseline(ctx, {})] if spec.baseline else [])):
        recorded.clear()
        try:
            call()
        except _Called:
            pass
        if not recorded:                    # object_occlusion: the baseline computes
            continue
        called, kwargs = recorded[0]
        seen.append(called)
        defaults = _signature(spec.evaluate)
        if called == "uniform_relevance_ratio":
            continue                        # the uniform reference takes no parameters
        for p in spec.params:
            assert p in defaults, (name, p)
            got = kwargs.get(p, defaults[p].default)
            assert got == defaults[p].default, (name, p, got)
        assert spec.defaults == {**{p: defaults[p].default for p in spec.params},
                                 **spec.options}
    assert seen                             # the metric called an xb.evaluate function


def test_the_old_runner_literals_are_gone():
    """AOPC: 9 x 9 regions and 10 repeats (perturbation_curve's), confidence drop 10
    repeats, precision_recall min-max normalisation, as the functions' signatures say."""
    assert METRICS["aopc"].defaults["region"] == 9 and METRICS["aopc"].defaults["repeats"] == 10
    assert METRICS["confidence_drop"].defaults["repeats"] == 10
    assert METRICS["precision_recall"].defaults["normalise"] == "minmax"
    assert METRICS["kept_score"].defaults == {"threshold": 0.01, "fill": 0.0, "batch_size": 64}


def test_specs_are_the_registry_and_refuse_unknown_parameters():
    assert all(isinstance(s, MetricSpec) and s.name == n for n, s in METRICS.items())
    assert DESCRIPTIONS == {n: s.description for n, s in METRICS.items()}
    with pytest.raises(ConfigError, match="metric aopc does not take colour; its parameters "
                                          "are region, steps"):
        from_mapping({"analyzers": ["gradient"],
                      "metrics": [{"name": "aopc", "params": {"colour": 1}}]})
    with pytest.raises(ValueError, match="metric kept_score does not take region"):
        METRICS["kept_score"].compute(_context(), None, {"region": 3})
    with pytest.raises(ConfigError, match=r"metric aopc does not take repeat \(did you mean "
                                          r"repeats\?\); its parameters are region"):
        from_mapping({"analyzers": ["gradient"],
                      "metrics": [{"name": "aopc", "params": {"repeat": 3}}]})


def test_baseline_pairs_are_declared_by_the_specs():
    assert baseline_setting("aopc", "morf") == "random"
    assert baseline_setting("aopc(region=4,steps=48)", "morf") == "random"
    assert baseline_setting("aopc", "random") is None
    assert baseline_setting("relevance_ratio", "mu") == "mu"
    assert baseline_setting("relevance_ratio", "mu_w") == "mu_w"
    assert baseline_setting("relevance_ratio", "size") is None
    assert baseline_setting("confidence_drop(repeats=3)", "drop@0.05") == "control@0.05"
    assert baseline_setting("confidence_drop", "control@0.05") is None
    assert baseline_setting("object_occlusion", "object") is None      # not higher-is-better
    assert baseline_setting("no_such_metric", "x") is None
    assert {n for n in METRICS if compared_to_baseline(n)} == {"aopc", "relevance_ratio",
                                                               "confidence_drop"}


def test_rows_of_scalars_and_curves():
    got = rows("s", scalar=[1.5, 2.5], curve=np.array([[0, 1], [2, 3]]))
    assert got == [(0, "s", SCALAR, 1.5), (0, "s", 0, 0.0), (0, "s", 1, 1.0),
                   (1, "s", SCALAR, 2.5), (1, "s", 0, 2.0), (1, "s", 1, 3.0)]
    assert rows("c", curve=np.array([[4.0]])) == [(0, "c", 0, 4.0)]


# --------------------------------------------------------------- kept score, occlusion

H = W = 4
K = 3


def _linear_softmax_model():
    rng = np.random.default_rng(0)
    Wm = rng.normal(size=(H * W * 2, K)).astype(np.float32)
    b = rng.normal(size=K).astype(np.float32)
    inp = tf.keras.Input((H, W, 2))
    out = tf.keras.layers.Dense(K, activation="softmax")(tf.keras.layers.Flatten()(inp))
    model = tf.keras.Model(inp, out)
    model.layers[-1].set_weights([Wm, b])
    return model, Wm.astype(np.float64), b.astype(np.float64)


def _softmax(z):
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def test_kept_score_equals_numpy():
    model, Wm, b = _linear_softmax_model()
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(3, H, W, 2)).astype(np.float32)
    R = rng.normal(scale=0.05, size=(3, H, W, 2)).astype(np.float32)
    y = np.array([0, 2, 1])
    out = xb.evaluate.kept_score(model, x, R, y=y, threshold=0.01, fill=0.25)
    keep = R.astype(np.float64).mean(axis=-1) >= 0.01
    kept = np.where(keep[..., None], x, 0.25)
    p_whole = _softmax(x.reshape(3, -1) @ Wm + b)
    p_kept = _softmax(kept.reshape(3, -1) @ Wm + b)
    np.testing.assert_allclose(out["whole"], p_whole[np.arange(3), y], rtol=1e-5)
    np.testing.assert_allclose(out["kept"], p_kept[np.arange(3), y], rtol=1e-5)
    np.testing.assert_array_equal(out["kept_argmax"], p_kept.argmax(axis=1) == y)
    np.testing.assert_allclose(out["kept_fraction"], keep.reshape(3, -1).mean(axis=1))
    assert 0 < keep.mean() < 1                       # the threshold splits the pixels
    # y=None: the predicted class
    none = xb.evaluate.kept_score(model, x, R)
    np.testing.assert_array_equal(none["y"], p_whole.argmax(axis=1))


def test_object_occlusion_equals_numpy_for_boxes_and_masks():
    model, Wm, b = _linear_softmax_model()
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(2, H, W, 2)).astype(np.float32)
    y = np.array([1, 0])
    fill = np.array([0.5, -1.0], np.float32)                 # one value per channel
    boxes = [[(0, 0, 2, 2)], [(1, 0, 4, 3), (0, 3, 1, 4)]]   # x_min, y_min, x_max, y_max
    m = np.zeros((2, H, W), bool)
    m[0, 0:2, 0:2] = True
    m[1, 0:3, 1:4] = True
    m[1, 3:4, 0:1] = True
    occluded_object = np.where(m[..., None], fill, x)
    occluded_context = np.where(m[..., None], x, fill)

    def logit(images):
        return (images.reshape(2, -1) @ Wm + b)[np.arange(2), y]

    f = logit(x)
    for kwargs in (dict(boxes=boxes), dict(masks=m)):
        out = xb.evaluate.object_occlusion(model, x, **kwargs, y=y, fill=fill)
        np.testing.assert_allclose(out["f"], f, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(out["object"], logit(occluded_object) - f, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(out["context"], logit(occluded_context) - f, rtol=1e-5,
                                   atol=1e-5)
        np.testing.assert_allclose(out["size"], m.reshape(2, -1).mean(axis=1))
    p = xb.evaluate.object_occlusion(model, x, masks=m, y=y, fill=fill, output="probability")
    probs = _softmax(x.reshape(2, -1) @ Wm + b)[np.arange(2), y]
    np.testing.assert_allclose(p["f"], probs, rtol=1e-5)
    with pytest.raises(ValueError, match="fill must be a number or 2 channel values"):
        xb.evaluate.object_occlusion(model, x, masks=m, fill=[0.0, 0.0, 0.0])


def test_the_runner_rows_of_kept_score_and_object_occlusion_are_the_functions():
    model, Wm, b = _linear_softmax_model()
    rng = np.random.default_rng(3)
    x = rng.uniform(size=(2, H, W, 2)).astype(np.float32)
    R = rng.normal(scale=0.05, size=x.shape).astype(np.float32)
    ctx = Context(model, x, np.array([2, 1]), [[(0, 0, 2, 3)], [(1, 1, 3, 3)]], None, 0,
                  np.arange(2))
    kept = {(i, s): v for i, s, k, v in METRICS["kept_score"].compute(ctx, R, {})}
    keep = R.astype(np.float64).mean(axis=-1) >= 0.01
    p = _softmax(np.where(keep[..., None], x, 0.0).reshape(2, -1) @ Wm + b)
    np.testing.assert_allclose([kept[i, "kept"] for i in range(2)], p[np.arange(2), [2, 1]],
                               rtol=1e-5)
    occ = {(i, s): v for i, s, k, v in METRICS["object_occlusion"].baseline(ctx, {})}
    assert METRICS["object_occlusion"].compute(ctx, R, {}) == []
    m = np.zeros((2, H, W), bool)
    m[0, 0:3, 0:2] = True
    m[1, 1:3, 1:3] = True
    z = np.where(m[..., None], 0.0, x).reshape(2, -1) @ Wm + b
    z0 = x.reshape(2, -1) @ Wm + b
    np.testing.assert_allclose([occ[i, "object"] for i in range(2)],
                               (z - z0)[np.arange(2), [2, 1]], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------- zoo.load

def test_zoo_load_resolves_and_refuses_specs(tmp_path):
    from xaibench.runner import UntrainedModelWarning
    from xaibench.runner.engine import load_model

    assert load_model is xb.zoo.load                      # the runner's name for it
    with pytest.warns(UntrainedModelWarning, match="untrained mnist_cnn architecture"):
        assert xb.zoo.load("mnist_cnn").output_shape == (None, 10)
    with pytest.raises(ValueError, match="zoo builder mnist_cnn takes no weights"):
        xb.zoo.load("mnist_cnn:imagenet")
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        xb.zoo.load(f"vgg16:{tmp_path / 'nope.h5'}")
    for bad in ("resnet9", "tf", "shipped", str(tmp_path / "missing.keras")):
        with pytest.raises(ValueError, match=r"is neither digits / mnist / clutter / demo, an "
                                             r"existing file, nor a zoo builder"):
            xb.zoo.load(bad)
    path = str(tmp_path / "m.keras")
    model, *_ = _linear_softmax_model()
    model.save(path)
    x = np.random.default_rng(4).uniform(size=(2, H, W, 2)).astype(np.float32)
    np.testing.assert_allclose(xb.zoo.load(path).predict(x, verbose=0),
                               model.predict(x, verbose=0), rtol=1e-6)
