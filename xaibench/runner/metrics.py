"""Metrics a run can compute, declared once as :class:`MetricSpec` in :data:`METRICS`.

Each metric is a thin adapter from a :class:`~xaibench.runner.engine.Context` (model,
images, labels, boxes/masks, heatmaps) to one ``xb.evaluate`` function and back to rows
``(image, setting, step, value)`` (built by :func:`rows`; ``step`` is -1 for a scalar,
else the index on a curve). A metric forwards only the parameters the user gave, so its
defaults are those of its ``xb.evaluate`` function (:attr:`MetricSpec.defaults`), and it
refuses parameters that function does not take. ``baseline`` metrics also compute the
analyzer-free reference once per image range (the random-order perturbation curve of
Samek et al.; the random-pixel control of Amorim et al.; the uniform attribution of
Kohlbrenner et al.), compared setting by setting (:meth:`MetricSpec.baseline_setting`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

SCALAR = -1


def rows(setting: str, scalar=None, curve=None) -> list:
    """The rows of one ``setting``: per image i the scalar ``(i, setting, -1, scalar[i])``
    (``scalar``: (N,)), then its curve ``(i, setting, k, curve[i, k])`` (``curve``: (N, S))."""
    scalar = None if scalar is None else np.asarray(scalar, np.float64)
    curve = None if curve is None else np.asarray(curve, np.float64)
    n = len(scalar) if scalar is not None else len(curve)
    out = []
    for i in range(n):
        if scalar is not None:
            out.append((i, setting, SCALAR, float(scalar[i])))
        if curve is not None:
            out += [(i, setting, k, float(curve[i, k])) for k in range(curve.shape[1])]
    return out


def evaluate_function(name: str):
    """The ``xb.evaluate`` function ``name`` (looked up at call time)."""
    import xaibench.evaluate

    return getattr(xaibench.evaluate, name)


def signature_default(function: str, parameter: str):
    """The default of ``parameter`` in the signature of ``xb.evaluate.<function>``."""
    import inspect

    return inspect.signature(evaluate_function(function)).parameters[parameter].default


@dataclass(frozen=True)
class MetricSpec:
    """One runner metric.

    ``compute(ctx, R, params)`` and ``baseline(ctx, params)`` (None: no analyzer-free
    reference) return rows; ``evaluate``: the ``xb.evaluate`` function they call, whose
    signature holds the defaults of the forwarded ``params``; ``options``: the runner's own
    parameters and their defaults; ``settings``: what the rows' settings and steps are;
    ``pairs``: analyzer setting -> the baseline setting it is compared with (higher is
    better there), see :meth:`baseline_setting`."""

    name: str
    compute: Callable
    description: str
    evaluate: str
    params: tuple = ()
    options: dict = field(default_factory=dict)
    settings: str = ""
    baseline: Callable | None = None
    pairs: Callable | None = None

    @property
    def defaults(self) -> dict:
        """Every parameter the metric takes with its default: the ``xb.evaluate``
        function's for ``params`` (imports TensorFlow), the runner's for ``options``."""
        return {**{p: signature_default(self.evaluate, p) for p in self.params},
                **self.options}

    def check(self, params: dict) -> dict:
        """``params`` as a new dict; a name the metric does not take raises ValueError."""
        allowed = tuple(self.params) + tuple(self.options)
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            from xaibench._checks import close_matches

            close = close_matches(unknown, allowed)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"metric {self.name} does not take {', '.join(unknown)}{hint}; its "
                             f"parameters are {', '.join(allowed) or 'none'}")
        return dict(params)

    @property
    def compared_to_baseline(self) -> bool:
        """Whether the report compares analyzers with the baseline on this metric."""
        return self.baseline is not None and self.pairs is not None

    def baseline_setting(self, setting: str) -> str | None:
        """The baseline setting an analyzer's ``setting`` is compared with (None: none)."""
        return self.pairs(setting) if self.compared_to_baseline else None


def _same(*settings):
    """Pairs of settings with themselves (or a mapping), e.g. mu against uniform mu."""
    table = {s: s for s in settings}
    return table.get


def _spec(metric_label: str):
    """The spec of a metric label ``name(params)`` (None: not a metric)."""
    return METRICS.get(str(metric_label).split("(")[0])


def compared_to_baseline(metric_label: str) -> bool:
    """Whether analyzers are compared with the baseline on ``metric_label`` (a metric
    name, or a run's label ``name(k=v,...)``)."""
    spec = _spec(metric_label)
    return spec is not None and spec.compared_to_baseline


