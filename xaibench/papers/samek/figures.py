"""Figs. 4, 5, 7 and 8 and the heatmap grid (as Fig. 6) as Matplotlib figures (kept at
:data:`DPI` by :meth:`~xaibench.papers.comparison.Reproduction.figure`), and the Markdown
tables of the same numbers."""
import numpy as np

from xaibench.papers.comparison import markdown_table
from xaibench.papers.samek.claims import sizes_text
from xaibench.papers.samek.paper import FIG5_LRP, FIG5_OTHERS, FIG8, LABELS, LRP, METHODS
from xaibench.plots import new_figure

DPI = 110
#: Fig. 5's box plot: the paper's methods, LRP variants first, and their labels there
FIG5_BOXES = {"lrp_a2b1": "LRP\nalpha2-beta1", "lrp_eps1": "LRP\neps=1", "lrp_eps100":
              "LRP\neps=100", "deconv": "deconv.\n(l2)", "sens_l2": "sensitivity\n(l2)"}
#: the methods of the heatmap grid, one column each
GRID = ("sens_l2", "deconv", "lrp_eps1", "lrp_eps100", "lrp_a2b1")


def _finish(fig, ax, xlabel: str, ylabel: str, title: str):
    """The zero line (the reference method), the labels and the legend right of the axes."""
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              frameon=False)
    return fig


def fig4(rel: dict, region: int, steps: int, title: str):
    """Fig. 4: AOPC(L) - AOPC_random(L) of each method over L (solid: LRP)."""
    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    for key, style in zip(METHODS, line_styles(len(METHODS))):
        style["linestyle"] = "-" if key in LRP else "--"
        ax.plot(rel[key], label=LABELS[key], markersize=4, markevery=max(1, len(rel[key]) // 10),
                **style)
    return _finish(fig, ax, "perturbation steps L", "AOPC(L) - AOPC_random(L)",
                   title + f" ({region}x{region} regions, {steps} steps)")


def fig8(table: dict, paper_sizes: dict):
    """Fig. 8: AOPC - AOPC(sensitivity l2) per region size; ``table[r][key]``. Sensitivity
    l2 is 0 by definition: no bar, the zero line is its value."""
    from matplotlib import colormaps

    regions, keys = sorted(table), FIG8[1:]
    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    width, xs = 0.8 / len(keys), np.arange(len(regions))
    for j, key in enumerate(keys):
        ax.bar(xs + (j - len(keys) / 2 + 0.5) * width, [table[r][key] for r in regions], width,
               label=LABELS[key], color=colormaps["tab10"].colors[j + 1],
               hatch=("", "//", "..", "xx")[j], edgecolor="white", linewidth=0.5)
    ax.set_xticks(xs, [f"{r} px\n(paper {sizes_text(paper_sizes[r])})" for r in regions],
                  fontsize=8)
    return _finish(fig, ax, "region size", "AOPC - AOPC(sensitivity l2)",
                   "relative to sensitivity (l2) = 0 at every region size")


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
        ax.set(xlabel=f"{LABELS[other]}: PNG bytes", ylabel=f"{LABELS[FIG5_LRP]}: PNG bytes")
    axes[2].boxplot([cx[k]["entropy"] for k in FIG5_BOXES])
    axes[2].set_xticks(range(1, len(FIG5_BOXES) + 1), list(FIG5_BOXES.values()), fontsize=7)
    axes[2].set_ylabel("entropy (bits)")
    fig.tight_layout()
    return fig


def fig7(checkpoints, dataset: str, label: str):
    """Fig. 7: AOPC of the ``label`` heatmaps and test accuracy after each epoch."""
    fig, ax = new_figure(figsize=(6, 4))
    ep = [c.epoch for c in checkpoints]
    ax.plot(ep, [c.aopc for c in checkpoints], "o-", color="tab:red", label=f"AOPC ({label})")
    ax.set(xlabel="training epoch", xticks=ep)
    ax.set_ylabel("AOPC of LRP heatmaps", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(ep, [c.accuracy for c in checkpoints], "s--", color="tab:blue", label="accuracy")
    ax2.set_ylabel("test accuracy", color="tab:blue")
    ax.set_title(f"AOPC and accuracy over training ({dataset})", fontsize=9)
    fig.tight_layout()
    return fig


def heatmap_grid(x, maps: dict):
    """The first images and their channel-pooled heatmaps ``maps[key]``, one column per
    method of :data:`GRID`, as Fig. 6."""
    from xaibench.plots import heatmap_figure

    return heatmap_figure(x, {LABELS[k]: maps[k] for k in GRID})


def fig4_table(aopc: dict, final: dict, random: float, steps: int) -> str:
    """AOPC at L and AOPC - random per method, best first."""
    return markdown_table(
        ["method", "channel pooling", f"AOPC (L={steps})", "AOPC - random"],
        [[LABELS[k], METHODS[k].pooling, aopc[k], final[k]]
         for k in sorted(METHODS, key=lambda k: -final[k])]
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
    return markdown_table(["method", "PNG bytes", "JPEG bytes", "entropy (bits)"], [
        [LABELS[k]] + [float(np.median(v[m])) for m in ("png", "jpeg", "entropy")]
        for k, v in cx.items()])


def fig7_table(checkpoints, label: str) -> str:
    """Test accuracy, AOPC and AOPC - random per epoch."""
    return markdown_table(["epoch", "test accuracy", f"AOPC ({label})", "AOPC - random"],
                          [[c.epoch, c.accuracy, c.aopc, c.aopc - c.random] for c in checkpoints])
