"""Samek et al. (2017), "Evaluating the visualization of what a deep neural network has
learned": sensitivity, deconvolution and LRP heatmaps judged by the AOPC of region
perturbation (Figs. 4 and 8), by their complexity (Fig. 5) and over training (Fig. 7).

:mod:`.paper` holds the paper's protocol, methods and claims; :mod:`.protocol` the runs
and :func:`run`; :mod:`.claims` each claim as a pure function; :mod:`.figures` the
figures and tables. Quick mode: 16 clutter images with the shipped ``demo`` CNN, 30 steps,
2 repeats, Fig. 7 on scikit-learn's digits (about a minute on 2 CPU cores). Full protocol:
``data="imagenet_val:PATH"`` (VGG-16), 5040 images, 100 steps, 10 repeats, Fig. 7 on
CIFAR-10; a GPU is expected.
"""
from xaibench.papers.samek.paper import TITLE
from xaibench.papers.samek.protocol import run

__all__ = ["TITLE", "run"]
