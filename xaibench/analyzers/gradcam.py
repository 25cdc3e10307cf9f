"""Grad-CAM (Selvaraju et al., ICCV 2017), native TF2.

For the explained pre-softmax logit ``y^c`` and the feature maps ``A^k`` (k = 1..K,
size u x v) of a convolutional layer:

* eq. 1: ``alpha_k^c = 1/(u v) sum_ij d y^c / d A^k_ij`` (global-average-pooled gradients)
* eq. 2: ``L^c = ReLU(sum_k alpha_k^c A^k)``

The u x v map is upsampled to the input's H x W with bilinear interpolation
(``tf.image.resize(method="bilinear")``: half-pixel centres, edge values
clamped, no antialiasing) and repeated over the input's colour channels, so
the heatmap has the shape of ``x``. ``relu=True`` (default) applies the ReLU of
eq. 2 as Selvaraju et al. do; ``relu=False`` keeps the signed map.
"""
from __future__ import annotations

import difflib

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench.analyzers.base import Analyzer, run_in_batches
from xaibench.analyzers.native.graph import NestedOutput, forward, trace
from xaibench.analyzers.registry import register
from xaibench._keras import is_graph_model, layer_output_shape
from xaibench.prepare import logits_model

L = tf.keras.layers


def _ranks(graph) -> dict:
    """The rank of every call's output, by call index: the layer's own output shape, or
    for a layer traced from Python arithmetic (``a + b``: never called itself) the
    largest rank of its inputs (broadcasting)."""
    rank = {graph.input: len(graph.model.input_shape)}
    out = {}
    for i, call in enumerate(graph.calls):
        try:
            shape = layer_output_shape(call.layer)
            r = -1 if isinstance(shape, list) else len(shape)
        except (AttributeError, ValueError):
            r = max(rank.get(k, -1) for k in call.inputs)
        out[i] = r
        rank.update((k, r) for k in call.outputs)
    return out


#: layers after which the maps are no longer "the last convolutional layer's" (Selvaraju
#: et al. take VGG-16's rectified conv5_3, not pool5)
POOLING = (L.MaxPooling2D, L.AveragePooling2D, NestedOutput)
#: the 2-D convolutions whose maps Grad-CAM may take by default
CONVOLUTIONS = (L.Conv2D, L.DepthwiseConv2D, L.SeparableConv2D, L.Conv2DTranspose)
#: where a classifier head begins (when every path to the logits passes through it: not the
#: global pooling of a squeeze-and-excitation gate)
HEAD_START = (L.GlobalAveragePooling2D, L.GlobalMaxPooling2D, L.Flatten)


def _passes_through(graph, index: int) -> bool:
    """Whether every path from the model input to its output passes through call ``index``."""
    readers = {}
    for i, call in enumerate(graph.calls):
        for key in call.inputs:
            readers.setdefault(key, []).append(i)
    seen, todo = set(), [graph.input]
    while todo:
        key = todo.pop()
        for i in readers.get(key, []):
            if i != index and i not in seen:
                seen.add(i)
                todo.extend(graph.calls[i].outputs)
    return not any(graph.output in graph.calls[i].outputs for i in seen)


def default_call(graph, name: str) -> int:
    """The call of the last 4-D feature maps before the classifier head (the first global
    pooling or Flatten that every path to the logits passes through), from the last 2-D
    convolution (:data:`CONVOLUTIONS`) before it on, pooling excluded: the conv's own
    output or that of its batch norm, activation, residual ``Add``, ``Concatenate``
    (ResNet50's ``conv5_block3_out``, MobileNetV2's ``out_relu``, InceptionV3's ``mixed10``,
    VGG-16's ``block5_conv3``)."""
    calls = graph.calls
    head = next((i for i, call in enumerate(calls) if isinstance(call.layer, HEAD_START)
                 and _passes_through(graph, i)), len(calls))
    convs = [i for i in range(head) if isinstance(calls[i].layer, CONVOLUTIONS)]
    if not convs:
        raise ValueError(f"model {name!r} has no 2-D convolution before its classifier head; "
                         "Grad-CAM needs a convolutional layer (pass layer= a layer with a "
                         "4-D output).")
    ranks = _ranks(graph)
    return [i for i in range(convs[-1], head) if not isinstance(calls[i].layer, POOLING)
            and ranks[i] == 4][-1]


def named_layers(model, prefix: str = "") -> list:
    """``(path, layer)`` of every layer of ``model``, nested models' layers included as
    ``"outer/inner"`` (the path a user names a layer of a nested base model by)."""
    out = []
    for layer in model.layers:
        out.append((prefix + layer.name, layer))
        if isinstance(layer, tf.keras.Model):
            out += named_layers(layer, f"{prefix}{layer.name}/")
    return out


