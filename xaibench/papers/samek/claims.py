"""The paper's claims as pure functions: the numbers of a figure in (dicts keyed like
:data:`~xaibench.papers.samek.paper.METHODS`), its comparison rows out."""
import numpy as np

from xaibench.papers.comparison import Verdict, claim_row, vs
from xaibench.papers.samek.paper import CLAIMS, FIG5_LRP, FIG5_OTHERS, LABELS, LRP, \
    PAPER_LARGE_REGIONS

#: "almost all images" of Fig. 5, read as this share of them
ALMOST_ALL = 0.9


def _row(item: str, claim: str, ours, holds, **fill):
    """The row of claim ``CLAIMS[claim]`` (its ``{fields}`` filled in) on these numbers."""
    return claim_row(item, CLAIMS[claim].format(**fill), Verdict(holds, ours))


def fig4_claims(final: dict) -> list:
    """Sec. IV-B on Fig. 4, each claim "a > b"; ``final[key]``: AOPC(L) - AOPC_random(L)."""
    f = {**final, "random": 0.0, "lrp": min(final[k] for k in LRP),
         "other": max(v for k, v in final.items() if k not in LRP),
         "sens": max(final["sens_l2"], final["sens_linf"]),
         "eps": max(final["lrp_eps0.01"], final["lrp_eps100"])}
    return [_row(item, claim, vs(f[a], f[b]), f[a] > f[b]) for item, claim, a, b in (
        ("Fig. 4, worst LRP vs best other", "Fig. 4, LRP best", "lrp", "other"),
        ("Fig. 4, deconvolution vs best sensitivity", "Fig. 4, deconvolution second",
         "deconv", "sens"),
        ("Fig. 4, deconvolution vs random", "Fig. 4, deconvolution beats random",
         "deconv", "random"),
        ("Fig. 4, best epsilon-LRP vs alpha2-beta1", "Fig. 4, epsilon-LRP beats alpha-beta",
         "eps", "lrp_a2b1"),
        ("Fig. 4, LRP eps=100 vs eps=0.01", "Fig. 4, epsilon 100 beats 0.01",
         "lrp_eps100", "lrp_eps0.01"))]


def sizes_text(sizes) -> str:
    """``"1, 3, 5"``: the paper's region sizes that one scaled size stands for."""
    return ", ".join(map(str, sizes))


def fig8_claims(fig8: dict, paper_sizes: dict) -> list:
    """The appendix on Fig. 8; ``fig8[r][key]``: AOPC(L) minus sensitivity l2's at region
    ``r`` px, which stands for the paper's sizes ``paper_sizes[r]``. The deconvolution
    claim is undecided unless large (paper 9, 19) and small regions are both present."""
    regions = sorted(fig8)
    eps = {r: max(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"]) for r in regions}
    rest = {r: max(fig8[r]["lrp_a2b1"], fig8[r]["deconv"], 0.0) for r in regions}
    large = [r for r in regions if set(paper_sizes[r]) & set(PAPER_LARGE_REGIONS)]
    small = [r for r in regions if r not in large]
    only_large = (all(fig8[r]["deconv"] > 0 for r in large)
                  and all(fig8[r]["deconv"] <= 0 for r in small)) if small and large else None
    return [_row(f"Fig. 8, region {r} px: best epsilon-LRP vs best other",
                 "Fig. 8, epsilon-LRP best", vs(eps[r], rest[r]), eps[r] > rest[r],
                 r=f"{r} px (paper {sizes_text(paper_sizes[r])})") for r in regions] + [
        _row("Fig. 8, LRP eps=1 vs eps=100 per region size", "Fig. 8, epsilon 1 beats 100",
             "; ".join(vs(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"]) for r in regions),
             all(fig8[r]["lrp_eps1"] > fig8[r]["lrp_eps100"] for r in regions)),
        _row("Fig. 8, deconvolution - sensitivity l2 per region size",
             "Fig. 8, deconvolution only at large regions",
             "; ".join(f"{r} px: {vs(fig8[r]['deconv'])}" for r in regions), only_large)]


def fig5_claims(cx: dict) -> list:
    """Sec. IV-B on Fig. 5; ``cx[key][measure]``: per-image ``png`` / ``jpeg`` bytes and
    ``entropy`` of the rendered heatmaps (the same images in the same order per key)."""
    lrp, out = cx[FIG5_LRP], []
    for fmt, claim in (("png", "Fig. 5, PNG"), ("jpeg", "Fig. 5, JPEG")):
        for o in FIG5_OTHERS:
            share = float(np.mean(np.asarray(lrp[fmt]) < np.asarray(cx[o][fmt])))
            out.append(_row(f"Fig. 5, share of images with smaller LRP {fmt.upper()} than "
                            f"{LABELS[o]}", claim, share, share >= ALMOST_ALL, other=LABELS[o]))
    for o in FIG5_OTHERS:
        mine, theirs = np.median(lrp["entropy"]), np.median(cx[o]["entropy"])
        out.append(_row(f"Fig. 5, median entropy LRP vs {LABELS[o]}", "Fig. 5, entropy",
                        f"{mine:.3f} vs {theirs:.3f}", mine < theirs, other=LABELS[o]))
    return out


def fig7_claims(accuracy, aopc) -> list:
    """Sec. IV-D on Fig. 7: Pearson r of test accuracy and AOPC over the checkpoints (NaN
    and undecided when either does not vary)."""
    acc, a = np.asarray(accuracy, np.float64), np.asarray(aopc, np.float64)
    r = float(np.corrcoef(acc, a)[0, 1]) if acc.std() > 0 and a.std() > 0 else float("nan")
    return [_row("Fig. 7, Pearson r of AOPC and accuracy over epochs",
                 "Fig. 7, AOPC follows accuracy", r, None if np.isnan(r) else r > 0)]
