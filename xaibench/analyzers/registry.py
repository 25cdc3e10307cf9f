"""Analyzer registry: ``create_analyzer(name, model, **params)`` and ``list_analyzers()``.

Each provider module registers its factories with :func:`register`; the
registry imports the providers on first use so that ``import xaibench`` stays cheap.
"""
from __future__ import annotations

import difflib
import importlib
import inspect
from dataclasses import dataclass
from typing import Callable

#: modules that register analyzers when imported
PROVIDERS = (
    "xaibench.analyzers.native",
    "xaibench.analyzers.perturbation",
    "xaibench.analyzers.pattern", "xaibench.analyzers.gradcam",
)


@dataclass(frozen=True)
class AnalyzerSpec:
    name: str
    factory: Callable
    description: str
    family: str
    accepts: tuple | None = None     # keyword names, checked before the factory runs


_REGISTRY: dict[str, AnalyzerSpec] = {}
_loaded = False


def register(name: str, description: str, family: str, analyzer: type | None = None):
    """Decorator registering ``factory(model, **params) -> Analyzer`` under ``name``;
    ``analyzer``: the class the factory builds, whose ``__init__`` keywords are the
    parameters checked before any work (unknown ones refused with close matches)."""

    def wrap(factory):
        if name in _REGISTRY:
            raise RuntimeError(f"analyzer {name!r} is registered twice")
        accepts = None
        if analyzer is not None:
            sig = inspect.signature(analyzer.__init__)
            accepts = tuple(p for p in list(sig.parameters)[2:]
                            if sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD)
        _REGISTRY[name] = AnalyzerSpec(name, factory, description, family, accepts)
        return factory

    return wrap


def _load_providers():
    global _loaded
    if not _loaded:
        for module in PROVIDERS:
            importlib.import_module(module)
        _loaded = True


def list_analyzers(family: str | None = None) -> dict[str, str]:
    """Names of all analyzers with a one-line description, optionally of one family."""
    _load_providers()
    return {
        spec.name: spec.description
        for spec in _REGISTRY.values()
        if family is None or spec.family == family
    }


def get_spec(name: str) -> AnalyzerSpec:
    _load_providers()
    if not isinstance(name, str):
        raise TypeError(f"analyzer name must be a string, got {type(name).__name__}")
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=4, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown analyzer {name!r}.{hint} xb.list_analyzers() lists all names."
        ) from None


def create_analyzer(name: str, model, **params):
    """Create the analyzer ``name`` for a Keras ``model`` (iNNvestigate's call shape)."""
    from xaibench._checks import check_parameters
    from xaibench._keras import check_keras_model

    spec = get_spec(name)
    check_keras_model(model)
    if spec.accepts is not None:
        check_parameters(name, params, spec.accepts)
    analyzer = spec.factory(model, **params)
    analyzer.name = name
    return analyzer
