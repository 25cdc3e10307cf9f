"""Layers standing for the operations Keras records when a model applies Python
arithmetic, indexing or ``keras.ops`` to its tensors (``x / 127.5 - 1``,
``x[..., ::-1]``, ``keras.applications.*.preprocess_input`` inside a model). The
graph walk (:func:`xaibench._keras.layer_calls`) puts one of them where such an
operation was recorded, so the native engine, ``prepare`` and Grad-CAM see layers only:

* :class:`ConstantArithmetic`: ``x + c``, ``x - c``, ``c - x``, ``x * c``, ``x / c`` with a
  constant ``c`` (a number or an array that broadcasts without changing x's shape: a
  per-channel mean), computed as written; a ``Rescaling`` (the affine map
  ``scale x + offset``) to the relevance rules, which pass relevance through it;
* :class:`Selection`: an operation that only moves or copies values (indexing,
  ``keras.ops.stack``); relevance follows the values back (its gradient);
* :class:`OperationCall`: any other recorded operation, or a layer called on several
  tensors (attention), called as recorded: the gradient family and Grad-CAM run through
  it, ``prepare`` refuses it for LRP by name.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from xaibench._keras import _is_keras_tensor

L = tf.keras.layers

#: ConstantArithmetic kinds -> (scale, offset) of the affine map, given c and whether the
#: tensor is the first operand
_AFFINE = {"Add": lambda c, first: (1.0, c), "Multiply": lambda c, first: (c, 0.0),
           "Subtract": lambda c, first: (1.0, -c) if first else (-1.0, c),
           "Divide": lambda c, first: (1.0 / c, 0.0)}


class ConstantArithmetic(L.Rescaling):
    """``x + c``, ``x - c`` / ``c - x``, ``x * c``, ``x / c`` (``kind`` Add, Subtract,
    Multiply, Divide; ``first``: x is the left operand), exactly as written."""

    def __init__(self, kind: str, constant, first: bool = True, **kwargs):
        c = np.asarray(constant, np.float32)
        scale, offset = _AFFINE[kind](c.astype(np.float64), first)
        super().__init__(scale, offset, **kwargs)
        self.kind, self.constant, self.first = kind, c, bool(first)

    def call(self, inputs):
        c = tf.cast(self.constant, inputs.dtype)
        if self.kind == "Add":
            return inputs + c if self.first else c + inputs
        if self.kind == "Multiply":
            return inputs * c if self.first else c * inputs
        if self.kind == "Subtract":
            return inputs - c if self.first else c - inputs
        return inputs / c

    def get_config(self):
        return {"name": self.name, "kind": self.kind, "constant": self.constant,
                "first": self.first}


class OperationCall(L.Layer):
    """The recorded call ``op(*args, **kwargs)`` of a Keras operation (Keras 3) or an op
    layer (Keras 2's ``TFOpLambda``), its tensor arguments given at call time, in
    flattened order; the constants are kept from the record."""

    def __init__(self, op, args: tuple, kwargs: dict, **layer_kwargs):
        super().__init__(**layer_kwargs)
        self.op, self.args, self.op_kwargs = op, tuple(args), dict(kwargs)

    @property
    def operation(self) -> str:
        """The recorded operation's name (``GetItem``, ``math.truediv``)."""
        return getattr(self.op, "symbol", None) or type(self.op).__name__

    @property
    def called_layer(self):
        """The ordinary layer recorded on several tensors (``attention(q, v)``), or None
        when the record is an operation."""
        from xaibench._keras import _operation_name

        return self.op if isinstance(self.op, L.Layer) and _operation_name(self.op) is None \
            else None

    def call(self, inputs, training=None):
        tensors = iter(tf.nest.flatten(inputs))
        args, kwargs = tf.nest.map_structure(
            lambda v: next(tensors) if _is_keras_tensor(v) else v, (self.args, self.op_kwargs))
        return self.op(*args, **kwargs)

    def get_config(self):
        return {"name": self.name, "op": self.op, "args": self.args, "kwargs": self.op_kwargs}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        return cls(config.pop("op"), config.pop("args"), config.pop("kwargs"), **config)


class Selection(OperationCall):
    """A recorded operation that only moves or copies values (``x[..., ::-1]``,
    ``keras.ops.stack``): a 0/1 linear map, through which every LRP rule sends each
    value's relevance back to where the value came from."""
