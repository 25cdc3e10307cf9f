"""Counted work, instead of wall-clock limits: how many models a call loaded, trained,
called, and how many analyzers it built.

    counts = count_work(monkeypatch)
    ... the call under test ...
    assert counts == dict(counts, load=0)      # or: counts["call"] == 0

``load``: a Keras model read from disk (``tf.keras.models.load_model``) or built for a
shipped / zoo name (``xaibench.zoo.shipped``, ``xaibench.zoo.load_file``); ``fit``: a
training call (``Model.fit`` / ``train_on_batch``); ``call``: a forward pass
(``Model.__call__`` / ``predict`` / ``predict_on_batch``); ``analyzer``: an analyzer built
(``xaibench.create_analyzer``).
"""
from __future__ import annotations

import collections
import functools


def _counting(counts, key, fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        counts[key] += 1
        return fn(*args, **kwargs)
    return wrapper


def count_work(monkeypatch) -> collections.Counter:
    import tensorflow as tf

    import xaibench
    import xaibench.analyzers
    import xaibench.analyzers.registry
    import xaibench.zoo as zoo

    counts = collections.Counter(load=0, fit=0, call=0, analyzer=0)
    monkeypatch.setattr(tf.keras.models, "load_model",
                        _counting(counts, "load", tf.keras.models.load_model))
    for name in ("shipped", "load_file"):
        monkeypatch.setattr(zoo, name, _counting(counts, "load", getattr(zoo, name)))
    for name, key in (("fit", "fit"), ("train_on_batch", "fit"), ("__call__", "call"),
                      ("predict", "call"), ("predict_on_batch", "call")):
        monkeypatch.setattr(tf.keras.Model, name,
                            _counting(counts, key, getattr(tf.keras.Model, name)))
    for module in (xaibench, xaibench.analyzers, xaibench.analyzers.registry):
        if hasattr(module, "create_analyzer"):
            monkeypatch.setattr(module, "create_analyzer",
                                _counting(counts, "analyzer", module.create_analyzer))
    return counts
