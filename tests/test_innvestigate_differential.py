"""Differential test: every iNNvestigate analyzer name and parameter setting on
xaibench's native engine equals iNNvestigate 2.1.2 run directly in graph mode (in a
subprocess, ``innvestigate_direct.py``), within 1e-6 of max |R|, on the models
iNNvestigate can analyze: a small Sequential CNN, ``mnist_cnn`` with batch norm,
``cifar_cnn``, ``caffenet`` and ``vgg16`` (random weights, small inputs).

The stochastic analyzers cannot share iNNvestigate's graph-mode random numbers;
``smoothgrad`` is checked against iNNvestigate's gradients on the very noisy copies
the native analyzer drew, averaged in numpy.
"""
import functools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb
from stacks import needs_innvestigate   # elsewhere: test_native_reference.py's stored heatmaps

L = tf.keras.layers
HERE = os.path.dirname(__file__)
TOLERANCE = 1e-6

# every analyzer name of iNNvestigate 2.1.2 with the parameter settings its classes take
CASES = [
    ("input", {}), ("gradient", {}), ("gradient", {"postprocess": "abs"}),
    ("gradient", {"postprocess": "square"}), ("gradient.baseline", {}),
    ("input_t_gradient", {}), ("deconvnet", {}), ("guided_backprop", {}),
    ("integrated_gradients", {"steps": 8}),
    ("integrated_gradients", {"steps": 5, "reference_inputs": 0.5, "postprocess": "abs"}),
    ("lrp", {"rule": "Epsilon"}), ("lrp", {"rule": "Z", "input_layer_rule": "Flat"}),
    ("lrp", {"rule": "Alpha2Beta1", "input_layer_rule": "WSquare"}),
    ("lrp", {"rule": "Epsilon", "input_layer_rule": (-1.0, 1.0)}),
    ("lrp", {"rule": "Z", "until_layer_idx": 2, "until_layer_rule": "Flat"}),
    ("lrp", {"rule": "Alpha1Beta0", "bn_layer_rule": "Z"}),
    ("lrp", {"rule": "ZPlus"}), ("lrp", {"rule": "Bounded"}),
    ("lrp.z", {}), ("lrp.z", {"input_layer_rule": "Flat"}),
    ("lrp.epsilon", {}), ("lrp.epsilon", {"epsilon": 0.01}),
    ("lrp.epsilon", {"epsilon": 0.1, "bias": False}),
    ("lrp.w_square", {}), ("lrp.flat", {}), ("lrp.alpha_beta", {"alpha": 3, "beta": 2}),
    ("lrp.alpha_beta", {"alpha": 1, "beta": 0, "bias": False}),
    ("lrp.alpha_2_beta_1", {}), ("lrp.alpha_2_beta_1", {"input_layer_rule": (0.0, 1.0)}),
    ("lrp.alpha_2_beta_1_IB", {}), ("lrp.alpha_1_beta_0", {}),
    ("lrp.alpha_1_beta_0_IB", {}), ("lrp.z_plus", {}), ("lrp.z_plus_fast", {}),
    ("lrp.sequential_preset_a", {}), ("lrp.sequential_preset_a", {"epsilon": 1.0}),
    ("lrp.sequential_preset_b", {"epsilon": 1.0}),
    ("lrp.sequential_preset_b", {"input_layer_rule": "Flat", "bn_layer_rule": "Z"}),
    ("lrp.sequential_preset_a_flat", {}), ("lrp.sequential_preset_b_flat", {}),
    ("lrp.sequential_preset_b_flat_until_idx", {"until_layer_idx": 3}),
    ("lrp.sequential_preset_b_flat_until_idx", {"until_layer_idx": 1, "epsilon": 0.5}),
    ("deep_taylor", {}), ("deep_taylor.bounded", {"low": -1.0, "high": 1.0}),
]
# the settings run on the larger models (the whole list runs on the two small ones)
LARGE = [("gradient", {}), ("input_t_gradient", {}), ("guided_backprop", {}),
         ("deconvnet", {}), ("lrp.z", {}), ("lrp.epsilon", {"epsilon": 0.01}),
         ("lrp.alpha_2_beta_1", {}), ("lrp.sequential_preset_a_flat", {}),
         ("lrp.sequential_preset_b", {}), ("lrp.w_square", {}), ("deep_taylor", {}),
         ("deep_taylor.bounded", {"low": -1.0, "high": 1.0})]
