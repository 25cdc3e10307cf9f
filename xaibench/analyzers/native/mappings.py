"""How one layer call passes relevance (or a gradient signal) from its outputs to its
inputs: ``mapping(call, xs, ys, Rs) -> Rs at the inputs`` (``None`` for an input that
gets none).

Kernel layers get an LRP rule (:mod:`~xaibench.analyzers.native.rules`); the other
layers get one of the mappings here, chosen by the composite
(:mod:`~xaibench.analyzers.native.composites`).
"""
from __future__ import annotations

import tensorflow as tf

from xaibench.analyzers.native.linear import linear_of
from xaibench.analyzers.native.rules import safe_divide

K = tf.keras.backend


def _call(call, xs):
    values = dict(zip(call.inputs, xs))
    return tf.nest.flatten(call.layer(call.arguments(values), **call.kwargs))


def _gradient_of(fn, xs, Rs):
    with tf.GradientTape(persistent=len(xs) > 1) as tape:
        for x in xs:
            tape.watch(x)
        ys = fn(xs)
    grads = tape.gradient(ys, xs, output_gradients=Rs)
    return [tf.zeros_like(x) if g is None else g for x, g in zip(xs, grads)]


class Gradient:
    """The plain gradient: d y / d x applied to the incoming signal (max pooling,
    Flatten, Reshape, Concatenate, padding, cropping; every layer of the gradient family)."""

    def __call__(self, call, xs, ys, Rs):
        return _gradient_of(lambda t: _call(call, t), xs, Rs)


class PassThrough:
    """Relevance passes unchanged (element-wise activations: the rule of the preceding
    linear layer already distributed it)."""

    def __call__(self, call, xs, ys, Rs):
        return list(Rs)


class ZSum:
    """The z rule on a weight-free linear layer (average pooling, ``Add``, ``Average``):
    each input gets x_i * d z / d x_i * R / z, z the layer's output (iNNvestigate's
    ``AveragePoolingReverseLayer`` / ``AddReverseLayer``)."""

    def __call__(self, call, xs, ys, Rs):
        with tf.GradientTape(persistent=len(xs) > 1) as tape:
            for x in xs:
                tape.watch(x)
            zs = _call(call, xs)
        s = [safe_divide(r, z) for r, z in zip(Rs, zs)]
        grads = tape.gradient(zs, xs, output_gradients=s)
        return [x * g for x, g in zip(xs, grads)]


class KernelRule:
    """An LRP rule on a kernel layer (the activation is skipped: relevance passes it).

    ``nonnegative``: the layer's input is known to be >= 0 (the rule may skip x- terms).
    For rules whose z is the layer's pre-activation, the forward pass computes the
    layer as ``activation(W x + b)`` with the layer's own ops and keeps z."""

    def __init__(self, rule, layer, nonnegative: bool = False):
        self.rule, self.op, self.nonnegative = rule, linear_of(layer), nonnegative

    def forward(self, call, xs):
        layer, x = call.layer, xs[0]
        if not self.rule.uses_forward_z or call.kwargs or not self.op.exact_forward(layer, x):
            return None
        z = self.op.apply(layer, x, self.op.kernels(layer), self.op.bias(layer))
        return [layer.activation(z)], z

    def __call__(self, call, xs, ys, Rs, kept=None):
        return [self.rule(self.op, call.layer, xs[0], Rs[0], z=kept,
                          nonnegative=self.nonnegative)]


class _Affine:
    """``BatchNormalization`` in inference as the linear layer ``y = k x + b`` with
    ``k = gamma / sqrt(var + eps)`` and ``b = beta - mean k`` (per channel)."""

    @staticmethod
    def parameters(bn):
        k = bn.gamma / tf.sqrt(bn.moving_variance + bn.epsilon) if bn.scale else \
            1.0 / tf.sqrt(bn.moving_variance + bn.epsilon)
        b = -bn.moving_mean * k + (bn.beta if bn.center else 0.0)
        return k, b

    def kernels(self, layer):
        return [self.parameters(layer)[0]]

    def bias(self, layer):
        return self.parameters(layer)[1]

    def apply(self, layer, x, kernels, bias=None):
        z = x * kernels[0]
        return z if bias is None else self.add_bias(layer, z, bias)

    def add_bias(self, layer, z, bias):
        return z + bias

    def exact_forward(self, layer, x):
        return False


class AffineRule:
    """An LRP rule on a batch-norm layer read as the affine map ``k x + b``
    (iNNvestigate's ``bn_layer_rule``)."""

    def __init__(self, rule):
        self.rule, self.op = rule, _Affine()

    def __call__(self, call, xs, ys, Rs):
        return [self.rule(self.op, call.layer, xs[0], Rs[0])]


class BatchNormDefault:
    """iNNvestigate's default batch-norm mapping (``bn_layer_rule=None``):
    R_in = x (y - beta) R / ((x - mu) y), the denominator stabilised by 1e-7 sign."""

    def __call__(self, call, xs, ys, Rs):
        bn, x, y, R = call.layer, xs[0], ys[0], Rs[0]
        y_minus_beta = y - bn.beta if bn.center else y
        d = (x - bn.moving_mean) * y
        d = d + (tf.cast(d >= 0, d.dtype) * 2 - 1) * K.epsilon()
        return [safe_divide(x * y_minus_beta * R, d)]


class LayerNormLinear:
    """The LN-rule of Ali et al. (ICML 2022) for ``LayerNormalization`` over the channels:
    the layer made linear by holding its standard deviation fixed,
    y = gamma (x - mean(x)) / sigma + beta with sigma = sqrt(var(x) + eps) a constant, and
    the z rule on that map, R_in = x * J^T (R / y) (J = d y / d x with sigma fixed)."""

    def __call__(self, call, xs, ys, Rs):
        ln, x, R = call.layer, xs[0], Rs[0]
        with tf.GradientTape() as tape:
            tape.watch(x)
            mean, var = tf.nn.moments(x, axes=[-1], keepdims=True)
            y = (x - mean) / tf.stop_gradient(tf.sqrt(var + ln.epsilon))
            y = y * ln.gamma if ln.scale else y
            y = y + ln.beta if ln.center else y
        return [x * tape.gradient(y, x, output_gradients=safe_divide(R, y))]


class GatedSignal:
    """``Multiply`` gating (squeeze-and-excitation, x * sigmoid(s)): all relevance goes to
    the signal path, none to the gate. The gate is the input broadcast over the other
    (fewer elements); with equal shapes, the first input is the signal. The gate gets
    ``None``: no relevance, so the walk skips the gate's branch (zeros all the way)."""

    def __call__(self, call, xs, ys, Rs):
        sizes = [x.shape[1:].num_elements() or 0 for x in xs]
        signal = max(range(len(xs)), key=lambda i: (sizes[i], -i))
        return [Rs[0] if i == signal else None for i in range(len(xs))]
