"""Small helpers about Keras model objects: the one place that knows how Keras 2
(``tf.keras`` of TF <= 2.15) and Keras 3 differ in their internals.

``layer_calls(model)`` is the walk over a model's layer graph that ``prepare``,
the native engine and PatternNet share: the layer calls in topological order,
each with the keys of the tensors it reads and writes, nested models inlined, and
each operation recorded on a tensor (``x / 255``, ``x[..., ::-1]``) as the layer of
:mod:`xaibench._keras_ops` that stands for it.
"""
from __future__ import annotations

import contextlib
import functools
import weakref
from dataclasses import dataclass


@functools.lru_cache(maxsize=None)
def keras_major() -> int:
    """The major version of the Keras behind ``tf.keras``: 2 (TF <= 2.15) or 3 (Keras 3)."""
    import tensorflow as tf

    return int(tf.keras.__version__.split(".")[0]) if hasattr(tf.keras, "__version__") else 2


def is_keras3() -> bool:
    """True on the default stack (Keras 3 with the TensorFlow backend)."""
    return keras_major() >= 3


# --------------------------------------------------------------------------- models

def graph_network(model):
    """The functional model holding ``model``'s layer graph (a Keras 3 Sequential keeps
    it in ``_functional``), or None for a subclassed model / unbuilt Sequential."""
    if is_keras3():
        if hasattr(model, "_nodes_by_depth"):
            return model
        inner = getattr(model, "_functional", None)
        return inner if inner is not None and hasattr(inner, "_nodes_by_depth") else None
    if getattr(model, "_is_graph_network", False):
        return model
    return None


def graph_inputs(model) -> list:
    """The symbolic inputs of a graph model (``[]`` for a subclassed model)."""
    net = graph_network(model)
    return list(net.inputs) if net is not None and net.inputs else []


def graph_outputs(model) -> list:
    """The symbolic outputs of a graph model (``[]`` for a subclassed model)."""
    net = graph_network(model)
    return list(net.outputs) if net is not None and net.outputs else []


def is_graph_model(model) -> bool:
    """A functional or Sequential model with a layer graph (not a subclassed model)."""
    return bool(graph_inputs(model))


def check_keras_model(model):
    import tensorflow as tf

    if not isinstance(model, tf.keras.Model):
        raise TypeError(
            f"expected a tf.keras Model, got {type(model).__name__}. Load it with "
            "tf.keras.models.load_model(path) or build it with xb.zoo."
        )
    if not model.built or (not graph_inputs(model) and called_input_shape(model) is None):
        raise ValueError(
            f"model {model.name!r} has no defined input; build it with an Input layer or "
            "input_shape= on its first layer (or call it once on data)."
        )


def called_input_shape(model):
    """The input shape ``(None, ...)`` a subclassed model recorded when it was first
    called or built, or None."""
    if is_keras3():
        config = (model.get_build_config() if model.built else None) or {}
        shapes = [v for k, v in config.items() if k.endswith("_shape")]
        shape = shapes[0] if len(shapes) == 1 else None
        if shape is None or not isinstance(shape, (list, tuple)) or (
                shape and isinstance(shape[0], (list, tuple, dict))):
            return None
        return (None,) + tuple(shape[1:])
    spec = getattr(model, "_saved_model_inputs_spec", None)
    return (None,) + tuple(spec.shape[1:]) if hasattr(spec, "shape") else None


def input_shape(model) -> tuple:
    """``model.input_shape``, also for a subclassed model that has been called once."""
    if is_graph_model(model) or called_input_shape(model) is None:
        return model.input_shape
    return called_input_shape(model)


def output_shape(model) -> tuple:
    """``model.output_shape``; a subclassed model is called once on zeros to find it."""
    if is_graph_model(model) or called_input_shape(model) is None:
        return model.output_shape
    cached = _output_shapes.get(model)
    if cached is None:
        import numpy as np

        zeros = np.zeros((1,) + tuple(input_shape(model)[1:]), np.float32)
        cached = (None,) + tuple(model(zeros, training=False).shape[1:])
        _output_shapes[model] = cached
    return cached


_output_shapes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


# --------------------------------------------------------------------------- layers

def _shape(tensors):
    if isinstance(tensors, (list, tuple)):
        return [_shape(t) for t in tensors]
    return tuple(tensors.shape)


def layer_input_shape(layer):
    """The input shape of the layer's first call (``layer.input_shape`` of Keras 2)."""
    return layer.input_shape if not is_keras3() else _shape(layer.input)


