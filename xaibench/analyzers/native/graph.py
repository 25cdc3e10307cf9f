"""A Keras functional model as a flat list of layer calls, for the backward walk.

``trace(model)`` returns the model's layer calls in topological order, each with
the keys of the tensors it reads and writes (:func:`xaibench._keras.layer_calls`,
the walk ``prepare`` shares). Nested functional models are inlined, so a layer is
found by its position in the walk, never by its name.

``forward(graph, x)`` runs the calls eagerly or inside a ``tf.function`` and
returns every tensor by key; the engine then walks the calls in reverse.
``forward_keeping(graph, x, mappings)`` lets a call's mapping run the call itself
and keep what its backward step needs (a kernel layer's pre-activation).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import tensorflow as tf

from xaibench._keras import LayerCall as Call  # noqa: F401 (the engine's call type)
from xaibench._keras import NestedOutput, UntraceableModel, layer_calls  # noqa: F401


@dataclass(frozen=True)
class Graph:
    calls: tuple
    input: str
    output: str
    model: object = field(default=None, compare=False)     # the traced model


def trace(model) -> Graph:
    """The layer calls of a functional (or Sequential with an input) Keras model."""
    calls, inputs, outputs = layer_calls(model)
    if len(inputs) != 1 or len(outputs) != 1:
        raise UntraceableModel(f"model {model.name!r} must have one input and one output")
    return Graph(tuple(calls), inputs[0].key, outputs[0], model)


def forward(graph: Graph, x) -> dict:
    """Every tensor of the model for input ``x``, by key (inference mode)."""
    return forward_keeping(graph, x, [None] * len(graph.calls))[0]


def forward_keeping(graph: Graph, x, mappings) -> tuple[dict, dict]:
    """``(values, kept)``: every tensor by key, and by call index what a mapping's
    ``forward(call, xs) -> (outputs, kept)`` kept for its backward step (a mapping
    whose ``forward`` returns None, or that has none, leaves the call to the layer)."""
    values, kept = {graph.input: x}, {}
    for i, (call, mapping) in enumerate(zip(graph.calls, mappings)):
        own = getattr(mapping, "forward", None)
        done = own(call, [values[k] for k in call.inputs]) if own is not None else None
        if done is None:
            out = tf.nest.flatten(call.layer(call.arguments(values), training=False,
                                             **call.kwargs))
        else:
            out, kept[i] = done
        for k, t in zip(call.outputs, out):
            values[k] = t
    return values, kept
