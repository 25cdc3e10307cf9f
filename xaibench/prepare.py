"""``prepare``: turn a trained classifier into the analyzable model LRP expects (a
canonizer in Zennit's sense: the same logits, computed by a layer graph on which
every relevance rule is defined).

The returned functional model computes exactly the original's pre-softmax logits:

* a final softmax (``Dense(..., activation="softmax")``, ``Softmax`` or
  ``Activation("softmax")``) is removed, so the explained quantity is the logit;
* ``BatchNormalization`` after a Conv/Dense/DepthwiseConv2D/SeparableConv2D layer
  (with linear activation, the batch norm its only consumer) is folded into it,
  ``W' = W * s``, ``b' = (b - mean) * s + beta`` with ``s = gamma / sqrt(var + eps)``;
* a batch norm that cannot be folded is kept: the pre-activation ``BN -> ReLU -> conv``
  of ResNetV2 and DenseNet, one after an activation (``conv -> ReLU -> BN``) or after
  pooling; the composites read it as the affine map ``k x + b`` (``bn_layer_rule``);
* a stand-alone ``ReLU`` / ``Activation`` after such a kernel layer becomes that
  layer's activation; one that cannot be merged (ReLU6 / ``max_value``, after
  ``Add`` / ``Average`` / ``Concatenate`` / ``Multiply``, after a kept batch norm,
  after a kernel layer with other consumers) is kept as its own layer;
* ``Dropout`` and its kin, and the data augmentation layers (``RandomFlip``, ...;
  identities at inference) are dropped;
* nested models are inlined and a layer called several times is copied per call;
  layer names are kept (a suffix makes a name unique where nested models reuse it);
* a layer that canonizing leaves unchanged is the user's own layer object, sharing its
  variables (no copy of the weights); folded and merged layers are new layers whose
  weights are derived from the user's layers: :func:`sync` re-derives them (inside a
  traced function too), so the analyzers follow the user's weights after training.

Any other layer, or a batch norm / activation elsewhere (after pooling, after a
layer that has an activation already), raises ``UnsupportedLayerError`` naming the
layer, its type and what is supported, before the model is rebuilt.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from xaibench._keras import (NestedOutput, graph_inputs, graph_outputs, layer_calls,
                             layer_input_shape, producer)
from xaibench._keras_ops import OperationCall, Selection

L = tf.keras.layers

KERNEL_LAYERS = (L.Conv1D, L.Conv2D, L.Conv3D, L.Dense)
TRANSPOSED = (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
#: kernel layers a batch norm can be folded into and an activation merged into
LINEAR_LAYERS = KERNEL_LAYERS + TRANSPOSED + (L.DepthwiseConv2D, L.SeparableConv2D)
#: data augmentation layers (Keras' ``Random*`` and the mixing ones): identities at
#: inference, where the analyzers call every layer with ``training=False``
AUGMENTATION_LAYERS = tuple(getattr(L, n) for n in (
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
    "RandomBrightness", "RandomGrayscale", "RandomHue", "RandomSaturation", "RandomSharpness",
    "RandomShear", "RandomColorJitter", "RandomErasing", "RandomGaussianBlur",
    "RandomPerspective", "RandomPosterization", "RandomInvert", "RandomColorDegeneration",
    "RandomElasticTransform", "RandAugment", "AugMix", "CutMix", "MixUp", "Solarization")
    if hasattr(L, n))
#: Keras 3's ``keras.layers.AlphaDropout``: its ``tf.keras.layers`` holds a legacy class
#: of that name (the only layer the two namespaces name differently)
_ALPHA_DROPOUT = tuple({L.AlphaDropout, keras.layers.AlphaDropout})
IDENTITY_LAYERS = (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
                   L.GaussianDropout, L.GaussianNoise, L.ActivityRegularization
                   ) + _ALPHA_DROPOUT + AUGMENTATION_LAYERS
MERGE_LAYERS = (L.Add, L.Average, L.Concatenate, L.Multiply)


def _layer_scale() -> tuple:
    """ConvNeXt's ``LayerScale`` (x * gamma per channel), where Keras has it."""
    try:
        from keras.src.applications.convnext import LayerScale
    except ImportError:
        return ()
    return (LayerScale,)


