"""Metrics a run can compute, as rows ``(image, setting, step, value)``.

Each metric maps (model, images, labels, boxes/masks, heatmaps) to rows through
``xb.evaluate``; ``baseline`` metrics compute the analyzer-free reference once per
image range (the random-order perturbation curve of Samek et al.; the random-pixel
control of Amorim et al.; the uniform attribution of Kohlbrenner et al.). ``step`` is
-1 for a scalar, else the index on a curve.
"""
from __future__ import annotations

import numpy as np

SCALAR = -1


def _aopc_settings(x, params):
    h, w = x.shape[1:3]
    region = int(params.get("region", max(1, min(h, w) // 9)))
    n_regions = (h // region) * (w // region)
    steps = int(params.get("steps", min(100, n_regions)))
    return dict(region=region, steps=steps, perturbation=params.get("perturbation", "uniform"),
                repeats=int(params.get("repeats", 3)),
                channel_reduce=params.get("channel_reduce", "sum"),
                output=params.get("output", "logit"))


def _curve_rows(curves, name):
    from xaibench.evaluate import aopc_curve

    a = aopc_curve(curves)                      # (N, L + 1)
    rows = []
    for i in range(a.shape[0]):
        rows.append((i, name, SCALAR, float(a[i, -1])))
        rows += [(i, name, k, float(a[i, k])) for k in range(a.shape[1])]
    return rows


def aopc(ctx, R, params):
    """AOPC of MoRF region perturbation (Samek et al., eqs. 11-12), with its curve over L."""
    from xaibench.evaluate import perturbation_curve

    curves = perturbation_curve(ctx.model, ctx.x, R, y=ctx.y, order="morf", seed=ctx.seed,
                                image_ids=ctx.ids, **_aopc_settings(ctx.x, params))
    return _curve_rows(curves, "morf")


def aopc_baseline(ctx, params):
    from xaibench.evaluate import perturbation_curve

    curves = perturbation_curve(ctx.model, ctx.x, np.zeros_like(ctx.x), y=ctx.y, order="random",
                                seed=ctx.seed, image_ids=ctx.ids, **_aopc_settings(ctx.x, params))
    return _curve_rows(curves, "random")


def _confidence_drop_rows(ctx, R, params, key):
    from xaibench.evaluate import confidence_drop as drop

    fractions = tuple(params.get("fractions", (.05, .1, .2, .3, .4, .5, .75)))
    out = drop(ctx.model, ctx.x, R, fractions=fractions, y=ctx.y, seed=ctx.seed,
               image_ids=ctx.ids, repeats=int(params.get("repeats", 3)),
               control="random" if key == "control" else None)
    return [(i, f"{key}@{f:g}", SCALAR, float(out[key][i, j]))
            for i in range(out[key].shape[0]) for j, f in enumerate(fractions)]


def confidence_drop(ctx, R, params):
    """Amorim et al. eq. 3 at the k % most relevant pixels."""
    return _confidence_drop_rows(ctx, R, params, "drop")


def confidence_drop_baseline(ctx, params):
    """Eq. 3 at k % random pixels (Amorim et al.'s control; no heatmap involved)."""
    return _confidence_drop_rows(ctx, None, params, "control")


def _ground_truth(ctx):
    """The object as boxes when the data has them (Kohlbrenner et al.), else as masks."""
    if ctx.boxes is not None:
        return dict(boxes=ctx.boxes, image_shape=ctx.x.shape[1:3])
    if ctx.masks is not None:
        return dict(masks=ctx.masks)
    raise ValueError("this metric needs boxes or masks; the data set has neither")


def relevance_ratio(ctx, R, params):
    """mu and mu_w of Kohlbrenner et al. eq. 2 inside the object's boxes (or masks)."""
    from xaibench.evaluate import relevance_ratio as ratio

    out = ratio(R, **_ground_truth(ctx))
    return [(i, key, SCALAR, float(out[key][i])) for key in ("mu", "mu_w", "size")
            for i in range(len(R))]


def relevance_ratio_baseline(ctx, params):
    from xaibench.evaluate import uniform_relevance_ratio

    gt = _ground_truth(ctx)
    if "boxes" in gt:
        out = uniform_relevance_ratio(gt["boxes"], shape=ctx.x.shape[1:3])
    else:
        out = uniform_relevance_ratio(masks=gt["masks"])
    return [(i, key, SCALAR, float(out[key][i])) for key in ("mu", "mu_w", "size")
            for i in range(len(ctx.x))]


def pointing_game(ctx, R, params):
    """1 when the maximum of the heatmap lies in the object, else 0."""
    from xaibench.evaluate import pointing_game as game

    hits = np.asarray(game(R, **_ground_truth(ctx)))
    return [(i, "hit", SCALAR, float(hits[i])) for i in range(len(R))]


def complexity(ctx, R, params):
    """PNG / JPEG size and entropy of the rendered heatmap (Samek et al., Fig. 5), the
    channels pooled by ``channel_reduce`` ("sum", or the norms "l2" / "linf" Samek et al.
    apply to sensitivity and deconvolution maps)."""
    from xaibench.evaluate import complexity as cx

    out = cx(R, channel_reduce=params.get("channel_reduce", "sum"))
    return [(i, key, SCALAR, float(out[key][i])) for key in ("png", "jpeg", "entropy")
            for i in range(len(R))]


def _class_scores(model, x, output: str, batch_size: int = 64) -> np.ndarray:
    """``(N, K)`` logits or probabilities of ``model`` (softmax applied once, see
    :func:`xaibench.prepare.output_head`), ``batch_size`` images at a time."""
    from xaibench.prepare import output_head

    net, softmax = output_head(model, output)
    out = np.concatenate([np.asarray(net(x[k:k + batch_size], training=False))
                          for k in range(0, len(x), batch_size)]).astype(np.float64)
    if softmax:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    return out


def kept_score(ctx, R, params):
    """Anjomshoae et al. Fig. 3: the explained class's probability on the image that keeps
    only the pixels whose relevance is >= ``threshold`` (0.01, the paper's display threshold
    for contextual importance), every other pixel set to ``fill`` (0); with the whole
    image's probability, whether the class is still the argmax, and the kept share."""
    threshold = float(params.get("threshold", 0.01))
    fill = float(params.get("fill", 0.0))
    keep = np.asarray(R, np.float32).mean(axis=-1) >= threshold            # (N, H, W)
    kept = np.where(keep[..., None], ctx.x, np.float32(fill)).astype(np.float32)
    p = _class_scores(ctx.model, np.concatenate([ctx.x, kept]), "probability")
    n, y = len(ctx.x), np.asarray(ctx.y, np.int64)
    whole, part = p[np.arange(n), y], p[n + np.arange(n), y]
    hit = np.argmax(p[n:], axis=1) == y
    return [(i, key, SCALAR, float(v[i])) for key, v in
            (("kept", part), ("whole", whole), ("kept_argmax", hit.astype(np.float64)),
             ("kept_fraction", keep.reshape(n, -1).mean(axis=1))) for i in range(n)]


def object_occlusion(ctx, R, params):
    """Kohlbrenner et al. Fig. 2: logit change when occluding the boxes vs. the context.

    Analyzer-free: the rows come from :func:`object_occlusion_baseline`."""
    return []


def object_occlusion_baseline(ctx, params):
    """Rows per image: "f" (unperturbed true-class output), "object" / "context" (its change
    f(x occluded) - f(x) when the pixels inside / outside the union of the boxes or the mask
    are replaced by ``fill``: the training mean, a scalar or one value per channel) and
    "size" (S_in / S_tot); ``output``: "logit" (default) or "probability"."""
    from xaibench.evaluate import boxes_to_masks

    x = np.asarray(ctx.x, np.float32)
    fill = np.asarray(params.get("fill", 0.0), np.float32)
    if fill.ndim > 1 or (fill.ndim == 1 and fill.shape[0] != x.shape[-1]):
        raise ValueError(f"object_occlusion fill must be a number or {x.shape[-1]} channel "
                         f"values, got shape {fill.shape}")
    gt = _ground_truth(ctx)
    if "boxes" in gt:
        m = boxes_to_masks(gt["boxes"], x.shape[1:3], gt["image_shape"])
    else:
        m = np.asarray(gt["masks"]).astype(bool)
        m = m[..., 0] if m.ndim == 4 else m
    m = m[..., None]
    filled = np.broadcast_to(fill, x.shape).astype(np.float32)
    batch = np.concatenate([x, np.where(m, filled, x), np.where(m, x, filled)])
    out = _class_scores(ctx.model, batch, params.get("output", "logit"))
    n = len(x)
    f = out[np.arange(3 * n), np.tile(np.asarray(ctx.y, np.int64), 3)].reshape(3, n)
    size = m.reshape(n, -1).mean(axis=1)
    return [(i, key, SCALAR, float(v[i])) for key, v in
            (("f", f[0]), ("object", f[1] - f[0]), ("context", f[2] - f[0]), ("size", size))
            for i in range(n)]


def precision_recall(ctx, R, params):
    """Precision, recall, F-measure of the thresholded heatmap vs the mask (Seo Fig. 5).

    The heatmap is normalised to [0, 1] per image and compared with the object's mask
    (or boxes) for thresholds 0..1; step = threshold index, the scalar (step -1) = the mean over thresholds
    (area under the curve), plus "max_f". Params: thresholds (101), normalise ("max"),
    beta (1), channel_reduce ("sum"), ground_truth ("masks" / "boxes", default masks
    when the data has them)."""
    from xaibench.evaluate import precision_recall_curves

    which = params.get("ground_truth", "masks" if ctx.masks is not None else "boxes")
    if which == "masks" and ctx.masks is not None:
        gt = dict(masks=ctx.masks)
    elif which == "boxes" and ctx.boxes is not None:
        gt = dict(boxes=ctx.boxes, image_shape=ctx.x.shape[1:3])
    else:
        raise ValueError(f"precision_recall needs {which} (ground_truth={which!r}); the data "
                         "set has none")
    out = precision_recall_curves(R, thresholds=int(params.get("thresholds", 101)),
                                  normalise=params.get("normalise", "max"),
                                  beta=float(params.get("beta", 1.0)),
                                  channel_reduce=params.get("channel_reduce", "sum"), **gt)
    rows = []
    for key in ("precision", "recall", "f"):
        v = out[key]
        for i in range(v.shape[0]):
            rows.append((i, key, SCALAR, float(v[i].mean())))
            rows += [(i, key, k, float(v[i, k])) for k in range(v.shape[1])]
    rows += [(i, "max_f", SCALAR, float(out["f"][i].max())) for i in range(len(R))]
    return rows


#: name -> (metric, baseline or None)
METRICS = {
    "aopc": (aopc, aopc_baseline),
    "confidence_drop": (confidence_drop, confidence_drop_baseline),
    "relevance_ratio": (relevance_ratio, relevance_ratio_baseline),
    "pointing_game": (pointing_game, None),
    "complexity": (complexity, None),
    "object_occlusion": (object_occlusion, object_occlusion_baseline),
    "kept_score": (kept_score, None),
    "precision_recall": (precision_recall, None),
}

#: name -> one-line description (``xaibench list``); "baseline" says what the analyzer-free
#: reference row of the metric is
DESCRIPTIONS = {
    "aopc": "AOPC: mean drop of the class logit as the most relevant regions are perturbed "
            "first (MoRF), with its curve (Samek et al., eqs. 11-12); baseline: random order.",
    "confidence_drop": "Confidence drop when the k % most relevant pixels are removed "
                       "(Amorim et al., eq. 3); baseline: k % random pixels.",
    "relevance_ratio": "mu and mu_w: the share of relevance inside the object's boxes or "
                       "masks (Kohlbrenner et al., eq. 2); baseline: a uniform heatmap.",
    "pointing_game": "Pointing game: 1 when the heatmap's maximum lies inside the object, "
                     "else 0.",
    "complexity": "Complexity: PNG and JPEG size and entropy of the rendered heatmap "
                  "(Samek et al., Fig. 5).",
    "object_occlusion": "Change of the class logit when the object or its context is "
                        "occluded (Kohlbrenner et al., Fig. 2); needs no heatmap.",
    "kept_score": "Class probability on the image that keeps only the pixels with relevance "
                  ">= 0.01 (Anjomshoae et al., Fig. 3).",
    "precision_recall": "Precision, recall and F-measure of the thresholded heatmap against "
                        "the object's mask (Seo et al., Fig. 5).",
}
