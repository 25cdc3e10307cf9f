"""Figures 3-8 (PNG files made once through :func:`~xaibench.papers.cache.cached`) and
their tables (:func:`~xaibench.tables.markdown_table`).

CI (>= 0) is drawn with a sequential map, pale yellow (low) to dark red (high), on one
absolute scale per figure (CI values are comparable between images: eq. 2 normalises by
the output's range), over the grey input where CI >= the threshold, with a colour bar;
signed maps (LIME, masking) with ``bwr`` on their own symmetric scale.
"""
from __future__ import annotations

import numpy as np

from xaibench.papers.anjomshoae.paper import METHODS, PAPER
from xaibench.papers.cache import cached
from xaibench.plots import add_colorbar, new_figure
from xaibench.tables import markdown_table

CI_CMAP = "YlOrRd"
#: ``Figure.savefig`` arguments of every figure
SAVE = {"dpi": 80, "bbox_inches": "tight"}
SIGNED_BAR = ("bwr", -1, 1, "R / max |R| of each map")


def _figure(path, draw, depends, rows, cols, **kwargs):
    """The PNG at ``path``: ``draw(fig, axes)`` on a new figure, made once (``depends``:
    the files it is drawn from)."""
    def make():
        fig, axes = new_figure(rows, cols, layout="constrained", **kwargs)
        draw(fig, axes)
        for ax in np.ravel(axes):
            ax.axis("off")
        return fig
    return cached(path, make, depends=depends, **SAVE)


def _grey(ax, img):
    ax.imshow(img, cmap="gray", vmin=0, vmax=1)


def _ci(ax, img, m, threshold, vmax):
    """CI map ``m`` over the grey image where CI >= ``threshold``."""
    _grey(ax, img)
    ax.imshow(np.ma.masked_where(m < threshold, m), cmap=CI_CMAP, vmin=0, vmax=vmax)


def _signed(ax, m):
    """A signed map on its own symmetric scale [-max |m|, max |m|] (bwr: red > 0, blue < 0)."""
    lim = float(np.abs(m).max()) or 1.0
    ax.imshow(m / lim, cmap="bwr", vmin=-1, vmax=1)


def _vmax(maps, threshold) -> float:
    return max([float(np.max(m)) for m in maps] + [threshold])


def _ci_bar(fig, axes, vmax, label="CI (eq. 2)", **kwargs):
    add_colorbar(fig, list(np.ravel(axes)), CI_CMAP, 0, vmax, label, **kwargs)


def fig3(path, shown: dict, segment, threshold, depends=()) -> str:
    """Fig. 3: the inputs with their score, the over-segmentation (``segment``: image ->
    label map), the kept high-CI regions with their score. ``shown``: per shown image ``x``
    (H, W), ``ci``, ``pred``, ``whole``, ``kept``."""
    n = len(shown["x"])

    def draw(fig, axes):
        vmax = _vmax(shown["ci"], threshold)
        for col in range(n):
            img = shown["x"][col]
            _grey(axes[0, col], img)
            axes[0, col].set_title(f"{shown['pred'][col]} ({100 * shown['whole'][col]:.2f}%)",
                                   fontsize=9)
            axes[1, col].imshow(segment(img) % 20, cmap="tab20", interpolation="nearest")
            axes[1, col].imshow(img, cmap="gray", vmin=0, vmax=1, alpha=0.45)
            _ci(axes[2, col], img, shown["ci"][col], threshold, vmax)
            axes[2, col].set_title(f"kept: {100 * shown['kept'][col]:.2f}%", fontsize=9)
        fig.suptitle("Fig. 3: input, over-segmentation, regions with CI >= "
                     f"{threshold:g} (score of the kept regions)", fontsize=9)
        _ci_bar(fig, axes, vmax, "CI (eq. 2), last row", shrink=0.3, anchor=(0.0, 0.0))
    return _figure(path, draw, depends, 3, n, figsize=(2 * n + 0.6, 6.3))


def fig3_table(index, pred, whole, kept, share) -> str:
    """The scores of Fig. 3's images (``index``) and the means over all images."""
    rows = [(i, pred[i], f"{whole[i]:.4f}", f"{kept[i]:.4f}") for i in index]
    rows.append((f"all {len(whole)}", "", f"{whole.mean():.4f} (mean)",
                 f"{kept.mean():.4f} (mean); class kept in {100 * share:.1f} %"))
    return markdown_table(("image", "predicted", "score, whole image",
                           "score, kept high-CI regions"), rows)


