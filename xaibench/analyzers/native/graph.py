"""A Keras functional model as a flat list of layer calls, for the backward walk.

``trace(model)`` returns the model's layer calls in topological order, each with
the keys of the tensors it reads and writes. Nested functional models are
inlined (their calls are spliced into the outer list), so a layer is found by
its position in the walk, never by its name: models whose layers keep Keras'
default names (``add``, ``add_1`` in two nested models) trace fine.

``forward(graph, x)`` runs the calls eagerly or inside a ``tf.function`` and
returns every tensor by key; the engine then walks the calls in reverse.
"""
from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class Call:
    """One call of ``layer``: ``outputs = layer(*args)`` with ``args`` rebuilt from ``inputs``."""

    layer: tf.keras.layers.Layer
    inputs: tuple            # keys of the tensors read, in flattened argument order
    outputs: tuple           # keys of the tensors written
    structure: object        # the call's first argument with each tensor replaced by its key
    kwargs: dict             # constant keyword arguments of the call

    def arguments(self, values: dict):
        return tf.nest.map_structure(lambda key: values[key], self.structure)


@dataclass(frozen=True)
class Graph:
    calls: tuple
    input: str
    output: str


class UntraceableModel(ValueError):
    """A model whose layer graph cannot be read (subclassed, several inputs or outputs)."""


def _key(scope: str, tensor) -> str:
    return f"{scope}{id(tensor)}"


def _is_keras_tensor(obj) -> bool:
    return hasattr(obj, "_keras_history")


def trace(model) -> Graph:
    """The layer calls of a functional (or Sequential with an input) Keras model."""
    if not getattr(model, "_is_graph_network", False):
        raise UntraceableModel(
            f"model {model.name!r} ({type(model).__name__}) has no functional layer graph "
            "(a subclassed model, or a Sequential without an input shape); rebuild it as a "
            "functional or Sequential model with an Input"
        )
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UntraceableModel(f"model {model.name!r} must have one input and one output")
    calls: list[Call] = []
    _splice(model, "", calls, {})
    return Graph(tuple(calls), _key("", model.inputs[0]), _key("", model.outputs[0]))


def _splice(model, scope: str, calls: list, rename: dict) -> None:
    """Append ``model``'s calls; ``rename`` maps this model's input keys to outer keys."""
    def key(t):
        k = _key(scope, t)
        return rename.get(k, k)

    depths = sorted(model._nodes_by_depth, reverse=True)
    for depth in depths:
        for node in model._nodes_by_depth[depth]:
            layer = node.layer
            if isinstance(layer, tf.keras.layers.InputLayer):
                continue
            args, kwargs = node.call_args, dict(node.call_kwargs)
            if len(args) != 1 or any(_is_keras_tensor(v) for v in tf.nest.flatten(kwargs)):
                raise UntraceableModel(
                    f"layer {layer.name!r} ({type(layer).__name__}) is called with several "
                    "tensor arguments; only single-argument calls can be traced")
            structure = tf.nest.map_structure(
                lambda t: key(t) if _is_keras_tensor(t) else t, args[0])
            inputs = tuple(key(t) for t in tf.nest.flatten(args[0]) if _is_keras_tensor(t))
            outputs = tf.nest.flatten(node.outputs)
            if isinstance(layer, tf.keras.Model):
                if not getattr(layer, "_is_graph_network", False) or len(layer.inputs) != 1:
                    raise UntraceableModel(
                        f"nested model {layer.name!r} is not a single-input functional model")
                inner = f"{scope}{id(layer)}/{id(node)}/"
                inner_rename = {_key(inner, layer.inputs[0]): inputs[0]}
                _splice(layer, inner, calls, inner_rename)
                # the nested model's output tensor stands for the node's output
                inner_out = _output_key(inner, layer, inner_rename)
                calls.append(Call(NestedOutput(), (inner_out,), (key(outputs[0]),),
                                  inner_out, {}))
                continue
            kwargs.pop("training", None)
            calls.append(Call(layer, inputs, tuple(key(t) for t in outputs), structure, kwargs))


def _output_key(scope, model, rename):
    k = _key(scope, model.outputs[0])
    return rename.get(k, k)


class NestedOutput:
    """Joins a nested model's output to the outer tensor that stands for it (an
    identity; relevance passes through it unchanged)."""

    name = "nested_model_output"

    def __call__(self, x, training=None):
        return x


def forward(graph: Graph, x) -> dict:
    """Every tensor of the model for input ``x``, by key (inference mode)."""
    values = {graph.input: x}
    for call in graph.calls:
        out = call.layer(call.arguments(values), training=False, **call.kwargs)
        for k, t in zip(call.outputs, tf.nest.flatten(out)):
            values[k] = t
    return values

