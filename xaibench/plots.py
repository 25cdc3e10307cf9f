"""Figures made with matplotlib: heatmap grids and line plots (the "plots" end of the
``report`` arrow in DESIGN.md).

Heatmaps use a diverging map, ``bwr`` by default: red = positive, blue = negative,
white = 0, on a scale symmetric about 0, with a colour bar. How a heatmap is scaled
(``scale=`` of :func:`heatmap_grid`, :data:`SCALES`):

* ``"image"`` (default): each heatmap on ``[-s, s]`` with ``s = max |R|`` of that heatmap.
  Every map is shown at full contrast; magnitudes between images or analyzers are not
  comparable, and a map with a few extreme pixels looks faint.
* ``"analyzer"``: ``s = max |R|`` over all images of that analyzer (one column): images of
  one analyzer can be compared with each other.
* ``"percentile"``: ``s`` = the ``percentile``-th percentile (default 99) of ``|R|`` of each
  heatmap; the few pixels above it saturate. Robust against a handful of extreme pixels
  (e.g. ``lrp.alpha_2_beta_1``).

Line plots (:func:`line_plot`) give every line its own colour *and* marker (and line
style beyond ten lines, :func:`line_styles`), put the legend outside the axes and leave
all-zero (or all-NaN) series out of the legend, naming them in a note instead.

Figures are built with matplotlib's object API (:func:`new_figure`), never with
pyplot, so writing a PNG leaves a notebook's backend and open figures alone. No
rainbow map (``jet``) is used anywhere: it is not perceptually ordered.
"""
from __future__ import annotations

import re

import numpy as np

