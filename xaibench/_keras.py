"""Small helpers about Keras model objects."""
from __future__ import annotations

import weakref


def check_keras_model(model):
    import tensorflow as tf

    if not isinstance(model, tf.keras.Model):
        raise TypeError(
            f"expected a tf.keras Model, got {type(model).__name__}. Load it with "
            "tf.keras.models.load_model(path) or build it with xb.zoo."
        )
    if not model.built or (not model.inputs and called_input_spec(model) is None):
        raise ValueError(
            f"model {model.name!r} has no defined input; build it with an Input layer or "
            "input_shape= on its first layer (or call it once on data)."
        )


def is_graph_model(model) -> bool:
    """A functional or Sequential model with a layer graph (not a subclassed model)."""
    return bool(getattr(model, "_is_graph_network", False)) and bool(model.inputs)


def called_input_spec(model):
    """The input spec a subclassed model recorded when it was first called, or None."""
    spec = getattr(model, "_saved_model_inputs_spec", None)
    return spec if hasattr(spec, "shape") else None


def input_shape(model) -> tuple:
    """``model.input_shape``, also for a subclassed model that has been called once."""
    if is_graph_model(model) or called_input_spec(model) is None:
        return model.input_shape
    return (None,) + tuple(called_input_spec(model).shape[1:])


def output_shape(model) -> tuple:
    """``model.output_shape``; a subclassed model is called once on zeros to find it."""
    if is_graph_model(model) or called_input_spec(model) is None:
        return model.output_shape
    cached = _output_shapes.get(model)
    if cached is None:
        import numpy as np

        zeros = np.zeros((1,) + tuple(input_shape(model)[1:]), np.float32)
        cached = (None,) + tuple(model(zeros, training=False).shape[1:])
        _output_shapes[model] = cached
    return cached


_output_shapes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
