"""What Seo et al. measure beyond the batch run: the per-scale maps s^j of Alg. 3 (Figs. 2
and 3), the region effect of Fig. 2 and the forward passes and seconds of Sec. 3.3 / 4."""
from __future__ import annotations

import math
import time
from collections import namedtuple

import numpy as np

#: Fig. 2 over the images: mean p(y|x) intact (``p``), with the region holding most of
#: the object erased (``p_object``) and with the largest region without object pixels
#: erased (``p_background``), at scale index ``scale`` (2^(j+1) regions); ``pick``:
#: ``(image, object region, background region)`` of the image whose object erasure costs
#: the most probability (None when no image has both kinds of region)
RegionEffect = namedtuple("RegionEffect", "images p p_object p_background scale pick")
#: Sec. 3.3 / 4 per image (:func:`cost`)
Cost = namedtuple("Cost", "images rmpd_passes pd_passes rmpd_seconds pd_seconds speedup")


def erase(image, segments, region: int, mu, sigma, noise):
    """Alg. 3 line 6: ``image`` with region ``region`` of ``segments`` replaced by
    boundary-prior noise mu + sigma Z (``noise``: the scale's field Z_j, (H, W, C))."""
    return np.where((segments == region)[..., None], mu + sigma * noise, image)


def per_scale(model, x, y, scales: int, seed: int) -> dict:
    """The maps s^j = max(0, p(y|x) - p(y|x_\\i)) on region i of every scale j (Alg. 3
    lines 1-12), with the ``rmpd`` analyzer's segmentation (line 4), boundary prior (line
    2) and noise fields, so that ``mean_j s^j`` (line 13) is its heatmap. Returns ``maps``
    and ``segments`` (N, r, H, W), ``p`` (N,) = p(y|x), ``p_without`` (N, 2^(r+1) - 2) =
    p(y|x_\\i) per region, the prior's ``mu`` (N, C), ``sigma`` (N,) and ``noise`` (r, H,
    W, C)."""
    import tensorflow as tf

    import xaibench as xb
    from xaibench.analyzers.perturbation._kernels import score_function

    analyzer = xb.create_analyzer("rmpd", model, scales=scales, seed=seed)
    prob = score_function(model, "probability")
    noise = analyzer.noise(x.shape[1:])
    parts = []
    for image, label in zip(x, y):
        seg = analyzer.segment_scales(image)
        mu, sd = analyzer.prior(image)
        copies = [erase(image, seg[j], region, mu, sd, noise[j])
                  for j in range(scales) for region in range(2 ** (j + 1))]
        scores = prob(tf.constant(np.concatenate([image[None], np.stack(copies)]),
                                  tf.float32)).numpy()[:, int(label)].astype(np.float64)
        diff = np.maximum(0.0, scores[0] - scores[1:])
        # region i of scale j is entry 2^(j+1) - 2 + i of diff
        maps = np.stack([diff[2 ** (j + 1) - 2:2 ** (j + 2) - 2][seg[j]] for j in range(scales)])
        parts.append({"maps": maps, "segments": seg.astype(np.int16), "p": scores[0],
                      "p_without": scores[1:], "mu": mu, "sigma": sd})
    return {**{k: np.stack([p[k] for p in parts]) for k in parts[0]}, "noise": noise}


def region_effect(sc: dict, masks, regions: int) -> RegionEffect:
    """Fig. 2 from the per-scale results ``sc`` (:func:`per_scale`) at the scale of
    ``regions`` regions (the finest when r is smaller)."""
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
    i, obj, bg = np.array(rows).T
    p_obj = sc["p_without"][i, offset + obj]
    return RegionEffect(len(rows), float(np.mean(sc["p"][i])), float(np.mean(p_obj)),
                        float(np.mean(sc["p_without"][i, offset + bg])), j,
                        rows[int(np.argmax(sc["p"][i] - p_obj))])


def f_measures(maps, masks, pr_params: dict) -> tuple:
    """Fig. 3: ``(mean F of each scale's map s^j, mean F of the fused map)``, F averaged
    over the images and the thresholds of ``pr_params`` (the run's precision_recall)."""
    from xaibench.evaluate import precision_recall_curves

    def mean_f(m):
        return float(precision_recall_curves(m, masks=masks, **pr_params)["f"].mean())

    return [mean_f(maps[:, j]) for j in range(maps.shape[1])], mean_f(maps.mean(axis=1))


def timing(model, x, y, steps: dict) -> dict:
    """Forward passes and seconds of each analyzer :class:`Step` of ``steps`` (key ->
    Step) on the same images, after one warm-up image (tracing is not timed). The passes
    are counted by a layer in front of ``model``'s logits that adds the batch size of
    every call to a tf.Variable, inside traced functions too."""
    import tensorflow as tf

    import xaibench as xb
    from xaibench.prepare import logits_model

    count = tf.Variable(0, dtype=tf.int64, trainable=False)

    class CountImages(tf.keras.layers.Layer):
        def call(self, x):
            count.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
            return tf.identity(x)

    inp = tf.keras.Input(model.input_shape[1:])
    wrapper = tf.keras.Model(inp, logits_model(model)(CountImages(name="count_images")(inp)),
                             name="counted")
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


def cost(tm: dict) -> Cost:
    """Sec. 3.3 / 4 per image from :func:`timing` of RMPD and PD; the speed-up is PD
    seconds / RMPD seconds (NaN without an RMPD time)."""
    n = tm["images"]
    (rp, rs), (pp, ps) = ((tm[m]["forward_passes"] / n, tm[m]["seconds"] / n)
                          for m in ("RMPD", "PD"))
    return Cost(n, rp, pp, rs, ps, ps / rs if rs > 0 else math.nan)


def pd_passes_formula(h: int, w: int, inner: int, samples: int, stride: int) -> int:
    """Forward passes of Alg. 2 per image: 1 + r per window, the windows at stride
    ``stride`` plus the last position (r n^2 + 1 for stride 1 and k = 1, Sec. 3.2)."""
    def count(size):
        starts = range(0, size - inner + 1, stride)
        return len(starts) + (starts[-1] != size - inner)

    return 1 + count(h) * count(w) * samples
