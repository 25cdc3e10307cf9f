"""xaibench's own eager engine for every iNNvestigate analyzer name.

Layout, in the order data flows: :mod:`graph` (a model as a list of layer calls),
:mod:`linear` (a kernel layer's ``W x + b`` with chosen weights), :mod:`rules`
(one LRP rule a class), :mod:`mappings` (weight-free layers), :mod:`composites`
(layer -> rule, registered by name), :mod:`engine` (the backward walk),
:mod:`analyzers` (the iNNvestigate names on top).

Every name is registered here; ``backend="innvestigate"`` runs the same name in
iNNvestigate 2.1.2's graph-mode worker instead (the reference of the tests).
"""
from __future__ import annotations

from xaibench.analyzers.innvestigate_names import SPECS
from xaibench.analyzers.registry import register

BACKENDS = ("native", "innvestigate")


def _factory(name):
    def make(model, backend: str = "native", **params):
        if backend == "native":
            from xaibench.analyzers.native.analyzers import NativeAnalyzer

            return NativeAnalyzer(model, name, **params)
        if backend == "innvestigate":
            from xaibench.analyzers.innvestigate_backend import InnvestigateAnalyzer

            return InnvestigateAnalyzer(model, name, **params)
        raise ValueError(f"backend={backend!r} is not known; use one of {BACKENDS}.")
    make.__name__ = f"create_{name.replace('.', '_')}"
    return make


for _name, _spec in SPECS.items():
    register(_name, _spec.description, _spec.family)(_factory(_name))
