"""Perturbation-based explainers as batched ``tf.function`` kernels.

Registered names: ``occlusion``, ``prediction_difference``, ``rmpd``,
``contextual_importance``, ``lime``.  They explain any Keras classifier from
its outputs alone (no ``prepare``): perturbed copies are built on the device
and scored ``batch_size`` at a time; segmentation runs once per image before
the model loop.
"""
from xaibench.analyzers.perturbation.contextual_importance import ContextualImportance, display
from xaibench.analyzers.perturbation.lime import Lime
from xaibench.analyzers.perturbation.occlusion import Occlusion
from xaibench.analyzers.perturbation.prediction_difference import PredictionDifference
from xaibench.analyzers.perturbation.rmpd import RMPD

__all__ = ["Occlusion", "PredictionDifference", "RMPD", "ContextualImportance", "Lime",
           "display"]