def layer_output_shape(layer):
    """The output shape of the layer's first call (``layer.output_shape`` of Keras 2)."""
    return layer.output_shape if not is_keras3() else _shape(layer.output)


def _node_layer(node):
    return node.operation if is_keras3() else node.layer


def consumers(layer) -> list:
    """The layers that read the outputs of ``layer``'s calls."""
    return [_node_layer(n) for n in layer._outbound_nodes]


def producer(tensor):
    """``(layer, input tensors)`` of the layer call that made a symbolic tensor."""
    import tensorflow as tf

    layer, node_index = tensor._keras_history[0], tensor._keras_history[1]
    return layer, tf.nest.flatten(layer._inbound_nodes[node_index].input_tensors)


def depthwise_kernel(layer):
    """A DepthwiseConv2D's kernel (``depthwise_kernel`` in Keras 2, ``kernel`` in Keras 3)."""
    return layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel


# --------------------------------------------------------------------------- layer graph

class UntraceableModel(ValueError):
    """A model whose layer graph cannot be read (subclassed, several-argument calls)."""


@dataclass(frozen=True)
class LayerCall:
    """One call of ``layer``: ``outputs = layer(*args, **kwargs)`` with the argument
    rebuilt from ``inputs`` (tensor keys, in flattened argument order)."""

    layer: object
    inputs: tuple            # keys of the tensors read, in flattened argument order
    outputs: tuple           # keys of the tensors written
    structure: object        # the call's argument with each tensor replaced by its key
    kwargs: dict             # constant keyword arguments of the call

    def arguments(self, values: dict):
        import tensorflow as tf

        return tf.nest.map_structure(lambda key: values[key], self.structure)


class NestedOutput:
    """Joins a nested model's output to the outer tensor that stands for it (an
    identity; relevance passes through it unchanged)."""

    name = "nested_model_output"

    def __call__(self, x, training=None):
        return x


@dataclass(frozen=True)
class InputSpec:
    """A model input of the walk: its key, per-image shape, dtype and name."""

    key: str
    shape: tuple
    dtype: object
    name: str


def _key(scope: str, tensor) -> str:
    return f"{scope}{id(tensor)}"


def _is_keras_tensor(obj) -> bool:
    return hasattr(obj, "_keras_history")


def _node_call(node):
    """``(args, kwargs)`` of a recorded call, without ``training`` and Keras 3's ``mask=None``."""
    if is_keras3():
        args, kwargs = tuple(node.arguments.args), dict(node.arguments.kwargs)
    else:
        args, kwargs = tuple(node.call_args), dict(node.call_kwargs)
    kwargs.pop("training", None)
    if kwargs.get("mask", 0) is None:
        kwargs.pop("mask")
    return args, kwargs


def layer_calls(model) -> tuple[list, list, list]:
    """``(calls, inputs, outputs)`` of a functional or Sequential model: its
    :class:`LayerCall` s in topological order (nested models inlined, each followed by
    a :class:`NestedOutput` join), its :class:`InputSpec` s and its output keys.

    A layer is found by its position in the walk, never by its name, so models whose
    layers keep Keras' default names in two nested models trace fine."""
    import tensorflow as tf

    net = graph_network(model)
    calls: list = []
    if net is None:
        if not isinstance(model, tf.keras.Sequential) or not model.built:
            raise UntraceableModel(
                f"model {model.name!r} ({type(model).__name__}) has no functional layer graph "
                "(a subclassed model, or a Sequential without an input shape); rebuild it as a "
                "functional or Sequential model with an Input")
        shape = tuple(model.input_shape[1:])
        inputs = [InputSpec("input", shape, tf.float32, "input")]
        return calls, inputs, [_splice_layers(model, "", "input", calls)]
    inputs = [InputSpec(_key("", t), tuple(t.shape[1:]), t.dtype, t._keras_history[0].name)
              for t in net.inputs]
    outputs = _splice(net, "", calls, {})
    return calls, inputs, outputs


def _splice_layers(model, scope: str, key: str, calls: list) -> str:
    """A Sequential without a graph: its layers called one after the other."""
    import tensorflow as tf

    for i, layer in enumerate(model.layers):
        out = f"{scope}{id(model)}/{i}"
        if isinstance(layer, tf.keras.Model):
            key = _nested(layer, f"{scope}{id(model)}/{i}/", [key], calls, out)
        else:
            calls.append(LayerCall(layer, (key,), (out,), key, {}))
        key = out
    return key


