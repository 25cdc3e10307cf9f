"""The figures (Figs. 2-5, each drawn once through :func:`~xaibench.papers.cache.cached`)
and the Markdown tables of the Seo et al. reproduction."""
from __future__ import annotations

import numpy as np

from xaibench.papers.cache import cached
from xaibench.papers.comparison import markdown_table
from xaibench.papers.seo import paper
from xaibench.papers.seo.paper import METHODS, PAPER
from xaibench.plots import new_figure

#: the non-negative prediction-difference maps (max(0, .) per region, Alg. 3): white at 0,
#: dark red at the row's maximum (a sequential map; the paper's rainbow map is not
#: perceptually ordered)
MAP_CMAP = "Reds"
DPI = 120
#: Fig. 4's resolution (that of :func:`xaibench.plots.heatmap_grid`)
GRID_DPI = 110


def _show(img):
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo + 1e-12)


def _no_ticks(axes):
    for a in np.ravel(axes):
        a.set_xticks([])
        a.set_yticks([])


def figure_regions(path, image, seg16, erased, probs, smap, depends=()) -> str:
    """Fig. 2: (a) 16-region segmentation, (b) object region erased, (c) a background
    region erased (``erased``: the two images), (d) the 16-level saliency map;
    ``probs``: p(y|x) of (a), (b), (c)."""
    def draw():
        from skimage.segmentation import mark_boundaries

        from xaibench.plots import add_colorbar

        fig, ax = new_figure(1, 4, figsize=(8.6, 2.3), layout="constrained")
        ax[0].imshow(mark_boundaries(_show(image), seg16, color=(1, 1, 0)))
        ax[0].set_title(f"(a) 16 regions, p={probs[0]:.3f}", fontsize=7)
        ax[1].imshow(_show(erased[0]))
        ax[1].set_title(f"(b) object erased, p={probs[1]:.3f}", fontsize=7)
        ax[2].imshow(_show(erased[1]))
        ax[2].set_title(f"(c) background erased, p={probs[2]:.3f}", fontsize=7)
        top = float(np.max(smap)) or 1.0
        ax[3].imshow(smap, cmap=MAP_CMAP, vmin=0, vmax=top)
        ax[3].set_title("(d) 16-level map", fontsize=7)
        _no_ticks(ax)
        add_colorbar(fig, ax[3], MAP_CMAP, 0, top, "prediction difference")
        return fig

    return cached(path, draw, depends=depends, dpi=DPI)


def figure_scales(path, images, maps, fused, titles, depends=()) -> str:
    """Fig. 3: per-scale maps s^j from coarse (2 regions) to fine (2^r) and their fusion
    s = 1/r sum_j s^j (Alg. 3 line 13), one image a row on one scale."""
    def draw():
        from xaibench.plots import add_colorbar

        n, r = maps.shape[:2]
        fig, ax = new_figure(n, r + 2, figsize=(1.4 * (r + 2) + 0.8, 1.5 * n + 0.3),
                             squeeze=False, layout="constrained")
        for i in range(n):
            ax[i, 0].imshow(_show(images[i]))
            ax[i, 0].set_ylabel(titles[i], fontsize=7)
            top = max(float(np.max(maps[i])), float(np.max(fused[i]))) or 1.0
            for j in range(r):
                ax[i, j + 1].imshow(maps[i, j] / top, cmap=MAP_CMAP, vmin=0, vmax=1)
            ax[i, r + 1].imshow(fused[i] / top, cmap=MAP_CMAP, vmin=0, vmax=1)
        ax[0, 0].set_title("input", fontsize=7)
        for j in range(r):
            ax[0, j + 1].set_title(f"{2 ** (j + 1)} regions", fontsize=7)
        ax[0, r + 1].set_title("fused (mean)", fontsize=7)
        _no_ticks(ax)
        add_colorbar(fig, list(ax[:, 1:].ravel()), MAP_CMAP, 0, 1,
                     "PD / s, s = max of the row", ticks=[0, 0.5, 1])
        return fig

    return cached(path, draw, depends=depends, dpi=DPI)


def figure_comparison(path, images, maps: dict, titles, depends=()) -> str:
    """Fig. 4: one row per image, the input and each method's heatmap (``maps``: method
    -> (N, H, W, C)), in the paper's order of methods."""
    from xaibench.plots import heatmap_figure

    return cached(path, lambda: heatmap_figure(
        images, {m: maps[m] for m in METHODS if m in maps}, titles=titles),
        depends=depends, dpi=GRID_DPI)


