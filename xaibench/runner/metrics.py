"""Metrics a run can compute, as rows ``(image, setting, step, value)``.

Each metric maps (model, images, labels, boxes/masks, heatmaps) to rows through
``xb.evaluate``; ``baseline`` metrics compute the analyzer-free reference once per
image range (the random-order perturbation curve of Samek et al.; the uniform
attribution of Kohlbrenner et al.). ``step`` is -1 for a scalar, else the index on
a curve.
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


def confidence_drop(ctx, R, params):
    """Amorim et al. eq. 3 at the k % most relevant pixels, and k % random pixels."""
    from xaibench.evaluate import confidence_drop as drop

    fractions = tuple(params.get("fractions", (.05, .1, .2, .3, .4, .5, .75)))
    out = drop(ctx.model, ctx.x, R, fractions=fractions, y=ctx.y, seed=ctx.seed,
               image_ids=ctx.ids, repeats=int(params.get("repeats", 3)))
    rows = []
    for key in ("drop", "control"):
        for i in range(out[key].shape[0]):
            rows += [(i, f"{key}@{f:g}", SCALAR, float(out[key][i, j]))
                     for j, f in enumerate(fractions)]
    return rows


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
    """PNG / JPEG size and entropy of the rendered heatmap (Samek et al., Fig. 5)."""
    from xaibench.evaluate import complexity as cx

    out = cx(R)
    return [(i, key, SCALAR, float(out[key][i])) for key in ("png", "jpeg", "entropy")
            for i in range(len(R))]


#: name -> (metric, baseline or None)
METRICS = {
    "aopc": (aopc, aopc_baseline),
    "confidence_drop": (confidence_drop, None),
    "relevance_ratio": (relevance_ratio, relevance_ratio_baseline),
    "pointing_game": (pointing_game, None),
    "complexity": (complexity, None),
}
