"""Samek et al. (2017), "Evaluating the visualization of what a deep neural network has
learned": heatmaps judged by region perturbation.

* Fig. 4 -- AOPC (eq. 12) of most-relevant-first region perturbation (eq. 11) over the
  perturbation steps L, relative to the random order, for sensitivity (eq. 3, pooled by the
  l2 and l-inf norms), deconvolution (Sec. II-B) and LRP (eq. 7, epsilon 0.01 / 1 / 100;
  eq. 8, alpha 2, beta -1);
* Fig. 8 (appendix) -- the same at region sizes 1, 3, 5, 9, 19, relative to sensitivity l2;
* Fig. 5 -- heatmap complexity: PNG / JPEG file size and entropy;
* Fig. 7 -- AOPC of LRP heatmaps and test accuracy after each training epoch.

The paper prints no numbers for these figures; its protocol (Sec. IV-A) is compared
number by number and its results through its qualitative claims.

Where each part lives:

* :mod:`.paper` -- the paper's protocol, methods and claims as constants (TITLE, PAPER,
  METHODS, CLAIMS);
* :mod:`.protocol` -- the runner configs, Fig. 7's training, the data and :func:`run`;
* :mod:`.claims` -- each claim as a pure function of the numbers;
* :mod:`.figures` -- the figures and tables.

Quick mode: 16 clutter images (48 x 48) with the shipped ``demo`` model, 30 steps, 2
repeats; Fig. 7 trains a small CNN on scikit-learn's digits for 4 epochs (well under a
minute on 2 CPU cores). Full protocol: ``data="imagenet_val:PATH"`` (VGG-16 with ImageNet
weights; CaffeNet's are not available to Keras), 5040 images, 100 steps, 10 repeats; Fig. 7
trains ``xb.zoo.cifar_cnn`` on CIFAR-10 for 20 epochs; a GPU is expected. Every evaluation
is a resumable run under ``<out>/runs``; Fig. 7's checkpoints are kept under
``<out>/models``.
"""
from xaibench.papers.samek.paper import (
    CLAIMS, FIG5_OTHERS, FIG8, LABELS, LRP, METHODS, PAPER, PAPER_REGIONS, TITLE, Method)
from xaibench.papers.samek.protocol import (
    DEFAULTS, FIG7_ANALYZER, run, scaled_region, scaled_steps)

__all__ = ["CLAIMS", "DEFAULTS", "FIG5_OTHERS", "FIG7_ANALYZER", "FIG8", "LABELS", "LRP",
           "METHODS", "Method", "PAPER", "PAPER_REGIONS", "TITLE", "run", "scaled_region",
           "scaled_steps"]
