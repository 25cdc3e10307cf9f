"""The linear part ``z = W x + b`` of a kernel layer, computed with chosen weights.

Every LRP rule evaluates a layer's pre-activation with modified weights (W+, W-,
W^2, ones) and differentiates it; these functions compute it with the same ops
the Keras layer uses (so the numbers equal iNNvestigate's copied layers) while
reading the layer's own variables: no copy of the weights is made.
"""
from __future__ import annotations

import tensorflow as tf

from xaibench._keras import depthwise_kernel

L = tf.keras.layers


class LinearLayer:
    """How to compute the pre-activation of one kernel layer type."""

    def kernels(self, layer) -> list:
        raise NotImplementedError

    def bias(self, layer):
        return layer.bias if getattr(layer, "use_bias", False) else None

    def apply(self, layer, x, kernels: list, bias=None):
        raise NotImplementedError

    def add_bias(self, layer, z, bias):
        """``z + b`` per output channel (the op the Keras layer uses)."""
        return tf.nn.bias_add(z, bias, data_format="NHWC")

    def exact_forward(self, layer, x) -> bool:
        """Whether ``apply`` with the layer's own kernels and bias is the very op sequence
        of the Keras layer's call (then the forward pass may take its pre-activation
        from ``apply``)."""
        return False


class _Dense(LinearLayer):
    def kernels(self, layer):
        return [layer.kernel]

    def apply(self, layer, x, kernels, bias=None):
        (w,) = kernels
        z = tf.matmul(x, w) if x.shape.rank == 2 else tf.tensordot(x, w, [[x.shape.rank - 1], [0]])
        return z if bias is None else self.add_bias(layer, z, bias)

    def add_bias(self, layer, z, bias):
        return tf.nn.bias_add(z, bias)

    def exact_forward(self, layer, x):
        return x.shape.rank == 2          # Keras 2 and 3 both call matmul, then add the bias


class _Conv(LinearLayer):
    def kernels(self, layer):
        return [layer.kernel]

    def apply(self, layer, x, kernels, bias=None):
        (w,) = kernels
        groups = getattr(layer, "groups", 1)
        if groups == 1:
            z = layer.convolution_op(x, w)
        else:       # one convolution per group: TensorFlow has no CPU gradient of a grouped one
            z = tf.concat([layer.convolution_op(a, k) for a, k in
                           zip(tf.split(x, groups, axis=-1), tf.split(w, groups, axis=-1))],
                          axis=-1)
        return z if bias is None else self.add_bias(layer, z, bias)

    def add_bias(self, layer, z, bias):
        fmt = "N...C" if _channels_last(layer) else "NC..."
        return tf.nn.bias_add(z, bias, data_format=fmt)

    def exact_forward(self, layer, x):
        # the layer's convolution_op, then the bias
        return _channels_last(layer) and getattr(layer, "groups", 1) == 1


class _Depthwise(LinearLayer):
    def kernels(self, layer):
        return [depthwise_kernel(layer)]

    def apply(self, layer, x, kernels, bias=None):
        (w,) = kernels          # channels last: Keras' own tf.nn.depthwise_conv2d call
        z = tf.nn.depthwise_conv2d(x, w, strides=(1,) + tuple(layer.strides) + (1,),
                                   padding=layer.padding.upper(),
                                   dilations=tuple(layer.dilation_rate), data_format="NHWC")
        return z if bias is None else self.add_bias(layer, z, bias)

    def add_bias(self, layer, z, bias):
        # an add, not BiasAdd: TF 2.21's grappler rewrote DepthwiseConv2D + BiasAdd inside
        # the alpha-beta rule into a node without an op (and warned at every trace)
        return z + bias


class _Separable(LinearLayer):
    def kernels(self, layer):
        return [layer.depthwise_kernel, layer.pointwise_kernel]

    def apply(self, layer, x, kernels, bias=None):
        depthwise, pointwise = kernels
        z = tf.nn.separable_conv2d(x, depthwise, pointwise, strides=(1,) + layer.strides + (1,),
                                   padding=layer.padding.upper(), dilations=layer.dilation_rate,
                                   data_format="NHWC")
        return z if bias is None else self.add_bias(layer, z, bias)


class _ConvTranspose(LinearLayer):
    """Conv1D/2D/3DTranspose: the transpose of a convolution, ``tf.nn.conv_transpose`` to
    the layer's own output size (its ``output_padding`` included)."""

    def kernels(self, layer):
        return [layer.kernel]       # (..., filters, in channels)

    def apply(self, layer, x, kernels, bias=None):
        (w,) = kernels
        size = tuple(layer.compute_output_shape(tuple(x.shape)))[1:]
        shape = tf.concat([tf.shape(x)[:1], tf.constant(size, tf.int32)], axis=0)
        z = tf.nn.conv_transpose(x, w, shape, strides=tuple(layer.strides),
                                 padding=layer.padding.upper(),
                                 dilations=tuple(layer.dilation_rate))
        return z if bias is None else self.add_bias(layer, z, bias)

    def add_bias(self, layer, z, bias):
        return tf.nn.bias_add(z, bias, data_format="N...C")


def _channels_last(layer) -> bool:
    return getattr(layer, "data_format", "channels_last") == "channels_last"


def linear_of(layer) -> LinearLayer | None:
    """The linear computation of ``layer``, or None when it has no kernel we know."""
    if isinstance(layer, L.Dense):
        return _Dense()
    if isinstance(layer, L.SeparableConv2D):
        return _Separable() if _channels_last(layer) else None
    if isinstance(layer, L.DepthwiseConv2D):
        return _Depthwise() if _channels_last(layer) else None
    if isinstance(layer, (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose)):
        return _ConvTranspose() if _channels_last(layer) else None
    if isinstance(layer, (L.Conv1D, L.Conv2D, L.Conv3D)):
        grouped_first = getattr(layer, "groups", 1) != 1 and not _channels_last(layer)
        return None if layer.padding == "causal" or grouped_first else _Conv()
    return None


def has_kernel(layer) -> bool:
    """iNNvestigate's ``contains_kernel``: the layer owns a kernel by Keras convention."""
    return any(hasattr(layer, a) for a in ("kernel", "depthwise_kernel", "pointwise_kernel"))
