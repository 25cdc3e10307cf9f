"""Anjomshoae, Jiang and Främling (2021), "Visual explanations for DNNs with contextual
importance" (CI, eq. 2: CI_j = (out_j(C) - out_j(C, {i})) / (absmax_j - absmin_j) per
super-pixel i, shown where >= 0.01) on MNIST's ``xb.zoo.mnist_cnn`` (Fig. 1), against masking
and LIME: Figs. 3 (kept high-CI regions), 4 (+ AOPC, background share), 5 / 6 (contrastive),
7 (altered digits), 8 (a misclassified digit). :mod:`.paper` its numbers and claims,
:mod:`.protocol` data, model, batch runs and :func:`run` (modes, options), :mod:`.measures`
segmentation, alterations, map measures, :mod:`.claims` the verdicts, :mod:`.figures`.
"""
from xaibench.papers.anjomshoae.paper import TITLE
from xaibench.papers.anjomshoae.protocol import run

__all__ = ["TITLE", "run"]
