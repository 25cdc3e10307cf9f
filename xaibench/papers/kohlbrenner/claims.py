"""The paper's claims decided on numbers, and the rows of the comparison they fill.

Pure functions (no files, no model): :class:`Measured` holds what the runs gave, each
``*_rows`` function turns one table / figure's numbers into comparison
:class:`~xaibench.papers.comparison.Row` objects -- the paper's and our numbers, and each
qualitative claim with its verdict (True / False / None = undecided here) and the numbers it
was decided on. :func:`rows` is all of them in the comparison's order.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xaibench.papers.comparison import UNDECIDED, Row, Verdict, claim_row, vs
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, CMP, COLUMNS, LABELS, LARGE_BOX, METHODS, PAPER, REFERENCE, SMALL_BOX,
    UNIFORM_LRP)


@dataclass(frozen=True)
class Measured:
    """The numbers of one reproduction.

    ``ratios``: per method key (:data:`~.paper.METHODS` and ``"baseline"``) the per-image
    arrays ``"mu"``, ``"mu_w"`` (eq. 2, NaN without positive relevance) and ``"size"``
    (S_in / S_tot); ``occlusion``: per-image arrays ``"f"``, ``"object"``, ``"context"``
    (the true-class logit change, Fig. 2) and ``"size"``; ``correlation``: Fig. 1 column
    title -> mean correlation of the true- and runner-up-class heatmaps, (a)-(d) first."""

    ratios: dict
    occlusion: dict
    correlation: dict


# --------------------------------------------------------------------------- Table 1

def table1_columns(ratios: dict) -> dict:
    """Per method key: Table 1's columns (NaNs skipped) and ``n``, the images with a mu."""
    from xaibench.evaluate import relevance_ratio_table

    return {k: {**relevance_ratio_table(a), "n": int(np.isfinite(a["mu"]).sum())}
            for k, a in ratios.items()}


def table1_claims(mu_w: dict, mu25: dict) -> list:
    """The qualitative statements of Sec. 4.2 on Table 1, as ``(claim, holds)``; ``mu_w`` /
    ``mu25`` map method keys (and "baseline") to mu_w / mu<=0.25. Used on xaibench's
    numbers and, in the tests, on the paper's own."""
    methods = [k for k in mu_w if k != BASELINE_KEY]
    cmp = [k for k in CMP if k in mu_w]
    others = [k for k in methods if k not in CMP]
    uniform = [k for k in UNIFORM_LRP if k in mu_w]
    out = [
        ("every method attributes more to the object than the uniform baseline (mu_w > 1)",
         all(mu_w[k] > mu_w[BASELINE_KEY] for k in methods)),
        ("LRP_CMP:alpha2+b has the highest mu_w of all methods",
         max(methods, key=lambda k: mu_w[k]) == "cmp_a2b"),
        ("every LRP_CMP variant has a higher mu_w than every other method",
         min(mu_w[k] for k in cmp) > max(mu_w[k] for k in others)),
        ("every LRP_CMP variant has a higher mu<=0.25 than every other method (small boxes)",
         min(mu25[k] for k in cmp) > max(mu25[k] for k in others)),
        ("the composite strategy matters more than its parameters: mean mu_w of LRP_CMP minus "
         "that of uniform LRP (alpha2, alpha1, z) exceeds the spread among LRP_CMP variants",
         np.mean([mu_w[k] for k in cmp]) - np.mean([mu_w[k] for k in uniform])
         > max(mu_w[k] for k in cmp) - min(mu_w[k] for k in cmp)),
        ("LRP_z has the lowest mu_w of all methods (ImageNet: gradient shattering in the deep "
         "VGG-16; on the shallower CaffeNet it did not)",
         min(methods, key=lambda k: mu_w[k]) == "lrp_z"),
    ]
    if "pa" in mu_w:
        near = min((k for k in methods if k != "pa"), key=lambda k: abs(mu_w[k] - mu_w["pa"]))
        out.append(("PA and LRP_alpha1 give close measurements: LRP_alpha1 is PA's nearest "
                    "method in mu_w", near == "lrp_a1"))
    return out


