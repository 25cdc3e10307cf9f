"""Streaming signal estimators of PatternNet / PatternAttribution (fit side).

Kindermans et al., ICLR 2018, "Learning how to explain neural networks:
PatternNet and PatternAttribution", Sec. 4. For one neuron with filter ``w``,
input ``x`` (a Dense input vector or a Conv patch) and output ``y = w^T x``:

* linear estimator ``S_a``:      ``a = cov(x, y) / (w^T cov(x, y))``
* two-component ReLU estimator ``S_a+-`` (its ``a_+`` part), over the inputs whose
  neuron is active (``w^T x + b > 0``), ``E+`` denoting means over them:
  ``a_+ = (E+[x y] - E+[x] E+[y]) / (w^T E+[x y] - w^T E+[x] E+[y])``

Both are computed from sums that are accumulated batch by batch in float64
(``n``, ``sum M x``, ``sum M y``, ``sum M x y`` with ``M`` the neuron mask, all
ones for "linear"), so memory depends on the layer sizes, never on the
number of images. A Conv neuron contributes one sample per output position
(its input patch, zero padding included); the ``sum x y`` terms of a Conv layer
are the kernel gradient ``X^T G`` of the convolution, computed without
materialising the patches.

Every kernel layer (Dense, Conv1D/2D/3D) of the prepared model gets a pattern
of its kernel's shape, the output layer included, as in iNNvestigate 1.x.
With ``"relu"`` the output layer (linear activation) also uses the ``y > 0``
mask, as iNNvestigate 1.x does. One difference from iNNvestigate 1.x: its
``E[y]`` term was averaged over all samples, here it is ``E+[y]`` as in the paper.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from xaibench.prepare import UnsupportedLayerError

L = tf.keras.layers

PATTERN_TYPES = ("relu", "linear")
KERNEL_TYPES = (L.Conv1D, L.Conv2D, L.Conv3D, L.Dense)
ALLOWED_ACTIVATIONS = ("relu", "linear")
_F64 = tf.float64


# --------------------------------------------------------------------------- graph walking

def activation_name(layer) -> str:
    act = getattr(layer, "activation", None)
    return "linear" if act is None else tf.keras.activations.serialize(act)


class LayerGraph:
    """The layer calls of a single-input, single-output functional model in
    topological order (:func:`~xaibench.analyzers.native.graph.trace`); ``run``
    evaluates them with a hook replacing every kernel layer's computation."""

    def __init__(self, model: tf.keras.Model):
        from xaibench.analyzers.native.graph import trace

        self.graph = trace(model)
        called = {id(c.layer) for c in self.graph.calls}
        self.layers = [c.layer for c in self.graph.calls]
        #: kernel layers in ``model.layers`` order (the order of iNNvestigate's pattern lists)
        self.kernel_layers = [layer for layer in model.layers if isinstance(layer, KERNEL_TYPES)
                              and id(layer) in called]

    def run(self, x, kernel_hook):
        """Evaluate the graph on ``x``; ``kernel_hook(layer, inp)`` computes each
        kernel layer's output. Returns the output."""
        graph = self.graph
        values = {graph.input: x}
        for call in graph.calls:
            args = call.arguments(values)
            if isinstance(call.layer, KERNEL_TYPES):
                out = kernel_hook(call.layer, args)
            else:
                out = call.layer(args, **call.kwargs)
            for k, t in zip(call.outputs, tf.nest.flatten(out)):
                values[k] = t
        return values[graph.output]


def linear_op(layer, x, kernel):
    """The layer's linear map ``w^T x`` (no bias, no activation) with ``kernel``."""
    if isinstance(layer, L.Dense):
        return tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]])
    return layer.convolution_op(x, kernel)


def pre_activation(layer, x):
    """``w^T x + b`` of a kernel layer, computed with its own weights."""
    z = linear_op(layer, x, layer.kernel)
    if layer.use_bias:
        z = z + tf.cast(layer.bias, z.dtype)
    return z


