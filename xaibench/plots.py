"""Figures made with matplotlib: heatmap grids (red = positive, blue = negative,
a symmetric colour scale per heatmap so that zero is white) and line plots.

Figures are built with matplotlib's object API (:func:`new_figure`), never with
pyplot, so writing a PNG leaves a notebook's backend and open figures alone.
"""
from __future__ import annotations

import numpy as np


def new_figure(rows: int = 1, cols: int = 1, squeeze: bool = True, **figure_kwargs):
    """``(figure, axes)`` from matplotlib's object API, without pyplot: a notebook's
    backend and pyplot's list of open figures are left as they were."""
    from matplotlib.figure import Figure

    fig = Figure(**figure_kwargs)
    return fig, fig.subplots(rows, cols, squeeze=squeeze)


def _pixel_map(R: np.ndarray) -> np.ndarray:
    """Sum relevance over colour channels (a heatmap per pixel)."""
    return R.sum(-1) if R.ndim == 3 else R


def _gray(img: np.ndarray) -> np.ndarray:
    g = img.mean(-1)
    lo, hi = float(g.min()), float(g.max())
    return (g - lo) / (hi - lo + 1e-12)


def heatmap_grid(images: np.ndarray, heatmaps: dict, path: str, titles=None,
                 cmap: str = "bwr", dpi: int = 110, overlay: bool = False) -> str:
    """Write a grid with one row per image: the image, then one heatmap per analyzer.

    ``images``: ``(N, H, W, C)``; ``heatmaps``: ``{name: (N, H, W, C)}``; ``titles``:
    optional row labels. Each heatmap uses the range ``[-max|R|, max|R|]``; with
    ``overlay`` it is drawn half-transparent over the image in gray.
    """
    n, cols = len(images), len(heatmaps) + 1
    fig, axes = new_figure(n, cols, figsize=(1.35 * cols, 1.35 * n), squeeze=False)
    for i in range(n):
        img = images[i]
        ax = axes[i, 0]
        if img.shape[-1] == 1:
            ax.imshow(img[..., 0], cmap="gray")
        else:
            lo, hi = float(img.min()), float(img.max())
            ax.imshow((img - lo) / (hi - lo + 1e-12))
        if titles is not None:
            ax.set_ylabel(str(titles[i]), fontsize=7)
        for j, (name, R) in enumerate(heatmaps.items(), start=1):
            h = _pixel_map(np.asarray(R[i], dtype=np.float64))
            m = float(np.abs(h).max()) or 1.0
            if overlay:
                axes[i, j].imshow(_gray(img), cmap="gray", vmin=0, vmax=1)
            axes[i, j].imshow(h, cmap=cmap, vmin=-m, vmax=m, alpha=0.65 if overlay else 1.0)
            if i == 0:
                axes[i, j].set_title(name, fontsize=6)
        if i == 0:
            axes[i, 0].set_title("input", fontsize=6)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout(pad=0.2)
    fig.savefig(path, dpi=dpi)
    return path


def line_plot(curves: dict, path: str, xlabel: str, ylabel: str, baseline=None,
              marker=None, dpi: int = 120) -> str:
    """One line per ``{label: (x, y)}``; ``baseline=(label, legend text)`` is drawn
    dashed in black."""
    fig, ax = new_figure(figsize=(5.5, 3.6))
    from matplotlib import colormaps

    ax.set_prop_cycle(color=colormaps["tab20"](np.linspace(0, 1, 20)))   # distinct colours for many
    for label, (xs, ys) in sorted(curves.items()):
        if baseline is not None and label == baseline[0]:
            ax.plot(xs, ys, color="black", ls="--", marker=marker, label=baseline[1])
        else:
            ax.plot(xs, ys, marker=marker, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    return path
