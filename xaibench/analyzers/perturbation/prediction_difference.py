"""Prediction difference analysis (Robnik-Sikonja and Kononenko 2008; Zintgraf
et al. 2017) in the form of Seo et al. Algorithm 2: conditional sampling and
multivariate analysis.

For every inner ``k x k`` window x_in (stride 1 in the paper) the ``l x l``
outer window x_out centred on it defines the ring x_out \\ x_in; ``r`` samples
of x_in are drawn from N(mean, variance) of the ring's pixels (per channel),
``p(y|x_\\i) = 1/r sum_j p(y|x'_j)`` (Alg. 2 lines 6-11, eq. 1), and
``s_q = g(p(y|x), p(y|x_\\i))`` is assigned to every pixel q of x_in and
averaged by the count of windows covering q (lines 12-16).
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from xaibench._checks import check_images, check_in_range
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.perturbation._kernels import (
    PerturbationAnalyzer, broadcast_channels, image_size, normal_noise, spread_windows,
    targets_from, window_mask, window_starts)
from xaibench.analyzers.registry import register

DIFFERENCES = ("probability", "weight_of_evidence")


def check_difference(difference, output):
    if difference not in DIFFERENCES:
        raise ValueError(f"difference={difference!r} is not understood; use 'probability' "
                         "(g = p(y|x) - p(y|x_\\i)) or 'weight_of_evidence' (log-odds).")
    if difference == "weight_of_evidence" and output != "probability":
        raise ValueError("difference='weight_of_evidence' needs probabilities; use "
                         "output='probability' or difference='probability'.")
    return difference


def difference_g(p, p_without, difference: str, laplace_n: int, num_classes: int):
    """g of Seo Alg. 1 line 4: ``p - p_without`` or the weight of evidence
    ``log2 odds(p) - log2 odds(p_without)`` with the Laplace correction
    ``p <- (p N + 1) / (N + K)`` of Robnik-Sikonja and Kononenko (N = ``laplace_n``, K classes)."""
    if difference == "probability":
        return p - p_without

    def log_odds(q):
        q = (q * laplace_n + 1.0) / (laplace_n + num_classes)
        return np.log2(q / (1.0 - q))

    return log_odds(p) - log_odds(p_without)


def ring_statistics(image: np.ndarray, rows, cols, k: int, l: int):
    """Per-channel mean and standard deviation of the ring x_out \\ x_in around
    every inner window (top-left ``(rows[i], cols[j])``); ``(len(rows), len(cols), C)``.

    The outer window starts ``(l - k) // 2`` pixels before the inner one, shifted
    to lie inside the image near its border (so every ring holds l^2 - k^2 pixels;
    an outer window larger than the image is the whole image).
    """
    h, w, _ = image.shape
    x = image.astype(np.float64)

    def integral(a):
        s = np.zeros((h + 1, w + 1) + a.shape[2:])
        s[1:, 1:] = a.cumsum(0).cumsum(1)
        return s

    s1, s2 = integral(x), integral(x * x)
    ones = integral(np.ones((h, w, 1)))

    def box(s, r0, r1, c0, c1):
        return (s[r1][:, c1] - s[r0][:, c1] - s[r1][:, c0] + s[r0][:, c0])

    pad = (l - k) // 2
    ri, ci = np.asarray(rows), np.asarray(cols)
    r0o = np.maximum(0, np.minimum(ri - pad, h - l))
    c0o = np.maximum(0, np.minimum(ci - pad, w - l))
    r1o, c1o = np.minimum(h, r0o + l), np.minimum(w, c0o + l)
    n = box(ones, r0o, r1o, c0o, c1o) - box(ones, ri, ri + k, ci, ci + k)
    s = box(s1, r0o, r1o, c0o, c1o) - box(s1, ri, ri + k, ci, ci + k)
    q = box(s2, r0o, r1o, c0o, c1o) - box(s2, ri, ri + k, ci, ci + k)
    mean = s / n
    var = np.maximum(q / n - mean ** 2, 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


class PredictionDifference(PerturbationAnalyzer, Analyzer):
    """Prediction difference (Seo Alg. 2; Zintgraf et al.).

    Parameters: ``inner`` (k, default 4), ``outer`` (l > k, default k + 4),
    ``samples`` (r, default 10), ``stride`` (of the inner window, default 1 as in
    Alg. 2), ``x_train`` (if given, marginal sampling from the per-pixel normal
    of the training data instead of conditional sampling), ``difference``
    (``"probability"``: g(a, b) = a - b, or ``"weight_of_evidence"``),
    ``laplace_n`` (N of the Laplace correction of the weight of evidence, 10000),
    ``output`` (``"probability"``), ``batch_size`` (64), ``seed`` (0),
    ``jit_compile`` (False).
    """

    def __init__(self, model, inner=4, outer=None, samples=10, stride=1, x_train=None,
                 difference="probability", laplace_n=10000, output=None, batch_size=64,
                 seed=0, jit_compile=False):
        super().__init__(model, inner=inner, outer=outer, samples=samples, stride=stride,
                         difference=difference, output=output, batch_size=batch_size, seed=seed)
        self.inner = int(check_in_range("inner", inner, 1, integer=True))
        self.outer = self.inner + 4 if outer is None else int(
            check_in_range("outer", outer, 1, integer=True))
        if self.outer <= self.inner:
            raise ValueError(f"outer={self.outer} must be larger than inner={self.inner} "
                             "(l > k): the ring between the windows gives the sampling "
                             f"distribution. Use outer >= {self.inner + 1}.")
        self.samples = int(check_in_range("samples", samples, 1, integer=True))
        self.stride = int(check_in_range("stride", stride, 1, integer=True))
        self.laplace_n = int(check_in_range("laplace_n", laplace_n, 1, integer=True))
        self._setup(model, output, batch_size, seed, jit_compile)
        self.difference = check_difference(difference, self.output)
        self._check_size(image_size(model))
        self.marginal = None
        if x_train is not None:
            self.fit(x_train)

    def fit(self, x_train=None, *args, **kwargs):
        """Use the per-pixel normal N(mean, var) of ``x_train`` (marginal sampling)."""
        if x_train is None:
            self.marginal = None
            return self
        xt = check_images(x_train, self.model, name="x_train")
        self.marginal = (xt.mean(axis=0).astype(np.float32),
                         xt.std(axis=0).astype(np.float32))
        return self

    def _check_size(self, hw):
        h, w = hw
        if h is not None and w is not None and self.inner >= min(h, w):
            raise ValueError(f"inner={self.inner} does not fit the {h}x{w} image with a ring "
                             f"around it; use inner < {min(h, w)}.")

    def _perturb(self, images, aux, jobs):
        """x' = x with x_in replaced by a sampled patch (Alg. 2 line 7). Sample j of
        window w draws its k x k x C standard normals with copy id ``w * r + j``."""
        shape = tf.shape(images)
        k = self.inner
        mask = window_mask(jobs["row"], jobs["col"], k, k, shape[1], shape[2])
        x = tf.gather(images, jobs["img"])
        z = normal_noise(self.seed, jobs["copy"], tf.stack([k, k, shape[3]]))  # (B, k, k, C)

        def one_hot(size, start):   # (B, size, k): pixel p is patch element p - start
            p = tf.range(size)[None, :, None] - tf.cast(start, tf.int32)[:, None, None]
            return tf.cast(tf.equal(p, tf.range(k)[None, None, :]), z.dtype)

        # the patch placed at its window by two one-hot contractions (zero outside, masked
        # anyway): one fused pass under XLA, cheaper than a per-pixel gather
        z = tf.einsum("bhi,bijc,bwj->bhwc", one_hot(shape[1], jobs["row"]), z,
                      one_hot(shape[2], jobs["col"]))
        if "mean" in aux:  # marginal: per-pixel normal of the training data
            value = aux["mean"][None] + aux["std"][None] * z
        else:  # conditional: the ring's per-channel normal
            idx = tf.stack([jobs["img"], jobs["win"]], axis=1)
            mu = tf.gather_nd(aux["ring_mean"], idx)[:, None, None, :]
            sd = tf.gather_nd(aux["ring_std"], idx)[:, None, None, :]
            value = mu + sd * z
        return tf.where(mask[..., None], value, x)

    def _analyze(self, x, neuron_selection):
        n, h, w, c = x.shape
        self._check_size((h, w))
        k, r = self.inner, self.samples
        t0 = time.perf_counter()
        rows, cols = window_starts(h, k, self.stride), window_starts(w, k, self.stride)
        nw = len(rows) * len(cols)
        if self.marginal is not None:
            aux = {"mean": self.marginal[0], "std": self.marginal[1]}
        else:
            stats = [ring_statistics(img, rows, cols, k, self.outer) for img in x]
            aux = {"ring_mean": np.stack([s[0].reshape(nw, c) for s in stats]),
                   "ring_std": np.stack([s[1].reshape(nw, c) for s in stats])}
        prep = time.perf_counter() - t0
        clean = self.kernel.clean_scores(x)
        targets = targets_from(clean, neuron_selection)
        img, win, j = np.meshgrid(np.arange(n), np.arange(nw), np.arange(r), indexing="ij")
        win = win.ravel()
        jobs = {"img": img.ravel(), "win": win, "copy": (win * r + j.ravel()).astype(np.int64),
                "row": rows[win // len(cols)], "col": cols[win % len(cols)]}
        scores = self.kernel.run(x, aux, jobs, targets)
        self.kernel.stats["prepare_seconds"] = prep
        p_without = scores.reshape(n, nw, r).mean(axis=2)
        p = clean[np.arange(n), targets][:, None]
        values = difference_g(p, p_without, self.difference, self.laplace_n, self.num_classes)
        maps = np.stack([spread_windows(v.reshape(len(rows), len(cols)), rows, cols, k, k, h, w)
                         for v in values])
        return broadcast_channels(maps, c)


@register("prediction_difference", "Prediction difference (Zintgraf et al.; Seo Alg. 2): k x k "
          "windows resampled r times from the l x l ring's normal (or the training marginal).",
          "perturbation", analyzer=PredictionDifference)
def create_prediction_difference(model, **params):
    return PredictionDifference(model, **params)
