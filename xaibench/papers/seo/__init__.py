"""Seo, Oh and Oh (2018), "Regional Multi-scale Approach for Visually Pleasing Explanations
of Deep Neural Networks" (../shared/papers/003_0df79accd0ee0cf4.txt): regional multi-scale
prediction difference (RMPD, Alg. 3) against DC, SA, LRP, PD (Alg. 2) and Grad-CAM.

Reproduced: Fig. 2 (erasing the object's region against a background region), Fig. 3 (the
per-scale maps and their fusion), Fig. 4 (visual comparison), Fig. 5 (precision, recall
and F-measure against object masks) and Sec. 3.3 / 4 (forward passes and seconds of RMPD
against PD). Quick: 12 ``clutter`` images, the demo CNN, a cheap PD; full: 100 images and
the paper's PD; ``voc2007:PATH`` / ``imagenet_val:PATH`` with VGG-16 (not GoogLeNet).

:mod:`.paper` the paper's numbers; :mod:`.protocol` settings, data, runs, rows and
:func:`run`; :mod:`.measures` Alg. 3 per scale, Fig. 2 and the cost; :mod:`.claims` the
claims as pure functions; :mod:`.figures` Figs. 2-5 and the tables.
"""
from xaibench.papers.seo.figures import figure_curves
from xaibench.papers.seo.measures import pd_passes_formula, region_effect
from xaibench.papers.seo.paper import PAPER, TITLE
from xaibench.papers.seo.protocol import run, settings

__all__ = ["PAPER", "TITLE", "figure_curves", "pd_passes_formula", "region_effect", "run",
           "settings"]