def _nested(model, scope: str, inputs: list, calls: list, out: str) -> str:
    """Inline a nested model called on the keys ``inputs``; join its output to ``out``."""
    net = graph_network(model)
    if net is None:
        import tensorflow as tf

        if isinstance(model, tf.keras.Sequential) and model.built and len(inputs) == 1:
            inner_out = _splice_layers(model, scope, inputs[0], calls)
        else:
            raise UntraceableModel(f"nested model {model.name!r} ({type(model).__name__}) has "
                                   "no functional layer graph; build it with an Input")
    else:
        if len(net.inputs) != len(inputs):
            raise UntraceableModel(f"nested model {model.name!r} is called with {len(inputs)} "
                                   f"inputs but has {len(net.inputs)}")
        rename = {_key(scope, t): k for t, k in zip(net.inputs, inputs)}
        (inner_out,) = _splice(net, scope, calls, rename, single_output=model.name)
    calls.append(LayerCall(NestedOutput(), (inner_out,), (out,), inner_out, {}))
    return out


#: the operations Python arithmetic on Keras tensors records (``a + b``, ``x * 0.5``,
#: ``x / 255``; Keras 2's ``preprocess_input`` adds its means with ``nn.bias_add``): Keras 3
#: operation classes, Keras 2 ``TFOpLambda`` symbols
_ARITHMETIC = {"Add": "Add", "Subtract": "Subtract", "Multiply": "Multiply",
               "TrueDivide": "Divide", "Divide": "Divide",
               "__operators__.add": "Add", "math.add": "Add", "math.subtract": "Subtract",
               "math.multiply": "Multiply", "math.truediv": "Divide", "math.divide": "Divide",
               "nn.bias_add": "Add"}
#: recorded operations that only move or copy values (indexing, stacking)
_SELECTIONS = {"GetItem", "Stack", "__operators__.getitem"}


def _operation_name(op):
    """A recorded operation's name: its Keras 3 class, its Keras 2 ``TFOpLambda`` symbol,
    or None for an ordinary layer."""
    if type(op).__module__.startswith("keras.src.ops"):
        return type(op).__name__
    if type(op).__name__ in ("TFOpLambda", "SlicingOpLambda"):
        return getattr(op, "symbol", None)
    return None


def _constant(value, tensor):
    """``value`` as a float array if it is a constant that broadcasts to ``tensor``'s shape
    without changing it (a number, a per-channel mean), else None."""
    import numpy as np

    if _is_keras_tensor(value):
        return None
    try:
        c = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if not np.issubdtype(c.dtype, np.number) or np.iscomplexobj(c) or c.ndim > len(tensor.shape):
        return None
    shape = tuple(1 if d is None else int(d) for d in tensor.shape)
    try:
        fits = np.broadcast_shapes(shape, c.shape) == shape
    except ValueError:
        return None
    return c.astype(np.float32) if fits else None


def _as_layer(op, args, kwargs):
    """``(layer, (argument,), {})``: a recorded operation as the layer computing the same.
    ``a + b``, ``a * b`` of two tensors: ``Add`` / ``Multiply``; ``x + c``, ``c + x``,
    ``x - c``, ``c - x``, ``x * c``, ``c * x``, ``x / c`` with a constant c (a number or a
    per-channel array): :class:`~xaibench._keras_ops.ConstantArithmetic`; indexing and
    stacking: :class:`~xaibench._keras_ops.Selection`; any other Keras operation or op
    layer: :class:`~xaibench._keras_ops.OperationCall`. An ordinary layer comes back
    unchanged."""
    import tensorflow as tf

    from xaibench._keras_ops import ConstantArithmetic, Selection

    L = tf.keras.layers
    name = _operation_name(op)
    if name is None:
        return op, args, kwargs
    kind = _ARITHMETIC.get(name)
    plain = all(v is None for k, v in kwargs.items() if k != "data_format") and \
        kwargs.get("data_format") in (None, "NHWC", "NWC", "NDHWC", "channels_last")
    if kind is not None and len(args) == 2 and plain:
        is_tensor = [_is_keras_tensor(a) for a in args]
        if all(is_tensor) and kind in ("Add", "Multiply"):
            merge = L.Add if kind == "Add" else L.Multiply
            return merge(name=op.name), (list(args),), {}
        if is_tensor.count(True) == 1 and (is_tensor[0] or kind != "Divide"):
            tensor = args[is_tensor.index(True)]
            c = _constant(args[is_tensor.index(False)], tensor)
            if c is not None:
                return ConstantArithmetic(kind, c, is_tensor[0], name=op.name), (tensor,), {}
    return _as_recorded(op, args, kwargs, Selection if name in _SELECTIONS else None)


