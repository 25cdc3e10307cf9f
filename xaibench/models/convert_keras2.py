"""Convert a shipped model saved as a Keras 2 ``.keras`` file to the ``.weights.npz`` that
``xb.zoo.shipped`` reads on Keras 2 and Keras 3 (a Keras 2.14 ``.keras`` file does not load
on Keras 3). Run it on the legacy stack (TF 2.14, Keras 2.14)::

    .venv/bin/python xaibench/models/convert_keras2.py digits digits_cnn.keras
    .venv/bin/python xaibench/models/convert_keras2.py clutter clutter_cnn.keras

It rebuilds the zoo architecture of the shipped name, copies the weights layer by layer,
checks that both models give the same probabilities on the model's test data, and writes
``models/<name>_cnn.weights.npz``. (``digits_cnn.weights.npz`` and ``clutter_cnn.weights.npz``
were made this way from the ``.keras`` files that ``train_digits_cnn.py`` and
``train_clutter_cnn.py`` wrote on Keras 2.14, with bit-identical predictions; the ``.keras``
files are in the repository's history, and the scripts now write the ``.npz`` themselves.)
"""
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import xaibench as xb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def convert(name: str, source: str, target: str | None = None) -> str:
    spec = xb.zoo.SHIPPED_MODELS[name]
    target = os.path.join(HERE, spec.file) if target is None else target
    old = tf.keras.models.load_model(source, compile=False)
    new = xb.zoo.shipped_architecture(name)
    for layer in new.layers:
        layer.set_weights(old.get_layer(layer.name).get_weights())
    xb.zoo.save_weights_npz(new, target)
    x = (xb.data.digits().x if name == "digits"
         else xb.data.clutter(64, split="test", size=48, seed=0, digit_scale=(0.45, 0.8)).x)
    loaded = xb.zoo.shipped(name, path=target)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), old.predict(x, verbose=0))
    return target


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in xb.zoo.SHIPPED_MODELS:
        sys.exit(f"usage: convert_keras2.py {{{','.join(xb.zoo.SHIPPED_MODELS)}}} FILE.keras")
    print("wrote", convert(sys.argv[1], sys.argv[2]))
