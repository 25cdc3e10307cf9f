"""Small helpers about Keras model objects."""
from __future__ import annotations


def check_keras_model(model):
    import tensorflow as tf

    if not isinstance(model, tf.keras.Model):
        raise TypeError(
            f"expected a tf.keras Model, got {type(model).__name__}. Load it with "
            "tf.keras.models.load_model(path) or build it with xb.zoo."
        )
    if not model.built or not model.inputs:
        raise ValueError(
            f"model {model.name!r} has no defined input; build it with an Input layer or "
            "input_shape= on its first layer (or call it once on data)."
        )
