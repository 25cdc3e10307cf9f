"""xaibench's LRP analyzers against a plain-numpy implementation of the rule formulas
(``lrp_numpy.py``), the way Zennit tests its rules.

Bias convention of iNNvestigate's alpha-beta rules with bias (``lrp.alpha_2_beta_1``,
``lrp.alpha_1_beta_0`` and the presets/composites built on them): the whole bias b_j
enters both denominators, sum_i z+_ij + b_j and sum_i z-_ij + b_j. Read with the bias
as a constant input neuron, Samek's eq. 8 would put b+ into the first and b- into the
second. The two agree when b = 0; xaibench keeps iNNvestigate's numbers, and these
tests pin both readings down.
"""
import numpy as np
import pytest
import tensorflow as tf

import lrp_numpy as ln
import xaibench as xb

L = tf.keras.layers
SHAPE = (7, 7, 2)
TOL = 1e-5


def small_net(seed=0, bias_scale=0.3, bias_offset=0.0):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([
        L.Input(SHAPE), L.Conv2D(3, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
        L.Dense(6, activation="relu"), L.Dense(4),
    ])
    rng = np.random.default_rng(seed)
    model.set_weights([
        rng.normal(size=w.shape) * 0.5 if w.ndim > 1 else
        rng.normal(size=w.shape) * bias_scale + bias_offset
        for w in model.get_weights()
    ])
    return model


def ab_innvestigate(alpha, beta):
    """Alpha-beta with the full bias in both denominators (see the module docstring)."""
    def rule(a, W, b, M, R):
        zij = a[:, None] * W
        zp, zn = np.maximum(zij, 0), np.minimum(zij, 0)
        dp, dn = zp.sum(0) + b, zn.sum(0) + b
        return alpha * (zp @ ln._div(R, dp)) - beta * (zn @ ln._div(R, dn))
    return rule


X = np.random.default_rng(1).uniform(-1, 1, size=(3,) + SHAPE).astype("float32")
Y = np.array([0, 2, 3])


@pytest.fixture(scope="module")
def net():
    model = small_net(seed=1)
    return model, ln.SmallNet(model, SHAPE)


def reference(ref, rules, x=X, y=Y, start=None):
    return np.stack([ref.lrp(x[i], y[i], rules, start)[0] for i in range(len(x))])


def assert_close(R, Rn):
    rel = np.abs(R - Rn).max() / np.abs(Rn).max()
    assert rel < TOL, f"max deviation {rel:.2e} of max |R|"


EPS_CMP = 0.1
CASES = {
    "lrp.z": ([ln.z] * 3, {}),
    "lrp.epsilon": ([ln.eps(0.25)] * 3, {"epsilon": 0.25}),
    "lrp.alpha_2_beta_1_IB": ([ln.ab(2, 1, bias=False)] * 3, {}),
    "lrp.alpha_1_beta_0_IB": ([ln.ab(1, 0, bias=False)] * 3, {}),
    "lrp.alpha_2_beta_1": ([ab_innvestigate(2, 1)] * 3, {}),
    "lrp.alpha_1_beta_0": ([ab_innvestigate(1, 0)] * 3, {}),
    "lrp.flat": ([ln.flat] * 3, {}),
    "lrp.w_square": ([ln.w_square] * 3, {}),
    "lrp.z_plus": ([ln.ab(1, 0, bias=False)] * 3, {}),
    "lrp.cmp_alpha1": ([ab_innvestigate(1, 0), ln.eps(EPS_CMP), ln.eps(EPS_CMP)], {}),
    "lrp.cmp_alpha2": ([ab_innvestigate(2, 1), ln.eps(EPS_CMP), ln.eps(EPS_CMP)], {}),
    "lrp.cmp_alpha1_flat": ([ln.flat, ln.eps(EPS_CMP), ln.eps(EPS_CMP)], {}),
    "lrp.cmp_alpha2_flat": ([ln.flat, ln.eps(EPS_CMP), ln.eps(EPS_CMP)], {}),
    "lrp.cmp_flat_until": ([ln.flat, ln.flat, ln.eps(0.5)],
                           {"flat_layers": 2, "alpha": 1, "epsilon": 0.5}),
    "lrp.cam": ([ln.flat, ln.z, ln.z], {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_matches_numpy(net, name):
    model, ref = net
    rules, params = CASES[name]
    R = xb.create_analyzer(name, model, **params).analyze(X, neuron_selection=Y)
    assert_close(R, reference(ref, rules))


@pytest.mark.parametrize("name,alpha,beta", [("lrp.alpha_2_beta_1", 2, 1),
                                             ("lrp.alpha_1_beta_0", 1, 0)])
def test_alpha_beta_is_samek_eq8_without_bias(name, alpha, beta):
    model = small_net(seed=3, bias_scale=0.0)
    R = xb.create_analyzer(name, model).analyze(X, neuron_selection=Y)
    assert_close(R, reference(ln.SmallNet(model, SHAPE), [ln.ab(alpha, beta)] * 3))


def test_z_plus_fast_on_nonnegative_input(net):
    model, ref = net
    x = np.abs(X)
    R = xb.create_analyzer("lrp.z_plus_fast", model).analyze(x, neuron_selection=Y)
    assert_close(R, reference(ref, [ln.z_plus_fast] * 3, x=x))


def _top_positive(model):
    logits = model.predict(X, verbose=0)
    top = logits.argmax(1)
    assert np.all(logits[np.arange(len(X)), top] > 0)
    return top


def test_deep_taylor_bounded_uses_zb_at_the_input(net):
    """Deep Taylor (Montavon et al.): z^B at the input layer, z+ on the other layers
    (iNNvestigate counts the linear output layer as one with an activation), starting
    from max(0, logit)."""
    model, ref = net
    top = _top_positive(model)
    rules = [ln.bounded(-1.0, 1.0), ln.ab(1, 0, bias=False), ln.ab(1, 0, bias=False)]
    R = xb.create_analyzer("deep_taylor.bounded", model, low=-1, high=1).analyze(
        X, neuron_selection=top)
    assert_close(R, reference(ref, rules, y=top, start=lambda v: max(v, 0.0)))


def test_deep_taylor_unbounded(net):
    model, ref = net
    top = _top_positive(model)
    rules = [ln.ab(1, 0, bias=False)] * 3
    R = xb.create_analyzer("deep_taylor", model).analyze(X, neuron_selection=top)
    assert_close(R, reference(ref, rules, y=top, start=lambda v: max(v, 0.0)))


def test_lrp_z_conserves_relevance_without_bias():
    """Kohlbrenner eq. 1 is conservative: sum_i R_i = f(x) on a bias-free ReLU net."""
    model = small_net(seed=5, bias_scale=0.0)
    x = np.abs(X)
    R = xb.create_analyzer("lrp.z", model).analyze(x, neuron_selection=Y)
    logits = model.predict(x, verbose=0)[np.arange(len(Y)), Y]
    np.testing.assert_allclose(R.reshape(len(x), -1).sum(1), logits, rtol=1e-4)


def test_max_activation_explains_the_top_logit(net):
    model, ref = net
    top = model.predict(X, verbose=0).argmax(1)
    an = xb.create_analyzer("lrp.epsilon", model)
    np.testing.assert_array_equal(an.analyze(X), an.analyze(X, neuron_selection=top))
    np.testing.assert_array_equal(an.analyze(X, "max_activation"), an.analyze(X))


def test_one_int_explains_that_class_for_all_images(net):
    model, ref = net
    an = xb.create_analyzer("lrp.z", model)
    R = an.analyze(X, neuron_selection=1)
    assert_close(R, reference(ref, [ln.z] * 3, y=np.array([1, 1, 1])))


def test_composite_aliases_equal_the_presets(net):
    model, _ = net
    for alias, preset in [("lrp.cmp_alpha1", "lrp.sequential_preset_a"),
                          ("lrp.cmp_alpha2_flat", "lrp.sequential_preset_b_flat")]:
        np.testing.assert_array_equal(
            xb.create_analyzer(alias, model).analyze(X, Y),
            xb.create_analyzer(preset, model).analyze(X, Y))
    # one flat layer with alpha 2 is LRP_CMP:alpha2+b
    np.testing.assert_allclose(
        xb.create_analyzer("lrp.cmp_flat_until", model, flat_layers=1).analyze(X, Y),
        xb.create_analyzer("lrp.cmp_alpha2_flat", model).analyze(X, Y), rtol=0, atol=1e-7)