def fig4(path, x, maps: dict, threshold, depends=()) -> str:
    """Fig. 4: input, masking, LIME and CI of the shown images ``x`` (N, H, W); ``maps``:
    method key -> (N, H, W)."""
    keys = ("occ", "lime", "ci")

    def draw(fig, axes):
        vmax = _vmax(maps["ci"], threshold)
        for r in range(len(x)):
            _grey(axes[r, 0], x[r])
            for c, k in enumerate(keys, start=1):
                if k == "ci":
                    _ci(axes[r, c], x[r], maps[k][r], threshold, vmax)
                else:
                    _signed(axes[r, c], maps[k][r])
                if r == 0:
                    axes[r, c].set_title(METHODS[k], fontsize=9)
        axes[0, 0].set_title("input", fontsize=9)
        add_colorbar(fig, list(axes[-1, 1:3]), *SIGNED_BAR, orientation="horizontal",
                     ticks=[-1, 0, 1])
        _ci_bar(fig, axes[:, 3], vmax)
    return _figure(path, draw, depends, len(x), 4, figsize=(8.6, 2 * len(x) + 0.5))


def fig4_table(aopc: dict, background: dict, random: float) -> str:
    """Mean AOPC and background share of each method (Fig. 4's order), and the random order."""
    rows = [(METHODS[k], f"{aopc[k]:.4f}", f"{background[k]:.3f}")
            for k in ("occ", "lime", "ci")]
    rows.append(("random order", f"{random:.4f}", ""))
    return markdown_table(("method", "AOPC (MoRF, zero fill)",
                           "positive relevance on background"), rows)


def fig56(path, x, classes, ex: dict, depends=()) -> str:
    """Fig. 5 / 6: per row an input (``x`` (2, H, W)), LIME and CI for the runner-up class c
    and the predicted class j (``classes``: (j, c) per row; ``ex``: "lime_c", "lime_j",
    "ci_c", "ci_j" maps)."""
    def draw(fig, axes):
        for row, (j, c) in enumerate(classes):
            _grey(axes[row, 0], x[row])
            axes[row, 0].set_title(f"input (Fig. {5 + row})", fontsize=9)
            panels = [("lime_c", f"LIME for {c}"), ("lime_j", f"LIME for {j}"),
                      ("ci_c", f"CI for {c}"), ("ci_j", f"CI for {j}")]
            for col, (k, title) in enumerate(panels, start=1):
                _signed(axes[row, col], ex[k][row])
                axes[row, col].set_title(title, fontsize=9)
        add_colorbar(fig, list(np.ravel(axes[:, 1:])), *SIGNED_BAR, ticks=[-1, 0, 1])
    return _figure(path, draw, depends, 2, 5, figsize=(10.6, 4.6))


def fig56_table(index, classes, p, r_ci, r_lime) -> str:
    """Fig. 5 / 6's images, their classes with scores (``p``: probabilities per row) and the
    mean r of the two classes' maps over all images."""
    rows = [(f"Fig. {5 + row}", i, f"{j} ({p[row][j]:.4f})", f"{c} ({p[row][c]:.4f})",
             f"{PAPER[f'fig{5 + row}']['digit']} vs {PAPER[f'fig{5 + row}']['contrast']}")
            for row, (i, (j, c)) in enumerate(zip(index, classes))]
    rows.append((f"all {len(r_ci)}", "", f"mean r(j, c): CI {np.mean(r_ci):.3f}",
                 f"LIME {np.mean(r_lime):.3f}", ""))
    return markdown_table(("figure", "image", "predicted (score)", "runner-up (score)",
                           "paper"), rows)


