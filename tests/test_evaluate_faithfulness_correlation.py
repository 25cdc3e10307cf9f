"""Faithfulness correlation (Bhatt et al. 2020): 1 on a linear model with R = w x and a zero
baseline, Quantus 0.6.0 on the same subsets, seeds and refused input."""
import numpy as np
import pytest

import xaibench as xb
from metrics_common import CountCalls, counting_model, linear_model


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(9, 9, 2)).astype(np.float32)
    x = rng.normal(size=(4, 9, 9, 2)).astype(np.float32)
    return linear_model(w), w, x


def test_linear_model_gives_one_and_drops_by_hand(linear):
    model, w, x = linear
    R = w * x
    out = xb.evaluate.faithfulness_correlation(model, x, R, y=0, runs=20, subset_size=10)
    np.testing.assert_allclose(out["correlation"], 1.0, atol=1e-5)
    # the drop of a linear model is the relevance of the subset: sum_{i in S} w_i x_i
    np.testing.assert_allclose(out["drop"], out["relevance"], atol=1e-4)
    sub = np.random.default_rng(0).permuted(np.tile(np.arange(81), (4, 6, 1)), axis=2)[..., :7]
    out = xb.evaluate.faithfulness_correlation(model, x, -R, y=0, subsets=sub)
    np.testing.assert_allclose(out["correlation"], -1.0, atol=1e-5)
    hand = np.array([[R[n, ..., :].sum(-1).ravel()[s].sum() for s in sub[n]] for n in range(4)])
    np.testing.assert_allclose(out["drop"], hand, atol=1e-4)


def test_equals_quantus_on_the_same_subsets():
    import quantus

    model = xb.zoo.shipped("digits")
    x = xb.data.digits().x[:6]
    R = xb.create_analyzer("input_t_gradient", model).analyze(x)
    y = model.predict(x, verbose=0).argmax(1)
    runs, size = 15, 60
    metric = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=size, perturb_baseline=0.0,
                                             abs=False, normalise=False, return_aggregate=False,
                                             disable_warnings=True)
    np.random.seed(11)
    ref = metric(model=model, x_batch=x, y_batch=y, a_batch=np.moveaxis(R, -1, 1),
                 channel_first=False, softmax=False, batch_size=len(x))
    np.random.seed(11)                                   # Quantus's draws, replayed
    draws = [[np.random.choice(784, size, replace=False) for _ in range(len(x))]
             for _ in range(runs)]
    subsets = np.array(draws).transpose(1, 0, 2)
    ours = xb.evaluate.faithfulness_correlation(model, x, R, y=y, subsets=subsets)
    np.testing.assert_allclose(ours["correlation"], ref, atol=1e-5)


def test_same_seed_same_numbers(linear):
    model, w, x = linear
    R = w * x + np.random.default_rng(1).normal(size=x.shape).astype(np.float32)
    kw = dict(y=0, runs=12, subset_size=9)
    a = xb.evaluate.faithfulness_correlation(model, x, R, seed=2, **kw)
    b = xb.evaluate.faithfulness_correlation(model, x, R, seed=2, batch_size=5, **kw)
    c = xb.evaluate.faithfulness_correlation(model, x, R, seed=3, **kw)
    np.testing.assert_allclose(a["correlation"], b["correlation"], atol=1e-6)
    assert not np.allclose(a["correlation"], c["correlation"])
    d = xb.evaluate.faithfulness_correlation(model, x[2:], R[2:], seed=2, image_ids=[2, 3], **kw)
    np.testing.assert_allclose(a["correlation"][2:], d["correlation"], atol=1e-6)


def test_bad_input_is_refused_before_any_model_call():
    model = counting_model()
    x = np.zeros((2, 12, 12, 1), np.float32)
    R = np.ones((2, 12, 12), np.float32)
    CountCalls.calls = 0
    with pytest.raises(ValueError, match="heatmap must have x's shape"):
        xb.evaluate.faithfulness_correlation(model, x, R[:1])
    with pytest.raises(ValueError, match="subset_size"):
        xb.evaluate.faithfulness_correlation(model, x, R, subset_size=145)
    with pytest.raises(ValueError, match="pixel indices outside"):
        xb.evaluate.faithfulness_correlation(model, x, R, subsets=np.full((3, 4), 144))
    with pytest.raises(ValueError, match="baseline"):
        xb.evaluate.faithfulness_correlation(model, x, R, baseline="uniform")
    assert CountCalls.calls == 0


def test_subsets_are_the_documented_draw_and_do_not_depend_on_runs(linear):
    """Run r of image i sets the |S| largest of row r of stateless_uniform((runs, H*W),
    (seed, i)): the relevance sums equal the hand-drawn subsets', whatever the batch, and
    asking for more runs keeps the first runs' subsets."""
    import tensorflow as tf
    model, w, x = linear
    R = np.random.default_rng(3).normal(size=x.shape).astype(np.float32)
    out = xb.evaluate.faithfulness_correlation(model, x, R, y=0, runs=5, subset_size=7, seed=4,
                                               batch_size=3)
    hmap = R.sum(-1).reshape(len(x), -1)
    for i in range(len(x)):
        keys = tf.random.stateless_uniform((5, 81), (4, i), alg="philox").numpy()
        hand = [hmap[i, np.argsort(-k, kind="stable")[:7]].sum() for k in keys]
        np.testing.assert_allclose(out["relevance"][i], hand, rtol=1e-5, atol=1e-5)
    more = xb.evaluate.faithfulness_correlation(model, x, R, y=0, runs=9, subset_size=7, seed=4)
    np.testing.assert_array_equal(more["relevance"][:, :5], out["relevance"])
