"""DeConvNet and guided backprop as one gradient of the user's model: the ReLU-like
activations of the model's Keras layers are swapped, while the analysis is traced,
for ReLUs with a modified gradient (any Keras model: functional, nested, subclassed).

* DeConvNet (Zeiler and Fergus 2014): the backward signal g becomes ReLU(g);
* guided backprop (Springenberg et al. 2015): ReLU(g) masked by the forward ReLU.

Only activations held by Keras layers (``activation="relu"``, ``ReLU`` layers,
``Activation("relu")``) are found; a bare ``tf.nn.relu`` inside ``call`` keeps its
plain gradient. On the models iNNvestigate analyzes the numbers equal its own
(``tests/test_innvestigate_differential.py``): the same as walking the layers
backwards with ReLU(signal) at each ReLU, in one forward and one backward pass.
"""
from __future__ import annotations

import contextlib

import tensorflow as tf

L = tf.keras.layers


def _modified_relu(kind: str, max_value=None):
    @tf.custom_gradient
    def relu(z):
        y = tf.nn.relu(z) if max_value is None else tf.clip_by_value(z, 0.0, max_value)

        def grad(g):
            g = tf.nn.relu(g)
            if kind == "deconvnet":
                return g
            if max_value is None:          # ReLU(g) where z > 0, as one fused kernel
                return tf.raw_ops.ReluGrad(gradients=g, features=z)
            return g * tf.cast((z > 0) & (z < max_value), g.dtype)

        return y, grad

    return relu


def _relu_max(layer):
    """``(True, max_value)`` for a ReLU-like layer or activation, else ``(False, None)``."""
    if isinstance(layer, L.ReLU):
        if layer.negative_slope or layer.threshold:
            return False, None
        return True, None if layer.max_value is None else float(layer.max_value)
    act = getattr(layer, "activation", None)
    if act is tf.keras.activations.relu or getattr(act, "__name__", "") == "relu":
        return True, None
    if getattr(act, "__name__", "") == "relu6":
        return True, 6.0
    return False, None


@contextlib.contextmanager
def modified_relus(model, kind: str):
    """Within the block, every ReLU-like layer of ``model`` uses ``kind``'s backward pass."""
    undo = []
    try:
        for layer in model._flatten_layers(include_self=False):
            relu_like, max_value = _relu_max(layer)
            if not relu_like:
                continue
            relu = _modified_relu(kind, max_value)
            if isinstance(layer, L.ReLU):
                undo.append((layer, "call", layer.__dict__.get("call")))
                object.__setattr__(layer, "call", lambda inputs, *a, _r=relu, **k: _r(inputs))
            else:
                undo.append((layer, "activation", layer.activation))
                object.__setattr__(layer, "activation", relu)
        yield
    finally:
        for layer, attr, old in reversed(undo):
            if attr == "call" and old is None:
                object.__delattr__(layer, "call")
            else:
                object.__setattr__(layer, attr, old)