#: element-wise affine maps k x + b: relevance passes through them
AFFINE_LAYERS = (L.Rescaling, L.Normalization) + _layer_scale()
#: layer normalisation over the channel axis, read by the LN-rule (mappings.LayerNormLinear)
NORMALIZING_LAYERS = (L.LayerNormalization,)
ACTIVATION_LAYERS = (L.ReLU, L.Activation, L.LeakyReLU, L.ELU, L.PReLU)
PASS_LAYERS = (L.InputLayer, L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D,
               L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
               L.GlobalMaxPooling1D, L.GlobalMaxPooling2D, L.GlobalMaxPooling3D,
               L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D,
               L.Flatten, L.Reshape, L.Permute, L.ZeroPadding1D, L.ZeroPadding2D,
               L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D, L.UpSampling1D,
               L.UpSampling2D, L.UpSampling3D, L.Resizing, Selection
               ) + MERGE_LAYERS + AFFINE_LAYERS + NORMALIZING_LAYERS
#: image resizing whose output is a convex combination of input pixels (weights >= 0,
#: no constant): a weight-free linear layer like average pooling
LINEAR_RESIZING = ("bilinear", "nearest", "area")
SUPPORTED = (
    "Conv1D/2D/3D (and transposed), Dense, DepthwiseConv2D, SeparableConv2D, max/average "
    "pooling, global pooling, Flatten, Reshape, Permute, ZeroPadding, Cropping, UpSampling, "
    "Resizing (bilinear, nearest, area), Add, Average, Concatenate, Multiply (gating), "
    "Rescaling, "
    "Normalization, LayerScale, LayerNormalization over channels, arithmetic with a "
    "constant (x / 127.5 - 1, x - mean), indexing (x[..., ::-1]); BatchNormalization "
    "directly after a kernel layer (folded), elsewhere kept as an affine layer; "
    "ReLU/Activation directly after a kernel layer with linear activation, after a merge or "
    "after a kept batch norm; Dropout, GaussianNoise and the Random* augmentation layers "
    "(identities at inference); a softmax as the last layer; nested models"
)
#: the analyzers that need no rule per layer (any differentiable model)
ANY_MODEL = ("gradient, input_t_gradient, smoothgrad, integrated_gradients, grad_cam, "
             "deconvnet, guided_backprop, occlusion, lime")
_NO_FAMILY = "none (neither LRP nor Deep Taylor has a rule for it)"
_NOT_HERE = ("none in this position (LRP and Deep Taylor take it where prepare can fold, "
             "merge or keep it, see Supported)")


class UnsupportedLayerError(ValueError):
    """A layer that ``prepare`` (or an LRP / Deep Taylor composite) has no rule for."""


@dataclass
class _Node:
    layer: tf.keras.layers.Layer                 # None for a model input
    inputs: list = field(default_factory=list)   # keys of the producing nodes
    config: dict = None                          # layer config for the rebuilt layer
    folds: list = field(default_factory=list)    # batch norms folded into it, in order
    shape: tuple = None                          # model inputs: shape, dtype and name
    dtype: object = None
    name: str = None


def _unsupported(layer, why: str, accepted_by: str = _NO_FAMILY) -> UnsupportedLayerError:
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} is not supported: {why}. "
        f"Rule families that accept it: {accepted_by}. Supported: {SUPPORTED}. "
        f"Analyzers that work on any model: {ANY_MODEL}."
    )