SMOOTHGRAD = {"augment_by_n": 3, "noise_scale": 0.3, "seed": 4}


def small_cnn():
    tf.keras.utils.set_random_seed(7)
    return tf.keras.Sequential([
        L.Input((12, 12, 3)), L.Conv2D(4, 3, padding="same", activation="relu"),
        L.MaxPooling2D(2), L.Conv2D(6, 3, activation="relu"), L.AveragePooling2D(2),
        L.Flatten(), L.Dense(10, activation="relu"), L.Dense(5, activation="softmax"),
    ])


def trained_bn(model):
    """Give batch-norm layers non-trivial statistics so that folding matters."""
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.1, b.shape),
                               rng.normal(0, 0.1, m.shape), rng.uniform(0.5, 1.5, v.shape)])
    return model


def _mnist():
    tf.keras.utils.set_random_seed(3)
    return trained_bn(xb.zoo.mnist_cnn())


def _seeded(builder, seed=5):
    def build():
        tf.keras.utils.set_random_seed(seed)
        return builder()
    return build


MODELS = {
    "small_cnn": (small_cnn, (12, 12, 3), -1.0, 1.0, CASES),
    "mnist_cnn": (_mnist, (28, 28, 1), 0.0, 1.0, CASES),
    "cifar_cnn": (_seeded(lambda: xb.zoo.cifar_cnn(filters=(8, 16, 16), dense_units=(32, 16))),
                  (32, 32, 3), -1.0, 1.0, LARGE),
    "caffenet": (_seeded(lambda: xb.zoo.caffenet(num_classes=10, input_shape=(67, 67, 3))),
                 (67, 67, 3), -1.0, 1.0, LARGE),
    "vgg16": (_seeded(lambda: xb.zoo.vgg16(input_shape=(32, 32, 3), classes=10)),
              (32, 32, 3), -1.0, 1.0, LARGE),
}


def write_direct_input(model, arrays: dict, cases, path) -> None:
    """The input file of ``innvestigate_direct.py``: the prepared model, its weights, the
    arrays and the cases."""
    prepared = xb.prepare(model)
    weights = {f"weights_{i}": w for i, w in enumerate(prepared.get_weights())}
    np.savez(path, model_json=prepared.to_json(), cases=json.dumps(cases), **arrays, **weights)


class DirectRuns:
    """iNNvestigate's heatmaps for every model, computed by one ``innvestigate_direct.py``
    process (one TensorFlow import) in the background, model after model in the order the
    tests use them, while this process runs the native analyzers of the models before."""

    def __init__(self, labels):
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="xb-diff-"))
        self.out, pairs = {}, []
        for label in labels:
            model, x, y = inputs(label)
            x_noisy, y_noisy = _smoothgrad_inputs(model, x, y)
            runs = list(MODELS[label][4]) + [("gradient", {"inputs": "noisy"})]
            src, dst = self.folder / f"{label}-in.npz", self.folder / f"{label}-out.npz"
            write_direct_input(model, {"x": x, "y": y, "x_noisy": x_noisy, "y_noisy": y_noisy},
                               runs, src)
            self.out[label] = dst
            pairs += [str(src), str(dst)]
        self.stderr = open(self.folder / "stderr.txt", "w+")
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "innvestigate_direct.py")]
                                     + pairs, stdout=subprocess.DEVNULL, stderr=self.stderr,
                                     env=env)

    def result(self, label):
        """The heatmaps of ``label``, once the background process has written them."""
        dst = self.out[label]
        deadline = time.monotonic() + 1800     # a hung process fails the test, not the suite
        while not dst.exists():
            code = self.proc.poll()
            if code is not None and not dst.exists():
                self.stderr.seek(0)
                raise AssertionError(f"innvestigate_direct.py ended ({code}) before {label}: "
                                     + self.stderr.read()[-3000:])
            assert time.monotonic() < deadline, f"innvestigate_direct.py gave no {label}"
            time.sleep(0.05)
        return np.load(dst)


_direct_runs = []


def direct_runs(labels=None) -> DirectRuns:
    """The background run, started on first use: for ``labels`` (conftest.py passes the
    models of the selected tests, right after collection) or every model."""
    if not _direct_runs:
        _direct_runs.append(DirectRuns([m for m in MODELS if labels is None or m in labels]))
    return _direct_runs[0]