class GradCAM(Analyzer):
    """Grad-CAM at a layer of the user's own model (its final softmax stripped).

    Parameters: ``layer`` (None: :func:`default_call`, nested models included; or any
    layer with a 4-D ``(N, u, v, K)`` output, by name, by its ``"outer/inner"`` path in a
    nested model such as a ``keras.applications`` base, or as the layer object), ``relu``
    (True), ``batch_size`` (64).
    """

    def __init__(self, model, layer=None, relu=True, batch_size=64):
        super().__init__(model, layer=layer, relu=relu, batch_size=batch_size)
        self.batch_size = check_in_range("batch_size", batch_size, 1, integer=True)
        if not isinstance(relu, (bool, np.bool_)):
            raise TypeError(f"relu must be True or False, got {relu!r}.")
        self.relu = bool(relu)
        if not is_graph_model(model):
            raise ValueError(f"Grad-CAM reads a layer's feature maps, which model {model.name!r} "
                             f"({type(model).__name__}) does not expose; build it as a functional "
                             "or Sequential model (or use gradient / smoothgrad).")
        # the layer graph of the logits, nested models inlined: a layer is found as a call on
        # the path to the logits (a loaded Keras 3 model's layers have several call nodes,
        # and ``layer.output`` is the first)
        self._graph = trace(logits_model(model))
        index = self._choose_call(layer)
        self.layer_name = self._graph.calls[index].layer.name
        self._feature = self._graph.calls[index].outputs[0]
        self._fn = None

    def _choose_call(self, layer) -> int:
        """The index of the graph call whose output are the feature maps A^k."""
        calls, model = self._graph.calls, self.model
        if layer is None:
            return default_call(self._graph, model.name)
        if isinstance(layer, str):
            paths = named_layers(model)
            found = [lay for path, lay in paths if path == layer]
            found = found or [lay for path, lay in paths if lay.name == layer]
            if len({id(lay) for lay in found}) > 1:
                raise ValueError(f"{len(found)} layers of model {model.name!r} are named "
                                 f"{layer!r}; name one by its path: " + ", ".join(
                                     path for path, lay in paths if lay.name == layer) + ".")
            if not found:
                close = difflib.get_close_matches(layer, [p for p, _ in paths], n=3)
                hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
                listed = (f" Layers: {', '.join(p for p, _ in paths)}." if len(paths) <= 30
                          else f" It has {len(paths)} layers (model.summary() lists them).")
                raise ValueError(f"layer {layer!r} is not a layer of model {model.name!r} or of "
                                 f"a model nested in it.{hint}{listed}")
            chosen = found[0]
        elif isinstance(layer, tf.keras.layers.Layer):
            chosen = layer
        else:
            raise TypeError("layer must be a layer name (str, 'outer/inner' for a layer of a "
                            f"nested model), a layer of the model or None, got "
                            f"{type(layer).__name__}.")
        at = [i for i, call in enumerate(calls) if call.layer is chosen]
        if not at:
            raise ValueError(f"layer {chosen.name!r} is not on the path from the input of "
                             f"model {model.name!r} to its output; choose another layer=.")
        if _ranks(self._graph)[at[-1]] != 4 or calls[at[-1]].outputs[0] == self._graph.output:
            raise ValueError(f"layer {chosen.name!r} ({type(chosen).__name__}) has output shape "
                             f"{layer_output_shape(chosen)}; Grad-CAM needs a layer with feature "
                             "maps (N, u, v, K) before the classifier head.")
        return at[-1]

    def _build(self):
        graph, feature, relu = self._graph, self._feature, self.relu

        @tf.function(input_signature=[tf.TensorSpec([None] + list(self.model.input_shape[1:]),
                                                    tf.float32),
                                      tf.TensorSpec([None], tf.int64)])
        def cam(x, selection):
            with tf.GradientTape() as tape:
                values = forward(graph, x)
                feats, y = values[feature], values[graph.output]
                top = tf.argmax(y, axis=-1, output_type=tf.int64)
                idx = tf.where(selection < 0, top, selection)
                yc = tf.gather(y, idx, axis=1, batch_dims=1)
            grads = tape.gradient(yc, feats)                     # d y^c / d A^k_ij per image
            alpha = tf.reduce_mean(grads, axis=[1, 2], keepdims=True)          # eq. 1
            lmap = tf.reduce_sum(alpha * feats, axis=-1, keepdims=True)         # eq. 2
            if relu:
                lmap = tf.nn.relu(lmap)
            size = tf.shape(x)[1:3]
            up = tf.image.resize(lmap, size, method="bilinear")
            if x.shape.rank == 3:                   # grey images without a channel axis
                return up[..., 0]
            return tf.repeat(up, tf.shape(x)[3], axis=-1)

        return cam

    def _analyze(self, x, neuron_selection):
        if self._fn is None:
            self._fn = self._build()
        return run_in_batches(self._fn, x, neuron_selection, self.batch_size)


@register("grad_cam", "Grad-CAM (Selvaraju et al. 2017): the ReLU of a conv layer's feature maps "
          "weighted by their mean gradients, upsampled to the image.", "gradient", analyzer=GradCAM)
def _grad_cam(model, **params):
    return GradCAM(model, **params)
