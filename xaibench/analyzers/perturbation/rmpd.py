"""Regional multi-scale prediction difference (Seo et al., Algorithm 3).

1: p(y=c|x);  2: N(mu, sigma^2) from the boundary prior of a 2^8-region
segmentation (mean shift over the border super-pixels' mean colours, mode of
the largest cluster = mu, sigma^2 = 10 on the 0-255 scale);  3-12: for the
scales 2^1 .. 2^r, every region i is excluded by replacing its pixels with
samples of N(mu, sigma^2) and s^j_q = max(0, g(p(y=c|x), p(y=c|x_\\i))) for
q in i;  13: s = 1/r sum_j s^j.  The model sees 2 + 4 + ... + 2^r perturbed
copies and the clean image (63 images per image for r = 5).

The regions of one scale are disjoint, so one standard-normal field Z_j per
scale supplies every region's samples at that scale: each copy still gets
independent N(mu, sigma^2) samples on its region, and the device gathers Z_j
instead of generating a full-image field per copy (that cost as much as the
model on a small CNN).
"""
from __future__ import annotations

import time

import numpy as np
import tensorflow as tf

from xaibench._checks import check_in_range
from xaibench._keras import input_shape
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.perturbation._kernels import (
    PerturbationAnalyzer, broadcast_channels, normal_noise, targets_from)
from xaibench.analyzers.perturbation.prediction_difference import (
    check_difference, difference_g)
from xaibench.analyzers.perturbation.segmentation import (
    METHODS, boundary_prior, segment, segment_levels)
from xaibench.analyzers.registry import register

PRIOR_REGIONS = 2 ** 8     #: scale of the boundary-prior segmentation (Alg. 3 line 2)
PRIOR_VARIANCE = 10.0      #: sigma^2 on the 0-255 scale