def table1_evidence(mu_w: dict, mu25: dict) -> list:
    """The numbers each claim of :func:`table1_claims` compares (same order), as short
    texts for the comparison's paper / xaibench cells."""
    methods = [k for k in mu_w if k != BASELINE_KEY]
    cmp = [k for k in CMP if k in mu_w]
    others = [k for k in methods if k not in CMP]
    uniform = [k for k in UNIFORM_LRP if k in mu_w]
    best_other = max((k for k in methods if k != "cmp_a2b"), key=lambda k: mu_w[k])
    spread = max(mu_w[k] for k in cmp) - min(mu_w[k] for k in cmp)
    out = [vs(min(mu_w[k] for k in methods), mu_w[BASELINE_KEY], digits=4),
           vs(mu_w["cmp_a2b"], mu_w[best_other], digits=4),
           vs(min(mu_w[k] for k in cmp), max(mu_w[k] for k in others), digits=4),
           vs(min(mu25[k] for k in cmp), max(mu25[k] for k in others), digits=4),
           vs(np.mean([mu_w[k] for k in cmp]) - np.mean([mu_w[k] for k in uniform]), spread,
              digits=4),
           vs(mu_w["lrp_z"], min(mu_w[k] for k in methods if k != "lrp_z"), digits=4)]
    if "pa" in mu_w:
        near = min((k for k in methods if k != "pa"), key=lambda k: abs(mu_w[k] - mu_w["pa"]))
        out.append(LABELS[near])
    return out


#: what :func:`table1_evidence` shows for each claim of :func:`table1_claims`
TABLE1_EVIDENCE = ("mu_w: worst method vs baseline", "mu_w: CMP:alpha2+b vs best other",
                   "mu_w: worst CMP vs best other", "mu<=0.25: worst CMP vs best other",
                   "mu_w: CMP - uniform LRP vs CMP spread", "mu_w: LRP_z vs lowest other",
                   "mu_w: PA's nearest method")


def kendall_tau(a: dict, b: dict) -> float:
    """Kendall's tau between two method -> score maps on their common methods (baseline
    left out): how well the two rank the methods alike."""
    from scipy.stats import kendalltau

    keys = sorted(set(a) & set(b) - {BASELINE_KEY})
    return float(kendalltau([a[k] for k in keys], [b[k] for k in keys])[0])


def _column(table: dict, column: str) -> dict:
    """method key -> one column of a Table 1 (ours: dicts, the paper's: tuples)."""
    return {k: t[column] if isinstance(t, dict) else t[COLUMNS.index(column)]
            for k, t in table.items()}


def table1_rows(table: dict, paper: dict = PAPER[REFERENCE]) -> list:
    """Table 1: mu_w and mu per method against ``paper``'s, the rank agreement of mu_w, and
    the claims of :func:`table1_claims` with the numbers of :func:`table1_evidence`."""
    out = [Row(f"Table 1, {column}, {LABELS[key]}", paper[key][COLUMNS.index(column)],
               table[key][column])
           for column in ("mu_w", "mu") for key in list(METHODS) + [BASELINE_KEY]]
    ours = [_column(table, c) for c in ("mu_w", "mu<=0.25")]
    theirs = [_column(paper, c) for c in ("mu_w", "mu<=0.25")]
    out.append(Row("Table 1, rank agreement of mu_w with the paper (Kendall tau)",
                   ours=kendall_tau(ours[0], theirs[0])))
    for (claim, holds), what, p, o in zip(table1_claims(*ours), TABLE1_EVIDENCE,
                                          table1_evidence(*theirs), table1_evidence(*ours)):
        out.append(claim_row(f"Table 1, {what}", claim, Verdict(holds, o), paper=p))
    return out


# --------------------------------------------------------------------------- Fig. 3

def spearman_rho(ratios: dict) -> dict:
    """Per method of :data:`~.paper.METHODS`: Spearman's rho between box size and mu over
    the images with a mu (Fig. 3's trend)."""
    from scipy.stats import spearmanr

    out = {}
    for key in METHODS:
        a = ratios[key]
        ok = np.isfinite(a["mu"])
        out[key] = float(spearmanr(a["size"][ok], a["mu"][ok])[0])
    return out


def _mean_mu(ratios: dict, where) -> dict:
    """Per method with any such image: mean mu over the images whose box size passes
    ``where``."""
    out = {}
    for key in METHODS:
        a = ratios[key]
        pick = np.isfinite(a["mu"]) & where(a["size"])
        if np.any(pick):
            out[key] = float(np.mean(a["mu"][pick]))
    return out


