"""LIME for images (Ribeiro et al. 2016; the comparison of Anjomshoae et al. Sec. 4.1).

Interpretable representation z' in {0, 1}^d: which of the d super-pixels are
kept (hidden ones take the fill value).  ``num_samples`` masks are drawn (the
first one all ones, the instance itself), weighted with the exponential kernel
pi(z) = sqrt(exp(-D(z)^2 / width^2)) = exp(-D^2 / (2 width^2)) of the cosine
distance D to the all-ones mask, and the explained output is fitted with ridge
regression (alpha = 1, intercept); the heatmap paints super-pixel i with its
coefficient.  The masks are ``RandomState(seed).randint(0, 2, (num_samples, d))``,
the convention of the ``lime`` package, so equal settings give equal numbers.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.perturbation._kernels import (
    PerturbationAnalyzer, broadcast_channels, check_fill, targets_from)
from xaibench.analyzers.perturbation.segmentation import (
    check_segments_param, region_mean_images, segment_images)
from xaibench.analyzers.registry import register


def lime_masks(num_samples: int, num_regions: int, seed: int) -> np.ndarray:
    """The on/off masks ``(num_samples, num_regions)``; row 0 keeps every region."""
    masks = np.random.RandomState(seed).randint(0, 2, (num_samples, num_regions))
    masks[0] = 1
    return masks


def lime_weights(masks: np.ndarray, kernel_width: float) -> np.ndarray:
    """pi(z) = sqrt(exp(-D^2 / width^2)) with D the cosine distance to the all-ones row."""
    from sklearn.metrics import pairwise_distances

    d = pairwise_distances(masks, masks[:1], metric="cosine").ravel()
    return np.sqrt(np.exp(-(d ** 2) / kernel_width ** 2))


def fit_ridge(masks, target, weights, alpha: float = 1.0):
    """Weighted ridge regression target ~ masks; returns ``(coef, intercept)``."""
    from sklearn.linear_model import Ridge

    reg = Ridge(alpha=alpha, fit_intercept=True).fit(masks, target, sample_weight=weights)
    return reg.coef_, reg.intercept_


class Lime(PerturbationAnalyzer, Analyzer):
    """LIME with super-pixels and ridge regression.

    Parameters: ``segments`` (number of SLIC regions, default 50; or a function
    image -> label map; or label maps), ``num_samples`` (1000), ``kernel_width``
    (0.25), ``fill`` (hidden super-pixels' value: ``"mean"``, each super-pixel's
    mean colour (default, as the ``lime`` package), or a number), ``alpha`` (ridge
    penalty, 1.0), ``output`` (``"probability"``), ``batch_size`` (64), ``seed``
    (0), ``jit_compile``.  After ``analyze``, ``coefficients`` holds one array of
    super-pixel coefficients per image and ``intercepts`` the intercepts.
    """

    def __init__(self, model, segments=50, num_samples=1000, kernel_width=0.25, fill="mean",
                 alpha=1.0, output=None, batch_size=64, seed=0, jit_compile=False):
        super().__init__(model, segments=segments, num_samples=num_samples,
                         kernel_width=kernel_width, fill=fill, alpha=alpha, output=output,
                         batch_size=batch_size, seed=seed)
        check_segments_param(segments)
        self.segments = segments
        self.num_samples = int(check_in_range("num_samples", num_samples, 2, integer=True))
        self.kernel_width = float(check_in_range("kernel_width", kernel_width, 0.0,
                                                 low_inclusive=False))
        self.alpha = float(check_in_range("alpha", alpha, 0.0))
        self.fill = check_fill(fill, ("mean",))
        self._setup(model, output, batch_size, seed, jit_compile)
        self.coefficients, self.intercepts = [], []

    def _perturb(self, images, aux, jobs):
        x = tf.gather(images, jobs["img"])
        seg = tf.gather(aux["segments"], jobs["img"])                     # (B, H, W)
        rows = tf.gather_nd(aux["masks"], tf.stack([jobs["img"], jobs["sample"]], axis=1))
        keep = tf.gather(rows, seg, batch_dims=1)                          # (B, H, W)
        return tf.where(keep[..., None] > 0, x, tf.gather(aux["fill"], jobs["img"]))

    def _fill_images(self, x, segs):
        if self.fill == "mean":
            return region_mean_images(x, segs)
        return np.full_like(x, self.fill)

    def _analyze(self, x, neuron_selection):
        n, h, w, c = x.shape
        s = self.num_samples
        t0 = time.perf_counter()
        segs = segment_images(x, self.segments)
        counts = [int(g.max()) + 1 for g in segs]
        masks = np.zeros((n, s, max(counts)), np.int32)
        for i, m in enumerate(counts):
            masks[i, :, :m] = lime_masks(s, m, self.seed)
        fill = self._fill_images(x, segs)
        prep = time.perf_counter() - t0
        clean = self.kernel.clean_scores(x)
        targets = targets_from(clean, neuron_selection)
        jobs = {"img": np.repeat(np.arange(n), s), "sample": np.tile(np.arange(s), n)}
        aux = {"segments": np.stack(segs).astype(np.int32), "masks": masks, "fill": fill}
        scores = self.kernel.run(x, aux, jobs, targets).reshape(n, s)
        t1 = time.perf_counter()
        self.coefficients, self.intercepts, maps = [], [], []
        for i, m in enumerate(counts):
            z = masks[i, :, :m]
            coef, icpt = fit_ridge(z, scores[i], lime_weights(z, self.kernel_width), self.alpha)
            self.coefficients.append(coef)
            self.intercepts.append(float(icpt))
            maps.append(coef[segs[i]])
        self.kernel.stats["prepare_seconds"] = prep + time.perf_counter() - t1
        self.last_segments = segs
        return broadcast_channels(np.stack(maps), c)


@register("lime", "LIME (Ribeiro et al.): ridge regression of the class probability on random "
          "super-pixel on/off masks, cosine exponential kernel; super-pixels painted with "
          "their coefficients.", "perturbation", analyzer=Lime)
def create_lime(model, **params):
    return Lime(model, **params)
