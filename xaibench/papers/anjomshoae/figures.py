"""Figures 3-8 (for ``Reproduction.figure``, saved with :data:`SAVE`) and their tables
(``markdown_table``). CI is drawn in YlOrRd on one absolute scale per figure (eq. 2 normalises
CI by the output's range), over the grey input where CI >= the threshold; signed maps (LIME,
masking) in bwr, each on its own symmetric scale."""
import numpy as np

from xaibench.papers.anjomshoae.paper import METHODS, PAPER
from xaibench.plots import add_colorbar, new_figure
from xaibench.tables import markdown_table

CI_CMAP = "YlOrRd"
#: ``Figure.savefig`` arguments of every figure
SAVE = {"dpi": 80, "bbox_inches": "tight"}
SIGNED_BAR = ("bwr", -1, 1, "R / max |R| of each map")


def _figure(rows, cols, **kwargs):
    """A new constrained-layout figure whose axes show no frame or ticks."""
    fig, axes = new_figure(rows, cols, layout="constrained", **kwargs)
    for ax in np.ravel(axes):
        ax.axis("off")
    return fig, axes


def _grey(ax, img):
    ax.imshow(img, cmap="gray", vmin=0, vmax=1)


def _ci(ax, img, m, threshold, vmax):
    """CI map ``m`` over the grey image where CI >= ``threshold``."""
    _grey(ax, img)
    ax.imshow(np.ma.masked_where(m < threshold, m), cmap=CI_CMAP, vmin=0, vmax=vmax)


def _signed(ax, m):
    """A signed map on its own symmetric scale [-max |m|, max |m|] (bwr: red > 0, blue < 0)."""
    ax.imshow(m / (float(np.abs(m).max()) or 1.0), cmap="bwr", vmin=-1, vmax=1)


def _vmax(maps, threshold) -> float:
    return max([float(np.max(m)) for m in maps] + [threshold])


def _ci_bar(fig, axes, vmax, label="CI (eq. 2)", **kwargs):
    add_colorbar(fig, list(np.ravel(axes)), CI_CMAP, 0, vmax, label, **kwargs)


def fig3(x, ci, pred, whole, kept, segment, threshold):
    """Fig. 3: the inputs ``x`` (N, H, W) with their class and score, the over-segmentation
    (``segment``: image -> label map), the kept high-CI regions with their score."""
    fig, axes = _figure(3, len(x), figsize=(2 * len(x) + 0.6, 6.3))
    vmax = _vmax(ci, threshold)
    for col, img in enumerate(x):
        _grey(axes[0, col], img)
        axes[0, col].set_title(f"{pred[col]} ({100 * whole[col]:.2f}%)", fontsize=9)
        axes[1, col].imshow(segment(img) % 20, cmap="tab20", interpolation="nearest")
        axes[1, col].imshow(img, cmap="gray", vmin=0, vmax=1, alpha=0.45)
        _ci(axes[2, col], img, ci[col], threshold, vmax)
        axes[2, col].set_title(f"kept: {100 * kept[col]:.2f}%", fontsize=9)
    fig.suptitle("Fig. 3: input, over-segmentation, regions with CI >= "
                 f"{threshold:g} (score of the kept regions)", fontsize=9)
    _ci_bar(fig, axes, vmax, "CI (eq. 2), last row", shrink=0.3, anchor=(0.0, 0.0))
    return fig


def fig3_table(index, pred, whole, kept, share) -> str:
    """The scores of Fig. 3's images (``index``) and the means over all images."""
    rows = [(i, pred[i], f"{whole[i]:.4f}", f"{kept[i]:.4f}") for i in index]
    rows.append((f"all {len(whole)}", "", f"{whole.mean():.4f} (mean)",
                 f"{kept.mean():.4f} (mean); class kept in {100 * share:.1f} %"))
    return markdown_table(("image", "predicted", "score, whole image",
                           "score, kept high-CI regions"), rows)


def fig4(x, maps: dict, threshold):
    """Fig. 4: input, masking, LIME and CI of the shown images ``x`` (N, H, W); ``maps``:
    method key -> (N, H, W)."""
    fig, axes = _figure(len(x), 4, figsize=(8.6, 2 * len(x) + 0.5))
    vmax = _vmax(maps["ci"], threshold)
    for r, img in enumerate(x):
        _grey(axes[r, 0], img)
        _signed(axes[r, 1], maps["occ"][r])
        _signed(axes[r, 2], maps["lime"][r])
        _ci(axes[r, 3], img, maps["ci"][r], threshold, vmax)
    for ax, title in zip(axes[0], ["input"] + [METHODS[k] for k in ("occ", "lime", "ci")]):
        ax.set_title(title, fontsize=9)
    add_colorbar(fig, list(axes[-1, 1:3]), *SIGNED_BAR, orientation="horizontal",
                 ticks=[-1, 0, 1])
    _ci_bar(fig, axes[:, 3], vmax)
    return fig


def fig4_table(aopc: dict, background: dict, random: float) -> str:
    """Mean AOPC and background share of each method (Fig. 4's order), and the random order."""
    rows = [(METHODS[k], f"{aopc[k]:.4f}", f"{background[k]:.3f}") for k in ("occ", "lime", "ci")]
    return markdown_table(("method", "AOPC (MoRF, zero fill)", "positive relevance on "
                           "background"), rows + [("random order", f"{random:.4f}", "")])


