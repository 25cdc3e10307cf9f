"""The models, inputs and analyzer settings of the committed iNNvestigate reference
heatmaps (``tests/data/innvestigate_reference.npz``), shared by the script that makes
them (``tests/tools/make_innvestigate_reference.py``, legacy stack) and the test that
checks the native engine against them on every stack (``test_native_reference.py``).

Weights are stored as numpy arrays keyed ``<model>/<layer name>/<index>``, so each
stack rebuilds the model with its own Keras and loads them (no .keras/.h5 file).
"""
import json
import os

import numpy as np
import tensorflow as tf

L = tf.keras.layers
PATH = os.path.join(os.path.dirname(__file__), "data", "innvestigate_reference.npz")
IMAGES = 3

# every deterministic iNNvestigate 2.1.2 setting the native engine computes
CASES = [
    ("input", {}), ("gradient", {}), ("gradient", {"postprocess": "abs"}),
    ("gradient", {"postprocess": "square"}), ("input_t_gradient", {}),
    ("integrated_gradients", {"steps": 8}),
    ("integrated_gradients", {"steps": 5, "reference_inputs": 0.5}),
    ("deconvnet", {}), ("guided_backprop", {}),
    ("lrp.z", {}), ("lrp.z", {"input_layer_rule": "Flat"}),
    ("lrp.epsilon", {}), ("lrp.epsilon", {"epsilon": 0.1, "bias": False}),
    ("lrp.w_square", {}), ("lrp.flat", {}),
    ("lrp.alpha_beta", {"alpha": 3, "beta": 2}),
    ("lrp.alpha_2_beta_1", {}), ("lrp.alpha_2_beta_1", {"input_layer_rule": [-1.0, 1.0]}),
    ("lrp.alpha_2_beta_1_IB", {}), ("lrp.alpha_1_beta_0", {}), ("lrp.alpha_1_beta_0_IB", {}),
    ("lrp.z_plus", {}), ("lrp.z_plus_fast", {}),
    ("lrp.sequential_preset_a", {}), ("lrp.sequential_preset_b", {"epsilon": 1.0}),
    ("lrp.sequential_preset_a_flat", {}), ("lrp.sequential_preset_b_flat", {}),
    ("lrp", {"rule": "Z", "until_layer_idx": 2, "until_layer_rule": "Flat"}),
    ("deep_taylor", {}), ("deep_taylor.bounded", {"low": -1.0, "high": 1.0}),
]
SMOOTHGRAD = {"augment_by_n": 3, "noise_scale": 0.3, "seed": 4}


def cnn():
    """Conv, batch norm (folded), stand-alone ReLU (merged), max/average pooling, Dense,
    Dropout and a softmax head."""
    inp = L.Input((12, 12, 3), name="image")
    h = L.Conv2D(4, 3, padding="same", name="conv1")(inp)
    h = L.BatchNormalization(name="bn1")(h)
    h = L.ReLU(name="relu1")(h)
    h = L.MaxPooling2D(2, name="pool1")(h)
    h = L.Conv2D(6, 3, activation="relu", name="conv2")(h)
    h = L.AveragePooling2D(2, name="pool2")(h)
    h = L.Flatten(name="flatten")(h)
    h = L.Dense(10, activation="relu", name="fc1")(h)
    h = L.Dropout(0.5, name="drop")(h)
    return tf.keras.Model(inp, L.Dense(5, activation="softmax", name="logits")(h), name="cnn")


def residual():
    """A residual block (``Add`` of two ReLU conv outputs), a strided conv and Dense."""
    inp = L.Input((10, 10, 3), name="image")
    h = L.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inp)
    r = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2")(h)
    h = L.Add(name="skip")([h, r])
    h = L.Conv2D(5, 3, strides=2, activation="relu", name="conv3")(h)
    h = L.Flatten(name="flatten")(h)
    return tf.keras.Model(inp, L.Dense(4, name="logits")(h), name="residual")


MODELS = {"cnn": cnn, "residual": residual}


def random_weights(model, seed: int) -> dict:
    """Weights ``{<model>/<layer>/<i>: array}`` drawn with numpy: He-scaled kernels,
    biases N(0, 0.1), batch-norm statistics away from the identity."""
    rng = np.random.default_rng(seed)
    out = {}
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            shape = layer.get_weights()[0].shape
            arrays = [rng.uniform(0.5, 1.5, shape), rng.normal(0, 0.1, shape),
                      rng.normal(0, 0.1, shape), rng.uniform(0.5, 1.5, shape)]
        else:
            arrays = []
            for w in layer.get_weights():
                fan_in = int(np.prod(w.shape[:-1])) if w.ndim > 1 else 0
                arrays.append(rng.normal(0, np.sqrt(2.0 / fan_in), w.shape) if w.ndim > 1
                              else rng.normal(0, 0.1, w.shape))
        for i, a in enumerate(arrays):
            out[f"{model.name}/{layer.name}/{i}"] = a.astype(np.float32)
    return out


def load_weights(model, data) -> None:
    """Set every layer's weights from the arrays keyed ``<model>/<layer>/<i>``."""
    for layer in model.layers:
        n = len(layer.get_weights())
        if n:
            layer.set_weights([data[f"{model.name}/{layer.name}/{i}"] for i in range(n)])


def params_of(params: dict) -> dict:
    """Analyzer parameters as the analyzers take them (JSON turns bounds into lists)."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def cases_json() -> str:
    return json.dumps(CASES)