def fig3_rows(ratios: dict) -> list:
    """Fig. 3 / Sec. 4.2: mu grows with the box size, and the methods converge for boxes
    over 50 % of the image (undecided unless every method has boxes on both sides)."""
    rho = spearman_rho(ratios)
    small = _mean_mu(ratios, lambda s: s <= SMALL_BOX)
    large = _mean_mu(ratios, lambda s: s > LARGE_BOX)
    decided = len(small) == len(large) == len(METHODS)
    spread = [max(v.values()) - min(v.values()) for v in (large, small)] if decided else None
    return [
        claim_row("Fig. 3, smallest Spearman rho(box size, mu) over the methods",
                  "mu grows with the box size for every method (decided: rho > 0 for every "
                  "method)", Verdict(all(r > 0 for r in rho.values()), min(rho.values()))),
        claim_row("Fig. 3, spread of mean mu: boxes > 50 % vs <= 25 %",
                  "methods converge for boxes > 50 % of the image: the spread of mean mu "
                  "between methods is smaller there than for boxes <= 25 %",
                  Verdict(spread[0] < spread[1], vs(*spread)) if decided else UNDECIDED)]


# --------------------------------------------------------------------------- Fig. 2

def fig2_rows(occ: dict) -> list:
    """Fig. 2 / Sec. 3.1: occluding the object (replaced by the training mean) lowers the
    true-class logit more than occluding the context, the more so for small objects."""
    obj, ctx = float(occ["object"].mean()), float(occ["context"].mean())
    gap = occ["context"] - occ["object"]
    median = np.median(occ["size"])
    lower, upper = gap[occ["size"] <= median], gap[occ["size"] > median]
    split = len(lower) and len(upper)
    return [
        Row("Fig. 2, mean logit change, occluding the object", ours=obj),
        Row("Fig. 2, mean logit change, occluding the context", ours=ctx),
        Row("Fig. 2, share of images where occluding the object lowers the logit more",
            ours=float(np.mean(occ["object"] < occ["context"]))),
        claim_row("Fig. 2, mean logit change: object vs context",
                  "occluding the object lowers the true-class logit more than occluding the "
                  "context (mean over images)", Verdict(obj < ctx, vs(obj, ctx))),
        claim_row("Fig. 2, context - object change: smaller vs larger half of the objects",
                  "the difference is larger for the smaller half of the objects",
                  Verdict(lower.mean() > upper.mean(),
                          vs(float(lower.mean()), float(upper.mean()))) if split else UNDECIDED)]


# --------------------------------------------------------------------------- Fig. 1

def class_correlation(R: np.ndarray) -> float:
    """Mean over image pairs of the Pearson correlation between the channel-summed heatmaps
    ``R[2k]`` (true class) and ``R[2k + 1]`` (runner-up class); lower is more class
    discriminative (Fig. 1, Sec. 4.1)."""
    h = R.sum(axis=-1).reshape(len(R), -1).astype(np.float64)
    return float(np.mean([np.corrcoef(h[2 * k], h[2 * k + 1])[0, 1]
                          for k in range(len(R) // 2)]))


def fig1_rows(correlation: dict) -> list:
    """Fig. 1 / Sec. 4.1: LRP_CMP (e)-(g) is class discriminative, uniform rules, GB and PA
    (a)-(d) are not: the mean correlation of (e)-(g) against that of (a)-(d)."""
    values = list(correlation.values())
    uniform, cmp = float(np.mean(values[:4])), float(np.mean(values[4:]))
    return [
        Row("Fig. 1, correlation of true- and runner-up-class heatmaps, (a)-(d)", ours=uniform),
        Row("Fig. 1, correlation of true- and runner-up-class heatmaps, LRP_CMP (e)-(g)",
            ours=cmp),
        claim_row("Fig. 1, correlation of the two classes' heatmaps: LRP_CMP vs (a)-(d)",
                  "LRP_CMP is more class-discriminative than uniform rules, GB and PA (lower "
                  "correlation between the two classes' heatmaps)",
                  Verdict(cmp < uniform, vs(cmp, uniform)))]


def rows(measured: Measured) -> list:
    """Every row of the comparison: Table 1, Figs. 3, 2 and 1."""
    return (table1_rows(table1_columns(measured.ratios)) + fig3_rows(measured.ratios)
            + fig2_rows(measured.occlusion) + fig1_rows(measured.correlation))