def _graph(model) -> tuple[dict, list, str]:
    """Nodes keyed ``n0, n1, ...`` in topological order (the walk of
    :func:`xaibench._keras.layer_calls`, nested models inlined), input keys, output key."""
    calls, specs, outputs = layer_calls(model)
    if len(outputs) != 1:
        raise ValueError(f"model {model.name!r} has several outputs; prepare needs one.")
    nodes, keys = {}, {}

    def add(node: _Node, tensor_key: str) -> str:
        key = f"n{len(nodes)}"
        nodes[key] = node
        keys[tensor_key] = key
        return key

    sequential = isinstance(model, tf.keras.Sequential)      # its input is named "input"
    inputs = [add(_Node(None, shape=s.shape, dtype=s.dtype,
                        name="input" if sequential else s.name), s.key) for s in specs]
    for call in calls:
        if isinstance(call.layer, NestedOutput):        # a nested model's output: an alias
            keys[call.outputs[0]] = keys[call.inputs[0]]
            continue
        if call.kwargs:
            raise _unsupported(call.layer, "it is called with keyword arguments "
                                           f"({', '.join(call.kwargs)}); prepare rebuilds "
                                           "one-argument calls")
        if len(call.outputs) != 1:
            raise _unsupported(call.layer, "it has several outputs")
        add(_Node(call.layer, [keys[k] for k in call.inputs]), call.outputs[0])
    return nodes, inputs, keys[outputs[0]]


def _consumers(nodes: dict, key: str) -> list[str]:
    return [n for n, node in nodes.items() if key in node.inputs]


def _remove(nodes: dict, key: str) -> str:
    """Drop a single-input node, rewiring its consumers to its input."""
    (src,) = nodes[key].inputs
    for node in nodes.values():
        node.inputs = [src if i == key else i for i in node.inputs]
    del nodes[key]
    return src


def _config(node: _Node) -> dict:
    if node.config is None:
        node.config = node.layer.get_config()
    return node.config


def _is_softmax(layer) -> bool:
    if isinstance(layer, L.Softmax):
        return True
    if isinstance(layer, L.Activation):
        return tf.keras.activations.serialize(layer.activation) == "softmax"
    return False


def _activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return "linear" if act is None else tf.keras.activations.serialize(act)




def _linear_producer(nodes: dict, key: str):
    """The kernel layer node feeding node ``key`` when it has linear activation, else None."""
    node = nodes[key]
    if len(node.inputs) != 1 or nodes[node.inputs[0]].layer is None:
        return None
    src = node.inputs[0]
    src_node = nodes[src]
    if not isinstance(src_node.layer, LINEAR_LAYERS):
        return None
    if _config(src_node).get("activation", "linear") != "linear":
        return None
    return src


def _merge_target(nodes: dict, key: str):
    """The kernel layer node that a BN/ReLU node ``key`` can be merged into, else None."""
    src = _linear_producer(nodes, key)
    if src is None or _consumers(nodes, src) != [key]:
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
        name = tf.keras.activations.serialize(layer.activation)
        return name if isinstance(name, str) else None
    return None


def _keeps_activation(nodes: dict, key: str) -> bool:
    """A stand-alone activation is kept where its input is a pre-activation: the output
    of a kernel layer with linear activation, of a merge, of an affine layer (``Rescaling``,
    ``Normalization``: MobileNetV3's hard sigmoid, relu6(x + 3) / 6) or of a kept batch norm."""
    node = nodes[key]
    if len(node.inputs) != 1:
        return False
    src = nodes[node.inputs[0]].layer
    return (isinstance(src, MERGE_LAYERS + AFFINE_LAYERS + (L.BatchNormalization,))
            or _linear_producer(nodes, key) is not None)


def _channel_layer_norm(layer) -> bool:
    """A ``LayerNormalization`` over the last axis only, with the standard deviation."""
    axis = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    last = len(layer_input_shape(layer)) - 1
    return axis in ([-1], [last]) and not getattr(layer, "rms_scaling", False)


def _convex_resizing(layer) -> bool:
    """A ``Resizing`` whose outputs are convex combinations of its input pixels."""
    cfg = layer.get_config()
    padded = cfg.get("pad_to_aspect_ratio") and cfg.get("fill_value", 0.0) != 0.0
    return cfg.get("interpolation") in LINEAR_RESIZING and not padded


def _channels_last(layer) -> bool:
    """A batch norm over the last axis, or a kernel layer with channels last."""
    if not isinstance(layer, L.BatchNormalization):
        return getattr(layer, "data_format", "channels_last") == "channels_last"
    axis = list(layer.axis) if isinstance(layer.axis, (list, tuple)) else [layer.axis]
    return axis in ([-1], [len(layer_input_shape(layer)) - 1])