class RMPD(PerturbationAnalyzer, Analyzer):
    """Regional multi-scale prediction difference (Seo Alg. 3).

    Parameters: ``scales`` (r, default 5: segmentations into 2^1 .. 2^r regions),
    ``segmentation`` (``"slic"`` (default), ``"quickshift"`` or ``"felzenszwalb"``,
    the region count made exact by merging/splitting), ``nested`` (True: the
    finest scale 2^r is segmented and the coarser scales agglomerate it greedily
    to exactly 2^j regions (smallest region into its closest-colour neighbour), as
    the entropy-rate super-pixels Seo et al. use ([7]) grow a graph clustering to
    a set count; False: an independent segmentation per scale), ``input_range``
    (``(low, high)`` of the model's input, to rescale sigma^2 = 10 from 0-255;
    default: each image's own ``(min, max)``), ``difference``
    (``"probability"`` or ``"weight_of_evidence"``), ``laplace_n`` (10000),
    ``output`` (``"probability"``), ``batch_size`` (64), ``seed`` (0),
    ``jit_compile`` (False).
    """

    def __init__(self, model, scales=5, segmentation="slic", nested=True, input_range=None,
                 difference="probability", laplace_n=10000, output=None, batch_size=64, seed=0,
                 jit_compile=False):
        super().__init__(model, scales=scales, segmentation=segmentation, nested=nested,
                         input_range=input_range, difference=difference, output=output,
                         batch_size=batch_size, seed=seed)
        self.scales = int(check_in_range("scales", scales, 1, 16, integer=True))
        if segmentation not in METHODS:
            raise ValueError(f"segmentation={segmentation!r} is not known; use one of "
                             f"{', '.join(map(repr, METHODS))}.")
        self.segmentation = segmentation
        if not isinstance(nested, bool):
            raise TypeError(f"nested must be True or False, got {nested!r}.")
        self.nested = nested
        if input_range is not None:
            try:
                low, high = (float(v) for v in input_range)
            except (TypeError, ValueError):
                raise ValueError(f"input_range={input_range!r} must be a pair (low, high) of "
                                 "numbers, e.g. (0, 255) or (0, 1).") from None
            if not high > low:
                raise ValueError(f"input_range={input_range!r} must have high > low.")
            input_range = (low, high)
        self.input_range = input_range
        self.laplace_n = int(check_in_range("laplace_n", laplace_n, 1, integer=True))
        self._setup(model, output, batch_size, seed, jit_compile)
        self.difference = check_difference(difference, self.output)
        shape = input_shape(model)
        h, w = (shape[0] if isinstance(shape, list) else shape)[1:3]
        if h is not None and w is not None:
            self._check_size(h, w)

    def _check_size(self, h, w):
        need = 2 ** self.scales
        if h * w < need:
            raise ValueError(f"scales={self.scales} needs 2^{self.scales} = {need} regions but "
                             f"the {h}x{w} image has only {h * w} pixels; use scales <= "
                             f"{int(np.log2(h * w))}.")

    @property
    def num_copies(self) -> int:
        """Perturbed copies per image, 2 + 4 + ... + 2^r (Seo Sec. 3.3)."""
        return 2 ** (self.scales + 1) - 2

    def _perturb(self, images, aux, jobs):
        which = tf.stack([jobs["img"], jobs["scale"]], axis=1)
        seg = tf.gather_nd(aux["segments"], which)
        mask = tf.equal(seg, tf.cast(jobs["region"], seg.dtype)[:, None, None])
        return tf.where(mask[..., None], tf.gather_nd(aux["fill"], which),
                        tf.gather(images, jobs["img"]))

    def noise(self, shape) -> np.ndarray:
        """``(r, H, W, C)`` standard-normal fields Z_j, one per scale (copy id j of
        :func:`normal_noise`): region i of scale j is replaced by mu + sigma Z_j on i."""
        return normal_noise(self.seed, np.arange(self.scales), tuple(shape)).numpy()

    def prior(self, image: np.ndarray, labels: np.ndarray | None = None):
        """``(mu, sigma)`` of the exclusion distribution for one image (Alg. 3 line 2);
        ``labels``: its 2^8-region segmentation when already made."""
        mu = boundary_prior(image, PRIOR_REGIONS, self.segmentation, labels=labels)
        low, high = self.input_range or (float(image.min()), float(image.max()))
        scale = (high - low) / 255.0 if high > low else 1.0 / 255.0
        return mu.astype(np.float32), np.float32(np.sqrt(PRIOR_VARIANCE) * scale)

    def segment_scales(self, image: np.ndarray) -> np.ndarray:
        """``(r, H, W)`` label maps with exactly 2^1 .. 2^r regions (Alg. 3 line 4);
        nested: the finest scale segmented, the coarser ones merged from it."""
        counts = [2 ** j for j in range(1, self.scales + 1)]
        if not self.nested:
            return np.stack([segment(image, n, self.segmentation) for n in counts])
        return np.stack(segment_levels(image, counts, self.segmentation))

    def _prepare(self, image: np.ndarray, noise: np.ndarray) -> dict:
        """The CPU work of lines 2 and 4 for one image (the finest scale doubles as
        line 2's segmentation when it has 2^8 regions): ``segments`` (r, H, W), the
        fills mu + sigma Z_j (``fill``, (r, H, W, C)) and ``seconds``."""
        t0 = time.perf_counter()
        segs = self.segment_scales(image).astype(np.int32)
        shared = self.nested and 2 ** self.scales == min(PRIOR_REGIONS, image[..., 0].size)
        mu, sigma = self.prior(image, segs[-1] if shared else None)
        return {"segments": segs, "fill": mu + sigma * noise,
                "seconds": time.perf_counter() - t0}

    def _analyze(self, x, neuron_selection):
        from concurrent.futures import ThreadPoolExecutor

        n, h, w, c = x.shape
        self._check_size(h, w)
        scale = np.concatenate([np.full(2 ** j, j - 1) for j in range(1, self.scales + 1)])
        region = np.concatenate([np.arange(2 ** j) for j in range(1, self.scales + 1)])
        m = len(scale)
        # a CPU thread segments image after image while the model scores the copies of
        # the images already segmented, in full batches (TF releases the GIL)
        jobs = {"img": np.repeat(np.arange(n), m), "scale": np.tile(scale, n),
                "region": np.tile(region, n)}
        noise = self.noise(x.shape[1:])
        total = n * m
        scores = np.empty(total)
        with ThreadPoolExecutor(1) as pool:
            pending = [pool.submit(self._prepare, img, noise) for img in x]
            clean = self.kernel.clean_scores(x)
            targets = targets_from(clean, neuron_selection)
            prepared, done = [], 0                 # prepared[i]: _prepare(x[i])
            while done < total:
                prepared.append(pending[len(prepared)].result())
                while len(prepared) < n and pending[len(prepared)].done():
                    prepared.append(pending[len(prepared)].result())
                ready = len(prepared) * m - done
                take = ready if len(prepared) == n else ready // self.batch_size * self.batch_size
                if take == 0:
                    continue
                lo, hi = done // m, -(-(done + take) // m)
                part = {k: v[done:done + take] for k, v in jobs.items()}
                part["img"] = part["img"] - lo
                aux = {k: np.stack([p[k] for p in prepared[lo:hi]]) for k in ("segments", "fill")}
                scores[done:done + take] = self.kernel.run(x[lo:hi], aux, part, targets[lo:hi])
                done += take
                for p in prepared[lo:done // m]:    # finished images: keep the maps only
                    p["fill"] = None
        scores = scores.reshape(n, m)
        segs = np.stack([p["segments"] for p in prepared])
        self.kernel.stats["prepare_seconds"] = sum(p["seconds"] for p in prepared)
        p = clean[np.arange(n), targets][:, None]
        s = np.maximum(0.0, difference_g(p, scores, self.difference, self.laplace_n,
                                         self.num_classes))
        maps = np.zeros((n, h, w))
        for i in range(n):
            offset = 0
            for j in range(self.scales):
                maps[i] += s[i, offset:offset + 2 ** (j + 1)][segs[i, j]]
                offset += 2 ** (j + 1)
        return broadcast_channels(maps / self.scales, c)


@register("rmpd", "Regional multi-scale prediction difference (Seo Alg. 3): super-pixels at "
          "2^1..2^r regions excluded by boundary-prior noise, max(0, difference) averaged "
          "over scales.", "perturbation", analyzer=RMPD)
def create_rmpd(model, **params):
    return RMPD(model, **params)
