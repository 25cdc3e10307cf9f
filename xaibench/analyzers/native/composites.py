"""Composites: which mapping each layer of a model gets, as data.

A composite maps a layer to a rule (kernel layers) or to a weight-free mapping
(pooling, merges, activations, reshapes). The LRP composite follows
iNNvestigate 2.1.2's ``LRP`` class exactly for the layers iNNvestigate
handles, so the numbers are the same:

* kernel layers: the first matching ``(condition, rule)``; the input layer's rule
  and ``until_layer_idx`` rules take precedence;
* batch norm: ``bn_layer_rule`` on the affine map, or iNNvestigate's default;
* layer normalisation: the LN-rule (Ali et al. 2022, the z rule with sigma held fixed);
* average pooling, ``Resizing`` and ``Add``: the z rule over the summands;
* ``Activation`` layers: relevance passes unchanged; every other layer
  (max pooling, Flatten, Reshape, Concatenate, padding, cropping): the gradient.

Beyond iNNvestigate (layers it cannot analyze), for canonized standard
architectures: stand-alone ReLU / ReLU6 / element-wise activations and
``Rescaling`` / ``Normalization`` pass relevance unchanged, ``Average`` is split
like ``Add``, ``Multiply`` gating sends all relevance to the signal path.

``COMPOSITES`` registers the named compositions of the LRP presets and of
Kohlbrenner et al.'s LRP_CMP / LRP_CAM.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import tensorflow as tf

from xaibench._keras_ops import Selection
from xaibench.analyzers.native import mappings as M
from xaibench.analyzers.native import rules as R
from xaibench.analyzers.native.graph import NestedOutput
from xaibench.analyzers.native.linear import has_kernel, linear_of
from xaibench.prepare import (ANY_MODEL, AFFINE_LAYERS, IDENTITY_LAYERS,  # noqa: F401
                              UnsupportedLayerError)

L = tf.keras.layers

#: iNNvestigate's conv layers (Keras 2's transposed convs are Conv subclasses, Keras 3's not)
CONV_LAYERS = (L.Conv1D, L.Conv2D, L.Conv3D, L.SeparableConv1D, L.SeparableConv2D,
               L.DepthwiseConv2D, L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)
AVERAGE_POOLING = (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D,
                   L.GlobalAveragePooling1D, L.GlobalAveragePooling2D, L.GlobalAveragePooling3D)
#: image resizing read as a weight-free linear layer (prepare admits the convex kinds)
RESAMPLING = (L.Resizing,)
MAX_POOLING = (L.MaxPooling1D, L.MaxPooling2D, L.MaxPooling3D, L.GlobalMaxPooling1D,
               L.GlobalMaxPooling2D, L.GlobalMaxPooling3D)
RESHAPING = (L.Flatten, L.Reshape, L.Permute, L.ZeroPadding1D, L.ZeroPadding2D,
             L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D, L.Concatenate,
             L.UpSampling1D, L.UpSampling2D, L.UpSampling3D, L.RepeatVector, Selection)
IDENTITIES = IDENTITY_LAYERS
ELEMENTWISE = (L.ReLU, L.Activation, L.LeakyReLU, L.ELU, L.PReLU, L.Softmax)
AFFINE = AFFINE_LAYERS

NO_FAMILY = "none (neither LRP nor Deep Taylor has a rule for it)"


def unsupported(layer, family: str, accepts: str, accepted_by: str = NO_FAMILY
                ) -> UnsupportedLayerError:
    """The refusal of ``layer``: its name and type, what ``family`` handles, the rule
    families that do accept it and the analyzers that work on any model."""
    return UnsupportedLayerError(
        f"layer {layer.name!r} of type {type(layer).__name__} has no {family} rule; "
        f"{accepts}. Rule families that accept it: {accepted_by}. Analyzers that work on "
        f"any model: {ANY_MODEL}."
    )


def is_dense(layer) -> bool:
    return isinstance(layer, L.Dense)


def is_conv(layer) -> bool:
    return isinstance(layer, CONV_LAYERS)


def has_activation(layer) -> bool:
    """iNNvestigate's ``contains_activation(layer)``: the layer can hold an activation."""
    return hasattr(layer, "activation") or isinstance(layer, ELEMENTWISE)


def is_relu_like(layer) -> bool:
    """The layer ends in a ReLU (also ReLU6 / ``max_value``): its output is >= 0, and
    Deep Taylor passes the plain gradient through it."""
    if isinstance(layer, L.ReLU):
        return not layer.negative_slope and not layer.threshold
    return hasattr(layer, "activation") and activation_name(layer) in ("relu", "relu6")


def activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    if act is None:
        return "linear"
    name = tf.keras.activations.serialize(act)
    return name if isinstance(name, str) else getattr(act, "__name__", repr(act))


def only_relu(layer) -> bool:
    """iNNvestigate's ``only_relu_activation``: no activation, linear or ReLU."""
    return activation_name(layer) in ("linear", "relu")


