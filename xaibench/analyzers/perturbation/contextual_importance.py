"""Contextual importance for images (Anjomshoae et al., eq. 2 and Algorithm 1).

The image C is over-segmented (SLIC); each region i is masked in turn and

    CI_j(C, {i}) = (out_j(C) - out_j(C, {i})) / (absmax_j - absmin_j)

is painted over the region's pixels, with absmin/absmax = 0/1 for
probabilities.  ``contrast_class`` gives the contrastive explanation
(Sec. 4.2): the same perturbed copies scored for a second class c.
"""
from __future__ import annotations

import numbers
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

DISPLAY_THRESHOLD = 0.01   #: "CI values higher than the threshold (0.01) are represented in colour"


def display(ci: np.ndarray, threshold: float = DISPLAY_THRESHOLD) -> np.ndarray:
    """The map shown to a user (Anjomshoae Sec. 3.2): values below ``threshold`` set to 0.
    The analyzer's returned numbers are never thresholded."""
    ci = np.asarray(ci)
    return np.where(ci >= threshold, ci, 0.0).astype(ci.dtype)


class ContextualImportance(PerturbationAnalyzer, Analyzer):
    """Contextual importance CI_j(C, {i}) (Anjomshoae eq. 2).

    Parameters: ``segments`` (number of SLIC regions, default 50; or a function
    image -> label map; or label maps (H, W) / (N, H, W)), ``fill`` (the value a
    masked region takes: a number, default 0, or ``"mean"``: the region's mean
    colour), ``contrast_class`` (None; an int, or ``"second"`` for the second most
    probable class: ``analyze`` then returns CI_j - CI_c, the regions that speak
    for j rather than c; :meth:`analyze_pair` returns both maps), ``absmin`` /
    ``absmax`` (output range, default 0 / 1 for probabilities, required for
    logits), ``threshold`` (0.01, used by :meth:`display` only), ``output``
    (``"probability"``), ``batch_size`` (64), ``seed`` (0), ``jit_compile``.
    """

    def __init__(self, model, segments=50, fill=0.0, contrast_class=None, absmin=None,
                 absmax=None, threshold=DISPLAY_THRESHOLD, output=None, batch_size=64, seed=0,
                 jit_compile=False):
        super().__init__(model, segments=segments, fill=fill, contrast_class=contrast_class,
                         absmin=absmin, absmax=absmax, threshold=threshold, output=output,
                         batch_size=batch_size, seed=seed)
        check_segments_param(segments)
        self.segments = segments
        self.fill = check_fill(fill, ("mean",))
        self._setup(model, output, batch_size, seed, jit_compile)
        if contrast_class is not None and not (contrast_class == "second" or (
                isinstance(contrast_class, numbers.Integral)
                and not isinstance(contrast_class, bool))):
            raise TypeError(f"contrast_class={contrast_class!r}: use None, a class index or "
                            "'second' (the second most probable class).")
        if isinstance(contrast_class, numbers.Integral):
            check_in_range("contrast_class", contrast_class, 0, self.num_classes - 1,
                           integer=True)
        self.contrast_class = contrast_class
        if self.output == "logit" and (absmin is None or absmax is None):
            raise ValueError("output='logit' has no natural range: pass absmin and absmax (for "
                             "example the min and max logit of the class on the training set).")
        self.absmin = 0.0 if absmin is None else float(check_in_range("absmin", absmin))
        self.absmax = 1.0 if absmax is None else float(check_in_range("absmax", absmax))
        if not self.absmax > self.absmin:
            raise ValueError(f"absmax={self.absmax} must be larger than absmin={self.absmin}.")
        self.threshold = float(check_in_range("threshold", threshold, 0.0))

    def display(self, ci: np.ndarray) -> np.ndarray:
        """``ci`` with values below ``threshold`` set to 0 (for showing, not for scoring)."""
        return display(ci, self.threshold)

    def _perturb(self, images, aux, jobs):
        x = tf.gather(images, jobs["img"])
        seg = tf.gather(aux["segments"], jobs["img"])
        mask = tf.equal(seg, tf.cast(jobs["region"], seg.dtype)[:, None, None])
        return tf.where(mask[..., None], tf.gather(aux["fill"], jobs["img"]), x)

    def _fill_images(self, x, segs):
        if self.fill == "mean":
            return region_mean_images(x, segs)
        return np.full_like(x, self.fill)

    def _ci(self, x, neuron_selection, classes_extra=None):
        n, h, w, c = x.shape
        t0 = time.perf_counter()
        segs = segment_images(x, self.segments)
        fill = self._fill_images(x, segs)
        prep = time.perf_counter() - t0
        clean = self.kernel.clean_scores(x)
        targets = targets_from(clean, neuron_selection)
        counts = [int(s.max()) + 1 for s in segs]
        jobs = {"img": np.repeat(np.arange(n), counts),
                "region": np.concatenate([np.arange(m) for m in counts])}
        aux = {"segments": np.stack(segs).astype(np.int32), "fill": fill}
        span = self.absmax - self.absmin
        maps = []
        for t in [targets] + ([] if classes_extra is None else [classes_extra(clean, targets)]):
            out = self.kernel.run(x, aux, jobs, t)
            ci = (clean[jobs["img"], t[jobs["img"]]] - out) / span
            offsets = np.concatenate([[0], np.cumsum(counts)])
            maps.append(np.stack([ci[offsets[i]:offsets[i + 1]][segs[i]] for i in range(n)]))
        self.kernel.stats["prepare_seconds"] = prep
        self.last_segments = segs
        return [broadcast_channels(m_, c) for m_ in maps]

    def _contrast_targets(self, clean, targets):
        if self.contrast_class == "second":
            order = np.argsort(-clean, axis=1, kind="stable")
            return np.where(order[:, 0] == targets, order[:, 1], order[:, 0]).astype(np.int64)
        return np.full(len(clean), int(self.contrast_class), np.int64)

    def analyze_pair(self, x, neuron_selection=None):
        """``(CI_j, CI_c)``: the maps of the explained class j and of the contrast
        class c (Anjomshoae Sec. 4.2) from the same perturbed copies."""
        from xaibench._checks import check_images, resolve_neuron_selection

        if self.contrast_class is None:
            raise ValueError("analyze_pair needs contrast_class=...; create the analyzer with "
                             "contrast_class=<class index> or 'second'.")
        x = check_images(x, self.model)
        sel = resolve_neuron_selection(neuron_selection, len(x), self.num_classes)
        grey = x.ndim == 3                  # a model of (N, H, W) images: see Analyzer
        ci_j, ci_c = self._ci(x[..., None] if grey else x, sel, self._contrast_targets)
        return (ci_j[..., 0], ci_c[..., 0]) if grey else (ci_j, ci_c)

    def _analyze(self, x, neuron_selection):
        if self.contrast_class is None:
            return self._ci(x, neuron_selection)[0]
        ci_j, ci_c = self._ci(x, neuron_selection, self._contrast_targets)
        return ci_j - ci_c


@register("contextual_importance", "Contextual importance (Anjomshoae et al. eq. 2): drop of "
          "the class probability when each SLIC region is masked, over absmax - absmin.",
          "perturbation", analyzer=ContextualImportance)
def create_contextual_importance(model, **params):
    return ContextualImportance(model, **params)