#: the heatmap scaling choices of :func:`heatmap_grid` (see the module docstring)
SCALES = ("image", "analyzer", "percentile")
_SCALE_TEXT = {"image": "s = max |R| of each heatmap",
               "analyzer": "s = max |R| over the images of each analyzer (column)",
               "percentile": "s = the {q:g}th percentile of |R| of each heatmap "
                             "(larger values saturate)"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", "-.", ":")


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


def wrap_label(text: str, width: int) -> str:
    """``text`` broken into lines of at most about ``width`` characters, after ``.``, ``_``,
    ``(``, ``,`` or a space where it can (analyzer labels such as ``lrp.cmp_alpha1_flat``)."""
    text = str(text)
    if len(text) <= width:
        return text
    tokens = re.findall(r"[^._(,= ]*[._(,= ]?", text)
    lines, line = [], ""
    for tok in (t for t in tokens if t):
        while len(tok) > width:                     # a token longer than a line: hard split
            if line:
                lines.append(line)
                line = ""
            lines.append(tok[:width])
            tok = tok[width:]
        if len(line) + len(tok.rstrip()) > width and line:
            lines.append(line)
            line = ""
        line += tok
    if line:
        lines.append(line)
    return "\n".join(s.rstrip() for s in lines)


def heatmap_scales(maps: list, scale: str = "image", percentile: float = 99.0) -> np.ndarray:
    """The scale ``s`` of each pixel map (``maps``: one ``(H, W)`` array per image, one
    analyzer), as :func:`heatmap_grid` uses it: ``(len(maps),)``, all > 0."""
    if scale not in SCALES:
        raise ValueError(f"scale={scale!r} is not supported; use one of {', '.join(SCALES)}")
    if not 0 < float(percentile) <= 100:
        raise ValueError(f"percentile must be in (0, 100], got {percentile!r}")
    absmax = np.array([float(np.nanmax(np.abs(h))) if np.isfinite(h).any() else 0.0
                       for h in maps])
    if scale == "analyzer":
        s = np.full(len(maps), absmax.max() if len(maps) else 1.0)
    elif scale == "percentile":
        s = np.array([float(np.nanpercentile(np.abs(h), percentile)) if np.isfinite(h).any()
                      else 0.0 for h in maps])
        s = np.where(s > 0, s, absmax)              # a mostly-zero map: its maximum
    else:
        s = absmax
    return np.where(s > 0, s, 1.0)                  # an all-zero map is drawn white


def heatmap_figure(images: np.ndarray, heatmaps: dict, titles=None, cmap: str = "bwr",
                   overlay: bool = False, scale: str = "image", percentile: float = 99.0,
                   order=None, cell: float = 1.35, colorbar: bool = True):
    """The :func:`heatmap_grid` figure (a matplotlib ``Figure``), without writing it."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    if order is not None:
        names = [k for k in order if k in heatmaps] + [k for k in heatmaps if k not in order]
    else:
        names = list(heatmaps)
    images = np.asarray(images)
    n, cols = len(images), len(names) + 1
    pixel = {name: [_pixel_map(np.asarray(heatmaps[name][i], dtype=np.float64))
                    for i in range(n)] for name in names}
    scales = {name: heatmap_scales(pixel[name], scale, percentile) for name in names}
    chars = max(6, int(cell * 72 / (0.62 * 6)))              # characters of 6 pt per column
    heads = ["input"] + [wrap_label(k, chars) for k in names]
    if scale == "analyzer":
        heads[1:] = [f"{h}\ns = {scales[k][0]:.2g}" for h, k in zip(heads[1:], names)]
    head_lines = max(h.count("\n") + 1 for h in heads)
    gap = 0.06
    left = 0.3 if titles is not None else 0.08
    right = 0.75 if colorbar else 0.08
    top = 0.08 + head_lines * 6 * 1.3 / 72
    width = left + cols * cell + (cols - 1) * gap + right
    caption = (f"colour: R / s, {_SCALE_TEXT[scale].format(q=percentile)}; red > 0, "
               "blue < 0, white = 0") if colorbar else ""
    cap_lines = wrap_label(caption, max(20, int(width * 72 / (0.62 * 6)))) if caption else ""
    bottom = 0.08 + (cap_lines.count("\n") + 1) * 6 * 1.3 / 72 if caption else 0.08
    height = top + n * cell + (n - 1) * gap + bottom
    fig = Figure(figsize=(width, height))
    axes = fig.subplots(n, cols, squeeze=False, gridspec_kw=dict(
        left=left / width, right=1 - right / width, top=1 - top / height,
        bottom=bottom / height, wspace=gap / cell, hspace=gap / cell))
    for i in range(n):
        img = images[i]
        ax = axes[i, 0]
        if img.shape[-1] == 1:
            ax.imshow(img[..., 0], cmap="gray")
        else:
            lo, hi = float(img.min()), float(img.max())
            ax.imshow((img - lo) / (hi - lo + 1e-12))
        if titles is not None:
            ax.set_ylabel(wrap_label(titles[i], max(6, int(cell * 72 / (0.62 * 6)))),
                          fontsize=6)
        for j, name in enumerate(names, start=1):
            h = pixel[name][i] / scales[name][i]
            if overlay:
                axes[i, j].imshow(_gray(img), cmap="gray", vmin=0, vmax=1)
            axes[i, j].imshow(h, cmap=cmap, vmin=-1, vmax=1, alpha=0.65 if overlay else 1.0)
    for j, head in enumerate(heads):
        axes[0, j].set_title(head, fontsize=6, linespacing=1.1)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    if colorbar:
        grid_h = n * cell + (n - 1) * gap
        bar_h = min(grid_h, 3.0)
        y0 = bottom + (grid_h - bar_h) / 2
        cax = fig.add_axes([(width - right + 0.12) / width, y0 / height, 0.12 / width,
                            bar_h / height])
        bar = fig.colorbar(ScalarMappable(Normalize(-1, 1), colormaps[cmap]), cax=cax,
                           ticks=[-1, 0, 1], alpha=0.65 if overlay else None)
        bar.ax.set_yticklabels(["-s", "0", "+s"], fontsize=6)
        bar.set_label("R / s", fontsize=6, labelpad=1)
        fig.text(0.5, 0.04 / height, cap_lines, ha="center", va="bottom", fontsize=6,
                 linespacing=1.1)
    return fig


def heatmap_grid(images: np.ndarray, heatmaps: dict, path: str, titles=None,
                 cmap: str = "bwr", dpi: int = 110, overlay: bool = False,
                 scale: str = "image", percentile: float = 99.0, order=None,
                 colorbar: bool = True) -> str:
    """Write a grid with one row per image: the image, then one heatmap per analyzer.

    ``images``: ``(N, H, W, C)``; ``heatmaps``: ``{name: (N, H, W, C) or (N, H, W)}``,
    drawn in the dict's order (or ``order``'s: the names given first, the rest after);
    ``titles``: optional row labels. ``scale``: ``"image"`` (default), ``"analyzer"`` or
    ``"percentile"`` (see :data:`SCALES` and the module docstring); a colour bar shows the
    diverging map from ``-s`` (blue) through 0 (white) to ``+s`` (red) and a caption says
    what ``s`` is. With ``overlay`` each heatmap is drawn half-transparent over the image
    in gray. Returns ``path``.
    """
    fig = heatmap_figure(images, heatmaps, titles=titles, cmap=cmap, overlay=overlay,
                         scale=scale, percentile=percentile, order=order, colorbar=colorbar)
    fig.savefig(path, dpi=dpi)
    return path


def line_styles(n: int) -> list:
    """``n`` distinguishable line styles (``color``, ``marker``, ``linestyle``): ten
    colours of ``tab10`` with eight markers, then the same colours dashed, dash-dotted
    and dotted; no two of the first 40 are alike."""
    from matplotlib import colormaps

    colours = colormaps["tab10"].colors
    return [dict(color=colours[i % 10], marker=_MARKERS[i % len(_MARKERS)],
                 linestyle=_DASHES[(i // 10) % len(_DASHES)]) for i in range(n)]


def _all_zero(ys) -> bool:
    y = np.asarray(ys, dtype=np.float64)
    finite = np.isfinite(y)
    return not finite.any() or bool(np.all(y[finite] == 0))


def line_figure(curves: dict, xlabel: str, ylabel: str, baseline=None, marker=None,
                order=None, title: str | None = None, xticks=None):
    """The :func:`line_plot` figure (a matplotlib ``Figure``), without writing it."""
    from matplotlib.figure import Figure

    names = list(curves) if order is None else (
        [k for k in order if k in curves] + [k for k in curves if k not in order])
    base = baseline[0] if baseline is not None else None
    drawn = [k for k in names if k != base and not _all_zero(curves[k][1])]
    zero = [k for k in names if k != base and _all_zero(curves[k][1])]
    fig = Figure(figsize=(7.6, 3.8), layout="constrained")
    ax = fig.subplots()
    styles = line_styles(len(drawn))
    handles = []

    def _plot(key, label, **style):
        xs, ys = (np.asarray(v, dtype=np.float64) for v in curves[key])
        ok = np.isfinite(xs) & np.isfinite(ys)
        every = max(1, int(ok.sum()) // 12)
        line, = ax.plot(xs[ok], ys[ok], label=label, markersize=4, markevery=every,
                        linewidth=1.2, **style)
        handles.append(line)

    if base is not None and base in curves:
        _plot(base, baseline[1], color="black", linestyle="--", marker=marker)
    for key, style in zip(drawn, styles):
        if marker is not None:
            style = dict(style, marker=marker)
        _plot(key, key, **style)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xticks is not None:                   # [(position, label)], e.g. layer names
        ax.set_xticks([p for p, _ in xticks], [str(t) for _, t in xticks], fontsize=7,
                      rotation=30 if max((len(str(t)) for _, t in xticks), default=0) > 6
                      else 0)
    if title:
        ax.set_title(title, fontsize=9)
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                  borderaxespad=0, frameon=False)
    if zero:
        ax.annotate("all zero, not drawn: " + ", ".join(zero), xy=(1.02, 0.0),
                    xycoords="axes fraction", fontsize=6, va="bottom", ha="left",
                    wrap=True, annotation_clip=False)
    return fig


def line_plot(curves: dict, path: str, xlabel: str, ylabel: str, baseline=None,
              marker=None, dpi: int = 120, order=None, title: str | None = None,
              xticks=None) -> str:
    """One line per ``{label: (x, y)}``, in the dict's order (or ``order``'s), each with
    its own colour and marker (:func:`line_styles`; ``marker`` forces one marker for
    all); ``baseline=(label, legend text)`` is drawn dashed in black and listed first.
    Non-finite points are skipped; an all-zero series gets no line and no legend entry
    but is named under the legend. ``xticks``: ``[(position, label)]`` to name the x
    positions (e.g. the layers of a randomisation). Returns ``path``."""
    fig = line_figure(curves, xlabel, ylabel, baseline=baseline, marker=marker, order=order,
                      title=title, xticks=xticks)
    fig.savefig(path, dpi=dpi)
    return path


def add_colorbar(fig, ax, cmap: str, vmin: float, vmax: float, label: str = "",
                 ticks=None, fontsize: int = 6, orientation: str = "vertical", **kwargs):
    """A colour bar for ``cmap`` on ``[vmin, vmax]`` next to ``ax`` (one axes or a list;
    below it with ``orientation="horizontal"``), for figures that draw heatmaps with
    ``imshow`` themselves; ``kwargs`` go to ``Figure.colorbar`` (``shrink``, ``anchor``).
    Returns the colour bar."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    bar = fig.colorbar(ScalarMappable(Normalize(vmin, vmax), colormaps[cmap]), ax=ax,
                       ticks=ticks, fraction=0.04 if orientation == "vertical" else 0.06,
                       pad=0.02, orientation=orientation, **kwargs)
    bar.ax.tick_params(labelsize=fontsize)
    if label:
        bar.set_label(label, fontsize=fontsize)
    return bar


