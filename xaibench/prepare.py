"""``prepare``: turn a trained classifier into the analyzable model LRP expects.

The returned model computes exactly the original's pre-softmax logits with a
layer graph that holds only layers the relevance rules are defined for:

* a final softmax (``Dense(..., activation="softmax")``, ``Softmax`` or
  ``Activation("softmax")``) is removed, so the explained quantity is the logit;
* ``BatchNormalization`` after a Conv/Dense layer is folded into that layer,
  ``W' = W * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``;
* a stand-alone ``ReLU`` / ``Activation`` after a Conv/Dense layer becomes that
  layer's activation;
* ``Dropout`` and its kin (identities at inference) are dropped.

Any other layer that LRP cannot handle raises ``UnsupportedLayerError`` naming
the layer, its type and what is supported, before any analysis starts.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

L = tf.keras.layers

KERNEL_LAYERS = (L.Conv1D, L.Conv2D, L.Conv3D, L.Dense)
IDENTITY_LAYERS = (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
                   L.GaussianDropout, L.GaussianNoise, L.AlphaDropout, L.ActivityRegularization)
PASS_LAYERS = (L.InputLayer, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D,
               L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
               L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalAveragePooling1D,
               L.GlobalAveragePooling2D, L.Flatten, L.Reshape, L.ZeroPadding1D,
               L.ZeroPadding2D, L.Cropping1D, L.Cropping2D, L.Add, L.Concatenate, L.Permute)
SUPPORTED = (
    "Conv1D/2D/3D, Dense, max/average pooling, global pooling, Flatten, Reshape, "
    "ZeroPadding, Cropping, Add, Concatenate, Permute; BatchNormalization and ReLU/Activation "
    "directly after a Conv/Dense layer; Dropout; a softmax as the last layer"
)


class UnsupportedLayerError(ValueError):
    """A layer that ``prepare`` cannot turn into an LRP-analyzable form."""


@dataclass
class _Node:
    layer: tf.keras.layers.Layer
    inputs: list = field(default_factory=list)   # names of producing nodes
    config: dict = None                          # layer config for the rebuilt layer
    weights: list = None                         # weights for the rebuilt layer


def _unsupported(layer, why: str) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported: {why}. "
        f"Supported: {SUPPORTED}."
    )


def _graph(model) -> tuple[dict, list, str]:
    """Nodes keyed by layer name (in topological order), input names, output name."""
    if isinstance(model, tf.keras.Sequential):
        nodes, prev = {}, "__input__"
        inputs = [prev]
        nodes[prev] = _Node(L.InputLayer(input_shape=model.input_shape[1:], name=prev))
        for layer in model.layers:
            nodes[layer.name] = _Node(layer, [prev])
            prev = layer.name
        return nodes, inputs, prev
    config = model.get_config()
    if len(config["output_layers"]) != 1:
        raise ValueError(f"model {model.name!r} has several outputs; prepare needs one.")
    nodes = {}
    for spec in config["layers"]:
        layer = model.get_layer(spec["name"])
        if isinstance(layer, tf.keras.Model):
            raise _unsupported(layer, "nested models must be flattened into one functional model")
        inbound = spec["inbound_nodes"]
        if len(inbound) > 1:
            raise _unsupported(layer, "the layer is shared (called more than once)")
        names = []
        for entry in (inbound[0] if inbound else []):
            if isinstance(entry, dict):  # pragma: no cover - newer config layout
                entry = entry["args"][0]["config"]["keras_history"]
            names.append(entry[0])
        nodes[spec["name"]] = _Node(layer, names)
    inputs = [spec[0] for spec in config["input_layers"]]
    return nodes, inputs, config["output_layers"][0][0]


def _consumers(nodes: dict, name: str) -> list[str]:
    return [n for n, node in nodes.items() if name in node.inputs]


def _remove(nodes: dict, name: str) -> str:
    """Drop a single-input node, rewiring its consumers to its input."""
    (src,) = nodes[name].inputs
    for node in nodes.values():
        node.inputs = [src if i == name else i for i in node.inputs]
    del nodes[name]
    return src


def _is_softmax(layer) -> bool:
    if isinstance(layer, L.Softmax):
        return True
    if isinstance(layer, L.Activation):
        return tf.keras.activations.serialize(layer.activation) == "softmax"
    return False


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return "linear" if act is None else tf.keras.activations.serialize(act)


def _merge_target(nodes: dict, name: str):
    """The Conv/Dense node that a BN/ReLU node ``name`` can be merged into, else None."""
    node = nodes[name]
    if len(node.inputs) != 1 or node.inputs[0] not in nodes:
        return None
    src = node.inputs[0]
    src_node = nodes[src]
    if not isinstance(src_node.layer, KERNEL_LAYERS):
        return None
    config = src_node.config if src_node.config is not None else src_node.layer.get_config()
    if config.get("activation", "linear") != "linear":
        return None
    if _consumers(nodes, src) != [name]:
        return None
    return src


def _relu_activation(layer):
    """The activation string a ReLU/Activation layer stands for, or None."""
    if isinstance(layer, L.ReLU):
        cfg = layer.get_config()
        if cfg.get("max_value") is None and not cfg.get("negative_slope") and not cfg.get("threshold"):
            return "relu"
        return None
    if isinstance(layer, L.Activation):
        return tf.keras.activations.serialize(layer.activation)
    return None


def _fold_batchnorm(kernel_node: _Node, bn) -> None:
    if bn.axis not in ([-1], [len(bn.input_shape) - 1], -1):
        raise _unsupported(bn, "batch normalisation is only folded over the last (channel) axis")
    weights = kernel_node.weights if kernel_node.weights is not None else kernel_node.layer.get_weights()
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[-1], kernel.dtype)
    params = dict(zip([w.name.split("/")[-1].split(":")[0] for w in bn.weights], bn.get_weights()))
    gamma = params.get("gamma", np.ones_like(params["moving_mean"]))
    beta = params.get("beta", np.zeros_like(params["moving_mean"]))
    scale = gamma / np.sqrt(params["moving_variance"] + bn.epsilon)
    kernel_node.weights = [kernel * scale, (bias - params["moving_mean"]) * scale + beta]
    cfg = kernel_node.config or kernel_node.layer.get_config()
    cfg["use_bias"] = True
    kernel_node.config = cfg


def prepare(model, name: str | None = None) -> tf.keras.Model:
    """Return a new functional model computing ``model``'s pre-softmax logits in
    an LRP-analyzable layer graph (see the module docstring). ``model`` is not changed.
    """
    from xaibench._keras import check_keras_model

    check_keras_model(model)
    nodes, inputs, output = _graph(model)

    # 1. the final softmax
    out_layer = nodes[output].layer
    if _is_softmax(out_layer):
        output = _remove(nodes, output)
    elif _activation_name(out_layer) == "softmax":
        cfg = out_layer.get_config()
        cfg["activation"] = "linear"
        nodes[output].config = cfg
    # 2. identities at inference
    for n in [n for n, node in nodes.items() if isinstance(node.layer, IDENTITY_LAYERS)]:
        src = _remove(nodes, n)
        output = src if output == n else output
    # 3. batch norm folding and activation merging, in graph order
    for n in list(nodes):
        node = nodes.get(n)
        if node is None:
            continue
        layer = node.layer
        if isinstance(layer, L.BatchNormalization):
            target = _merge_target(nodes, n)
            if target is None:
                raise _unsupported(layer, "batch normalisation can only be folded when it directly "
                                          "follows a Conv/Dense layer with linear activation whose "
                                          "only consumer it is")
            _fold_batchnorm(nodes[target], layer)
        elif isinstance(layer, (L.ReLU, L.Activation)):
            act = _relu_activation(layer)
            if act == "softmax":
                raise _unsupported(layer, "a softmax is only supported as the last layer")
            target = _merge_target(nodes, n)
            if act is None or target is None:
                raise _unsupported(layer, "a stand-alone activation must directly follow a "
                                          "Conv/Dense layer with linear activation whose only "
                                          "consumer it is, and a ReLU must be plain (no max_value, "
                                          "slope or threshold)")
            cfg = nodes[target].config or nodes[target].layer.get_config()
            cfg["activation"] = act
            nodes[target].config = cfg
        elif isinstance(layer, KERNEL_LAYERS) or isinstance(layer, PASS_LAYERS):
            continue
        elif _activation_name(layer) == "softmax" or _is_softmax(layer):
            raise _unsupported(layer, "a softmax is only supported as the last layer")
        else:
            raise _unsupported(layer, "no relevance rule is defined for this layer type")
        if node.layer is layer and n in nodes:
            src = _remove(nodes, n)
            output = src if output == n else output

    return _rebuild(model, nodes, inputs, output, name or model.name)


def _rebuild(model, nodes, inputs, output, name) -> tf.keras.Model:
    tensors = {}
    model_inputs = []
    for n in inputs:
        shape = nodes[n].layer.get_config()["batch_input_shape"][1:]
        t = L.Input(shape=shape, name=n if n != "__input__" else "input",
                    dtype=nodes[n].layer.dtype)
        tensors[n] = t
        model_inputs.append(t)
    for n, node in nodes.items():
        if n in tensors:
            continue
        layer = node.layer
        cfg = node.config if node.config is not None else layer.get_config()
        new = type(layer).from_config(cfg)
        args = [tensors[i] for i in node.inputs]
        tensors[n] = new(args if len(args) > 1 else args[0])
        weights = node.weights if node.weights is not None else layer.get_weights()
        if weights:
            new.set_weights(weights)
    return tf.keras.Model(model_inputs, tensors[output], name=name)


def ends_with_softmax(model) -> bool:
    """True when ``model``'s output is a softmax (a Softmax/Activation layer or a
    layer with ``activation="softmax"``)."""
    last = model.layers[-1]
    if isinstance(model, tf.keras.Sequential) or len(model.outputs) == 1:
        last = model.get_layer(model.outputs[0].node.layer.name) if hasattr(
            model.outputs[0], "node") else last
    return _is_softmax(last) or _activation_name(last) == "softmax"


class _PreActivation(L.Layer):
    """The pre-activation ``W x + b`` of a Dense/Conv layer, sharing its variables."""

    def __init__(self, layer, **kwargs):
        super().__init__(name=f"{layer.name}_pre_activation", **kwargs)
        self.inner = layer

    def call(self, x):
        inner = self.inner
        if isinstance(inner, L.Dense):
            z = tf.tensordot(x, inner.kernel, axes=1)
        else:
            z = inner.convolution_op(x, inner.kernel)
        return z + inner.bias if inner.use_bias else z


_logits_models: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def logits_model(model) -> tf.keras.Model:
    """``model`` itself when it has no final softmax, else a model sharing its
    layers and variables that outputs the pre-softmax scores (no copy of weights;
    built once per model, so traced functions keyed on it are reused)."""
    if not ends_with_softmax(model):
        return model
    cached = _logits_models.get(model)
    if cached is not None:
        return cached
    last = model.outputs[0].node.layer
    if _is_softmax(last):
        out = tf.keras.Model(model.inputs, last.input, name=f"{model.name}_logits")
    elif isinstance(last, KERNEL_LAYERS):
        out = tf.keras.Model(model.inputs, _PreActivation(last)(last.input),
                             name=f"{model.name}_logits")
    else:
        raise _unsupported(last, "only a Dense/Conv layer or a Softmax/Activation layer can end "
                                 "in the softmax whose input is explained")
    _logits_models[model] = out
    return out


def output_head(model, output: str):
    """``(net, apply_softmax)``: ``net(x)``, followed by a softmax when ``apply_softmax``,
    gives ``model``'s class probabilities (``output="probability"``) or pre-softmax logits
    (``"logit"``); a model that already ends in a softmax is never softmaxed twice."""
    if output == "probability" and ends_with_softmax(model):
        return model, False
    return logits_model(model), output == "probability"