def input_calls(graph) -> set:
    """Indices of the calls whose every input comes from the model input, through
    Flatten / Permute / Reshape only (iNNvestigate's ``is_input_layer``), and also through
    padding, cropping, indexing and ``Rescaling`` / ``Normalization`` / arithmetic with a
    constant (which ResNet50, DenseNet121, EfficientNet and ``preprocess_input`` put before
    the first conv; iNNvestigate cannot analyze these):
    the input-layer rule (flat, bounds) applies to the first kernel layer's input."""
    producer = {k: i for i, call in enumerate(graph.calls) for k in call.outputs}
    skip = (L.Flatten, L.Permute, L.Reshape, L.ZeroPadding1D, L.ZeroPadding2D, L.ZeroPadding3D,
            L.Cropping1D, L.Cropping2D, L.Cropping3D, Selection) + RESAMPLING + AFFINE

    def from_input(key):
        if key == graph.input:
            return True
        i = producer.get(key)
        if i is None:
            return False
        call = graph.calls[i]
        return isinstance(call.layer, skip) and all(from_input(k) for k in call.inputs)

    return {i for i, call in enumerate(graph.calls) if all(from_input(k) for k in call.inputs)}


#: layers whose output is >= 0 when every input is (they move, select, pad with 0 or
#: average values)
KEEPS_SIGN = MAX_POOLING + AVERAGE_POOLING + RESAMPLING + RESHAPING + IDENTITIES + (
    L.Add, L.Average, L.Maximum, NestedOutput)


def nonnegative_calls(graph) -> set:
    """Indices of the calls whose every input is known to be >= 0: it comes from a
    ReLU-like layer (a ReLU, ReLU6 or a kernel layer with one, as ``prepare`` merges
    them), through layers that keep the sign (max / average pooling, reshapes, padding,
    ``Add``, ...). The alpha-beta rules drop their x- terms there (x- = 0)."""
    nonnegative = set()
    for call in graph.calls:
        layer = call.layer
        if is_relu_like(layer) or (isinstance(layer, KEEPS_SIGN)
                                   and all(k in nonnegative for k in call.inputs)):
            nonnegative.update(call.outputs)
    return {i for i, call in enumerate(graph.calls)
            if call.inputs and all(k in nonnegative for k in call.inputs)}


@dataclass
class LRPComposite:
    """iNNvestigate's ``LRP(rule=..., input_layer_rule=..., until_layer_idx=...,
    until_layer_rule=..., bn_layer_rule=...)`` as data.

    ``rules``: a list of ``(condition(layer) -> bool, rule)`` tried in order, or a
    plain list of rules taken from its end, one per kernel layer in graph order
    (iNNvestigate's reading of a rule list). ``first``: ``(kernel_layers -> set of
    layers, rule)`` pairs that take precedence (LRP_CMP's flat layers).
    """

    rules: list
    input_rule: object = None
    until: tuple = None                     # (until_layer_idx, rule)
    bn_rule: object = None                  # None: iNNvestigate's default BN mapping
    first: list = field(default_factory=list)

    def mappings(self, graph, model) -> list:
        conditional = not self.rules or isinstance(self.rules[0], tuple)
        queue = list(self.rules)
        inputs = input_calls(graph)
        until = set()
        if self.until is not None:
            until = {id(model.layers[i]) for i in range(self.until[0] + 1)}
        kernel_layers = [c.layer for c in graph.calls if has_kernel(c.layer)]
        first = [({id(lay) for lay in select(kernel_layers)}, rule) for select, rule in self.first]
        nonnegative = nonnegative_calls(graph)
        out = []
        for i, call in enumerate(graph.calls):
            layer = call.layer
            if has_kernel(layer):
                if linear_of(layer) is None:
                    raise unsupported(layer, "LRP", "LRP handles Dense, Conv1D/2D/3D (and "
                                      "transposed), DepthwiseConv2D and SeparableConv2D "
                                      "(channels last)")
                if conditional:
                    rule = self._conditional(i, layer, inputs, until, first)
                else:
                    rule = queue.pop() if queue else None
                if rule is None:
                    raise unsupported(layer, "LRP", "the composite's conditions match no rule",
                                      "LRP names with one rule for every kernel layer (lrp.z, "
                                      "lrp.epsilon, ...), Deep Taylor")
                out.append(M.KernelRule(R.rule_from(rule), layer, i in nonnegative))
            else:
                out.append(self._weight_free(layer))
        return out

    def _conditional(self, i, layer, inputs, until, first):
        if self.input_rule is not None and i in inputs:
            return self.input_rule
        if id(layer) in until:
            return self.until[1]
        for ids, rule in first:
            if id(layer) in ids:
                return rule
        for condition, rule in self.rules:
            if condition(layer):
                return rule
        return None

    def _weight_free(self, layer):
        if isinstance(layer, L.BatchNormalization):
            return M.BatchNormDefault() if self.bn_rule is None else \
                M.AffineRule(R.rule_from(self.bn_rule))
        if isinstance(layer, AVERAGE_POOLING + RESAMPLING + (L.Add, L.Average)):
            return M.ZSum()
        if isinstance(layer, L.Activation) or isinstance(layer, ELEMENTWISE + AFFINE + IDENTITIES
                                                                + (NestedOutput,)):
            return M.PassThrough()
        if isinstance(layer, L.Multiply):
            return M.GatedSignal()
        if isinstance(layer, L.LayerNormalization):
            return M.LayerNormLinear()
        return M.Gradient()


