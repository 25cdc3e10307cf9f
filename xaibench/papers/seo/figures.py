"""The figures of the Seo et al. reproduction (Figs. 2-5, each drawn once through
:meth:`~xaibench.papers.comparison.Reproduction.figure` / :func:`~xaibench.papers.cache.cached`)
and its Markdown tables."""
from __future__ import annotations

import os

import numpy as np

from xaibench.papers.cache import cached
from xaibench.papers.seo import measures, paper
from xaibench.plots import add_colorbar, heatmap_figure, line_styles, new_figure
from xaibench.tables import markdown_table

#: the non-negative prediction-difference maps (max(0, .) per region, Alg. 3): white at 0,
#: dark red at the row's maximum (sequential; the paper's rainbow map is not perceptually
#: ordered)
MAP_CMAP = "Reds"
#: resolution of Figs. 2, 3, 5 (the reproduction's default) and of Fig. 4 (that of
#: :func:`xaibench.plots.heatmap_grid`)
DPI, GRID_DPI = 120, 110


def _show(img):
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo + 1e-12)


def figure_regions(shown, image, sc: dict, e):
    """Fig. 2 for the image of ``e.pick`` (:class:`~.measures.RegionEffect`): (a) its
    segmentation at scale ``e.scale`` (16 regions in the paper), (b) the object's region
    and (c) a background region erased (Alg. 3 line 6), each with p(y|x), (d) the map
    s^j of that scale; ``shown``: the image as displayed, ``image`` as the model sees it."""
    from skimage.segmentation import mark_boundaries

    (i, obj, bg), j = e.pick, e.scale
    seg, offset, smap = sc["segments"][i, j], 2 ** (j + 1) - 2, sc["maps"][i, j]
    fig, ax = new_figure(1, 4, figsize=(8.6, 2.3), layout="constrained")
    ax[0].imshow(mark_boundaries(_show(shown), seg, color=(1, 1, 0)))
    for a, r in zip(ax[1:3], (obj, bg)):
        a.imshow(_show(measures.erase(image, seg, r, sc["mu"][i], float(sc["sigma"][i]),
                                      sc["noise"][j])))
    top = float(np.max(smap)) or 1.0
    ax[3].imshow(smap, cmap=MAP_CMAP, vmin=0, vmax=top)
    p = (sc["p"][i], sc["p_without"][i, offset + obj], sc["p_without"][i, offset + bg])
    for a, title in zip(ax, (f"(a) 16 regions, p={p[0]:.3f}", f"(b) object erased, p={p[1]:.3f}",
                             f"(c) background erased, p={p[2]:.3f}", "(d) 16-level map")):
        a.set_title(title, fontsize=7)
        a.set(xticks=[], yticks=[])
    add_colorbar(fig, ax[3], MAP_CMAP, 0, top, "prediction difference")
    return fig


def figure_scales(images, maps, titles):
    """Fig. 3: the maps s^j from coarse (2 regions) to fine (2^r) and their fusion
    s = 1/r sum_j s^j (Alg. 3 line 13), one image a row on one scale."""
    (n, r), fused = maps.shape[:2], maps.mean(axis=1)
    fig, ax = new_figure(n, r + 2, figsize=(1.4 * (r + 2) + 0.8, 1.5 * n + 0.3),
                         squeeze=False, layout="constrained")
    for i in range(n):
        ax[i, 0].imshow(_show(images[i]))
        ax[i, 0].set_ylabel(titles[i], fontsize=7)
        top = max(float(np.max(maps[i])), float(np.max(fused[i]))) or 1.0
        for col, m in enumerate([*maps[i], fused[i]], start=1):
            ax[i, col].imshow(m / top, cmap=MAP_CMAP, vmin=0, vmax=1)
    heads = ["input"] + [f"{2 ** k} regions" for k in range(1, r + 1)] + ["fused (mean)"]
    for a, title in zip(ax[0], heads):
        a.set_title(title, fontsize=7)
    for a in ax.ravel():
        a.set(xticks=[], yticks=[])
    add_colorbar(fig, list(ax[:, 1:].ravel()), MAP_CMAP, 0, 1, "PD / s, s = max of the row",
                 ticks=[0, 0.5, 1])
    return fig