def check_pattern_model(graph: LayerGraph) -> None:
    """Refuse layers PatternNet is not defined for, naming them."""
    kernels = graph.kernel_layers
    if not kernels:
        raise UnsupportedLayerError(
            "the model has no Dense or Conv layer; PatternNet/PatternAttribution learn one "
            "pattern per kernel layer.")
    for layer in kernels:
        act = activation_name(layer)
        if act not in ALLOWED_ACTIVATIONS:
            raise UnsupportedLayerError(
                f"layer {layer.name!r} of type {type(layer).__name__} has activation {act!r}; "
                "PatternNet/PatternAttribution are defined for ReLU networks (relu or linear "
                "activations only).")
        if isinstance(layer, L.Conv1D) and layer.padding == "causal":
            raise UnsupportedLayerError(
                f"layer {layer.name!r} of type Conv1D uses causal padding, which is not supported.")


# --------------------------------------------------------------------------- statistics

#: float64 elements per accumulator block: X^T G is computed and added one block
#: of output neurons at a time, so a batch's temporaries stay below ~64 MB per layer
BLOCK_ELEMENTS = 2 ** 23


class _LayerStats:
    """float64 running sums of one kernel layer (tf.Variables, updated in place),
    the ``(dim, units)`` sums split into blocks of output neurons."""

    def __init__(self, layer, pattern_type):
        kshape = tuple(int(s) for s in layer.kernel.shape)
        self.layer = layer
        self.kshape = kshape
        self.units = kshape[-1]
        self.dim = int(np.prod(kshape[:-1]))
        # linear Dense: the mask is all ones, E[x] is one vector shared by all neurons
        self.shared = pattern_type == "linear" and isinstance(layer, L.Dense)
        step = max(1, BLOCK_ELEMENTS // self.dim)
        if getattr(layer, "groups", 1) != 1:   # grouped conv: kernel gradient needs all channels
            step = self.units
        self.blocks = [(c0, min(c0 + step, self.units)) for c0 in range(0, self.units, step)]
        z = lambda shape: tf.Variable(tf.zeros(shape, _F64), trainable=False)  # noqa: E731
        self.n = z((self.units,))
        self.sy = z((self.units,))
        self.sx = [z((self.dim, 1))] if self.shared else [z((self.dim, c1 - c0))
                                                             for c0, c1 in self.blocks]
        self.sxy = [z((self.dim, c1 - c0)) for c0, c1 in self.blocks]


def _xt_g(layer, x64, g64, kshape):
    """``X^T G`` summed over samples and positions, shaped ``(dim, units_of_g)``.

    Dense: a matrix product over all leading axes. Conv: the gradient of
    ``sum(conv(x, K) * G)`` with respect to ``K``, i.e. sum over output
    positions of ``patch(x) g^T`` (no patch tensor is built)."""
    if isinstance(layer, L.Dense):
        d = x64.shape[-1]
        x2 = tf.reshape(x64, [-1, d])
        g2 = tf.reshape(g64, [-1, g64.shape[-1]])
        return tf.matmul(x2, g2, transpose_a=True)
    with tf.GradientTape() as tape:
        k0 = tf.zeros(kshape[:-1] + (g64.shape[-1],), _F64)
        tape.watch(k0)
        out = layer.convolution_op(x64, k0)
    grad = tape.gradient(out, k0, output_gradients=g64)
    return tf.reshape(grad, [-1, g64.shape[-1]])


class PatternStatistics:
    """Streaming sufficient statistics of every kernel layer of a prepared model.

    ``update(batch)`` adds one batch; ``patterns()`` returns ``{layer name:
    pattern of the kernel's shape}`` (float32) from the sums seen so far.
    """

    def __init__(self, model: tf.keras.Model, pattern_type: str = "relu"):
        if pattern_type not in PATTERN_TYPES:
            raise ValueError(f"pattern_type={pattern_type!r} is not supported; use one of "
                             f"{', '.join(map(repr, PATTERN_TYPES))}.")
        self.model = model
        self.pattern_type = pattern_type
        self.graph = LayerGraph(model)
        check_pattern_model(self.graph)
        self.stats = {layer.name: _LayerStats(layer, pattern_type)
                      for layer in self.graph.kernel_layers}
        self.images = 0
        shape = [None] + list(model.input_shape[1:])
        self._step = tf.function(self._update, input_signature=[tf.TensorSpec(shape, tf.float32)])

    def _update(self, x):
        relu = self.pattern_type == "relu"

        def hook(layer, inp):
            st = self.stats[layer.name]
            wx = linear_op(layer, inp, layer.kernel)
            z = wx + layer.bias if layer.use_bias else wx
            x64 = tf.cast(inp, _F64)
            y64 = tf.cast(wx, _F64)                       # y = w^T x (paper: no bias)
            m64 = tf.cast(z > 0, _F64) if relu else tf.ones_like(y64)   # active: w^T x + b > 0
            my = m64 * y64
            axes = list(range(y64.shape.rank - 1))
            st.n.assign_add(tf.reduce_sum(m64, axes))
            st.sy.assign_add(tf.reduce_sum(my, axes))
            for (c0, c1), acc in zip(st.blocks, st.sxy):
                acc.assign_add(_xt_g(layer, x64, my[..., c0:c1], st.kshape))
            if st.shared:
                st.sx[0].assign_add(tf.reshape(
                    tf.reduce_sum(tf.reshape(x64, [-1, st.dim]), 0), [st.dim, 1]))
            else:
                for (c0, c1), acc in zip(st.blocks, st.sx):
                    acc.assign_add(_xt_g(layer, x64, m64[..., c0:c1], st.kshape))
            return layer.activation(z)

        self.graph.run(x, hook)
        return tf.constant(0)

    def update(self, batch: np.ndarray) -> None:
        self._step(tf.convert_to_tensor(batch, tf.float32))
        self.images += int(batch.shape[0])

    def patterns(self) -> dict:
        """Patterns from the accumulated sums (``S_a`` / ``S_a+-`` of Kindermans et al.),
        computed one block of neurons at a time to keep temporaries small."""
        out = {}
        for name, st in self.stats.items():
            n_all = st.n.numpy()
            ey_all = st.sy.numpy() / np.where(n_all > 0, n_all, 1.0)
            a = np.empty((st.dim, st.units), np.float32)
            for b, (c0, c1) in enumerate(st.blocks):
                n = n_all[c0:c1]
                safe_n = np.where(n > 0, n, 1.0)
                if st.shared:
                    ex = st.sx[0].numpy() / max(n_all.max(), 1.0)      # (dim, 1)
                else:
                    ex = st.sx[b].numpy() / safe_n
                cov = st.sxy[b].numpy() / safe_n                      # E+[x y]
                cov -= ex * ey_all[None, c0:c1]                       # - E+[x] E+[y]
                cov[:, n == 0] = 0.0                                  # never active: no pattern
                w = tf.reshape(st.layer.kernel[..., c0:c1], [st.dim, c1 - c0]).numpy()
                denom = np.einsum("dk,dk->k", w.astype(np.float64), cov)   # w^T cov(x, y)
                np.divide(cov, denom[None, :], out=cov, where=denom[None, :] != 0)
                cov[:, denom == 0] = 0.0
                a[:, c0:c1] = cov
            out[name] = a.reshape(st.kshape)
        return out


def iterate_batches(x, batch_size: int, steps=None):
    """Batches of an array, or the items of an iterable of batches (``x`` or
    ``(x, y)`` tuples, e.g. a ``tf.data.Dataset``), at most ``steps`` of them."""
    if isinstance(x, np.ndarray) or (hasattr(x, "shape") and hasattr(x, "__getitem__")
                                     and not isinstance(x, tf.data.Dataset)):
        n = int(x.shape[0])
        total = -(-n // batch_size)
        if steps is not None:
            total = min(total, steps)
        for i in range(total):
            yield x[i * batch_size:(i + 1) * batch_size]
        return
    for i, item in enumerate(x):
        if steps is not None and i >= steps:
            return
        if isinstance(item, (tuple, list)):
            item = item[0]
        yield np.asarray(item)
