"""Seo, Oh and Oh (2018), "Regional Multi-scale Approach for Visually Pleasing
Explanations of Deep Neural Networks" (../shared/papers/003_0df79accd0ee0cf4.txt):
regional multi-scale prediction difference (RMPD, Alg. 3) against deconvnet (DC),
sensitivity (SA), LRP, prediction difference (PD, Alg. 2) and Grad-CAM.

Reproduced: Fig. 2 (erasing the object's region of the 16-region segmentation against a
background region), Fig. 3 (the per-scale maps s^j and their fusion, Alg. 3 line 13),
Fig. 4 (the visual comparison), Fig. 5 (precision, recall and F-measure of the
thresholded maps against the object masks) and Sec. 3.3 / 4 (forward passes and seconds
per image of RMPD against PD). Quick mode: 12 ``clutter`` images with the shipped demo
CNN and a cheap PD; full: 100 images (Fig. 5) and the paper's PD; ``data="voc2007:PATH"``
or ``"imagenet_val:PATH"`` with VGG-16 (GoogLeNet and the paper's 100 white-background
ImageNet images are not available).

Where each part lives:

* :mod:`.paper` -- the paper's numbers and settings (``PAPER``, ``METHODS``, ``TITLE``);
* :mod:`.protocol` -- settings, data and model, the batch run, :func:`run`;
* :mod:`.measures` -- Alg. 3 per scale, counted forward passes and seconds;
* :mod:`.claims` -- the paper's claims as pure functions of numbers;
* :mod:`.figures` -- Figs. 2-5 and the tables.
"""
from xaibench.papers.seo.claims import Verdict
from xaibench.papers.seo.measures import (
    Cost, RegionEffect, counting_model, pd_passes_formula, per_scale, region_effect, timing)
from xaibench.papers.seo.paper import METHODS, PAPER, TITLE
from xaibench.papers.seo.figures import (
    figure_comparison, figure_curves, figure_regions, figure_scales)
from xaibench.papers.seo.protocol import (
    ALLOWED_DATA, PR_METRIC, Settings, method_steps, run, settings)

__all__ = ["ALLOWED_DATA", "Cost", "METHODS", "PAPER", "PR_METRIC", "RegionEffect",
           "Settings", "TITLE", "Verdict", "counting_model", "figure_comparison",
           "figure_curves", "figure_regions", "figure_scales", "method_steps",
           "pd_passes_formula", "per_scale", "region_effect", "run", "settings", "timing"]
