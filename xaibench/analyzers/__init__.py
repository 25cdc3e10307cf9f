"""Analyzers: the registry, the shared ``Analyzer`` base and the method providers."""
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.registry import create_analyzer, list_analyzers, register

__all__ = ["Analyzer", "create_analyzer", "list_analyzers", "register"]