def text_overlaps(fig) -> list:
    """Pairs of visible, non-empty texts of ``fig`` (tick labels, titles, axis labels,
    legend entries, notes) whose drawn boxes overlap: ``[(text a, text b), ...]``.
    An empty list means no label is drawn over another."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    owned, drawn = set(), set()
    for ax in fig.axes:                 # texts of an axes count only where they are drawn
        owned |= set(ax.findobj(Text))
        drawn |= _drawn_texts(ax)
    boxes = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip() or (t in owned and t not in drawn):
            continue
        boxes.append((t, t.get_window_extent(renderer)))
    out = []
    for k, (a, ba) in enumerate(boxes):
        for b, bb in boxes[k + 1:]:
            if ba.overlaps(bb) and ba.width > 0 and bb.width > 0:
                out.append((a.get_text(), b.get_text()))
    return out


def _drawn_texts(ax) -> set:
    """The texts of ``ax`` that are actually drawn (tick labels outside the view are not)."""
    texts = set(ax.texts) | {ax.title, ax._left_title, ax._right_title}
    for axis in (ax.xaxis, ax.yaxis):
        if not (ax.axison and axis.get_visible()):         # ax.axis("off"): nothing drawn
            continue
        texts.add(axis.label)
        lo, hi = sorted(axis.get_view_interval())
        for tick in axis.get_major_ticks() + axis.get_minor_ticks():
            if lo - 1e-9 * (abs(hi - lo) + 1) <= tick.get_loc() <= hi + 1e-9 * (abs(hi - lo) + 1):
                texts |= {tick.label1, tick.label2}
    legend = ax.get_legend()
    if legend is not None:
        texts |= set(legend.get_texts()) | {legend.get_title()}
    return texts