def fig7(path, ex: dict, threshold, depends=()) -> str:
    """Fig. 7: the altered digits (``ex["x"]``) with their score (``ex["p"]``) and their CI
    maps (``ex["ci"]``)."""
    def draw(fig, axes):
        vmax = _vmax(ex["ci"], threshold)
        for col, p in enumerate(ex["p"]):
            cls = int(np.argmax(p))
            _grey(axes[0, col], ex["x"][col, ..., 0])
            axes[0, col].set_title(f"{cls} ({100 * p[cls]:.2f}%)", fontsize=9)
            _ci(axes[1, col], ex["x"][col, ..., 0], ex["ci"][col], threshold, vmax)
        _ci_bar(fig, axes, vmax, "CI (eq. 2), lower row", shrink=0.45, anchor=(0.0, 0.0))
    return _figure(path, draw, depends, 2, 3, figsize=(6.6, 4.4))


def fig7_table(cases, index, truth, p, batch: dict) -> str:
    """Fig. 7's altered digits (``cases``: (panel, alteration)) with their scores next to
    the paper's, and ``batch``'s numbers over all images ("n", "noise", "acc_clean",
    "acc_noisy", "r")."""
    rows = []
    for (key, kind), i, t, q in zip(cases, index, truth, p):
        ref, cls = PAPER["fig7"][key], int(np.argmax(q))
        rows.append((f"({key}) {kind}", i, t, cls, f"{q[cls]:.4f}",
                     f"{ref['digit']} ({ref['score']:.4f})"))
    rows.append((f"all {batch['n']}, noise std {batch['noise']:g}", "", "",
                 f"accuracy {batch['acc_noisy']:.3f} (clean {batch['acc_clean']:.3f})",
                 f"r(CI clean, CI noisy) {batch['r']:.3f}", ""))
    return markdown_table(("case", "image", "true", "predicted", "score", "paper"), rows)


def fig8(path, x, ex: dict, case: dict, threshold, depends=()) -> str:
    """Fig. 8: a misclassified digit ``x`` (H, W), LIME's top super-pixels and the CI maps
    for the predicted class j and the true class t (``case``: "label", "j", "t" and the
    "scores" of what each keeps)."""
    j, t, s = case["j"], case["t"], case["scores"]

    def draw(fig, axes):
        vmax = _vmax([ex["ci_pred"], ex["ci_true"]], threshold)
        _grey(axes[0], x)
        axes[0].set_title(f"true {case['label']}, predicted {j}", fontsize=9)
        panels = [("lime_pred", f"LIME for {j}"), ("lime_true", f"LIME for {t}"),
                  ("ci_pred", f"CI for {j}"), ("ci_true", f"CI for {t}")]
        for col, (k, title) in enumerate(panels, start=1):
            if k.startswith("ci"):
                _ci(axes[col], x, ex[k], threshold, vmax)
            else:
                _grey(axes[col], x)
                axes[col].imshow(np.ma.masked_where(~ex[k.replace("lime", "lime_keep")],
                                                    np.ones_like(x)),
                                 cmap="autumn", alpha=0.5, vmin=0, vmax=1)
            axes[col].set_title(f"{title} ({100 * s[k]:.0f}%)", fontsize=9)
        _ci_bar(fig, axes[3:], vmax)
    return _figure(path, draw, depends, 1, 5, figsize=(10.8, 2.4))


def fig8_table(case: dict, whole: dict, threshold, note: str) -> str:
    """Fig. 8's scores next to the paper's: the whole image (``whole``: "pred", "true"),
    LIME's top-5 super-pixels and the kept high-CI regions, for both classes."""
    ref, j, t, s = PAPER["fig8"], case["j"], case["t"], case["scores"]
    rows = [("whole image", f"{j} (predicted)", whole["pred"],
             f"{ref['predicted']}: {ref['p_predicted']:g}"),
            ("whole image", f"{t} (true)", whole["true"],
             f"{ref['true']}: {ref['p_true']:g}"),
            ("LIME top-5", j, s["lime_pred"], ref["lime_predicted"]),
            ("LIME top-5", t, s["lime_true"], ref["lime_true"]),
            (f"CI >= {threshold:g}", j, s["ci_pred"], ref["ci_predicted"]),
            (f"CI >= {threshold:g}", t, s["ci_true"], ref["ci_true"])]
    rows = [(a, b, f"{v:.4f}", f"{p:g}" if isinstance(p, float) else p) for a, b, v, p in rows]
    return markdown_table(("explanation", "class", "score of what it keeps", "paper"),
                          rows) + f"\n\nImage: {note}."