def _fold(layer, weights: list, bn) -> list:
    """``layer``'s weights with batch norm ``bn`` folded in over the output channels:
    W' = W s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps) (TensorFlow ops)."""
    mean, var = tf.convert_to_tensor(bn.moving_mean), tf.convert_to_tensor(bn.moving_variance)
    gamma = tf.ones_like(mean) if bn.gamma is None else tf.convert_to_tensor(bn.gamma)
    beta = tf.zeros_like(mean) if bn.beta is None else tf.convert_to_tensor(bn.beta)
    # sqrt in float64, rounded to float32, is float32's correctly rounded sqrt (53 >= 2 * 24
    # + 2 bits), and it keeps grappler from rewriting x / sqrt(y) as x * rsqrt(y) inside a
    # traced function, which differs in the last bit: traced and eager folds stay equal
    root = tf.cast(tf.sqrt(tf.cast(var + bn.epsilon, tf.float64)), var.dtype)
    scale = gamma / root
    if isinstance(layer, L.SeparableConv2D):        # [depthwise, pointwise, (bias)]
        kernels, out_scale = weights[:2], [1.0, scale]
    elif isinstance(layer, TRANSPOSED):             # kernel (..., filters, in channels)
        kernels, out_scale = weights[:1], [scale[:, None]]
    elif isinstance(layer, L.DepthwiseConv2D):      # output channel c * multiplier + m
        kernels = weights[:1]
        out_scale = [tf.reshape(scale, weights[0].shape[-2:])]
    else:
        kernels, out_scale = weights[:1], [scale]
    bias = weights[len(kernels)] if len(weights) > len(kernels) else tf.zeros_like(scale)
    return [k * s for k, s in zip(kernels, out_scale)] + [(bias - mean) * scale + beta]


def _derived_weights(layer, folds) -> list:
    """The weights of ``layer``'s rebuilt copy: its own, with the batch norms ``folds``
    folded in."""
    weights = [tf.convert_to_tensor(w) for w in layer.weights]
    for bn in folds:
        weights = _fold(layer, weights, bn)
    return weights