def _as_recorded(op, args, kwargs, wrapper=None):
    """``op`` called on several tensors (an operation, or a layer such as
    ``MultiHeadAttention(query, value)``) as one layer on the list of its tensor arguments
    that calls it as recorded (``wrapper``, default :class:`~xaibench._keras_ops.OperationCall`).
    Without a tensor argument: unchanged."""
    import tensorflow as tf

    from xaibench._keras_ops import OperationCall

    tensors = [t for t in tf.nest.flatten((args, kwargs)) if _is_keras_tensor(t)]
    if not tensors:
        return op, args, kwargs
    return (wrapper or OperationCall)(op, args, kwargs, name=op.name), (
        tensors if len(tensors) > 1 else tensors[0],), {}


def _is_scaled_residual(layer) -> bool:
    """``keras.applications``' InceptionResNetV2 ``CustomScaleLayer``: x + r * scale."""
    kind = type(layer)
    return kind.__name__ == "CustomScaleLayer" and kind.__module__.endswith(
        "applications.inception_resnet_v2")


def _scaled_residual(layer, inputs: list, output: str) -> list:
    """The calls computing ``CustomScaleLayer(scale)([x, r])`` as written, in layers the
    rules know: ``r * scale`` (:class:`~xaibench._keras_ops.ConstantArithmetic`), then an
    ``Add`` named as the layer."""
    import tensorflow as tf

    from xaibench._keras_ops import ConstantArithmetic

    x, r = inputs
    scaled = f"{output}/scaled"
    times = ConstantArithmetic("Multiply", layer.scale, name=f"{layer.name}_scaled")
    add = tf.keras.layers.Add(name=layer.name)
    return [LayerCall(times, (r,), (scaled,), r, {}),
            LayerCall(add, (x, scaled), (output,), [x, scaled], {})]


def _splice(net, scope: str, calls: list, rename: dict, single_output=None) -> list:
    """Append the calls of the functional ``net``; ``rename`` maps its input keys to
    outer keys. Returns its output keys."""
    import tensorflow as tf

    def key(t):
        k = _key(scope, t)
        return rename.get(k, k)

    if single_output is not None and len(net.outputs) != 1:
        raise UntraceableModel(f"nested model {single_output!r} has {len(net.outputs)} outputs; "
                               "only single-output nested models can be inlined")
    for depth in sorted(net._nodes_by_depth, reverse=True):
        for node in net._nodes_by_depth[depth]:
            layer = _node_layer(node)
            if isinstance(layer, tf.keras.layers.InputLayer):
                continue
            args, kwargs = _node_call(node)
            layer, args, kwargs = _as_layer(layer, args, kwargs)
            if len(args) != 1 or any(_is_keras_tensor(v) for v in tf.nest.flatten(kwargs)):
                layer, args, kwargs = _as_recorded(layer, args, kwargs)   # attention(q, v)
            structure = tf.nest.map_structure(
                lambda t: key(t) if _is_keras_tensor(t) else t, args[0])
            inputs = [key(t) for t in tf.nest.flatten(args[0]) if _is_keras_tensor(t)]
            outputs = tf.nest.flatten(node.outputs)
            if isinstance(layer, tf.keras.Model):
                if len(outputs) != 1:
                    raise UntraceableModel(f"nested model {layer.name!r} must have one output")
                _nested(layer, f"{scope}{id(layer)}/{id(node)}/", inputs, calls, key(outputs[0]))
                continue
            if _is_scaled_residual(layer):      # InceptionResNetV2's x + r * scale
                calls.extend(_scaled_residual(layer, inputs, key(outputs[0])))
                continue
            calls.append(LayerCall(layer, tuple(inputs), tuple(key(t) for t in outputs),
                                   structure, kwargs))
    return [key(t) for t in net.outputs]


@contextlib.contextmanager
def default_float(dtype: str):
    """Within the block, new layers compute in ``dtype`` (``"float64"``, ...): Keras 2's
    ``floatx``; Keras 3 also needs its global dtype policy set, once it has been read."""
    import tensorflow as tf

    old = tf.keras.backend.floatx()
    tf.keras.backend.set_floatx(dtype)
    if is_keras3():
        import keras

        old_policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        tf.keras.backend.set_floatx(old)
        if is_keras3():
            keras.config.set_dtype_policy(old_policy)
