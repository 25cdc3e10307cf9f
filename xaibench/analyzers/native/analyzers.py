"""The iNNvestigate 2.1.2 analyzers on xaibench's own eager engine.

Same names, parameters and numbers as iNNvestigate (``tests/test_innvestigate_differential.py``
compares them with iNNvestigate run directly), in the user's eager session:

* the gradient family (``gradient``, ``input_t_gradient``, ``smoothgrad``,
  ``integrated_gradients``) differentiates the model with a ``GradientTape``: the
  canonized model where :func:`xaibench.prepare` accepts it (the same function, with
  batch norm folded: its forward and backward ops are saved, a quarter of
  ``mnist_cnn``'s time), else the user's own model with its softmax stripped: any
  differentiable Keras model, subclassed ones included;
* ``deconvnet`` and ``guided_backprop`` differentiate the same way, with the backward
  pass of every ReLU-like activation swapped while the tape is traced
  (:mod:`~xaibench.analyzers.native.relu_backward`; the same numbers as the layer walk
  and one pass instead of a forward plus a walk);
* the LRP family and Deep Taylor walk the canonized model
  (:func:`xaibench.prepare`: softmax removed, batch norm folded, activations
  merged) with the composite's rule per layer.

Every traced function first re-derives the canonized model's folded weights from the
user's (``sync`` in ``xaibench/prepare.py``): an analyzer follows the user's weights after
training, as one on the user's own model does.

``jit_compile=True`` compiles the walk with XLA (measured in
``benchmarks/analyzer_overhead.py``; off by default on CPU).

``batch_size=None`` (the default) analyzes as many images per traced call as keep the
model's forward activations within ``ACTIVATION_BUDGET`` bytes (the whole input for
small models: each call costs a few ms of dispatch, which dominated on ``mnist_cnn``);
32 where the activations' size cannot be read (subclassed models).
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench._keras import is_graph_model
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.innvestigate_names import SPECS, check_layer_count, validate
from xaibench.analyzers.native import composites as C
from xaibench.analyzers.native import rules as R
from xaibench.analyzers.native.engine import ReverseWalk, select
from xaibench.analyzers.native.graph import trace
from xaibench.analyzers.native.relu_backward import modified_relus
from xaibench.prepare import sync

DEFAULT_BATCH_SIZE = 32            # where the activations' size is unknown
#: bytes of forward activations per traced call when ``batch_size=None`` (the walk keeps
#: them all, and about as much again for the backward signal)
ACTIVATION_BUDGET = 1 << 30


def activation_floats(model) -> int | None:
    """Floats per image in the outputs of every layer of a functional or Sequential
    model (nested models included), or None when they cannot be read."""
    total = 0
    try:
        for layer in model._flatten_layers(include_self=False):
            if isinstance(layer, tf.keras.Model):
                inner = activation_floats(layer)
                if inner is None:
                    return None
                total += inner
                continue
            for t in tf.nest.flatten(layer.output):
                total += int(np.prod([d for d in tuple(t.shape)[1:] if d is not None]))
    except (AttributeError, ValueError, RuntimeError, TypeError):
        return None
    return total or None


def auto_batch_size(model) -> int:
    """Images per call that keep the forward activations within ``ACTIVATION_BUDGET``."""
    floats = activation_floats(model)
    if floats is None:
        return DEFAULT_BATCH_SIZE
    return max(1, ACTIVATION_BUDGET // (4 * floats))

#: iNNvestigate's fixed-rule LRP classes: name -> (rule, bn_layer_rule)
_FIXED = {
    "lrp.z": ("Z", "Z"), "lrp.w_square": ("WSquare", "WSquare"), "lrp.flat": ("Flat", "Flat"),
    "lrp.alpha_2_beta_1": ("Alpha2Beta1", "Alpha2Beta1"),
    "lrp.alpha_2_beta_1_IB": ("Alpha2Beta1IgnoreBias", "Alpha2Beta1IgnoreBias"),
    "lrp.alpha_1_beta_0": ("Alpha1Beta0", "Alpha1Beta0"),
    "lrp.alpha_1_beta_0_IB": ("Alpha1Beta0IgnoreBias", "Alpha1Beta0IgnoreBias"),
    "lrp.z_plus": ("ZPlus", "Alpha1Beta0IgnoreBias"), "lrp.z_plus_fast": ("ZPlusFast", "ZPlusFast"),
}


def lrp_composite(recipe: str, p: dict) -> C.LRPComposite:
    """The composite of an iNNvestigate LRP name (or xaibench's cmp / cam recipes)."""
    until = None
    if p.get("until_layer_idx") is not None and p.get("until_layer_rule") is not None:
        until = (p["until_layer_idx"], p["until_layer_rule"])
    common = dict(input_rule=p.get("input_layer_rule"), until=until)
    if recipe == "cmp":
        return C.COMPOSITES["lrp.cmp_flat_until"](p["flat_layers"], p["alpha"], p["epsilon"])
    if recipe == "cam":
        return C.COMPOSITES["lrp.cam"]()
    if recipe == "lrp":
        rule = p["rule"]
        rules = [(lambda layer: True, rule)] if isinstance(rule, str) else list(rule)
        if not isinstance(rule, str) and common["input_rule"] is not None:
            rules.insert(0, common.pop("input_rule"))     # a plain list: popped last
        return C.LRPComposite(rules, bn_rule=p.get("bn_layer_rule"), **common)
    if recipe in _FIXED:
        rule, bn = _FIXED[recipe]
        return C.LRPComposite([(lambda layer: True, rule)], bn_rule=bn, **common)
    if recipe == "lrp.epsilon":
        rule = R.Epsilon(p.get("epsilon", 1e-7), p.get("bias", True))
        return C.LRPComposite([(lambda layer: True, rule)], bn_rule=rule, **common)
    if recipe == "lrp.alpha_beta":
        rule = R.AlphaBeta(p.get("alpha"), p.get("beta"), p.get("bias", True))
        return C.LRPComposite([(lambda layer: True, rule)], bn_rule=rule, **common)
    if recipe.startswith("lrp.sequential_preset_"):
        base = recipe[:len("lrp.sequential_preset_a")]        # preset a or b
        if recipe.endswith("_flat"):
            common["input_rule"] = "Flat"
        if recipe.endswith("_until_idx"):
            common["input_rule"] = "Flat"
            common["until"] = (p["until_layer_idx"], R.Flat())
        return C.COMPOSITES[base](p["epsilon"], p.get("bn_layer_rule", R.AlphaBetaX2m100()),
                                  **common)
    raise KeyError(recipe)  # pragma: no cover - every SPECS recipe is handled above


def _canonized(model):
    """``cached_prepare(model)``, or None where prepare does not accept the model
    (subclassed, or a layer it has no rule for: the gradient needs none)."""
    from xaibench.prepare import cached_prepare

    if not is_graph_model(model):
        return None
    try:
        return cached_prepare(model)
    except ValueError:                  # UnsupportedLayerError, UntraceableModel
        return None


def explained_net(model):
    """What the gradient family differentiates: the model without its final softmax
    (a functional or Sequential model), or a subclassed model's own output (it cannot
    be cut; return logits from ``call`` to explain logits)."""
    if is_graph_model(model):
        from xaibench.prepare import logits_model

        return logits_model(model)
    return model


def _warn_non_relu(graph) -> None:
    """iNNvestigate's presets check (of type "warning"): not advised off ReLU networks."""
    names = sorted({C.activation_name(c.layer) for c in graph.calls
                    if hasattr(c.layer, "activation") and not C.only_relu(c.layer)})
    if names:
        warnings.warn("LRPSequentialPreset is not advised for networks with non-ReLU "
                      f"activations (this model has {', '.join(names)}).", stacklevel=4)


class NativeAnalyzer(Analyzer):
    """An iNNvestigate analyzer name computed by xaibench's eager engine."""

    def __init__(self, model, name: str, batch_size: int | None = None,
                 jit_compile: bool = False, **params):
        spec = SPECS[name]
        self.batch_size = auto_batch_size(model) if batch_size is None else \
            int(check_in_range("batch_size", batch_size, 1, integer=True))
        if not isinstance(jit_compile, (bool, np.bool_)):
            raise TypeError(f"jit_compile must be True or False, got {jit_compile!r}.")
        self.jit_compile = bool(jit_compile)
        p = validate(name, spec, params, model)
        super().__init__(model, **params)
        self.recipe, self.p = spec.recipe, p
        self._walk, self.prepared_model = None, None
        self._grad_fns = {}
        family = spec.family
        if family == "gradient":
            self.prepared_model = _canonized(model)
        elif family in ("lrp", "deep_taylor"):
            from xaibench.prepare import cached_prepare

            self.prepared_model = cached_prepare(model)
            check_layer_count(name, p, self.prepared_model)
            graph = trace(self.prepared_model)
            if self.recipe.startswith("lrp.sequential_preset"):
                _warn_non_relu(graph)
            if family == "lrp":
                self._walk = ReverseWalk(graph, lrp_composite(self.recipe, p).mappings(
                    graph, self.prepared_model))
            else:
                bounds = (p["low"], p["high"]) if self.recipe == "deep_taylor.bounded" else None
                self._walk = ReverseWalk(graph, C.deep_taylor_mappings(graph, bounds),
                                         positive_output=True)

    # ------------------------------------------------------------------ analysis

    def _analyze(self, x, neuron_selection):
        out = np.empty_like(x)
        for i in range(0, len(x), self.batch_size):
            sel = None if neuron_selection is None else neuron_selection[i:i + self.batch_size]
            out[i:i + self.batch_size] = self._batch(x[i:i + self.batch_size], sel, i)
        return out

    def _batch(self, x, sel, offset):
        recipe = self.recipe
        if recipe == "input":
            return x
        if recipe == "random":
            return x + self._noise(x, offset, (), self.p.get("stddev", 1.0))
        xt = tf.constant(x)
        st = None if sel is None else tf.constant(sel, tf.int64)
        if self._walk is not None:
            fn = self._walk.function(st is not None, self.jit_compile)
            return (fn(xt) if st is None else fn(xt, st)).numpy()
        if recipe in ("deconvnet", "guided_backprop"):
            return self._gradient(xt, st, head="value", relus=recipe).numpy()
        if recipe in ("gradient", "gradient.baseline"):
            return self._post(self._gradient(xt, st)).numpy()
        if recipe == "input_t_gradient":
            return (xt * self._gradient(xt, st)).numpy()
        if st is None:                 # the wrappers explain the top class of the clean image
            st = tf.argmax(self._logits(xt), axis=-1)
        if recipe == "integrated_gradients":
            return self._integrated(xt, st).numpy()
        if recipe == "smoothgrad":
            return self._smoothed(x, st, offset)
        raise KeyError(recipe)  # pragma: no cover

    def _logits(self, x):
        out = explained_net(self.model)(x, training=False)
        return tf.reshape(out, [tf.shape(out)[0], -1])

    def _gradient(self, x, sel, head: str = "ones", relus: str | None = None):
        """d selected output / d x on the user's model (softmax stripped), traced once;
        ``head="value"`` scales by the output's value, ``relus`` swaps the ReLUs'
        backward pass (:mod:`~xaibench.analyzers.native.relu_backward`)."""
        key = (sel is not None, head, relus)
        if key not in self._grad_fns:
            prepared = self.prepared_model
            net = explained_net(self.model) if prepared is None else prepared
            swapped = self.model if prepared is None else prepared

            def grad(x, s=None):
                sync(prepared)
                with contextlib.ExitStack() as stack:
                    if relus is not None:
                        stack.enter_context(modified_relus(swapped, relus))
                    with tf.GradientTape() as tape:
                        tape.watch(x)
                        out = net(x, training=False)
                        logits = tf.reshape(out, [tf.shape(out)[0], -1])
                        chosen = select(logits, s)
                    seed = chosen if head == "value" else tf.ones_like(chosen)
                    return tape.gradient(chosen, x, output_gradients=seed)

            fn = tf.function(grad if key[0] else (lambda x: grad(x)),
                             jit_compile=self.jit_compile, reduce_retracing=True)
            self._grad_fns[key] = fn
        fn = self._grad_fns[key]
        return fn(x, sel) if key[0] else fn(x)

    def _post(self, g):
        post = self.p.get("postprocess")
        return tf.abs(g) if post == "abs" else tf.square(g) if post == "square" else g

    def _integrated(self, x, sel):
        """Integrated gradients (Sundararajan et al. 2017, eq. 3 as a Riemann sum):
        (x - x') * 1/m sum_{k=0}^{m-1} grad f(x' + k/m (x - x')), iNNvestigate's steps."""
        steps = self.p.get("steps", 64)
        ref = tf.broadcast_to(tf.constant(self.p.get("reference_inputs", 0.0), tf.float32),
                              tf.shape(x))
        diff = x - ref
        total = tf.zeros_like(x)
        for k in range(steps):
            total += self._post(self._gradient(ref + diff * (k / steps), sel))
        return total / steps * diff

    def _smoothed(self, x, sel, offset):
        """SmoothGrad (Smilkov et al. 2017): 1/n sum_k grad f(x + N(0, sigma^2)),
        sigma = ``noise_scale`` (1 by default), noise seeded by (seed, image offset)."""
        n = self.p.get("augment_by_n", 64)
        sigma = self.p.get("noise_scale", 1.0)
        noise = self._noise(x, offset, (n,), sigma)
        total = np.zeros_like(x)
        for k in range(n):
            total += self._post(self._gradient(tf.constant(x + noise[:, k]), sel)).numpy()
        return total / n

    def _noise(self, x, offset, extra: tuple, sigma: float) -> np.ndarray:
        """N(0, sigma^2) noise per image, drawn from (seed, global image index): the same
        numbers whatever the batch size."""
        seed = self.p["seed"]
        draws = [np.random.default_rng([seed, offset + j]).normal(0.0, sigma, extra + x.shape[1:])
                 for j in range(len(x))]
        return np.stack(draws).astype(np.float32)