def deep_taylor_mappings(graph, bounds=None) -> list:
    """iNNvestigate's ``DeepTaylor`` (Montavon et al. 2017): alpha1-beta0 ignoring biases
    (z+) on every kernel layer (w^2 on a kernel layer without activation attribute),
    the plain gradient through ReLUs, pooling, resizing, ``Add``, ``Concatenate`` and reshapes
    (iNNvestigate's "scaling ignored" at ``Add``), w^2 on batch norm, and
    ``bounds=(low, high)``: the z^B rule on the input layer (``deep_taylor.bounded``).
    Beyond iNNvestigate: ``Average`` split by the z rule, ``Multiply`` gating to the
    signal path, ``Rescaling`` / ``Normalization`` passed unchanged; non-ReLU
    activations are refused, as iNNvestigate does."""
    inputs, nonnegative = input_calls(graph), nonnegative_calls(graph)
    out = []
    for i, call in enumerate(graph.calls):
        layer = call.layer
        if has_kernel(layer):
            if linear_of(layer) is None:
                raise unsupported(layer, "Deep Taylor", "it handles Dense and Conv layers")
            if not only_relu(layer):
                raise ValueError(
                    f"Deep Taylor only supports ReLU activations; layer {layer.name!r} "
                    f"({type(layer).__name__}) has {activation_name(layer)}. Use an LRP "
                    "composite or a gradient-family analyzer for this model.")
            if bounds is not None and i in inputs:
                rule = R.Bounded(*bounds)
            else:
                rule = R.Alpha1Beta0IgnoreBias() if hasattr(layer, "activation") else R.WSquare()
            out.append(M.KernelRule(rule, layer, i in nonnegative))
        elif isinstance(layer, L.BatchNormalization):
            out.append(M.AffineRule(R.WSquare()))
        elif isinstance(layer, MAX_POOLING + AVERAGE_POOLING + RESAMPLING + RESHAPING
                        + IDENTITIES + (L.Add, L.InputLayer, NestedOutput)) \
                or is_relu_like(layer):
            out.append(M.Gradient())
        elif isinstance(layer, L.Average):
            out.append(M.ZSum())
        elif isinstance(layer, L.Multiply):
            out.append(M.GatedSignal())
        elif isinstance(layer, AFFINE) or (isinstance(layer, L.Activation) and only_relu(layer)):
            out.append(M.PassThrough())
        elif isinstance(layer, ELEMENTWISE):
            kind = activation_name(layer) if hasattr(layer, "activation") else \
                f"a {type(layer).__name__} that is not a ReLU"
            raise unsupported(layer, "Deep Taylor", f"Deep Taylor only supports ReLU activations "
                              f"and this layer has {kind}", "LRP")
        else:
            raise unsupported(layer, "Deep Taylor", "it handles ReLU networks of Dense/Conv, "
                              "batch norm, pooling, Add, Average, Concatenate, Multiply gating, "
                              "Rescaling, Normalization and reshaping layers",
                              "LRP" if isinstance(layer, L.LayerNormalization) else NO_FAMILY)
    return out


# --------------------------------------------------------------------------- registered


def _kernel_layers_first(n):
    return lambda kernel_layers: kernel_layers[:n]


def _preset(conv_rule, epsilon, input_rule=None, until=None, bn_rule=R.AlphaBetaX2m100):
    return LRPComposite([(is_dense, R.Epsilon(epsilon, bias=True)), (is_conv, conv_rule)],
                        input_rule=input_rule, until=until, bn_rule=bn_rule)


#: composite builders by name: ``COMPOSITES[name](**params) -> LRPComposite``
COMPOSITES: dict[str, Callable] = {
    "lrp.sequential_preset_a": lambda epsilon=0.1, bn_layer_rule=R.AlphaBetaX2m100, **kw:
        _preset(R.Alpha1Beta0(), epsilon, bn_rule=bn_layer_rule, **kw),
    "lrp.sequential_preset_b": lambda epsilon=0.1, bn_layer_rule=R.AlphaBetaX2m100, **kw:
        _preset(R.Alpha2Beta1(), epsilon, bn_rule=bn_layer_rule, **kw),
    "lrp.cmp_flat_until": lambda flat_layers, alpha=2, epsilon=0.1: LRPComposite(
        [(is_dense, R.Epsilon(epsilon, bias=True)),
         (is_conv, R.Alpha1Beta0() if alpha == 1 else R.Alpha2Beta1())],
        bn_rule=R.Z(), first=[(_kernel_layers_first(flat_layers), R.Flat())]),
    "lrp.cam": lambda: LRPComposite([(is_conv, R.Flat()), (is_dense, R.Z())], bn_rule=R.Z()),
}
