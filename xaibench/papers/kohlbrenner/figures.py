"""Figs. 1-3 as Matplotlib figures (kept by :func:`~xaibench.papers.cache.cached` in
:mod:`.protocol`) and the reproduction's Markdown tables."""
from __future__ import annotations

import numpy as np

from xaibench.papers.comparison import markdown_table
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, COLUMNS, LABELS, LARGE_BOX, METHODS, PAPER, PVOC, REFERENCE, SMALL_BOX)
from xaibench.plots import new_figure

#: intervals of the occluded area in Fig. 2
OCCLUSION_BINS = 20


def _bin_means(x, y, bins: int) -> tuple:
    """``(interval centres, mean of y per interval)`` of the non-empty intervals among
    ``bins`` equal intervals of [0, 1] (an x on an edge counts to the lower interval)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(x, edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    mean = np.bincount(idx, weights=y, minlength=bins) / np.maximum(count, 1)
    ok = count > 0
    return ((edges[:-1] + edges[1:]) / 2)[ok], mean[ok]


def fig3(ratios: dict, bins: int):
    """Fig. 3: mean mu per box-size interval (``bins`` equal intervals of [0, 1]) per
    method and for the uniform baseline, with the 25 % / 50 % lines."""
    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(6.4, 4.0))
    styles = dict(zip(METHODS, line_styles(len(METHODS))))
    styles[BASELINE_KEY] = dict(color="k", linestyle="--", marker=".")
    for key in list(METHODS) + [BASELINE_KEY]:
        a = ratios[key]
        ok = np.isfinite(a["mu"])
        centre, mean = _bin_means(a["size"][ok], a["mu"][ok], bins)
        ax.plot(centre, mean, linewidth=1, markersize=4, label=LABELS[key], **styles[key])
    for t in (SMALL_BOX, LARGE_BOX):
        ax.axvline(t, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("bounding box size / image size")
    ax.set_ylabel("mean mu = R_in / R_tot (eq. 2)")
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
    ax.set_xlim(0, 1)
    ax.set_xlabel("occluded area / image size")
    ax.set_ylabel("change of the true-class logit")
    ax.set_title("occlusion with the training mean: object vs. context", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def fig1(heatmaps: dict):
    """Fig. 1 style grid: a row per (image, class) of :func:`.protocol.fig1_heatmaps`'s
    arrays, the image then one heatmap per column (a)-(g), overlaid."""
    from xaibench.plots import heatmap_figure

    titles = [str(t) for t in heatmaps["titles"]]
    rows = [f"img {i}: class {c} ({v:.1f})" for i, c, v in
            zip(heatmaps["rows"], heatmaps["classes"], heatmaps["logits"])]
    return heatmap_figure(heatmaps["images"], {t: heatmaps[f"R{k}"] for k, t in
                                               enumerate(titles)}, titles=rows, overlay=True)


def _cells(values) -> str:
    return " / ".join("-" if v is None else f"{v:.3f}" for v in values)


def table1_markdown(table: dict) -> str:
    """Table 1: ours (rows by our mu_w, as the paper orders by its own) next to the
    paper's ImageNet and PVOC cells."""
    order = sorted((k for k in table if k != BASELINE_KEY), key=lambda k: -table[k]["mu_w"])
    head = ("analyzer",) + COLUMNS + ("n", "paper ImageNet (VGG-16)", "paper PVOC (CaffeNet)")
    rows = [(LABELS[k], *(float(table[k][c]) for c in COLUMNS), table[k]["n"],
             *(_cells(PAPER[t].get(k, [None] * 4)) for t in (REFERENCE, PVOC)))
            for k in order + [BASELINE_KEY]]
    return ("Row order by xaibench's mu_w (as the paper's). Paper cells: mu_w / mu<=0.25 / "
            "mu<=0.5 / mu.\n\n" + markdown_table(head, rows))


def fig1_markdown(correlation: dict) -> str:
    """Fig. 1: the mean correlation of the two classes' heatmaps per column."""
    return markdown_table(("column", "mean correlation (true vs. runner-up class)"),
                          list(correlation.items()), digits=3)