def prepare(model, name: str | None = None) -> tf.keras.Model:
    """Return a new functional model computing ``model``'s pre-softmax logits in
    an LRP-analyzable layer graph (see the module docstring). ``model`` is not changed.
    """
    from xaibench._keras import check_keras_model

    check_keras_model(model)
    nodes, inputs, output = _graph(model)
    for node in nodes.values():
        dtype = getattr(node.layer, "compute_dtype", None)
        if dtype in ("float16", "bfloat16"):
            raise _unsupported(node.layer, f"it computes in {dtype} (mixed precision), the "
                                           "relevance rules in float32: build the model under "
                                           "keras.mixed_precision.set_global_policy('float32'), "
                                           "copy the weights (set_weights) and explain the copy")

    # 1. the final softmax
    out_layer = nodes[output].layer
    if out_layer is not None and _is_softmax(out_layer):
        output = _remove(nodes, output)
    elif out_layer is not None and _activation_name(out_layer) == "softmax":
        _config(nodes[output])["activation"] = "linear"
    # 2. identities at inference
    for n in [n for n, node in nodes.items() if isinstance(node.layer, IDENTITY_LAYERS)]:
        src = _remove(nodes, n)
        output = src if output == n else output
    # 3. batch norm folding and activation merging, in graph order
    for n in list(nodes):
        node = nodes.get(n)
        if node is None or node.layer is None:
            continue
        layer = node.layer
        if isinstance(layer, L.BatchNormalization):
            target = _merge_target(nodes, n)
            if target is not None:
                if not (_channels_last(nodes[target].layer) and _channels_last(layer)):
                    raise _unsupported(layer, "batch normalisation is only folded over the "
                                              "last (channel) axis", _NOT_HERE)
                nodes[target].folds.append(layer)
                _config(nodes[target])["use_bias"] = True
            else:
                if not _channels_last(layer):
                    raise _unsupported(layer, "batch normalisation is only kept over the last "
                                              "(channel) axis", _NOT_HERE)
                continue
        elif isinstance(layer, ACTIVATION_LAYERS):
            act = _relu_activation(layer)
            if act == "softmax":
                raise _unsupported(layer, "a softmax is only supported as the last layer")
            target = _merge_target(nodes, n)
            if act is not None and target is not None:
                _config(nodes[target])["activation"] = act
            elif _keeps_activation(nodes, n):
                continue
            else:
                raise _unsupported(layer, "a stand-alone activation must directly follow a "
                                          "Conv/Dense layer with linear activation, a merge "
                                          "(Add, Average, Concatenate, Multiply), a Rescaling / "
                                          "Normalization or a kept batch norm; it cannot "
                                          "follow pooling or a layer that has an activation "
                                          "already", _NOT_HERE)
        elif isinstance(layer, L.LayerNormalization) and not _channel_layer_norm(layer):
            raise _unsupported(layer, "layer normalisation is read (LN-rule) over the last "
                                      "axis without rms_scaling", _NOT_HERE)
        elif isinstance(layer, L.Resizing) and not _convex_resizing(layer):
            raise _unsupported(layer, "Resizing is read as a weight-free linear layer for "
                                      f"interpolation {', '.join(LINEAR_RESIZING)} without "
                                      "padding by a non-zero fill value")
        elif isinstance(layer, LINEAR_LAYERS + PASS_LAYERS):
            continue
        elif _activation_name(layer) == "softmax" or _is_softmax(layer):
            raise _unsupported(layer, "a softmax is only supported as the last layer")
        elif isinstance(layer, OperationCall) and layer.called_layer is not None:
            raise _unsupported(layer.called_layer, "no relevance rule is defined for this "
                                                   "layer type (called on several tensors)")
        elif isinstance(layer, OperationCall):
            raise _unsupported(layer, f"it is the operation {layer.operation} applied to a "
                                      "Keras tensor, which has no relevance rule (arithmetic "
                                      "with a constant, indexing and stacking have)")
        else:
            raise _unsupported(layer, "no relevance rule is defined for this layer type")
        src = _remove(nodes, n)                 # folded or merged
        output = src if output == n else output

    return _rebuild(nodes, inputs, output, name or model.name)


def _rebuild(nodes, inputs, output, name) -> tf.keras.Model:
    tensors, used, derived = {}, set(), []
    for n in inputs:
        node = nodes[n]
        tensors[n] = L.Input(shape=node.shape, name=node.name, dtype=node.dtype)
        used.add(node.name)
    for n, node in nodes.items():
        if n in tensors:
            continue
        layer = node.layer
        args = [tensors[i] for i in node.inputs]
        args = args if len(args) > 1 or isinstance(layer, MERGE_LAYERS) else args[0]
        if node.config is None and layer.name not in used:
            # unchanged by canonizing: the user's own layer, sharing its variables (no copy
            # of the weights; the rebuilt graph only adds a call node to it)
            used.add(layer.name)
            tensors[n] = layer(args)
            continue
        cfg = dict(node.config if node.config is not None else layer.get_config())
        base, k = cfg["name"], 0
        while cfg["name"] in used:
            k += 1
            cfg["name"] = f"{base}_{k}"
        used.add(cfg["name"])
        new = type(layer).from_config(cfg)
        tensors[n] = new(args)
        if new.weights:
            derived.append((new, layer, tuple(node.folds)))
    ins = [tensors[n] for n in inputs]
    model = tf.keras.Model(ins if len(ins) > 1 else ins[0], tensors[output], name=name)
    _derived[model] = tuple(derived)
    sync(model)
    return model


#: prepared model -> ``(rebuilt layer, the user's layer, batch norms folded in)`` per layer
#: that holds weights of its own
_derived: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def sync(prepared) -> None:
    """Re-derive the weights of ``prepared``'s rebuilt layers from the user's layers
    (folded batch norms, merged activations, copies per call); a no-op for any other
    model. Traced into the analyzers' functions, it makes them follow the user's weights
    (a few element-wise ops per folded layer)."""
    for new, layer, folds in (_derived.get(prepared, ()) if prepared is not None else ()):
        for variable, value in zip(new.weights, _derived_weights(layer, folds)):
            variable.assign(value)


