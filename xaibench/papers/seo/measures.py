"""What Seo et al. measure beyond the batch run's heatmaps and precision / recall: the
per-scale maps s^j of Alg. 3 (Figs. 2 and 3), the forward passes and seconds of RMPD
against PD (Sec. 3.3 / 4), and the numbers derived from them."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


def erase(image, segments, region: int, mu, sigma, noise):
    """Alg. 3 line 6: ``image`` with region ``region`` of ``segments`` replaced by
    boundary-prior noise mu + sigma Z (``noise``: the scale's field Z_j, (H, W, C))."""
    return np.where((segments == region)[..., None], mu + sigma * noise, image)


def _probability(model):
    """``f(x) -> (B, K)`` class probabilities of ``model`` (never softmaxed twice)."""
    import tensorflow as tf

    from xaibench.prepare import output_head

    net, apply_softmax = output_head(model, "probability")
    if apply_softmax:
        return lambda x: tf.nn.softmax(net(x, training=False), axis=-1)
    return lambda x: net(x, training=False)


def _one_image(analyzer, prob, image, label: int, noise) -> dict:
    """Alg. 3 lines 1-12 for one image: p(y|x), p(y|x_\\i) for every region of every
    scale, and the maps s^j = max(0, p(y|x) - p(y|x_\\i)) on region i."""
    import tensorflow as tf

    seg = analyzer.segment_scales(image)
    mu, sd = analyzer.prior(image)
    sizes = [2 ** j for j in range(1, analyzer.scales + 1)]
    copies = [erase(image, seg[j], region, mu, sd, noise[j])
              for j, k in enumerate(sizes) for region in range(k)]
    scores = prob(tf.constant(np.concatenate([image[None], np.stack(copies)]),
                              tf.float32)).numpy()[:, label].astype(np.float64)
    diff = np.maximum(0.0, scores[0] - scores[1:])
    starts = np.cumsum([0] + sizes)
    maps = np.stack([diff[starts[j]:starts[j + 1]][seg[j]] for j in range(len(sizes))])
    return {"maps": maps, "segments": seg.astype(np.int16), "p": scores[0],
            "p_without": scores[1:], "mu": mu, "sigma": sd}


def per_scale(model, x, y, scales: int, seed: int, segmentation: str = "slic") -> dict:
    """The maps s^j of every scale j (Alg. 3 lines 3-12) and the region probabilities.

    Uses the ``rmpd`` analyzer's segmentation (``segment_scales``, line 4), its
    boundary prior (``prior``, line 2) and its noise fields (``noise``, one per scale),
    so that ``mean_j s^j`` (line 13) is the analyzer's heatmap. Returns ``maps``
    (N, r, H, W), ``segments`` (N, r, H, W), ``p`` (N,) = p(y|x), ``p_without``
    (N, 2^(r+1) - 2) = p(y|x_\\i) per region, the prior's ``mu`` (N, C), ``sigma`` (N,)
    and the fields ``noise`` (r, H, W, C).
    """
    import xaibench as xb

    analyzer = xb.create_analyzer("rmpd", model, scales=scales, seed=seed,
                                  segmentation=segmentation)
    prob = _probability(model)
    noise = analyzer.noise(x.shape[1:])
    parts = [_one_image(analyzer, prob, x[i], int(y[i]), noise) for i in range(len(x))]
    out = {k: np.stack([p[k] for p in parts]) for k in parts[0]}
    out["noise"] = noise
    return out


@dataclass(frozen=True)
class RegionEffect:
    """Fig. 2 over the images: mean p(y|x) intact (``p``), with the region holding most of
    the object erased (``p_object``) and with the largest region without object pixels
    erased (``p_background``), at the scale ``scale`` (index j of 2^(j+1) regions);
    ``pick``: ``(image, object region, background region)`` of the image whose object
    erasure costs the most probability, or None when no image has both kinds."""

    images: int
    p: float
    p_object: float
    p_background: float
    scale: int
    pick: tuple | None


def region_effect(sc: dict, masks, regions: int) -> RegionEffect:
    """:class:`RegionEffect` of the per-scale results ``sc`` (:func:`per_scale`) at the
    scale of ``regions`` regions (the finest scale when r is smaller)."""
    j = min(int(math.log2(regions)), sc["maps"].shape[1]) - 1
    offset, k = 2 ** (j + 1) - 2, 2 ** (j + 1)
    rows = []                       # (image, object region, background region)
    for i, seg in enumerate(sc["segments"][:, j]):
        inside = np.bincount(seg[masks[i]].ravel(), minlength=k)
        free = np.nonzero(inside == 0)[0]
        if inside.max() > 0 and len(free):
            size = np.bincount(seg.ravel(), minlength=k)
            rows.append((i, int(np.argmax(inside)), int(free[np.argmax(size[free])])))
    if not rows:
        return RegionEffect(0, math.nan, math.nan, math.nan, j, None)
    images = [i for i, _, _ in rows]
    p_obj = np.array([sc["p_without"][i, offset + o] for i, o, _ in rows])
    p_bg = [sc["p_without"][i, offset + b] for i, _, b in rows]
    drops = sc["p"][images] - p_obj
    return RegionEffect(len(rows), float(np.mean(sc["p"][images])), float(np.mean(p_obj)),
                        float(np.mean(p_bg)), j, rows[int(np.argmax(drops))])


def f_measures(maps, masks, pr_params: dict) -> tuple:
    """Fig. 3: ``(mean F of each scale's map s^j, mean F of the fused map)``, F averaged
    over the images and the thresholds of ``pr_params`` (the run's precision_recall)."""
    from xaibench.evaluate import precision_recall_curves

    def mean_f(m):
        return float(precision_recall_curves(m, masks=masks, **pr_params)["f"].mean())

    return [mean_f(maps[:, j]) for j in range(maps.shape[1])], mean_f(maps.mean(axis=1))


def counting_model(model):
    """``(wrapper, counter)``: a model giving ``model``'s logits whose first layer adds
    the batch size of every call to ``counter`` (a tf.Variable), inside traced
    functions too; a softmax on top gives ``model``'s probabilities."""
    import tensorflow as tf

    from xaibench.prepare import logits_model

    class CountImages(tf.keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.count = tf.Variable(0, dtype=tf.int64, trainable=False)

        def call(self, x):
            self.count.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
            return tf.identity(x)

    inp = tf.keras.Input(model.input_shape[1:])
    layer = CountImages(name="count_images")
    wrapper = tf.keras.Model(inp, logits_model(model)(layer(inp)), name="counted")
    return wrapper, layer.count


def timing(model, x, y, steps: dict) -> dict:
    """Forward passes and seconds of each analyzer :class:`Step` of ``steps`` (key ->
    Step) on the same images, one warm-up image first so that tracing is not timed."""
    import xaibench as xb

    wrapper, count = counting_model(model)
    out = {"images": int(len(x))}
    for key, step in steps.items():
        analyzer = xb.create_analyzer(step.name, wrapper, **step.params)
        analyzer.analyze(x[:1], neuron_selection=y[:1])
        count.assign(0)
        t0 = time.perf_counter()
        analyzer.analyze(x, neuron_selection=y)
        seconds = time.perf_counter() - t0
        out[key] = {"forward_passes": int(count.numpy()), "seconds": seconds,
                    "stats_model_images": int(analyzer.stats.get("model_images", -1))}
    return out


@dataclass(frozen=True)
class Cost:
    """Sec. 3.3 / 4 per image, from :func:`timing` of RMPD and PD."""

    images: int
    rmpd_passes: float
    pd_passes: float
    rmpd_seconds: float
    pd_seconds: float

    @classmethod
    def of(cls, tm: dict) -> "Cost":
        n = tm["images"]
        return cls(n, tm["RMPD"]["forward_passes"] / n, tm["PD"]["forward_passes"] / n,
                   tm["RMPD"]["seconds"] / n, tm["PD"]["seconds"] / n)

    @property
    def speedup(self) -> float:
        """PD seconds / RMPD seconds (NaN without an RMPD time)."""
        return self.pd_seconds / self.rmpd_seconds if self.rmpd_seconds > 0 else math.nan


def pd_passes_formula(h: int, w: int, inner: int, samples: int, stride: int) -> int:
    """Forward passes of Alg. 2 per image: 1 + (windows) r, windows at stride ``stride``
    plus the last position (n^2 r for stride 1 and k = 1 as in Sec. 3.2)."""
    def count(size):
        starts = list(range(0, size - inner + 1, stride))
        return len(starts) + (starts[-1] != size - inner)

    return 1 + count(h) * count(w) * samples
