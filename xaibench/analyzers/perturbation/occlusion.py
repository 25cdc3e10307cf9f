"""Occlusion (mask perturbation, Zeiler and Fergus 2014; the masking method of
Anjomshoae et al. Sec. 4.1): a ``patch x patch`` square slid with ``stride``
is replaced by a fill; the score of a window is the drop of the explained
output, ``f_c(x) - f_c(x with the window filled)``, spread over the window's
pixels and averaged where windows overlap.
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.perturbation._kernels import (
    PerturbationAnalyzer, broadcast_channels, check_fill, image_size, spread_windows,
    targets_from, window_mask, window_starts)
from xaibench.analyzers.registry import register


class Occlusion(PerturbationAnalyzer, Analyzer):
    """Occlusion sensitivity.

    Parameters: ``patch`` (side of the square; default ``max(1, min(H, W) // 8)``),
    ``stride`` (default ``patch``), ``fill`` (a number, ``"mean"``: the image's
    per-channel mean, or ``"blur"``: the image blurred with a Gaussian of
    sigma = patch / 2), ``output`` (``"logit"`` by default, or ``"probability"``),
    ``batch_size`` (64), ``seed`` (unused: occlusion is deterministic),
    ``jit_compile`` (False).
    """

    default_output = "logit"

    def __init__(self, model, patch=None, stride=None, fill=0.0, output=None, batch_size=64,
                 seed=0, jit_compile=False):
        super().__init__(model, patch=patch, stride=stride, fill=fill, output=output,
                         batch_size=batch_size, seed=seed)
        if patch is not None:
            check_in_range("patch", patch, 1, integer=True)
        if stride is not None:
            check_in_range("stride", stride, 1, integer=True)
        self.patch, self.stride = patch, stride
        self.fill = check_fill(fill, ("mean", "blur"))
        self._check_size(image_size(model))
        self._setup(model, output, batch_size, seed, jit_compile)

    def _check_size(self, hw):
        h, w = hw
        if self.patch is not None and h is not None and w is not None and self.patch > min(h, w):
            raise ValueError(f"patch={self.patch} is larger than the {h}x{w} image; use a patch "
                             f"of at most {min(h, w)} pixels.")

    def _fill_images(self, x, patch):
        if self.fill == "mean":
            return np.broadcast_to(x.mean(axis=(1, 2), keepdims=True), x.shape).copy()
        if self.fill == "blur":
            from scipy.ndimage import gaussian_filter
            return np.stack([gaussian_filter(img, sigma=(patch / 2, patch / 2, 0), mode="reflect")
                             for img in x]).astype(np.float32)
        return np.full_like(x, self.fill)

    def _perturb(self, images, aux, jobs):
        shape = tf.shape(images)
        mask = window_mask(jobs["row"], jobs["col"], aux["patch"], aux["patch"], shape[1], shape[2])
        x = tf.gather(images, jobs["img"])
        fill = tf.gather(aux["fill"], jobs["img"])
        return tf.where(mask[..., None], fill, x)

    def _analyze(self, x, neuron_selection):
        n, h, w, c = x.shape
        self._check_size((h, w))
        patch = self.patch or max(1, min(h, w) // 8)
        stride = self.stride or patch
        t0 = time.perf_counter()
        rows, cols = window_starts(h, patch, stride), window_starts(w, patch, stride)
        fill = self._fill_images(x, patch)
        prep = time.perf_counter() - t0
        clean = self.kernel.clean_scores(x)
        targets = targets_from(clean, neuron_selection)
        img, ri, ci = np.meshgrid(np.arange(n), np.arange(len(rows)), np.arange(len(cols)),
                                  indexing="ij")
        jobs = {"img": img.ravel(), "row": rows[ri.ravel()], "col": cols[ci.ravel()]}
        scores = self.kernel.run(x, {"fill": fill, "patch": np.int32(patch)}, jobs, targets)
        self.kernel.stats["prepare_seconds"] = prep
        drops = clean[np.arange(n), targets][:, None] - scores.reshape(n, -1)
        maps = np.stack([spread_windows(d.reshape(len(rows), len(cols)), rows, cols, patch, patch,
                                        h, w) for d in drops])
        return broadcast_channels(maps, c)


@register("occlusion", "Occlusion (Zeiler and Fergus): drop of the logit when a patch x patch "
          "square slid with `stride` is replaced by `fill`.", "perturbation", analyzer=Occlusion)
def create_occlusion(model, **params):
    return Occlusion(model, **params)
