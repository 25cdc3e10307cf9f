"""Figs. 4, 5, 7 and 8 and the heatmap grid (as Fig. 6) drawn from the numbers, and the
Markdown tables of the same numbers.

Each ``fig*`` function returns a Matplotlib figure, kept as a PNG at :data:`DPI` by
:meth:`~xaibench.papers.comparison.Reproduction.figure`.
"""
from __future__ import annotations

import numpy as np

from xaibench.papers.comparison import markdown_table
from xaibench.papers.samek.claims import sizes_text
from xaibench.papers.samek.paper import FIG5_LRP, FIG5_OTHERS, FIG8, LABELS, LRP, METHODS
from xaibench.plots import new_figure

DPI = 110
#: Fig. 5's box plot: the paper's methods, LRP variants first
FIG5_BOXES = ("lrp_a2b1", "lrp_eps1", "lrp_eps100", "deconv", "sens_l2")
#: the methods of the heatmap grid, one column each
GRID = ("sens_l2", "deconv", "lrp_eps1", "lrp_eps100", "lrp_a2b1")


def _legend_right(ax):
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              frameon=False)


def fig4(rel: dict, region: int, steps: int, title: str):
    """Fig. 4: AOPC(L) - AOPC_random(L) of each method over L (solid: LRP)."""
    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    for key, style in zip(METHODS, line_styles(len(METHODS))):
        y = np.asarray(rel[key], dtype=np.float64)
        style["linestyle"] = "-" if key in LRP else "--"
        ax.plot(np.arange(len(y)), y, label=LABELS[key], markersize=4,
                markevery=max(1, len(y) // 10), **style)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("perturbation steps L")
    ax.set_ylabel("AOPC(L) - AOPC_random(L)")
    ax.set_title(title + f" ({region}x{region} regions, {steps} steps)", fontsize=9)
    _legend_right(ax)
    return fig


def fig8(table: dict, paper_sizes: dict):
    """Fig. 8: AOPC - AOPC(sensitivity l2) per region size; ``table[r][key]``. Sensitivity
    l2 is 0 by definition: no bar, the zero line is its value."""
    from matplotlib import colormaps

    regions = sorted(table)
    keys = [k for k in FIG8 if k != "sens_l2"]
    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    width = 0.8 / len(keys)
    xs = np.arange(len(regions))
    colours = colormaps["tab10"].colors
    hatches = ("", "//", "..", "xx", "\\\\")
    for j, key in enumerate(keys):
        ax.bar(xs + (j - len(keys) / 2 + 0.5) * width, [table[r][key] for r in regions], width,
               label=LABELS[key], color=colours[FIG8.index(key)], hatch=hatches[j % 5],
               edgecolor="white", linewidth=0.5)
    ax.set_xticks(xs, [f"{r} px\n(paper {sizes_text(paper_sizes[r])})" for r in regions],
                  fontsize=8)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("region size")
    ax.set_ylabel("AOPC - AOPC(sensitivity l2)")
    ax.set_title("relative to sensitivity (l2) = 0 at every region size", fontsize=9)
    _legend_right(ax)
    return fig


def fig5(cx: dict):
    """Fig. 5: PNG bytes of LRP against deconvolution and sensitivity (one point per image;
    below the diagonal: LRP smaller), and the entropy of every method (box plots)."""
    fig, axes = new_figure(1, 3, figsize=(11, 3.6))
    lrp = cx[FIG5_LRP]["png"]
    for ax, other in zip(axes[:2], FIG5_OTHERS):
        o = cx[other]["png"]
        ax.scatter(o, lrp, s=12)
        lim = [min(o.min(), lrp.min()) * 0.95, max(o.max(), lrp.max()) * 1.05]
        ax.plot(lim, lim, "k-", lw=0.8)
        ax.set_xlabel(f"{LABELS[other]}: PNG bytes")
        ax.set_ylabel(f"{LABELS[FIG5_LRP]}: PNG bytes")
    axes[2].boxplot([cx[k]["entropy"] for k in FIG5_BOXES])
    short = {"deconv": "deconv.\n(l2)", "sens_l2": "sensitivity\n(l2)"}
    axes[2].set_xticks(range(1, len(FIG5_BOXES) + 1),
                       [short.get(k, LABELS[k].replace("LRP ", "LRP\n")) for k in FIG5_BOXES],
                       fontsize=7)
    axes[2].set_ylabel("entropy (bits)")
    fig.tight_layout()
    return fig


def fig7(checkpoints, dataset: str, label: str):
    """Fig. 7: AOPC of the ``label`` heatmaps and test accuracy after each epoch."""
    fig, ax = new_figure(figsize=(6, 4))
    ep = [c.epoch for c in checkpoints]
    ax.plot(ep, [c.aopc for c in checkpoints], "o-", color="tab:red", label=f"AOPC ({label})")
    ax.set_xlabel("training epoch")
    ax.set_xticks(ep)
    ax.set_ylabel("AOPC of LRP heatmaps", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(ep, [c.accuracy for c in checkpoints], "s--", color="tab:blue", label="accuracy")
    ax2.set_ylabel("test accuracy", color="tab:blue")
    ax.set_title(f"AOPC and accuracy over training ({dataset})", fontsize=9)
    fig.tight_layout()
    return fig


def heatmap_grid(x, maps: dict):
    """The first images and their heatmaps (``maps``: method key -> channel-pooled maps),
    one column per method of :data:`GRID`, as Fig. 6."""
    from xaibench.plots import heatmap_figure

    return heatmap_figure(x, {LABELS[k]: maps[k] for k in GRID})


# -------------------------------------------------------------------------------- tables

def fig4_table(aopc: dict, final: dict, random: float, steps: int) -> str:
    """AOPC at L and AOPC - random per method, best first; ``aopc`` / ``final`` by key."""
    order = sorted(METHODS, key=lambda k: -final[k])
    return markdown_table(
        ["method", "channel pooling", f"AOPC (L={steps})", "AOPC - random"],
        [[LABELS[k], METHODS[k].pooling, aopc[k], final[k]] for k in order]
        + [["random baseline", "-", random, 0.0]])


def fig8_table(table: dict, paper_sizes: dict, steps: dict) -> str:
    """AOPC - sensitivity l2 per method (rows) and region size (columns)."""
    regions = sorted(table)
    return markdown_table(
        ["method"] + [f"{r} px (paper {sizes_text(paper_sizes[r])}), L={steps[r]}"
                      for r in regions],
        [[LABELS[k]] + [table[r][k] for r in regions] for k in FIG8])


def fig5_table(cx: dict) -> str:
    """Median PNG / JPEG bytes and entropy per method."""
    return markdown_table(
        ["method", "PNG bytes", "JPEG bytes", "entropy (bits)"],
        [[LABELS[k]] + [float(np.median(v[m])) for m in ("png", "jpeg", "entropy")]
         for k, v in cx.items()])


def fig7_table(checkpoints, label: str) -> str:
    """Test accuracy, AOPC and AOPC - random per epoch."""
    return markdown_table(
        ["epoch", "test accuracy", f"AOPC ({label})", "AOPC - random"],
        [[c.epoch, c.accuracy, c.aopc, c.aopc - c.random] for c in checkpoints])


def settings_table(settings: dict) -> str:
    """``{setting: value}`` as a two-column table."""
    return markdown_table(["setting", "value"], [[k, v] for k, v in settings.items()])
