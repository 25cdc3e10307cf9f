"""The graph-mode process that runs iNNvestigate on behalf of the user's eager session.

iNNvestigate 2.1.2 needs ``tf.compat.v1.disable_eager_execution()``, which is
process-wide, and Keras 2.14 swaps the base classes of models and layers built
under a ``tf.Graph`` (an eagerly built model is then "in an invalid state").
So this file runs as a separate script (``python innvestigate_worker.py FD``),
never imported by the user's process: it disables eager execution first,
receives models as (JSON config, weights) and analysis requests over a socket,
and keeps each analyzer in a graph and session of its own (which also keeps
one analyzer's graph state and random seed away from another's).

This module imports nothing from xaibench, so starting the worker does not
import the user-side package (or run the user's ``__main__``, as a
``multiprocessing`` spawn would).

Protocol (pickled tuples over a ``multiprocessing.connection.Connection``):

* ``("load_model", key, json_config, weights)`` -> ``None``
* ``("analyze", analyzer_key, model_key, recipe, params, shm_name, shape, indices,
  batch_size)`` -> ``None``: x is read from the client's shared-memory block and
  the heatmaps are written back into it (no copies through the socket);
  ``recipe`` is an iNNvestigate analyzer name or one of the composite recipes
  below, ``indices`` is ``None`` (explain the top output) or one int per image;
* ``("drop", [analyzer_key, ...])`` and ``("shutdown",)``.

Replies are ``("ok", value)`` or ``("error", type_name, message, traceback)``.
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings
from collections import OrderedDict

#: at most this many analyzers (each with its own graph and a copy of the weights) stay built
MAX_ANALYZERS = int(os.environ.get("XAIBENCH_MAX_ANALYZERS", "12"))


def _composite_rules(recipe: str, params: dict, model):
    """Conditional LRP rule lists for the composites of Kohlbrenner et al. (Sec. 2).

    ``cmp``: LRP_eps on dense layers, LRP_alpha-beta (alpha = 1 or 2) on conv layers,
    LRP_flat on the first ``flat_layers`` conv/dense layers counted from the input.
    ``cam``: LRP_z on dense layers and LRP_flat on the whole conv stack (LRP_CAM).
    """
    import innvestigate.analyzer.relevance_based.relevance_rule as rrule
    import innvestigate.backend.checks as ichecks

    kernel_layers = [layer for layer in model.layers if ichecks.contains_kernel(layer)]
    if recipe == "cam":
        return [(ichecks.is_conv_layer, rrule.FlatRule), (ichecks.is_dense_layer, rrule.ZRule)]
    epsilon = params["epsilon"]
    alpha = params["alpha"]

    class EpsilonRule(rrule.EpsilonRule):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, epsilon=epsilon, bias=True, **kwargs)

    conv_rule = {1: rrule.Alpha1Beta0Rule, 2: rrule.Alpha2Beta1Rule}[alpha]
    flat = set(id(layer) for layer in kernel_layers[: params["flat_layers"]])
    return [
        (lambda layer: id(layer) in flat, rrule.FlatRule),
        (ichecks.is_dense_layer, EpsilonRule),
        (ichecks.is_conv_layer, conv_rule),
    ]


def _build_analyzer(recipe: str, params: dict, model, mode: str):
    import innvestigate

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if recipe in ("cmp", "cam"):
                rules = _composite_rules(recipe, params, model)
                return innvestigate.analyzer.LRP(
                    model, rule=rules, neuron_selection_mode=mode, bn_layer_rule="Z"
                )
            return innvestigate.create_analyzer(recipe, model, neuron_selection_mode=mode,
                                                **params)
        except innvestigate.NotAnalyzeableModelException as err:
            raise ValueError(f"iNNvestigate's {recipe!r} cannot analyze this model: {err}") from None
        except NotImplementedError as err:
            # iNNvestigate turns a failed model check of type "warning" into a bare
            # NotImplementedError; give its warning text back instead.
            found = [str(w.message) for w in caught] or [repr(err)]
            raise ValueError(
                f"iNNvestigate's {recipe!r} refuses this model: " + " | ".join(found)
            ) from None


class _Entry:
    """One analyzer with its own graph, session and copy of the model."""

    def __init__(self, json_config, weights, recipe=None, params=None, mode=None, seed=None):
        import numpy as np
        import tensorflow as tf

        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        with self.graph.as_default(), self.session.as_default():
            if seed is not None:
                # graph-level seed for TF ops, numpy's for the op seeds Keras draws
                tf.compat.v1.set_random_seed(seed)
                np.random.seed(seed)
            self.model = tf.keras.models.model_from_json(json_config)
            self.model.set_weights(weights)
            self.analyzer = None
            if recipe is not None:
                self.analyzer = _build_analyzer(recipe, params, self.model, mode)
                self.analyzer.create_analyzer_model()

    def run(self, fn):
        with self.graph.as_default(), self.session.as_default():
            return fn()

    def close(self):
        self.session.close()


def serve(conn) -> None:
    import numpy as np
    import tensorflow as tf

    tf.compat.v1.disable_eager_execution()
    import innvestigate  # noqa: F401  (import after disabling eager execution)

    models: dict = {}
    analyzers: OrderedDict = OrderedDict()

    def get_analyzer(key, model_key, recipe, params, mode):
        if key in analyzers:
            analyzers.move_to_end(key)
            return analyzers[key]
        if model_key not in models:
            raise KeyError(f"model {model_key!r} was not loaded into the worker")
        json_config, weights = models[model_key]
        params = dict(params or {})
        seed = params.pop("seed", None)
        entry = _Entry(json_config, weights, recipe, params, mode, seed)
        analyzers[key] = entry
        while len(analyzers) > MAX_ANALYZERS:
            _, old = analyzers.popitem(last=False)
            old.close()
        return entry

    buffers: dict = {}

    def shared_array(name, shape):
        """A view of the client's shared-memory block ``name`` (attached once)."""
        from multiprocessing import resource_tracker, shared_memory

        if name not in buffers:
            for old in buffers.values():
                old.close()
            buffers.clear()
            shm = shared_memory.SharedMemory(name=name)
            # the client owns the block; keep this process's tracker from unlinking it
            resource_tracker.unregister(shm._name, "shared_memory")
            buffers[name] = shm
        return np.ndarray(shape, dtype=np.float32, buffer=buffers[name].buf)

    def analyze(key, model_key, recipe, params, shm_name, shape, indices, batch_size):
        """Read x from shared memory, write the heatmaps over it chunk by chunk (each
        chunk of x is consumed by its session run before its heatmaps are written)."""
        mode = "max_activation" if indices is None else "index"
        entry = get_analyzer((key, mode), model_key, recipe, params, mode)
        data = shared_array(shm_name, shape)
        for start in range(0, shape[0], batch_size):
            xb = np.array(data[start:start + batch_size])
            if indices is None:
                R = entry.run(lambda: entry.analyzer.analyze(xb))
            else:
                sel = indices[start:start + batch_size]
                R = entry.run(lambda: entry.analyzer.analyze(xb, neuron_selection=sel))
            data[start:start + batch_size] = R
        return None

    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        op = msg[0]
        try:
            if op == "shutdown":
                conn.send(("ok", None))
                return
            if op == "load_model":
                _, key, json_config, weights = msg
                models[key] = (json_config, weights)
                result = None
            elif op == "analyze":
                result = analyze(*msg[1:])
            elif op == "drop":
                for key in msg[1]:
                    entry = analyzers.pop(key, None)
                    if entry is not None:
                        entry.close()
                result = None
            else:
                raise ValueError(f"unknown request {op!r}")
            conn.send(("ok", result))
        except Exception as err:  # report every failure to the client, keep serving
            conn.send(("error", type(err).__name__, str(err), traceback.format_exc()))


def main(argv=None) -> None:
    from multiprocessing.connection import Connection

    argv = sys.argv[1:] if argv is None else argv
    conn = Connection(int(argv[0]))
    serve(conn)


if __name__ == "__main__":
    main()
