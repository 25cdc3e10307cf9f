"""PatternNet and PatternAttribution (Kindermans et al., ICLR 2018), native TF2.

Names and behaviour follow iNNvestigate 1.x (2.x dropped both methods)::

    an = xb.create_analyzer("pattern.attribution", model, pattern_type="relu")
    an.fit(x_train, batch_size=32)          # one pass, streaming statistics
    an.save_patterns("vgg16_patterns.npz")  # later: create_analyzer(..., patterns="vgg16_patterns.npz")
    R = an.analyze(x)

Both methods run the model's forward pass (ReLU states, max-pooling switches)
and replace, in the backward pass, each kernel layer's filter ``w`` by

* PatternNet: the pattern ``a``; the result is the signal estimate
  ``s = a y`` back-projected to input space,
* PatternAttribution: ``w ⊙ a``; the result is a relevance map
  (an LRP / Deep Taylor root-point rule with root point ``x0 = x - a w^T x``).

The backward pass starts from the explained logit ``y_c`` (iNNvestigate's
identity head) and passes ReLUs, pooling, Flatten, Add, ... like the gradient:
``r^{l-1} = P^T (relu'(z^l) ⊙ r^l)`` with ``P = a`` or ``P = w ⊙ a``.
It is computed as the gradient of a surrogate network whose kernel layers output
``stop_gradient(w^T x + b) + (P^T x - stop_gradient(P^T x))`` (value of the
model, gradient of ``P``). PatternNet rescales the backward signal per image
after every kernel layer and returns heatmaps in [-1, 1] (iNNvestigate 1.x's
``reverse_project_bottleneck_layers=True``; only the direction of the signal is
meaningful); PatternAttribution does not by default, so its heatmaps keep the
scale of ``y_c``. Both accept ``reverse_project_bottleneck_layers=True/False``.
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from xaibench._checks import check_images, check_in_range
from xaibench.analyzers.base import Analyzer, run_in_batches
from xaibench.analyzers.patterns import (PATTERN_TYPES, LayerGraph, PatternStatistics,
                                         activation_name, check_pattern_model, iterate_batches,
                                         linear_op, pre_activation)
from xaibench.analyzers.registry import register
from xaibench.prepare import prepare

_META = "__pattern_type__"


def _unit_max_abs(t):
    """Each image's tensor divided by its max |value| (left as is when all zero)."""
    m = tf.reduce_max(tf.abs(t), axis=list(range(1, t.shape.rank)), keepdims=True)
    return t / tf.where(m > 0, m, tf.ones_like(m))


@tf.custom_gradient
def _project_backward(t):
    """Identity forward; rescales the backward signal of each image to max |r| = 1."""
    return tf.identity(t), _unit_max_abs


class PatternsNotFittedError(RuntimeError):
    """``analyze`` was called before ``fit`` and without ``patterns=``."""