@pytest.fixture(scope="module", autouse=True)
def _stop_direct_runs():
    yield
    for runs in _direct_runs:
        if runs.proc.poll() is None:          # only when a test failed before the last model
            runs.proc.kill()
        runs.proc.wait()
        runs.stderr.close()


def _smoothgrad_inputs(model, x, y):
    """The noisy copies the native smoothgrad draws, as one batch (copy k of image i at
    row i * n + k) with the repeated labels."""
    an = xb.create_analyzer("smoothgrad", model, **SMOOTHGRAD)
    noise = an._noise(x, 0, (SMOOTHGRAD["augment_by_n"],), SMOOTHGRAD["noise_scale"])
    noisy = (x[:, None] + noise).reshape((-1,) + x.shape[1:])
    return noisy, np.repeat(y, SMOOTHGRAD["augment_by_n"])


@functools.lru_cache(maxsize=None)
def inputs(label):
    """Model, images and their top classes for one model (computed once)."""
    build, shape, low, high, cases = MODELS[label]
    model = build()
    x = np.random.default_rng(1).uniform(low, high, (3,) + shape).astype("float32")
    # the top class: Deep Taylor explains max(0, logit), which must not vanish
    logits = xb.prepare(model).predict(x, verbose=0)
    y = logits.argmax(1)
    assert np.all(logits.max(1) > 0)
    return model, x, y


@functools.lru_cache(maxsize=None)
def setting(label):
    """Model, images, labels and iNNvestigate's heatmaps for one model (computed once, all
    models' in one background process started by the first test that needs one)."""
    model, x, y = inputs(label)
    return model, x, y, direct_runs().result(label)


def _close(R, expected):
    scale = np.abs(expected).max()
    assert scale > 0
    err = np.abs(R - expected).max()
    assert err <= TOLERANCE * scale, f"max |dR| = {err:.3g} = {err / scale:.3g} of max |R|"


PAIRS = [(label, j) for label, spec in MODELS.items() for j in range(len(spec[4]))]


@needs_innvestigate
@pytest.mark.parametrize("label, j", PAIRS,
                         ids=[f"{label}-{MODELS[label][4][j][0]}{MODELS[label][4][j][1] or ''}"
                              for label, j in PAIRS])
def test_same_numbers_as_innvestigate(label, j):
    model, x, y, direct = setting(label)
    name, params = MODELS[label][4][j]
    assert f"error_{j}" not in direct.files, str(direct[f"error_{j}"])
    R = xb.create_analyzer(name, model, **params).analyze(x, neuron_selection=y)
    assert R.shape == x.shape and R.dtype == np.float32
    _close(R, direct[f"case_{j}"])


@needs_innvestigate
@pytest.mark.parametrize("label", list(MODELS))
def test_smoothgrad_averages_innvestigate_gradients_on_its_noisy_copies(label):
    model, x, y, direct = setting(label)
    j = len(MODELS[label][4])
    grads = direct[f"case_{j}"].reshape((len(x), SMOOTHGRAD["augment_by_n"]) + x.shape[1:])
    R = xb.create_analyzer("smoothgrad", model, **SMOOTHGRAD).analyze(x, neuron_selection=y)
    _close(R, grads.mean(axis=1))


def test_stochastic_analyzers_are_seeded():
    model, x, y = inputs("small_cnn")
    for name, params in [("random", {"stddev": 2.0}), ("smoothgrad", {"augment_by_n": 2})]:
        a = xb.create_analyzer(name, model, seed=5, **params).analyze(x, y)
        b = xb.create_analyzer(name, model, seed=5, **params).analyze(x, y)
        c = xb.create_analyzer(name, model, seed=6, **params).analyze(x, y)
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
        # the noise is drawn per image: another batch size changes only float rounding
        one = xb.create_analyzer(name, model, seed=5, batch_size=1, **params).analyze(x, y)
        np.testing.assert_allclose(one, a, rtol=0, atol=1e-6 * np.abs(a).max())
        assert np.abs(one - c).max() > 1e-2 * np.abs(a).max()
    noise = xb.create_analyzer("random", model, stddev=2.0, seed=1).analyze(x) - x
    assert abs(noise.std() - 2.0) < 0.1 and abs(noise.mean()) < 0.1
