"""Helpers of the tests of the newer evaluation metrics (ROAD, randomisation,
insertion/deletion, faithfulness correlation, sparseness): a linear Keras model, a model
that counts its calls."""
import numpy as np
import tensorflow as tf

L = tf.keras.layers


def linear_model(w, bias=False):
    """f(x) = sum(w * x) as class 0 and -f as class 1: a Keras model."""
    inp = L.Input(w.shape)
    out = L.Dense(2, use_bias=False)(L.Flatten()(inp))
    model = tf.keras.Model(inp, out)
    model.layers[-1].set_weights([np.stack([w.ravel(), -w.ravel()], 1)])
    return model


class CountCalls(L.Layer):
    """Identity layer that counts how often it runs (eagerly or traced)."""
    calls = 0

    def call(self, x):
        CountCalls.calls += 1
        return x


def counting_model(shape=(12, 12, 1), classes=3):
    inp = L.Input(shape)
    h = CountCalls()(inp)
    h = L.Conv2D(2, 3, padding="same", name="conv")(h)
    out = L.Dense(classes, name="dense")(L.Flatten()(h))
    return tf.keras.Model(inp, out)
