"""The backward walk: one forward pass that keeps every tensor, then each layer call's
mapping in reverse order, summing what reaches a tensor from several consumers (a call
none of whose outputs gets relevance is not walked: a gate's branch).
A mapping with a ``forward`` step runs its call in the forward pass and gets what it
kept there as ``kept=`` (a kernel layer's pre-activation z, so that the epsilon and
z rules do not compute W x + b a second time).

It runs in the user's eager session as a ``tf.function`` (traced once per input
shape and selection mode), reading the model's own variables: no graph mode, no
worker process, no copy of the weights. On a model from :func:`xaibench.prepare` it
first re-derives the folded layers' weights from the user's (``sync`` in
``xaibench/prepare.py``).

The explained neuron, as in iNNvestigate: ``neuron_selection=None`` takes each
image's largest output (``reduce_max``, whose gradient splits ties evenly), an
index array gathers one output per image. The walk starts from 1 at the
selected output (``head="ones"``: the gradient family) or from its value
(``head="value"``: LRP, Deep Taylor); ``positive_output``
explains max(0, output) (Deep Taylor).
"""
from __future__ import annotations

import tensorflow as tf

from xaibench.analyzers.native.graph import forward_keeping
from xaibench.prepare import sync


def select(logits, selection):
    """The explained output per image: its maximum (selection None) or the indexed one."""
    if selection is None:
        return tf.reduce_max(logits, axis=-1)
    return tf.gather(logits, selection, axis=1, batch_dims=1)


def start(logits, selection, head: str):
    """The signal at the model output: d selected / d logits times 1 or the value."""
    with tf.GradientTape() as tape:
        tape.watch(logits)
        chosen = select(logits, selection)
    seed = tf.ones_like(chosen) if head == "ones" else chosen
    return tape.gradient(chosen, logits, output_gradients=seed)


class ReverseWalk:
    """``walk(x, selection) -> R`` at the input, for one model graph and one mapping per call."""

    def __init__(self, graph, mappings, head: str = "value", positive_output: bool = False):
        self.graph, self.mappings = graph, list(mappings)
        self.head, self.positive_output = head, positive_output
        self._fns = {}

    def walk(self, x, selection=None):
        graph = self.graph
        sync(graph.model)
        values, kept = forward_keeping(graph, x, self.mappings)
        out = values[graph.output]
        logits = tf.reshape(out, [tf.shape(out)[0], -1])
        if self.positive_output:
            with tf.GradientTape() as tape:
                tape.watch(logits)
                positive = tf.nn.relu(logits)
            R = tape.gradient(positive, logits,
                              output_gradients=start(positive, selection, self.head))
        else:
            R = start(logits, selection, self.head)
        relevance = {graph.output: tf.reshape(R, tf.shape(out))}
        for i in reversed(range(len(graph.calls))):
            call, mapping = graph.calls[i], self.mappings[i]
            if not all(k in relevance for k in call.outputs):
                continue
            Rs = [relevance.pop(k) for k in call.outputs]
            xs = [values[k] for k in call.inputs]
            ys = [values[k] for k in call.outputs]
            extra = {"kept": kept[i]} if i in kept else {}
            for k, r in zip(call.inputs, mapping(call, xs, ys, Rs, **extra)):
                if r is not None:       # None: none at all (a gate's input), not walked on
                    relevance[k] = relevance[k] + r if k in relevance else r
        return relevance.get(graph.input, tf.zeros_like(x))

    def function(self, indexed: bool, jit_compile: bool = False):
        """The traced walk for ``(x)`` or ``(x, indices)`` (plain Python over a fixed
        list of calls: no autograph, whose source conversion would add ~2 s to tracing VGG-16)."""
        key = (indexed, jit_compile)
        if key not in self._fns:
            if indexed:
                fn = tf.function(lambda x, s: self.walk(x, s), jit_compile=jit_compile,
                                 reduce_retracing=True, autograph=False)
            else:
                fn = tf.function(lambda x: self.walk(x), jit_compile=jit_compile,
                                 reduce_retracing=True, autograph=False)
            self._fns[key] = fn
        return self._fns[key]


class _QuietRetracing:
    """Each analyzer owns its traced functions; TensorFlow's warning about functions
    traced in a row ("triggered tf.function retracing") is noise here."""

    def filter(self, record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_QuietRetracing())