def figure_curves(path, pr: dict, thresholds, depends=()) -> str:
    """Fig. 5: precision, recall and F-measure against the threshold, one line per method
    (``pr``: method -> curves ``precision``, ``recall``, ``f``)."""
    def draw():
        fig, ax = new_figure(1, 3, figsize=(11, 3.2), layout="constrained")
        shown = [m for m in paper.METHODS if m in pr]
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


def draw(result, exp, num, res, steps: dict) -> None:
    """Figs. 2-5 into ``<out>/figures``, each drawn again only when its inputs (the
    per-scale arrays, the run's results file) are newer."""
    arrays, sc, e = [os.path.join(result.out, "scales.npz")], num.scales, num.effect
    titles = [f"y={c}" for c in exp.y]
    if e.pick is not None:
        result.figure("Fig. 2: effect of regions", "fig2_regions.png", lambda: figure_regions(
            exp.shown[e.pick[0]], exp.x[e.pick[0]], sc, e), depends=arrays)
    result.figure("Fig. 3: maps from coarse to fine scales", "fig3_scales.png", lambda:
                  figure_scales(exp.shown[:3], sc["maps"][:3], titles[:3]), depends=arrays)
    heat = res.heatmaps(list(steps.values()), limit=6)          # Fig. 4: the first 6 images
    maps = {m: heat[steps[m].label][:6] for m in paper.METHODS if steps[m].label in heat}
    if maps:
        result.figure("Fig. 4: visual comparison", "fig4_comparison.png", lambda: heatmap_figure(
            exp.shown[:6], maps, titles=titles[:6]), depends=[res.path], dpi=GRID_DPI)
    result.figures["Fig. 5: precision, recall and F-measure curves"] = figure_curves(
        os.path.join(result.out, "figures", "fig5_precision_recall.png"), num.pr,
        num.thresholds, depends=[res.path])


def tables(num, s, size: tuple) -> dict:
    """The tables of Figs. 2, 3, 5 and Sec. 3.3 / 4 (``num``: the reproduction's numbers,
    ``s`` its settings, ``size``: the images' H, W), the paper's numbers beside ours."""
    e, c, pr, n = num.effect, num.cost, num.pr, paper.PD_IMAGE_SIDE
    return {
        "Fig. 2: effect of regions (16 regions, mean over images)": markdown_table(
            ["", "paper (one image)", "xaibench"], [
                ("p(class \\| image)", paper.P_INTACT, e.p),
                ("p(class \\| object region erased)", paper.P_ERASED, e.p_object),
                ("p(class \\| background region erased)", "little change", e.p_background),
                ("images", 1, e.images)]),
        "Fig. 3: mean F-measure per scale (thresholds 0..1)": markdown_table(
            ["map", "mean F"], [(f"{2 ** (j + 1)} regions", v) for j, v in enumerate(
                num.scale_f)] + [(f"fused (mean of {len(num.scale_f)} scales)", num.fused_f)]),
        "Fig. 5: mean over thresholds 0..1 (and best F)": markdown_table(
            ["method", "precision", "recall", "F-measure", "best F"], [
                (m, pr[m]["mean_precision"], pr[m]["mean_recall"], pr[m]["mean_f"],
                 pr[m]["max_f"]) for m in paper.METHODS if m in pr]),
        "Sec. 3.3 / 4: forward passes and seconds per image": markdown_table(
            ["method", "forward passes / image", "seconds / image"], [
                (f"RMPD (r = {s.scales})", f"{c.rmpd_passes:.0f} (1 clean + "
                 f"{c.rmpd_passes - 1:.0f})", c.rmpd_seconds),
                (f"PD ({s.pd_text})", c.pd_passes, c.pd_seconds),
                (f"PD (k={s.pd_inner}, r={paper.PD_SAMPLES}, stride {paper.PD_STRIDE}: the "
                 "paper's setting, formula)", measures.pd_passes_formula(
                     *size, s.pd_inner, paper.PD_SAMPLES, paper.PD_STRIDE), None),
                ("paper: RMPD (GoogLeNet, GPU)", paper.RMPD_PASSES, paper.RMPD_SECONDS),
                (f"paper: PD (VGG, GPU, {n} x {n}, k={paper.PD_INNER}, l={paper.PD_OUTER}, "
                 f"r={paper.PD_SAMPLES})", f"r n^2 = {paper.PD_PASSES}",
                 paper.PD_SECONDS)])
        + f"\n\nTimed on {c.images} image(s) after one warm-up image, {size[0]} x {size[1]} px."}
