"""Differential test: every iNNvestigate analyzer name through xaibench equals
iNNvestigate 2.1.2 run directly in graph mode (in a subprocess), within 1e-5 of
max |R|, on a small CNN and on ``mnist_cnn()`` after ``prepare``."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb

L = tf.keras.layers
HERE = os.path.dirname(__file__)

# every analyzer name of iNNvestigate 2.1.2, with the parameters that need values
CASES = [
    ("input", {}), ("gradient", {}), ("gradient", {"postprocess": "abs"}),
    ("gradient.baseline", {}), ("input_t_gradient", {}), ("deconvnet", {}),
    ("guided_backprop", {}), ("integrated_gradients", {"steps": 8}),
    ("lrp", {"rule": "Epsilon"}), ("lrp.z", {}), ("lrp.epsilon", {"epsilon": 0.01}),
    ("lrp.w_square", {}), ("lrp.flat", {}), ("lrp.alpha_beta", {"alpha": 3, "beta": 2}),
    ("lrp.alpha_2_beta_1", {}), ("lrp.alpha_2_beta_1_IB", {}), ("lrp.alpha_1_beta_0", {}),
    ("lrp.alpha_1_beta_0_IB", {}), ("lrp.z_plus", {}), ("lrp.z_plus_fast", {}),
    ("lrp.sequential_preset_a", {}), ("lrp.sequential_preset_b", {"epsilon": 1.0}),
    ("lrp.sequential_preset_a_flat", {}), ("lrp.sequential_preset_b_flat", {}),
    ("lrp.sequential_preset_b_flat_until_idx", {"until_layer_idx": 3}),
    ("deep_taylor", {}), ("deep_taylor.bounded", {"low": -1.0, "high": 1.0}),
    # seeded noise: the same seed gives iNNvestigate's numbers too
    ("random", {"seed": 3}), ("smoothgrad", {"augment_by_n": 4, "noise_scale": 0.3, "seed": 4}),
]


def small_cnn():
    tf.keras.utils.set_random_seed(7)
    model = tf.keras.Sequential([
        L.Input((12, 12, 3)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(2), L.Conv2D(6, 3, activation="relu"), L.AveragePooling2D(2),
        L.Flatten(), L.Dense(10, activation="relu"), L.Dense(5, activation="softmax"),
    ])
    return model


def trained_bn(model):
    """Give batch-norm layers non-trivial statistics so that folding matters."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    return model


def run_direct(model, x, y, tmp_path):
    prepared = xb.prepare(model)
    src, dst = tmp_path / "in.npz", tmp_path / "out.npz"
    weights = {f"weights_{i}": w for i, w in enumerate(prepared.get_weights())}
    np.savez(src, model_json=prepared.to_json(), x=x, y=y, cases=json.dumps(CASES), **weights)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, os.path.join(HERE, "innvestigate_direct.py"),
                           str(src), str(dst)], capture_output=True, text=True, env=env,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.load(dst)


@pytest.fixture(scope="module", params=["small_cnn", "mnist_cnn"])
def setting(request, tmp_path_factory):
    if request.param == "small_cnn":
        model = small_cnn()
        x = np.random.default_rng(1).uniform(-1, 1, (4, 12, 12, 3)).astype("float32")
    else:
        tf.keras.utils.set_random_seed(3)
        model = trained_bn(xb.zoo.mnist_cnn())
        x = np.random.default_rng(2).uniform(0, 1, (4, 28, 28, 1)).astype("float32")
    # the top class: Deep Taylor explains max(0, logit), which must not vanish
    logits = xb.prepare(model).predict(x, verbose=0)
    y = logits.argmax(1)
    assert np.all(logits.max(1) > 0)
    direct = run_direct(model, x, y, tmp_path_factory.mktemp(request.param))
    return model, x, y, direct


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{n}{p or ''}" for n, p in CASES])
def test_same_numbers_as_innvestigate(setting, i):
    model, x, y, direct = setting
    name, params = CASES[i]
    assert f"error_{i}" not in direct.files, str(direct[f"error_{i}"])
    expected = direct[f"case_{i}"]
    R = xb.create_analyzer(name, model, **params).analyze(x, neuron_selection=y)
    assert R.shape == x.shape and R.dtype == np.float32
    scale = np.abs(expected).max()
    assert scale > 0
    assert np.abs(R - expected).max() <= 1e-5 * scale


def test_stochastic_analyzers_are_seeded(setting):
    model, x, y, _ = setting
    for name, params in [("random", {"stddev": 2.0}), ("smoothgrad", {"augment_by_n": 4})]:
        a = xb.create_analyzer(name, model, seed=5, **params).analyze(x, y)
        b = xb.create_analyzer(name, model, seed=5, **params).analyze(x, y)
        c = xb.create_analyzer(name, model, seed=6, **params).analyze(x, y)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    noise = xb.create_analyzer("random", model, stddev=2.0, seed=1).analyze(x)
    assert abs(noise.std() - 2.0) < 0.2