def figure_curves(path, pr: dict, thresholds, depends=()) -> str:
    """Fig. 5: precision, recall and F-measure against the threshold, one line per method
    (``pr``: method -> curves ``precision``, ``recall``, ``f``)."""
    def draw():
        from xaibench.plots import line_styles

        fig, ax = new_figure(1, 3, figsize=(11, 3.2), layout="constrained")
        shown = [m for m in METHODS if m in pr]
        for a, key, name in zip(ax, ("precision", "recall", "f"),
                                ("precision", "recall", "F-measure")):
            for method, style in zip(shown, line_styles(len(shown))):
                y = np.asarray(pr[method][key], dtype=np.float64)
                a.plot(thresholds, y, label=method, lw=2.2 if method == "RMPD" else 1.2,
                       markersize=4, markevery=max(1, len(y) // 10), **style)
            a.set_xlabel("threshold")
            a.set_title(name, fontsize=9)
            a.set_xlim(0, 1)
            a.set_ylim(0, 1.02)
        ax[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                     borderaxespad=0, frameon=False)
        return fig

    return cached(path, draw, depends=depends, dpi=DPI)


# --------------------------------------------------------------------------- tables

def regions_table(effect) -> str:
    """Fig. 2: class probabilities, the paper's one image against our mean
    (``effect``: :class:`~xaibench.papers.seo.measures.RegionEffect`)."""
    return markdown_table(["", "paper (one image)", "xaibench"], [
        ("p(class \\| image)", PAPER["Fig. 2: class probability, image intact"], effect.p),
        ("p(class \\| object region erased)",
         PAPER["Fig. 2: class probability, object region erased"], effect.p_object),
        ("p(class \\| background region erased)", "little change", effect.p_background),
        ("images", 1, effect.images)])


def scales_table(scale_f, fused_f: float) -> str:
    """Fig. 3: mean F-measure of each scale's map and of the fused map."""
    rows = [(f"{2 ** (j + 1)} regions", v) for j, v in enumerate(scale_f)]
    return markdown_table(["map", "mean F"],
                          rows + [(f"fused (mean of {len(scale_f)} scales)", fused_f)])


def fig5_table(pr: dict) -> str:
    """Fig. 5: mean precision, recall and F over the thresholds and the best F."""
    return markdown_table(["method", "precision", "recall", "F-measure", "best F"], [
        (m, pr[m]["mean_precision"], pr[m]["mean_recall"], pr[m]["mean_f"], pr[m]["max_f"])
        for m in METHODS if m in pr])


def cost_table(cost, s, paper_pd: int, size: tuple) -> str:
    """Sec. 3.3 / 4: forward passes and seconds per image of RMPD and PD (``cost``:
    :class:`~xaibench.papers.seo.measures.Cost`, ``s`` the settings), next to the
    paper's; ``paper_pd``: Alg. 2's passes in the paper's setting on these images."""
    table = markdown_table(["method", "forward passes / image", "seconds / image"], [
        (f"RMPD (r = {s.scales})",
         f"{cost.rmpd_passes:.0f} (1 clean + {cost.rmpd_passes - 1:.0f})", cost.rmpd_seconds),
        (f"PD ({s.pd_text})", cost.pd_passes, cost.pd_seconds),
        (f"PD (k={s.pd_inner}, r={paper.PD_SAMPLES}, stride {paper.PD_STRIDE}: the paper's "
         "setting, formula)", paper_pd, None),
        ("paper: RMPD (GoogLeNet, GPU)",
         PAPER["Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)"],
         PAPER["Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)"]),
        (f"paper: PD (VGG, GPU, {paper.PD_IMAGE_SIDE} x {paper.PD_IMAGE_SIDE}, "
         f"k={paper.PD_INNER}, l={paper.PD_OUTER}, r={paper.PD_SAMPLES})",
         "r n^2 = " + str(PAPER["Sec. 3.2: forward passes per image, PD (paper: r n^2, n = "
                                "256, r = 10)"]),
         PAPER["Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)"])])
    return (table + f"\n\nTimed on {cost.images} image(s) after one warm-up image, "
            f"{size[0]} x {size[1]} px.")