def _fingerprint(model) -> tuple:
    """Cheap identity of a model's weights: shape, sum and a strided sample sum per array
    (read through a view of each variable's value: ``numpy()`` would copy every weight,
    1.2 s of VGG-16's 1.3 s)."""
    fp = []
    for w in model.weights:
        a = np.asarray(tf.convert_to_tensor(w))
        step = max(1, a.size // 251)
        fp.append((a.shape, float(a.sum(dtype=np.float64)), float(a.ravel()[::step].sum())))
    return tuple(fp)


_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def cached_prepare(model) -> tf.keras.Model:
    """``prepare(model)``, built once per model and rebuilt when its weights changed
    (analyzers created on one model share the canonized copy)."""
    fp = _fingerprint(model)
    entry = _prepared.get(model)
    if entry is None or entry[0] != fp:
        entry = (fp, prepare(model))
        _prepared[model] = entry
    return entry[1]


def ends_with_softmax(model) -> bool:
    """True when ``model``'s output is a softmax (a Softmax/Activation layer or a
    layer with ``activation="softmax"``; for a subclassed model: its last layer)."""
    last = _output_layer(model)
    return _is_softmax(last) or _activation_name(last) == "softmax"


def _output_layer(model):
    """The layer computing ``model``'s output (for a subclassed model: its last layer)."""
    outputs = graph_outputs(model)
    return producer(outputs[0])[0] if len(outputs) == 1 else model.layers[-1]


class _PreActivation(L.Layer):
    """The pre-activation ``W x + b`` of a Dense/Conv layer, sharing its variables."""

    def __init__(self, layer, **kwargs):
        kwargs.setdefault("dtype", layer.dtype)          # a float64 model stays float64
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
    if not graph_outputs(model):
        raise ValueError(f"model {model.name!r} is subclassed and ends in a softmax, which "
                         "cannot be cut off; return the logits from its call() (or explain "
                         "probabilities: output='probability').")
    cached = _logits_models.get(model)
    if cached is not None:
        return cached
    (output,) = graph_outputs(model)
    last, (last_input,) = producer(output)
    inputs = graph_inputs(model)
    inputs = inputs if len(inputs) > 1 else inputs[0]
    if _is_softmax(last):
        out = tf.keras.Model(inputs, last_input, name=f"{model.name}_logits")
    elif isinstance(last, KERNEL_LAYERS):
        out = tf.keras.Model(inputs, _PreActivation(last)(last_input),
                             name=f"{model.name}_logits")
    else:
        raise _unsupported(last, "only a Dense/Conv layer or a Softmax/Activation layer can end "
                                 "in the softmax whose input is explained")
    _logits_models[model] = out
    return out


def output_head(model, output: str):
    """``(net, apply_softmax)``: ``net(x, training=False)``, followed by a softmax when
    ``apply_softmax``, gives ``model``'s class probabilities (``output="probability"``) or
    pre-softmax logits (``"logit"``). Outputs that are probabilities already (a softmax, or
    sigmoids: binary and multi-label classifiers) are taken as they are; a single logit z
    (a binary classifier without its sigmoid) gives p = sigmoid(z). A model of (N, H, W)
    grey images gets them as (N, H, W, 1), the images the perturbation methods and metrics
    build (``check_images(..., channels=True)``)."""
    from xaibench._checks import model_input_shape, model_num_classes

    probability = output == "probability"
    if probability and (ends_with_softmax(model) or
                        _activation_name(_output_layer(model)) == "sigmoid"):
        net, softmax = model, False
    elif probability and model_num_classes(model) == 1:
        logits = logits_model(model)
        net, softmax = (lambda x, training=False: tf.sigmoid(logits(x, training=training))), False
    else:
        net, softmax = logits_model(model), probability
    if len(model_input_shape(model)) == 2:
        return (lambda x, training=False: net(x[..., 0], training=training)), softmax
    return net, softmax