class PatternNet(Analyzer):
    """PatternNet: back-projects the signal ``s = a y`` with the learned patterns.

    Parameters: ``pattern_type`` ("relu": two-component estimator ``S_a+-``;
    "linear": ``S_a``, ``a = cov(x, y) / (w^T cov(x, y))``), ``patterns`` (None, the
    path of an ``.npz`` written by :meth:`save_patterns`, a list in kernel-layer
    order as iNNvestigate 1.x, or a dict ``{layer name: array}``), ``batch_size``
    of :meth:`analyze` (64), ``reverse_project_bottleneck_layers`` (True, as in
    iNNvestigate 1.x: the backward signal is rescaled to max |r| = 1 per image after
    every kernel layer and the heatmap to [-1, 1]; PatternNet's signal can otherwise
    overflow float32 in deep networks, e.g. 4e32 on a random-weight VGG-16).
    """

    uses_weights = False

    #: iNNvestigate's reverse_project_bottleneck_layers default of this method
    default_project = True

    def __init__(self, model, pattern_type="relu", patterns=None, batch_size=64,
                 reverse_project_bottleneck_layers=None):
        super().__init__(model, pattern_type=pattern_type, batch_size=batch_size,
                         reverse_project_bottleneck_layers=reverse_project_bottleneck_layers)
        project = reverse_project_bottleneck_layers
        if project is None:
            project = self.default_project
        if not isinstance(project, (bool, np.bool_)):
            raise TypeError("reverse_project_bottleneck_layers must be True, False or None, "
                            f"got {project!r}.")
        self.project = bool(project)
        if pattern_type not in PATTERN_TYPES:
            raise ValueError(f"pattern_type={pattern_type!r} is not supported; use one of "
                             f"{', '.join(map(repr, PATTERN_TYPES))}.")
        self.pattern_type = pattern_type
        self.batch_size = check_in_range("batch_size", batch_size, 1, integer=True)
        self.prepared = prepare(model)
        self.graph = LayerGraph(self.prepared)
        check_pattern_model(self.graph)
        self.kernel_layers = self.graph.kernel_layers
        self.patterns = None
        self.fitted_images = 0
        self._backward = None
        if patterns is not None:
            self.set_patterns(patterns)

    # ------------------------------------------------------------------ patterns

    def fit(self, x, batch_size: int = 32, steps=None, verbose: bool = False):
        """Learn the patterns in one pass over ``x`` (an array ``(N, H, W, C)``, or an
        iterable of batches / ``(x, y)`` tuples such as a ``tf.data.Dataset``);
        ``steps`` limits the number of batches. Memory does not grow with N."""
        check_in_range("batch_size", batch_size, 1, integer=True)
        if steps is not None:
            check_in_range("steps", steps, 1, integer=True)
        if isinstance(x, (list, tuple)) or tf.is_tensor(x):
            x = np.asarray(x)
        if isinstance(x, np.ndarray):
            x = check_images(x, self.model)
        stats = PatternStatistics(self.prepared, self.pattern_type)
        batches = iterate_batches(x, batch_size, steps)
        if verbose:
            from tqdm.auto import tqdm
            batches = tqdm(batches, desc=f"fit {self.name or 'patterns'}", unit="batch")
        for batch in batches:
            stats.update(check_images(batch, self.model, name="batch"))
        if stats.images == 0:
            raise ValueError("fit saw no images; pass a non-empty array or iterable of batches.")
        self.set_patterns(stats.patterns())
        self.fitted_images = stats.images
        return self

    def fit_generator(self, generator, steps_per_epoch=None, verbose: bool = False):
        """iNNvestigate 1.x spelling of :meth:`fit` on an iterable of batches."""
        return self.fit(generator, steps=steps_per_epoch, verbose=verbose)

    def set_patterns(self, patterns) -> None:
        """Use ``patterns`` (path, list in kernel-layer order, or dict by layer name)."""
        names = [layer.name for layer in self.kernel_layers]
        if isinstance(patterns, (str, os.PathLike)):
            path = os.fspath(patterns)
            if not os.path.isfile(path):
                raise FileNotFoundError(f"pattern file {path!r} does not exist; write one with "
                                        "an.save_patterns(path) after an.fit(x).")
            with np.load(path, allow_pickle=False) as data:
                stored = str(data[_META]) if _META in data.files else None
                patterns = {k: data[k] for k in data.files if k != _META}
            if stored is not None and stored != self.pattern_type:
                raise ValueError(f"{path!r} holds {stored!r} patterns but the analyzer has "
                                 f"pattern_type={self.pattern_type!r}; pass pattern_type={stored!r}.")
        if isinstance(patterns, (list, tuple)):
            if len(patterns) != len(names):
                raise ValueError(f"got {len(patterns)} patterns for {len(names)} kernel layers "
                                 f"({', '.join(names)}); pass one per Dense/Conv layer in order.")
            patterns = dict(zip(names, patterns))
        if not isinstance(patterns, dict):
            raise TypeError("patterns must be a path to an .npz file, a list or a dict of arrays, "
                            f"got {type(patterns).__name__}.")
        missing = [n for n in names if n not in patterns]
        extra = [n for n in patterns if n not in names]
        if missing or extra:
            raise ValueError(f"patterns do not match the model's kernel layers: missing "
                             f"{missing}, unknown {extra}; expected {names}.")
        checked = {}
        for layer in self.kernel_layers:
            p = np.asarray(patterns[layer.name], dtype=np.float32)
            if p.shape != tuple(layer.kernel.shape):
                raise ValueError(f"pattern of layer {layer.name!r} has shape {p.shape}; its "
                                 f"kernel has shape {tuple(layer.kernel.shape)}.")
            if not np.all(np.isfinite(p)):
                raise ValueError(f"pattern of layer {layer.name!r} contains NaN or inf.")
            checked[layer.name] = p
        self.patterns = checked
        self._backward = None

    def get_patterns(self) -> list:
        """The patterns as a list in kernel-layer order (iNNvestigate 1.x layout)."""
        self._require_patterns()
        return [self.patterns[layer.name] for layer in self.kernel_layers]

    def save_patterns(self, path) -> None:
        """Write the patterns to ``path`` (``.npz``, one array per layer name)."""
        self._require_patterns()
        arrays = dict(self.patterns)
        arrays[_META] = np.array(self.pattern_type)
        np.savez(path, **arrays)

    def _require_patterns(self):
        if self.patterns is None:
            raise PatternsNotFittedError(
                f"{self.name or type(self).__name__} has no patterns: call an.fit(x_train) "
                "first, or pass patterns= (a file written by an.save_patterns) to create_analyzer.")

    # ------------------------------------------------------------------ analysis

    def _backward_kernels(self) -> dict:
        if self.uses_weights:   # PatternAttribution: w ⊙ a
            return {layer.name: layer.kernel.numpy() * self.patterns[layer.name]
                    for layer in self.kernel_layers}
        return dict(self.patterns)

    def _build(self):
        kernels = {n: tf.constant(k) for n, k in self._backward_kernels().items()}
        graph = self.graph

        project = self.project

        def hook(layer, inp):
            # value: act(w^T x + b) exactly; gradient: act'(z) * P^T (zp - sg(zp) == 0 exactly)
            z = tf.stop_gradient(pre_activation(layer, inp))
            zp = linear_op(layer, inp, kernels[layer.name])
            if activation_name(layer) == "relu":
                out = tf.nn.relu(z) + tf.cast(z > 0, z.dtype) * (zp - tf.stop_gradient(zp))
            else:
                out = z + (zp - tf.stop_gradient(zp))
            return _project_backward(out) if project else out

        shape = [None] + list(self.prepared.input_shape[1:])

        @tf.function(input_signature=[tf.TensorSpec(shape, tf.float32),
                                      tf.TensorSpec([None], tf.int64)])
        def backward(x, selection):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = graph.run(x, hook)
                top = tf.argmax(y, axis=-1, output_type=tf.int64)
                idx = tf.where(selection < 0, top, selection)
                yc = tf.gather(y, idx, axis=1, batch_dims=1)
                target = tf.reduce_sum(yc * tf.stop_gradient(yc))   # head: r^L = y_c
            r = tape.gradient(target, x)
            return _unit_max_abs(r) if project else r

        return backward

    def _analyze(self, x, neuron_selection):
        self._require_patterns()
        if self._backward is None:
            self._backward = self._build()
        return run_in_batches(self._backward, x, neuron_selection, self.batch_size)


class PatternAttribution(PatternNet):
    """PatternAttribution: LRP-style relevance with the filters ``w ⊙ a``
    (Kindermans et al., ``r^{l-1} = (w ⊙ a)^T r^l`` through active ReLUs,
    ``r^L = y_c``). Same parameters as :class:`PatternNet`, except that
    ``reverse_project_bottleneck_layers`` defaults to False: ``w^T a = 1`` keeps the
    relevance bounded, and the heatmap keeps the scale of ``y_c``."""

    uses_weights = True
    default_project = False


@register("pattern.net", "PatternNet (Kindermans et al. 2018): signal back-projected with learned "
          "patterns; needs fit(x) or patterns=", "pattern", analyzer=PatternNet)
def _pattern_net(model, **params):
    return PatternNet(model, **params)


@register("pattern.attribution", "PatternAttribution (Kindermans et al. 2018): LRP with w*a, "
          "patterns learned by fit(x) or given as patterns=", "pattern",
          analyzer=PatternAttribution)
def _pattern_attribution(model, **params):
    return PatternAttribution(model, **params)
