"""The paper's claims decided on numbers (pure: no files, no model) and the comparison rows
they fill: the paper's and our numbers, each claim with its verdict (None: undecided) and
the numbers it was decided on."""
from collections import namedtuple

import numpy as np

from xaibench.papers.comparison import UNDECIDED, Row, Verdict, claim_row, vs
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, CMP, COLUMNS, LABELS, LARGE_BOX, METHODS, PAPER, REFERENCE, SMALL_BOX,
    UNIFORM_LRP)

#: the numbers of one reproduction. ``ratios``: per method key (and "baseline") per-image
#: arrays "mu", "mu_w" (eq. 2; NaN without positive relevance) and "size" (S_in / S_tot);
#: ``occlusion``: per-image "f", "object", "context" (the true-class logit change, Fig. 2)
#: and "size"; ``correlation``: Fig. 1 column title -> mean class correlation, (a)-(d) first
Measured = namedtuple("Measured", "ratios occlusion correlation")


def table1_columns(ratios: dict) -> dict:
    """Per method key: Table 1's columns (NaNs skipped) and ``n``, the images with a mu."""
    from xaibench.evaluate import relevance_ratio_table

    return {k: {**relevance_ratio_table(a), "n": int(np.isfinite(a["mu"]).sum())}
            for k, a in ratios.items()}


def table1_verdicts(mu_w: dict, mu25: dict) -> list:
    """Sec. 4.2's statements on Table 1 as ``(what is shown, claim, Verdict)``; ``mu_w`` /
    ``mu25`` map method keys (and "baseline") to mu_w / mu<=0.25. Used on ours and on the
    paper's (its cell of the comparison; the tests)."""
    methods = [k for k in mu_w if k != BASELINE_KEY]
    cmp = [k for k in CMP if k in mu_w]
    others = [k for k in methods if k not in CMP]
    uniform = [k for k in UNIFORM_LRP if k in mu_w]
    gain = np.mean([mu_w[k] for k in cmp]) - np.mean([mu_w[k] for k in uniform])
    spread = max(mu_w[k] for k in cmp) - min(mu_w[k] for k in cmp)
    out = [
        ("mu_w: worst method vs baseline", "every method attributes more to the object than "
         "the uniform baseline (mu_w > 1)", all(mu_w[k] > mu_w[BASELINE_KEY] for k in methods),
         vs(min(mu_w[k] for k in methods), mu_w[BASELINE_KEY], digits=4)),
        ("mu_w: CMP:alpha2+b vs best other", "LRP_CMP:alpha2+b has the highest mu_w of all "
         "methods", max(methods, key=lambda k: mu_w[k]) == "cmp_a2b",
         vs(mu_w["cmp_a2b"], max(mu_w[k] for k in methods if k != "cmp_a2b"), digits=4)),
        ("mu_w: worst CMP vs best other", "every LRP_CMP variant has a higher mu_w than every "
         "other method", min(mu_w[k] for k in cmp) > max(mu_w[k] for k in others),
         vs(min(mu_w[k] for k in cmp), max(mu_w[k] for k in others), digits=4)),
        ("mu<=0.25: worst CMP vs best other",
         "every LRP_CMP variant has a higher mu<=0.25 than every other method (small boxes)",
         min(mu25[k] for k in cmp) > max(mu25[k] for k in others),
         vs(min(mu25[k] for k in cmp), max(mu25[k] for k in others), digits=4)),
        ("mu_w: CMP - uniform LRP vs CMP spread",
         "the composite strategy matters more than its parameters: mean mu_w of LRP_CMP minus "
         "that of uniform LRP (alpha2, alpha1, z) exceeds the spread among LRP_CMP variants",
         gain > spread, vs(gain, spread, digits=4)),
        ("mu_w: LRP_z vs lowest other",
         "LRP_z has the lowest mu_w of all methods (ImageNet: gradient shattering in the deep "
         "VGG-16; on the shallower CaffeNet it did not)",
         min(methods, key=lambda k: mu_w[k]) == "lrp_z",
         vs(mu_w["lrp_z"], min(mu_w[k] for k in methods if k != "lrp_z"), digits=4))]
    if "pa" in mu_w:
        near = min((k for k in methods if k != "pa"), key=lambda k: abs(mu_w[k] - mu_w["pa"]))
        out.append(("mu_w: PA's nearest method", "PA and LRP_alpha1 give close measurements: "
                    "LRP_alpha1 is PA's nearest method in mu_w", near == "lrp_a1", LABELS[near]))
    return [(what, claim, Verdict(holds, shown)) for what, claim, holds, shown in out]


def kendall_tau(a: dict, b: dict) -> float:
    """Kendall's tau between two method -> score maps on their common methods (baseline
    left out): how alike the two rank the methods."""
    from scipy.stats import kendalltau

    keys = sorted(set(a) & set(b) - {BASELINE_KEY})
    return float(kendalltau([a[k] for k in keys], [b[k] for k in keys])[0])


def table1_rows(table: dict, paper: dict = PAPER[REFERENCE]) -> list:
    """Table 1: mu_w and mu per method against ``paper``'s, the rank agreement of mu_w, and
    each claim with the numbers it compares on ours and on the paper's."""
    out = [Row(f"Table 1, {c}, {LABELS[k]}", paper[k][COLUMNS.index(c)], table[k][c])
           for c in ("mu_w", "mu") for k in LABELS]
    ours = [{k: t[c] for k, t in table.items()} for c in ("mu_w", "mu<=0.25")]
    theirs = [{k: t[COLUMNS.index(c)] for k, t in paper.items()} for c in ("mu_w", "mu<=0.25")]
    out.append(Row("Table 1, rank agreement of mu_w with the paper (Kendall tau)",
                   ours=kendall_tau(ours[0], theirs[0])))
    return out + [claim_row(f"Table 1, {what}", claim, v, paper=p.shown) for (what, claim, v),
                  (*_, p) in zip(table1_verdicts(*ours), table1_verdicts(*theirs))]


def spearman_rho(ratios: dict) -> dict:
    """Per method: Spearman's rho between box size and mu over the images with a mu
    (Fig. 3's trend)."""
    from scipy.stats import spearmanr

    ok = {k: np.isfinite(ratios[k]["mu"]) for k in METHODS}
    return {k: float(spearmanr(ratios[k]["size"][m], ratios[k]["mu"][m])[0])
            for k, m in ok.items()}


def _mean_mu(ratios: dict, low: float, high: float) -> dict:
    """Per method with such images: mean mu over the images with box size in (low, high]."""
    picked = {k: a["mu"][np.isfinite(a["mu"]) & (a["size"] > low) & (a["size"] <= high)]
              for k, a in ratios.items() if k in METHODS}
    return {k: float(np.mean(v)) for k, v in picked.items() if v.size}


def fig3_rows(ratios: dict) -> list:
    """Fig. 3 / Sec. 4.2: mu grows with the box size, and the methods converge for boxes
    over 50 % of the image (undecided unless every method has boxes on both sides)."""
    rho = spearman_rho(ratios)
    small, large = _mean_mu(ratios, -np.inf, SMALL_BOX), _mean_mu(ratios, LARGE_BOX, np.inf)
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
