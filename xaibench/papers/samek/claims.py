"""The paper's claims as pure functions: numbers in, comparison rows out.

Each function takes what its figure shows (AOPC values, file sizes, ...) as dicts or
arrays keyed like :data:`~xaibench.papers.samek.paper.METHODS` and returns the claim rows
(:func:`~xaibench.papers.comparison.claim_row`): what is compared, the paper's statement
and its :class:`~xaibench.papers.comparison.Verdict`. No I/O.
"""
from __future__ import annotations

import numpy as np

from xaibench.papers.comparison import Verdict, claim_row, ordered, vs
from xaibench.papers.samek.paper import (
    CLAIMS, FIG5_LRP, FIG5_OTHERS, LABELS, LRP, OTHERS, PAPER_LARGE_REGIONS)

#: "almost all images" of Fig. 5, read as this share of them
ALMOST_ALL = 0.9


def _row(item: str, claim: str, ours, holds):
    return claim_row(item, claim, Verdict(holds, ours))


def fig4_claims(final: dict) -> list:
    """Sec. IV-B on Fig. 4; ``final[key]``: AOPC(L) - AOPC_random(L) of each method."""
    lrp, other = min(final[k] for k in LRP), max(final[k] for k in OTHERS)
    sens = max(final["sens_l2"], final["sens_linf"])
    eps = max(final["lrp_eps0.01"], final["lrp_eps100"])
    deconv, a2b1 = final["deconv"], final["lrp_a2b1"]
    return [
        _row("Fig. 4, worst LRP vs best other", CLAIMS["Fig. 4, LRP best"],
             vs(lrp, other), lrp > other),
        _row("Fig. 4, deconvolution vs best sensitivity",
             CLAIMS["Fig. 4, deconvolution second"], vs(deconv, sens), deconv > sens),
        _row("Fig. 4, deconvolution vs random", CLAIMS["Fig. 4, deconvolution beats random"],
             vs(deconv, 0.0), deconv > 0),
        _row("Fig. 4, best epsilon-LRP vs alpha2-beta1",
             CLAIMS["Fig. 4, epsilon-LRP beats alpha-beta"], vs(eps, a2b1), eps > a2b1),
        _row("Fig. 4, LRP eps=100 vs eps=0.01", CLAIMS["Fig. 4, epsilon 100 beats 0.01"],
             vs(final["lrp_eps100"], final["lrp_eps0.01"]),
             ordered(final, ["lrp_eps100", "lrp_eps0.01"])),
    ]


def sizes_text(sizes) -> str:
    """``"1, 3, 5"``: the paper's region sizes that one scaled size stands for."""
    return ", ".join(str(p) for p in sizes)


def fig8_claims(fig8: dict, paper_sizes: dict) -> list:
    """The appendix on Fig. 8; ``fig8[r][key]``: AOPC(L) of a method minus that of
    sensitivity l2 at region size ``r`` px; ``paper_sizes[r]``: the paper's sizes scaled
    to ``r``. The deconvolution claim is undecided unless large (paper 9, 19) and small
    region sizes are both present."""
    regions = sorted(fig8)
    out = []
    for r in regions:
        best_eps = max(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"])
        rest = max(fig8[r]["lrp_a2b1"], fig8[r]["deconv"], 0.0)
        out.append(_row(f"Fig. 8, region {r} px: best epsilon-LRP vs best other",
                        CLAIMS["Fig. 8, epsilon-LRP best"].format(
                                r=f"{r} px (paper {sizes_text(paper_sizes[r])})"),
                            vs(best_eps, rest), best_eps > rest))
    out.append(_row(
        "Fig. 8, LRP eps=1 vs eps=100 per region size", CLAIMS["Fig. 8, epsilon 1 beats 100"],
        "; ".join(vs(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"]) for r in regions),
        all(fig8[r]["lrp_eps1"] > fig8[r]["lrp_eps100"] for r in regions)))
    large = [r for r in regions if set(paper_sizes[r]) & set(PAPER_LARGE_REGIONS)]
    small = [r for r in regions if r not in large]
    holds = (all(fig8[r]["deconv"] > 0 for r in large)
             and all(fig8[r]["deconv"] <= 0 for r in small)) if small and large else None
    out.append(_row(
        "Fig. 8, deconvolution - sensitivity l2 per region size",
        CLAIMS["Fig. 8, deconvolution only at large regions"],
        "; ".join(f"{r} px: {vs(fig8[r]['deconv'])}" for r in regions), holds))
    return out


def fig5_claims(cx: dict) -> list:
    """Sec. IV-B on Fig. 5; ``cx[key][measure]``: per-image ``png`` / ``jpeg`` bytes and
    ``entropy`` of the rendered heatmaps (the same images, in the same order, per key)."""
    lrp = cx[FIG5_LRP]
    out = []
    for fmt, claim in (("png", "Fig. 5, PNG"), ("jpeg", "Fig. 5, JPEG")):
        for other in FIG5_OTHERS:
            share = float(np.mean(np.asarray(lrp[fmt]) < np.asarray(cx[other][fmt])))
            out.append(_row(f"Fig. 5, share of images with smaller LRP {fmt.upper()} than "
                            f"{LABELS[other]}", CLAIMS[claim].format(other=LABELS[other]),
                            share, share >= ALMOST_ALL))
    for other in FIG5_OTHERS:
        mine, theirs = np.median(lrp["entropy"]), np.median(cx[other]["entropy"])
        out.append(_row(f"Fig. 5, median entropy LRP vs {LABELS[other]}",
                        CLAIMS["Fig. 5, entropy"].format(other=LABELS[other]),
                        f"{mine:.3f} vs {theirs:.3f}", mine < theirs))
    return out


def fig7_claims(accuracy, aopc) -> list:
    """Sec. IV-D on Fig. 7: Pearson r of test accuracy and AOPC over the checkpoints (NaN
    and undecided when either does not vary)."""
    acc, a = np.asarray(accuracy, np.float64), np.asarray(aopc, np.float64)
    r = float(np.corrcoef(acc, a)[0, 1]) if acc.std() > 0 and a.std() > 0 else float("nan")
    return [_row("Fig. 7, Pearson r of AOPC and accuracy over epochs",
                 CLAIMS["Fig. 7, AOPC follows accuracy"], r, None if np.isnan(r) else r > 0)]
