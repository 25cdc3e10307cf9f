"""Metrics a run can compute, as rows ``(image, setting, step, value)``.

Each metric maps (model, images, labels, boxes/masks, heatmaps) to rows through
``xb.evaluate``; ``baseline`` metrics compute the analyzer-free reference once per
image range (the random-order perturbation curve of Samek et al.; the random-pixel
control of Amorim et al.; the uniform attribution of Kohlbrenner et al.). ``step`` is
-1 for a scalar, else the index on a curve. The metrics beyond the papers (ROAD,
randomisation, insertion/deletion, ABPC, faithfulness correlation, sparseness) take the
parameters of their ``xb.evaluate`` function, with its defaults, and refuse others.
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


# ------------------------------------------------------------- metrics beyond the papers
# ROAD, randomisation sanity checks, insertion/deletion, ABPC, faithfulness correlation,
# sparseness. Parameters are those of the xb.evaluate functions, with their defaults.

def _params(params, allowed, metric):
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValueError(f"metric {metric} does not take {', '.join(unknown)}; its parameters "
                         f"are {', '.join(allowed)}")
    return dict(params)


def _curve_and_score(values, setting, score):
    """Rows of one (N, S) curve per image: the curve at steps 0..S-1, ``score`` (N,) as the
    scalar."""
    values = np.asarray(values, np.float64)
    score = np.asarray(score, np.float64)
    rows = []
    for i in range(values.shape[0]):
        rows.append((i, setting, SCALAR, float(score[i])))
        rows += [(i, setting, k, float(values[i, k])) for k in range(values.shape[1])]
    return rows


def _orders(value, allowed, metric):
    orders = [value] if isinstance(value, str) else list(value)
    if not orders or any(o not in allowed for o in orders):
        raise ValueError(f"metric {metric}: order {value!r} is not supported; use one of "
                         f"{', '.join(allowed)} (or a list of them)")
    return orders


ROAD_PARAMS = ("fractions", "order", "noise", "channel_reduce", "output", "batch_size", "tol",
               "max_iter")


def road(ctx, R, params):
    """ROAD (Rong et al. 2022): per ``order`` ("morf" by default, or a list such as
    [morf, lerf]) the explained output after removing the ``fractions`` most / least
    relevant pixels with noisy linear imputation: setting = the order, step = index into
    ``fractions`` (default 0.1..0.9), scalar = the mean over fractions; and
    "<order>_accuracy": whether the model still predicts the class (its mean over images is
    the paper's accuracy curve). Other parameters as :func:`xaibench.evaluate.road`."""
    from xaibench.evaluate import road as road_fn

    p = _params(params, ROAD_PARAMS, "road")
    rows = []
    for order in _orders(p.pop("order", "morf"), ("morf", "lerf"), "road"):
        out = road_fn(ctx.model, ctx.x, R, order=order, y=ctx.y, seed=ctx.seed,
                      image_ids=ctx.ids, progress=False, **p)
        rows += _curve_and_score(out["values"], order, out["values"].mean(axis=1))
        correct = out["correct"].astype(np.float64)
        rows += _curve_and_score(correct, f"{order}_accuracy", correct.mean(axis=1))
    return rows


RANDOMISATION_PARAMS = ("order", "layers", "similarity", "randomise", "abs", "normalise",
                        "channel_reduce", "evaluate_at")


def randomisation(ctx, R, params):
    """Model parameter randomisation test (Adebayo et al. 2018) of the shard's analyzer
    (its name and parameters, ``ctx.analyzer`` / ``ctx.analyzer_params``): per similarity
    ("spearman", "ssim", "hog" by default) the similarity of the original heatmaps to
    those of the model with the layers randomised ``order`` ("cascading": from the top
    layer down, one more per step; "independent": one at a time); setting = the
    similarity, step = index of the (evaluated) randomisation step, top layer first; scalar:
    the similarity at the last step (cascading: by default with every layer randomised) or
    its mean over the layers (independent). Low is a pass. Other parameters (``layers``,
    ``evaluate_at``, ...) as :func:`xaibench.evaluate.randomisation`; the shard's heatmaps
    are its original ones."""
    from xaibench.evaluate import randomisation as mprt

    p = _params(params, RANDOMISATION_PARAMS, "randomisation")
    if ctx.analyzer is None:
        raise ValueError("metric randomisation needs the analyzer's name (Context.analyzer)")
    out = mprt(ctx.model, ctx.x, ctx.analyzer, y=ctx.y, analyzer_params=ctx.analyzer_params,
               seed=ctx.seed, heatmaps=R, **p)
    rows = []
    for s in _similarities(p.get("similarity")):
        v = out[s]
        score = v[:, -1] if out["order"] == "cascading" else np.nanmean(v, axis=1)
        rows += _curve_and_score(v, s, score)
    return rows


def _similarities(value):
    from xaibench.evaluate.randomisation import SIMILARITIES

    if value is None:
        return SIMILARITIES
    return (value,) if isinstance(value, str) else tuple(value)


INSERTION_DELETION_PARAMS = ("steps", "deletion_baseline", "insertion_baseline", "blur_sigma",
                             "channel_reduce", "output", "batch_size")


def insertion_deletion(ctx, R, params):
    """Deletion and insertion curves (Petsiuk et al. 2018): settings "deletion" and
    "insertion", step = index on the curve (0..steps, default 100), scalar = the curve's
    AUC (low deletion and high insertion AUC are good). Parameters as
    :func:`xaibench.evaluate.insertion_deletion`."""
    from xaibench.evaluate import insertion_deletion as fn

    p = _params(params, INSERTION_DELETION_PARAMS, "insertion_deletion")
    out = fn(ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed, image_ids=ctx.ids, progress=False,
             **p)
    return (_curve_and_score(out["deletion"], "deletion", out["deletion_auc"])
            + _curve_and_score(out["insertion"], "insertion", out["insertion_auc"]))


ABPC_PARAMS = ("region", "steps", "perturbation", "repeats", "channel_reduce", "output",
               "batch_size", "blur_sigma")


def abpc(ctx, R, params):
    """ABPC (M4, Li et al. 2023): setting "abpc", scalar = the area between the LeRF and
    MoRF region-perturbation curves (larger is better); the mean curves are rows of
    settings "morf" and "lerf" (step = perturbation step). Parameters as
    :func:`xaibench.evaluate.perturbation_curve`, with its defaults (9x9 regions, 10
    repeats, uniform noise); ``steps``: 100, or the number of regions when the image has
    fewer."""
    from xaibench.evaluate import abpc as fn

    p = _params(params, ABPC_PARAMS, "abpc")
    h, w = ctx.x.shape[1:3]
    region = int(p.get("region", 9))
    if region <= min(h, w):                   # else perturbation_curve says what is wrong
        p.setdefault("steps", min(100, (h // region) * (w // region)))
    out = fn(ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed, image_ids=ctx.ids, progress=False,
             **p)
    rows = [(i, "abpc", SCALAR, float(v)) for i, v in enumerate(out["abpc"])]
    for key in ("morf", "lerf"):
        curve = np.asarray(out[key].mean(), np.float64)          # (N, steps + 1)
        rows += [(i, key, k, float(curve[i, k])) for i in range(curve.shape[0])
                 for k in range(curve.shape[1])]
    return rows


FAITHFULNESS_CORRELATION_PARAMS = ("runs", "subset_size", "baseline", "blur_sigma",
                                   "channel_reduce", "output", "batch_size")


def faithfulness_correlation(ctx, R, params):
    """Faithfulness correlation (Bhatt et al. 2020): setting "correlation", scalar per
    image. ``subset_size`` defaults to the function's 224 pixels, or a quarter of the
    image's pixels when 224 would be more than that; other parameters as
    :func:`xaibench.evaluate.faithfulness_correlation`."""
    from xaibench.evaluate import faithfulness_correlation as fn

    p = _params(params, FAITHFULNESS_CORRELATION_PARAMS, "faithfulness_correlation")
    h, w = ctx.x.shape[1:3]
    p.setdefault("subset_size", min(224, max(1, h * w // 4)))
    out = fn(ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed, image_ids=ctx.ids, **p)
    return [(i, "correlation", SCALAR, float(v)) for i, v in enumerate(out["correlation"])]


def sparseness(ctx, R, params):
    """Sparseness (Chalasani et al. 2020): the Gini index of |R|, setting "gini" (higher is
    sparser); ``channel_reduce`` as :func:`xaibench.evaluate.sparseness`."""
    from xaibench.evaluate import sparseness as fn

    p = _params(params, ("channel_reduce",), "sparseness")
    return [(i, "gini", SCALAR, float(v)) for i, v in enumerate(fn(R, **p))]


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
    "road": (road, None),
    "randomisation": (randomisation, None),
    "insertion_deletion": (insertion_deletion, None),
    "abpc": (abpc, None),
    "faithfulness_correlation": (faithfulness_correlation, None),
    "sparseness": (sparseness, None),
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
    "road": "ROAD: class logit as the most (or least) relevant pixels are removed and "
            "filled by noisy linear imputation, with its curve over the removed fraction "
            "(Rong et al., 2022).",
    "randomisation": "Sanity check: similarity (Spearman, SSIM, HOG) of the heatmaps of the "
                     "model and of its copies with layers randomised from the top down "
                     "(Adebayo et al., 2018); low is a pass.",
    "insertion_deletion": "Deletion and insertion curves of the class probability and their "
                          "AUCs (Petsiuk et al., RISE, 2018).",
    "abpc": "ABPC: area between the LeRF and MoRF region-perturbation curves (M4, Li et al., "
            "2023); larger is better.",
    "faithfulness_correlation": "Faithfulness correlation: Pearson correlation of the summed "
                                "relevance of random pixel subsets and the output drop when "
                                "they are removed (Bhatt et al., 2020).",
    "sparseness": "Sparseness: Gini index of the absolute relevance (Chalasani et al., 2020); "
                  "higher is sparser.",
}
