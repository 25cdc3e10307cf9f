"""Figs. 1-3 as Matplotlib figures and the Markdown tables of Table 1 and Fig. 1, put on the
:class:`~xaibench.papers.comparison.Reproduction` by :func:`draw`."""
import numpy as np

from xaibench.papers.kohlbrenner.claims import table1_columns
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, COLUMNS, LABELS, LARGE_BOX, METHODS, PAPER, PVOC, REFERENCE, SMALL_BOX)
from xaibench.plots import heatmap_figure, line_styles, new_figure
from xaibench.tables import markdown_table

#: intervals of the occluded area in Fig. 2
OCCLUSION_BINS = 20
#: resolution of Figs. 2 and 3 (the reproduction's default) and of Fig. 1's grid
DPI, GRID_DPI = 120, 110


def _bin_means(x, y, bins: int) -> tuple:
    """``(interval centres, mean of y per interval)`` of the non-empty intervals among
    ``bins`` equal intervals of [0, 1] (an x on an edge counts to the lower interval)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(x, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    mean = np.bincount(idx, weights=y, minlength=bins) / np.maximum(count, 1)
    return ((edges[:-1] + edges[1:]) / 2)[count > 0], mean[count > 0]


def fig3(ratios: dict, bins: int):
    """Fig. 3: mean mu per box-size interval (``bins`` equal intervals of [0, 1]) per
    method and for the uniform baseline, with the 25 % / 50 % lines."""
    fig, ax = new_figure(figsize=(6.4, 4.0))
    baseline = dict(color="k", linestyle="--", marker=".")
    for key, style in zip(LABELS, line_styles(len(METHODS)) + [baseline]):     # METHODS first
        ok = np.isfinite(ratios[key]["mu"])
        ax.plot(*_bin_means(ratios[key]["size"][ok], ratios[key]["mu"][ok], bins), linewidth=1,
                markersize=4, label=LABELS[key], **style)
    for t in (SMALL_BOX, LARGE_BOX):
        ax.axvline(t, color="grey", linewidth=0.8, linestyle=":")
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="bounding box size / image size",
           ylabel="mean mu = R_in / R_tot (eq. 2)")
    ax.set_title(f"mu against box size ({bins} intervals)", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    return fig


def fig2(occ: dict, bins: int = OCCLUSION_BINS):
    """Fig. 2: the true-class logit change per image and its mean per interval of the
    occluded share of the image, occluding the object and the context."""
    fig, ax = new_figure(figsize=(5.6, 3.8))
    for what, area, colour in (("object", occ["size"], "tab:red"),
                               ("context", 1 - occ["size"], "tab:blue")):
        ax.scatter(area, occ[what], s=6, color=colour, alpha=0.25)
        ax.plot(*_bin_means(area, occ[what], bins), marker="o", color=colour,
                label=f"occluding the {what} (mean per interval)")
    ax.axhline(0, color="k", linewidth=0.6)
    ax.set(xlim=(0, 1), xlabel="occluded area / image size",
           ylabel="change of the true-class logit")
    ax.set_title("occlusion with the training mean: object vs. context", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig1(heatmaps: dict):
    """Fig. 1 style grid: a row per (image, class) of :func:`.protocol.fig1_heatmaps`'s
    arrays, the image then one heatmap per column (a)-(g), overlaid."""
    columns = {str(t): heatmaps[f"R{k}"] for k, t in enumerate(heatmaps["titles"])}
    rows = [f"img {i}: class {c} ({v:.1f})" for i, c, v in
            zip(heatmaps["rows"], heatmaps["classes"], heatmaps["logits"])]
    return heatmap_figure(heatmaps["images"], columns, titles=rows, overlay=True)


def _cells(values) -> str:
    return " / ".join("-" if v is None else f"{v:.3f}" for v in values)


def draw(result, m, heatmaps: dict, bins: int, runs: list, heatmaps_file: str) -> None:
    """Figs. 1-3 of the numbers ``m`` (:class:`.claims.Measured`) and ``heatmaps``, drawn
    again only when the ``runs`` / ``heatmaps_file`` they show are newer; Table 1, ours (rows
    by our mu_w, as the paper orders by its own) next to the paper's ImageNet and PVOC cells;
    Fig. 1's mean class correlation per column."""
    table = table1_columns(m.ratios)
    order = sorted((k for k in table if k != BASELINE_KEY), key=lambda k: -table[k]["mu_w"])
    rows = [(LABELS[k], *(float(table[k][c]) for c in COLUMNS), table[k]["n"],
             *(_cells(PAPER[t].get(k, [None] * 4)) for t in (REFERENCE, PVOC)))
            for k in order + [BASELINE_KEY]]
    head = ("analyzer",) + COLUMNS + ("n", "paper ImageNet (VGG-16)", "paper PVOC (CaffeNet)")
    result.tables["Table 1: relevance inside the box (eq. 2), true class"] = (
        "Row order by xaibench's mu_w (as the paper's). Paper cells: mu_w / mu<=0.25 / "
        "mu<=0.5 / mu.\n\n" + markdown_table(head, rows))
    result.figure("Fig. 3: mu against box size", f"fig3_mu_by_box_size_{bins}_bins.png",
                  lambda: fig3(m.ratios, bins), runs)
    result.figure("Fig. 2: occluding object vs. context", "fig2_occlusion.png",
                  lambda: fig2(m.occlusion), runs)
    result.figure("Fig. 1: two classes, uniform rules (a)-(d) vs. LRP_CMP (e)-(g)",
                  "fig1_heatmaps.png", lambda: fig1(heatmaps), [heatmaps_file], dpi=GRID_DPI)
    result.tables["Fig. 1: correlation between the two classes' heatmaps"] = markdown_table(
        ("column", "mean correlation (true vs. runner-up class)"),
        list(m.correlation.items()), digits=3)