def baseline_setting(metric_label: str, setting: str) -> str | None:
    """The baseline setting of ``setting`` of the metric ``metric_label`` (None: none)."""
    spec = _spec(metric_label)
    return None if spec is None else spec.baseline_setting(setting)


# ---------------------------------------------------------------------------- adapters

def _ground_truth(ctx):
    """The object as boxes when the data has them (Kohlbrenner et al.), else as masks."""
    if ctx.boxes is not None:
        return dict(boxes=ctx.boxes, image_shape=ctx.x.shape[1:3])
    if ctx.masks is not None:
        return dict(masks=ctx.masks)
    raise ValueError("this metric needs boxes or masks; the data set has neither")


CURVE_PARAMS = ("region", "steps", "perturbation", "repeats", "channel_reduce", "output",
                "batch_size", "blur_sigma")


def _capped_steps(ctx, p):
    """``p`` with perturbation_curve's default ``steps`` capped by the number of regions on
    the grid (when the region fits the image; else perturbation_curve says what is wrong)."""
    h, w = ctx.x.shape[1:3]
    region = p.get("region", signature_default("perturbation_curve", "region"))
    if isinstance(region, (int, np.integer)) and 1 <= region <= min(h, w):
        p.setdefault("steps", min(signature_default("perturbation_curve", "steps"),
                                  (h // region) * (w // region)))
    return p


def _aopc_rows(ctx, R, params, order):
    fn = evaluate_function("perturbation_curve")
    p = _capped_steps(ctx, METRICS["aopc"].check(params))
    curves = fn(ctx.model, ctx.x, R, y=ctx.y, order=order, seed=ctx.seed, image_ids=ctx.ids,
                **p)
    a = evaluate_function("aopc_curve")(curves)                  # (N, L + 1)
    return rows(order, scalar=a[:, -1], curve=a)


def aopc(ctx, R, params):
    """AOPC of MoRF region perturbation (Samek et al., eqs. 11-12), with its curve over L."""
    return _aopc_rows(ctx, R, params, "morf")


def aopc_baseline(ctx, params):
    """The same for the random order (Samek et al., Fig. 4's baseline)."""
    return _aopc_rows(ctx, np.zeros_like(ctx.x), params, "random")


CONFIDENCE_DROP_PARAMS = ("fractions", "perturbation", "repeats", "channel_reduce", "output",
                          "batch_size")


def _confidence_drop_rows(ctx, R, params, key):
    p = METRICS["confidence_drop"].check(params)
    out = evaluate_function("confidence_drop")(
        ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed, image_ids=ctx.ids,
        control="random" if key == "control" else None, **p)
    return [r for j, f in enumerate(out["fractions"])
            for r in rows(f"{key}@{f:g}", scalar=out[key][:, j])]


def confidence_drop(ctx, R, params):
    """Amorim et al. eq. 3 at the k % most relevant pixels."""
    return _confidence_drop_rows(ctx, R, params, "drop")


def confidence_drop_baseline(ctx, params):
    """Eq. 3 at k % random pixels (Amorim et al.'s control; no heatmap involved)."""
    return _confidence_drop_rows(ctx, None, params, "control")


def _drop_pairs(setting):
    """drop@k against control@k."""
    return "control@" + setting.split("@", 1)[1] if setting.startswith("drop@") else None


def relevance_ratio(ctx, R, params):
    """mu and mu_w of Kohlbrenner et al. eq. 2 inside the object's boxes (or masks)."""
    p = METRICS["relevance_ratio"].check(params)
    out = evaluate_function("relevance_ratio")(R, **_ground_truth(ctx), **p)
    return [r for key in ("mu", "mu_w", "size") for r in rows(key, scalar=out[key])]


def relevance_ratio_baseline(ctx, params):
    """mu and mu_w of a uniform heatmap (Kohlbrenner et al.'s reference)."""
    gt = _ground_truth(ctx)
    fn = evaluate_function("uniform_relevance_ratio")
    out = (fn(gt["boxes"], shape=ctx.x.shape[1:3]) if "boxes" in gt
           else fn(masks=gt["masks"]))
    return [r for key in ("mu", "mu_w", "size") for r in rows(key, scalar=out[key])]


def pointing_game(ctx, R, params):
    """1 when the maximum of the heatmap lies in the object, else 0."""
    p = METRICS["pointing_game"].check(params)
    return rows("hit", scalar=evaluate_function("pointing_game")(R, **_ground_truth(ctx), **p))


def complexity(ctx, R, params):
    """PNG / JPEG size and entropy of the rendered heatmap (Samek et al., Fig. 5)."""
    p = METRICS["complexity"].check(params)
    out = evaluate_function("complexity")(R, **p)
    return [r for key in ("png", "jpeg", "entropy") for r in rows(key, scalar=out[key])]


def kept_score(ctx, R, params):
    """Anjomshoae et al. Fig. 3, see :func:`xaibench.evaluate.kept_score`."""
    p = METRICS["kept_score"].check(params)
    out = evaluate_function("kept_score")(ctx.model, ctx.x, R, y=ctx.y, **p)
    return [r for key in ("kept", "whole", "kept_argmax", "kept_fraction")
            for r in rows(key, scalar=out[key])]


def object_occlusion(ctx, R, params):
    """Analyzer-free: the rows come from :func:`object_occlusion_baseline`."""
    METRICS["object_occlusion"].check(params)
    return []


def object_occlusion_baseline(ctx, params):
    """Kohlbrenner et al. Fig. 2, see :func:`xaibench.evaluate.object_occlusion`."""
    p = METRICS["object_occlusion"].check(params)
    out = evaluate_function("object_occlusion")(ctx.model, ctx.x, **_ground_truth(ctx),
                                                y=ctx.y, **p)
    return [r for key in ("f", "object", "context", "size") for r in rows(key, scalar=out[key])]


def precision_recall(ctx, R, params):
    """Precision, recall, F-measure of the thresholded heatmap vs the mask (Seo Fig. 5)."""
    p = METRICS["precision_recall"].check(params)
    which = p.pop("ground_truth", None) or ("masks" if ctx.masks is not None else "boxes")
    if which == "masks" and ctx.masks is not None:
        gt = dict(masks=ctx.masks)
    elif which == "boxes" and ctx.boxes is not None:
        gt = dict(boxes=ctx.boxes, image_shape=ctx.x.shape[1:3])
    else:
        raise ValueError(f"precision_recall needs {which} (ground_truth={which!r}); the data "
                         "set has none")
    out = evaluate_function("precision_recall_curves")(R, **gt, **p)
    return ([r for key in ("precision", "recall", "f")
             for r in rows(key, scalar=out[key].mean(axis=1), curve=out[key])]
            + rows("max_f", scalar=out["f"].max(axis=1)))


def _orders(value, allowed, metric):
    orders = [value] if isinstance(value, str) else list(value)
    if not orders or any(o not in allowed for o in orders):
        raise ValueError(f"metric {metric}: order {value!r} is not supported; use one of "
                         f"{', '.join(allowed)} (or a list of them)")
    return orders


ROAD_PARAMS = ("fractions", "noise", "channel_reduce", "output", "batch_size", "tol",
               "max_iter")


def road(ctx, R, params):
    """ROAD (Rong et al. 2022) per order, see :func:`xaibench.evaluate.road`."""
    spec = METRICS["road"]
    p = spec.check(params)
    out = []
    for order in _orders(p.pop("order", spec.options["order"]), ("morf", "lerf"), "road"):
        r = evaluate_function("road")(ctx.model, ctx.x, R, order=order, y=ctx.y,
                                      seed=ctx.seed, image_ids=ctx.ids, progress=False, **p)
        correct = r["correct"].astype(np.float64)
        out += rows(order, scalar=r["values"].mean(axis=1), curve=r["values"])
        out += rows(f"{order}_accuracy", scalar=correct.mean(axis=1), curve=correct)
    return out


RANDOMISATION_PARAMS = ("order", "layers", "similarity", "randomise", "abs", "normalise",
                        "channel_reduce", "evaluate_at")


def randomisation(ctx, R, params):
    """Model parameter randomisation test (Adebayo et al. 2018) of the shard's analyzer
    (``ctx.analyzer`` / ``ctx.analyzer_params``), its original heatmaps being ``R``."""
    p = METRICS["randomisation"].check(params)
    if ctx.analyzer is None:
        raise ValueError("metric randomisation needs the analyzer's name (Context.analyzer)")
    out = evaluate_function("randomisation")(
        ctx.model, ctx.x, ctx.analyzer, y=ctx.y, analyzer_params=ctx.analyzer_params,
        seed=ctx.seed, heatmaps=R, **p)
    similarity = p.get("similarity")
    if similarity is None:
        similarity = signature_default("randomisation", "similarity")
    result = []
    for s in (similarity,) if isinstance(similarity, str) else tuple(similarity):
        v = out[s]
        score = v[:, -1] if out["order"] == "cascading" else np.nanmean(v, axis=1)
        result += rows(s, scalar=score, curve=v)
    return result


INSERTION_DELETION_PARAMS = ("steps", "deletion_baseline", "insertion_baseline", "blur_sigma",
                             "channel_reduce", "output", "batch_size")


def insertion_deletion(ctx, R, params):
    """Deletion and insertion curves (Petsiuk et al. 2018) and their AUCs."""
    p = METRICS["insertion_deletion"].check(params)
    out = evaluate_function("insertion_deletion")(ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed,
                                                  image_ids=ctx.ids, progress=False, **p)
    return (rows("deletion", scalar=out["deletion_auc"], curve=out["deletion"])
            + rows("insertion", scalar=out["insertion_auc"], curve=out["insertion"]))


def abpc(ctx, R, params):
    """ABPC (M4, Li et al. 2023), see :func:`xaibench.evaluate.abpc`."""
    p = _capped_steps(ctx, METRICS["abpc"].check(params))
    out = evaluate_function("abpc")(ctx.model, ctx.x, R, y=ctx.y, seed=ctx.seed,
                                    image_ids=ctx.ids, progress=False, **p)
    return rows("abpc", scalar=out["abpc"]) + [r for key in ("morf", "lerf")
                                               for r in rows(key, curve=out[key].mean())]


FAITHFULNESS_CORRELATION_PARAMS = ("runs", "subset_size", "baseline", "blur_sigma",
                                   "channel_reduce", "output", "batch_size")


def faithfulness_correlation(ctx, R, params):
    """Faithfulness correlation (Bhatt et al. 2020), one scalar per image."""
    p = METRICS["faithfulness_correlation"].check(params)
    h, w = ctx.x.shape[1:3]
    p.setdefault("subset_size", min(signature_default("faithfulness_correlation",
                                                      "subset_size"), max(1, h * w // 4)))
    out = evaluate_function("faithfulness_correlation")(ctx.model, ctx.x, R, y=ctx.y,
                                                        seed=ctx.seed, image_ids=ctx.ids, **p)
    return rows("correlation", scalar=out["correlation"])


def sparseness(ctx, R, params):
    """Sparseness (Chalasani et al. 2020): the Gini index of |R|."""
    p = METRICS["sparseness"].check(params)
    return rows("gini", scalar=evaluate_function("sparseness")(R, **p))


# ---------------------------------------------------------------------------- registry

_SPECS = (
    MetricSpec(
        "aopc", aopc, evaluate="perturbation_curve", params=CURVE_PARAMS,
        baseline=aopc_baseline, pairs={"morf": "random"}.get,
        description="AOPC: mean drop of the class logit as the most relevant regions are "
                    "perturbed first (MoRF), with its curve (Samek et al., eqs. 11-12); "
                    "baseline: random order.",
        settings='"morf" (baseline: "random"); step L = AOPC(L) for L = 0..steps, the scalar '
                 'AOPC(steps); steps default to perturbation_curve\'s, capped by the number '
                 'of regions'),
    MetricSpec(
        "confidence_drop", confidence_drop, evaluate="confidence_drop",
        params=CONFIDENCE_DROP_PARAMS, baseline=confidence_drop_baseline, pairs=_drop_pairs,
        description="Confidence drop when the k % most relevant pixels are removed "
                    "(Amorim et al., eq. 3); baseline: k % random pixels.",
        settings='"drop@k" per fraction k (baseline: "control@k"), scalars'),
    MetricSpec(
        "relevance_ratio", relevance_ratio, evaluate="relevance_ratio",
        params=("channel_reduce",), baseline=relevance_ratio_baseline,
        pairs=_same("mu", "mu_w"),
        description="mu and mu_w: the share of relevance inside the object's boxes or "
                    "masks (Kohlbrenner et al., eq. 2); baseline: a uniform heatmap.",
        settings='"mu", "mu_w", "size" (S_in / S_tot), scalars'),
    MetricSpec(
        "pointing_game", pointing_game, evaluate="pointing_game", params=("channel_reduce",),
        description="Pointing game: 1 when the heatmap's maximum lies inside the object, "
                    "else 0.",
        settings='"hit", a scalar 1 / 0 (NaN: no object)'),
    MetricSpec(
        "complexity", complexity, evaluate="complexity", params=("channel_reduce",),
        description="Complexity: PNG and JPEG size and entropy of the rendered heatmap "
                    "(Samek et al., Fig. 5).",
        settings='"png", "jpeg" (bytes), "entropy" (bits), scalars'),
    MetricSpec(
        "object_occlusion", object_occlusion, evaluate="object_occlusion",
        params=("fill", "output", "batch_size"), baseline=object_occlusion_baseline,
        description="Change of the class logit when the object or its context is "
                    "occluded (Kohlbrenner et al., Fig. 2); needs no heatmap.",
        settings='baseline rows only: "f", "object", "context", "size", scalars'),
    MetricSpec(
        "kept_score", kept_score, evaluate="kept_score",
        params=("threshold", "fill", "batch_size"),
        description="Class probability on the image that keeps only the pixels with "
                    "relevance >= 0.01 (Anjomshoae et al., Fig. 3).",
        settings='"kept", "whole", "kept_argmax" (1 / 0), "kept_fraction", scalars'),
    MetricSpec(
        "precision_recall", precision_recall, evaluate="precision_recall_curves",
        params=("thresholds", "normalise", "beta", "channel_reduce"),
        options={"ground_truth": None},
        description="Precision, recall and F-measure of the thresholded heatmap against "
                    "the object's mask (Seo et al., Fig. 5).",
        settings='"precision", "recall", "f": step = threshold index, the scalar their mean '
                 'over thresholds; "max_f"; ground_truth: "masks" / "boxes" (None: masks '
                 'when the data has them)'),
    MetricSpec(
        "road", road, evaluate="road", params=ROAD_PARAMS, options={"order": "morf"},
        description="ROAD: class logit as the most (or least) relevant pixels are removed "
                    "and filled by noisy linear imputation, with its curve over the removed "
                    "fraction (Rong et al., 2022).",
        settings='per order ("morf", "lerf" or a list): "<order>" and "<order>_accuracy", '
                 'step = fraction index, the scalar the mean over fractions'),
    MetricSpec(
        "randomisation", randomisation, evaluate="randomisation", params=RANDOMISATION_PARAMS,
        description="Sanity check: similarity (Spearman, SSIM, HOG) of the heatmaps of the "
                    "model and of its copies with layers randomised from the top down "
                    "(Adebayo et al., 2018); low is a pass.",
        settings='per similarity: step = randomisation step (top layer first), the scalar '
                 'the last step (cascading) or the mean over layers (independent)'),
    MetricSpec(
        "insertion_deletion", insertion_deletion, evaluate="insertion_deletion",
        params=INSERTION_DELETION_PARAMS,
        description="Deletion and insertion curves of the class probability and their "
                    "AUCs (Petsiuk et al., RISE, 2018).",
        settings='"deletion", "insertion": step = index on the curve, the scalar its AUC'),
    MetricSpec(
        "abpc", abpc, evaluate="perturbation_curve", params=CURVE_PARAMS,
        description="ABPC: area between the LeRF and MoRF region-perturbation curves (M4, Li "
                    "et al., 2023); larger is better.",
        settings='"abpc" scalar; "morf", "lerf" mean curves (step = perturbation step)'),
    MetricSpec(
        "faithfulness_correlation", faithfulness_correlation,
        evaluate="faithfulness_correlation", params=FAITHFULNESS_CORRELATION_PARAMS,
        description="Faithfulness correlation: Pearson correlation of the summed relevance "
                    "of random pixel subsets and the output drop when they are removed "
                    "(Bhatt et al., 2020).",
        settings='"correlation" scalar; subset_size capped by a quarter of the pixels'),
    MetricSpec(
        "sparseness", sparseness, evaluate="sparseness", params=("channel_reduce",),
        description="Sparseness: Gini index of the absolute relevance (Chalasani et al., "
                    "2020); higher is sparser.",
        settings='"gini" scalar'),
)

#: name -> :class:`MetricSpec`, in the order ``xaibench list`` shows them
METRICS: dict = {spec.name: spec for spec in _SPECS}

#: name -> one-line description (``xaibench list``); "baseline" says what the analyzer-free
#: reference row of the metric is
DESCRIPTIONS: dict = {name: spec.description for name, spec in METRICS.items()}
