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

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench.analyzers.base import Analyzer, run_in_batches
from xaibench.analyzers.native.graph import forward, trace
from xaibench.analyzers.registry import register
from xaibench._keras import consumers as keras_consumers
from xaibench._keras import is_graph_model, layer_output_shape
from xaibench.prepare import logits_model

L = tf.keras.layers


def _activation_block_end(model, conv):
    """The last of the batch-norm / activation layers that directly follow ``conv``
    (each the only consumer of the one before): where its feature maps are rectified."""
    follow = (L.BatchNormalization, L.ReLU, L.Activation, L.LeakyReLU, L.ELU)
    layer = conv
    while True:
        consumers = [c for c in keras_consumers(layer) if c in model.layers]
        if len(consumers) != 1 or not isinstance(consumers[0], follow):
            return layer
        layer = consumers[0]


def _rank4_output(layer) -> bool:
    shape = layer_output_shape(layer)
    return not isinstance(shape, list) and len(shape) == 4


class GradCAM(Analyzer):
    """Grad-CAM at a layer of the user's own model (its final softmax stripped).

    Parameters: ``layer`` (None: the rectified feature maps of the last Conv2D layer,
    i.e. the last of the batch-norm / activation layers that directly follow it; or
    the name of any layer of the model with a 4-D ``(N, u, v, K)`` output), ``relu``
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
        net = logits_model(model)
        self.layer_name = self._choose_layer(layer)
        # the layer's output on the path to the logits, found in the layer graph: a loaded
        # Keras 3 model's layers have several call nodes, and ``layer.output`` is the first
        self._graph = trace(net)
        chosen = model.get_layer(self.layer_name)
        keys = [call.outputs[0] for call in self._graph.calls
                if call.layer is chosen or getattr(call.layer, "name", None) == self.layer_name]
        if not keys:
            raise ValueError(f"layer {self.layer_name!r} is not on the path from the input of "
                             f"model {model.name!r} to its output; choose another layer=.")
        self._feature = keys[-1]
        self._fn = None

    def _choose_layer(self, layer) -> str:
        layers = self.model.layers
        if layer is None:
            convs = [i for i, lay in enumerate(layers) if isinstance(lay, L.Conv2D)]
            if not convs:
                raise ValueError(f"model {self.model.name!r} has no Conv2D layer; Grad-CAM needs "
                                 "a convolutional layer (pass layer= a layer with a 4-D output).")
            return _activation_block_end(self.model, layers[convs[-1]]).name
        if not isinstance(layer, str):
            raise TypeError(f"layer must be a layer name (str) or None, got {type(layer).__name__}.")
        names = [lay.name for lay in layers]
        if layer not in names:
            raise ValueError(f"layer {layer!r} is not a layer of model {self.model.name!r}. "
                             f"Layers: {', '.join(names)}.")
        chosen = self.model.get_layer(layer)
        if not _rank4_output(chosen) or chosen is layers[-1]:
            raise ValueError(f"layer {layer!r} ({type(chosen).__name__}) has output shape "
                             f"{layer_output_shape(chosen)}; Grad-CAM needs a layer with feature "
                             "maps (N, u, v, K) before the classifier head.")
        return layer

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
