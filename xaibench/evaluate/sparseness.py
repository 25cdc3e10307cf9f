"""Sparseness of heatmaps: the Gini index of |R| (Chalasani et al., ICML 2020), beside the
complexity measures of :mod:`xaibench.evaluate.complexity` (evaluator arrow of DESIGN.md).

Chalasani, Chen, Chowdhury, Wu, Jha: "Concise Explanations of Neural Networks using
Adversarial Training", ICML 2020, Sec. 6 (sparseness as the Gini index of the absolute
attributions), with the Gini index of Hurley & Rickard (2009), eq. 24 / its sorted form:
for the pooled, absolute relevances sorted ascending a_(1) <= ... <= a_(n),

    G(a) = sum_{i=1}^{n} (2 i - n - 1) a_(i) / (n sum_i a_(i)),

0 for a uniform heatmap, (n - 1) / n for a single non-zero pixel. As Quantus 0.6.0
(``Sparseness``), ``eps`` = 1e-7 is added to every |R| so an all-zero heatmap gives 0.
"""
from __future__ import annotations

import numpy as np

from xaibench import heatmaps
from xaibench._checks import check_heatmap_array


def sparseness(R, channel_reduce: str = "sum", eps: float = 1e-7) -> np.ndarray:
    """Gini index of the absolute channel-pooled relevance of each heatmap (module
    docstring); ``R``: (N, H, W, C) (channels pooled by ``channel_reduce`` first, then the
    absolute value is taken) or (N, H, W). Returns (N,) in [0, 1): larger is sparser."""
    R = check_heatmap_array(R)
    heatmaps._check_how(channel_reduce)
    if isinstance(eps, bool) or not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps={eps!r} must be a finite number >= 0 (1e-7 as in Quantus).")
    a = np.abs(heatmaps.reduce_channels(R.astype(np.float64), channel_reduce))
    a = np.sort(a.reshape(len(a), -1), axis=1) + eps
    n = a.shape[1]
    i = np.arange(1, n + 1)
    total = a.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = ((2 * i - n - 1) * a).sum(axis=1) / (n * total)
    return np.where(total > 0, g, 0.0)