def fig56(x, classes, ex: dict):
    """Figs. 5 / 6: per row an input (``x`` (2, H, W)), LIME and CI for the runner-up class
    c and the predicted class j (``classes``: (j, c) per row; ``ex``: their maps)."""
    fig, axes = _figure(2, 5, figsize=(10.6, 4.6))
    for row, (j, c) in enumerate(classes):
        _grey(axes[row, 0], x[row])
        axes[row, 0].set_title(f"input (Fig. {5 + row})", fontsize=9)
        panels = [("lime_c", f"LIME for {c}"), ("lime_j", f"LIME for {j}"),
                  ("ci_c", f"CI for {c}"), ("ci_j", f"CI for {j}")]
        for col, (k, title) in enumerate(panels, start=1):
            _signed(axes[row, col], ex[k][row])
            axes[row, col].set_title(title, fontsize=9)
    add_colorbar(fig, list(np.ravel(axes[:, 1:])), *SIGNED_BAR, ticks=[-1, 0, 1])
    return fig


def fig56_table(index, classes, p, r_ci, r_lime) -> str:
    """Figs. 5 / 6's images, their classes with scores (``p``: probabilities per row) and the
    mean r of the two classes' maps over all images."""
    rows = [(f"Fig. {5 + row}", i, f"{j} ({p[row][j]:.4f})", f"{c} ({p[row][c]:.4f})",
             f"{PAPER[f'fig{5 + row}']['digit']} vs {PAPER[f'fig{5 + row}']['contrast']}")
            for row, (i, (j, c)) in enumerate(zip(index, classes))]
    rows.append((f"all {len(r_ci)}", "", f"mean r(j, c): CI {np.mean(r_ci):.3f}",
                 f"LIME {np.mean(r_lime):.3f}", ""))
    return markdown_table(("figure", "image", "predicted (score)", "runner-up (score)",
                           "paper"), rows)


def fig7(ex: dict, threshold):
    """Fig. 7: the altered digits (``ex["x"]``) with their score (``ex["p"]``) and their CI
    maps (``ex["ci"]``)."""
    fig, axes = _figure(2, 3, figsize=(6.6, 4.4))
    vmax = _vmax(ex["ci"], threshold)
    for col, p in enumerate(ex["p"]):
        cls = int(np.argmax(p))
        _grey(axes[0, col], ex["x"][col, ..., 0])
        axes[0, col].set_title(f"{cls} ({100 * p[cls]:.2f}%)", fontsize=9)
        _ci(axes[1, col], ex["x"][col, ..., 0], ex["ci"][col], threshold, vmax)
    _ci_bar(fig, axes, vmax, "CI (eq. 2), lower row", shrink=0.45, anchor=(0.0, 0.0))
    return fig


def fig7_table(index, truth, p, batch: dict) -> str:
    """Fig. 7's altered digits with their scores next to the paper's, and ``batch``'s numbers
    over all images ("n", "noise", "acc_clean", "acc_noisy", "r")."""
    rows = [(f"({key}) {ref['kind']}", i, t, int(np.argmax(q)), f"{q.max():.4f}",
             f"{ref['digit']} ({ref['score']:.4f})")
            for (key, ref), i, t, q in zip(PAPER["fig7"].items(), index, truth, p)]
    rows.append((f"all {batch['n']}, noise std {batch['noise']:g}", "", "",
                 f"accuracy {batch['acc_noisy']:.3f} (clean {batch['acc_clean']:.3f})",
                 f"r(CI clean, CI noisy) {batch['r']:.3f}", ""))
    return markdown_table(("case", "image", "true", "predicted", "score", "paper"), rows)


def fig8(x, ex: dict, case: dict, threshold):
    """Fig. 8: a misclassified digit ``x`` (H, W), LIME's top super-pixels and the CI maps
    for the predicted class j and the true class t (``case``: "label", "j", "t" and the
    "scores" of what each keeps)."""
    j, t, s = case["j"], case["t"], case["scores"]
    fig, axes = _figure(1, 5, figsize=(10.8, 2.4))
    vmax = _vmax([ex["ci_pred"], ex["ci_true"]], threshold)
    _grey(axes[0], x)
    axes[0].set_title(f"true {case['label']}, predicted {j}", fontsize=9)
    for col, (name, cls) in enumerate((("pred", j), ("true", t)), start=1):
        _grey(axes[col], x)
        axes[col].imshow(np.ma.masked_where(~ex[f"lime_keep_{name}"], np.ones_like(x)),
                         cmap="autumn", alpha=0.5, vmin=0, vmax=1)
        axes[col].set_title(f"LIME for {cls} ({100 * s[f'lime_{name}']:.0f}%)", fontsize=9)
        _ci(axes[col + 2], x, ex[f"ci_{name}"], threshold, vmax)
        axes[col + 2].set_title(f"CI for {cls} ({100 * s[f'ci_{name}']:.0f}%)", fontsize=9)
    _ci_bar(fig, axes[3:], vmax)
    return fig


def fig8_table(case: dict, whole: dict, threshold, note: str) -> str:
    """Fig. 8's scores next to the paper's: the whole image (``whole``: "pred", "true"),
    LIME's top-5 super-pixels and the kept high-CI regions, for both classes."""
    ref, j, t, s = PAPER["fig8"], case["j"], case["t"], case["scores"]
    rows = [("whole image", f"{j} (predicted)", whole["pred"],
             f"{ref['predicted']}: {ref['p_predicted']:g}"),
            ("whole image", f"{t} (true)", whole["true"], f"{ref['true']}: {ref['p_true']:g}")]
    rows += [(what, cls, s[f"{key}_{name[:4]}"], f"{ref[f'{key}_{name}']:g}")
             for what, key in (("LIME top-5", "lime"), (f"CI >= {threshold:g}", "ci"))
             for name, cls in (("predicted", j), ("true", t))]
    return markdown_table(("explanation", "class", "score of what it keeps", "paper"),
                          [(a, b, f"{v:.4f}", p) for a, b, v, p in rows]) + f"\n\nImage: {note}."
