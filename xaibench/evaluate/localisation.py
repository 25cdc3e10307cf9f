"""Localisation of heatmaps against boxes and masks (evaluator arrow of DESIGN.md).

* :func:`relevance_ratio` -- Kohlbrenner et al. (2020), Sec. 3.2, eq. 2: mu = R_in / R_tot and
  mu_w = mu * S_tot / S_in; :func:`relevance_ratio_table` (the columns of their Tab. 1),
  :func:`mu_by_box_size` (Fig. 3) and :func:`uniform_relevance_ratio` (the baseline);
* :func:`pointing_game` -- hit if the maximum of the heatmap lies in the box / mask;
* :func:`precision_recall_curves` -- Seo et al., "Quantitative comparisons": precision, recall
  and F-measure of the thresholded [0, 1]-normalised heatmap against a binary mask.

Boxes: one list of boxes per image, each box ``(x_min, y_min, x_max, y_max)`` in pixels with
exclusive maxima; the boxes of an image count as their union.
"""
from __future__ import annotations

import numbers

import numpy as np

from xaibench import heatmaps


def _pixel_scores(R, channel_reduce, name="R") -> np.ndarray:
    R = np.asarray(R)
    if R.dtype == object or not np.issubdtype(R.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {R.dtype}.")
    if R.ndim not in (3, 4):
        raise ValueError(f"{name} has shape {R.shape}; heatmaps must be (N, H, W, C) or (N, H, W). "
                         "Add the batch axis with R[None] for one heatmap.")
    h = np.asarray(heatmaps.reduce_channels(R.astype(np.float64), channel_reduce))
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{name} contains NaN or infinite values; fix the analyzer output or "
                         "replace them (np.nan_to_num) before evaluating.")
    if h.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one heatmap.")
    return h


def boxes_to_masks(boxes, shape, image_shape=None) -> np.ndarray:
    """Union of each image's boxes as a boolean mask (N, H, W) for heatmaps of (H, W) = ``shape``.

    ``image_shape``: the (height, width) the boxes are given in, one for all images or one
    per image; boxes are scaled to ``shape`` (min edges floored, max edges ceiled). None: the
    boxes are already in heatmap pixels. Boxes outside the image or empty are refused.
    """
    h, w = int(shape[0]), int(shape[1])
    if isinstance(boxes, np.ndarray) and boxes.ndim == 2 and boxes.shape[1] == 4:
        boxes = [[b] for b in boxes]                        # one box per image
    boxes = list(boxes)
    n = len(boxes)
    if image_shape is None:
        scales = [(h, w)] * n
    else:
        arr = np.asarray(image_shape, dtype=np.float64)
        if arr.shape == (2,):
            arr = np.broadcast_to(arr, (n, 2))
        if arr.shape != (n, 2) or np.any(arr <= 0):
            raise ValueError(f"image_shape must be one (height, width) or one per image ({n}), "
                             f"got {np.shape(image_shape)}.")
        scales = [tuple(s) for s in arr]
    masks = np.zeros((n, h, w), dtype=bool)
    for i, (image_boxes, (ih, iw)) in enumerate(zip(boxes, scales)):
        image_boxes = np.asarray(image_boxes, dtype=np.float64)
        if image_boxes.size == 0:
            continue
        if image_boxes.ndim == 1:
            image_boxes = image_boxes[None]
        if image_boxes.ndim != 2 or image_boxes.shape[1] != 4:
            raise ValueError(f"boxes of image {i} have shape {image_boxes.shape}; each box must be "
                             "(x_min, y_min, x_max, y_max).")
        for b in image_boxes:
            x0, y0, x1, y1 = b
            if not np.all(np.isfinite(b)) or x0 < 0 or y0 < 0 or x1 > iw or y1 > ih:
                raise ValueError(
                    f"box {tuple(b)} of image {i} lies outside the {int(ih)}x{int(iw)} image; boxes "
                    "are (x_min, y_min, x_max, y_max) in pixels with exclusive maxima, within "
                    "(0, 0, width, height). Clip the box or pass the right image_shape.")
            if x1 <= x0 or y1 <= y0:
                raise ValueError(f"box {tuple(b)} of image {i} is empty (x_max <= x_min or "
                                 "y_max <= y_min); remove it or fix its corners.")
            sx, sy = w / iw, h / ih
            masks[i, int(np.floor(y0 * sy)):int(np.ceil(y1 * sy)),
                  int(np.floor(x0 * sx)):int(np.ceil(x1 * sx))] = True
    return masks


def _masks(boxes, masks, shape, n, image_shape=None):
    if (boxes is None) == (masks is None):
        raise ValueError("pass exactly one of boxes (per-image lists of (x_min, y_min, x_max, "
                         "y_max)) or masks (boolean (N, H, W)).")
    if boxes is not None:
        m = boxes_to_masks(boxes, shape, image_shape)
    else:
        m = np.asarray(masks)
        if m.ndim == 4 and m.shape[-1] == 1:
            m = m[..., 0]
        if m.shape[1:] != tuple(shape) or m.ndim != 3:
            raise ValueError(f"masks have shape {m.shape}; they must be (N, H, W) = "
                             f"({n}, {shape[0]}, {shape[1]}), one mask per heatmap.")
        m = m.astype(bool)
    if m.shape[0] != n:
        raise ValueError(f"got {m.shape[0]} box sets / masks for {n} heatmaps; pass one per image.")
    return m


def relevance_ratio(R, boxes=None, image_shape=None, *, masks=None,
                    channel_reduce: str = "sum") -> dict:
    """Kohlbrenner et al., eq. 2: mu = R_in / R_tot, mu_w = mu * S_tot / S_in.

    R_in / R_tot: the positive relevance (of the channel-pooled heatmap, ``channel_reduce``)
    inside the union of the image's boxes / in the image; S_in / S_tot: their sizes in pixels.
    ``boxes``: one list of ``(x_min, y_min, x_max, y_max)`` per image (exclusive maxima), in
    pixels of ``image_shape`` (default: of R); or ``masks`` (N, H, W) instead.
    Returns numpy arrays (N,): "mu", "mu_w" (NaN where R has no positive relevance or the
    image has no box) and "size" = S_in / S_tot.
    """
    h = _pixel_scores(R, channel_reduce)
    m = _masks(boxes, masks, h.shape[1:], len(h), image_shape)
    pos = np.maximum(h, 0).reshape(len(h), -1)
    m = m.reshape(len(h), -1)
    r_in, r_tot = (pos * m).sum(axis=1), pos.sum(axis=1)
    s_in, s_tot = m.sum(axis=1).astype(np.float64), float(m.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = np.where((r_tot > 0) & (s_in > 0), r_in / np.where(r_tot > 0, r_tot, 1), np.nan)
        mu_w = mu * s_tot / np.where(s_in > 0, s_in, np.nan)
    return {"mu": mu, "mu_w": mu_w, "size": s_in / s_tot}


def uniform_relevance_ratio(boxes=None, shape=None, image_shape=None, *, masks=None) -> dict:
    """The baseline of Kohlbrenner et al.: relevance spread uniformly over the image, so
    mu = S_in / S_tot and mu_w = 1. ``shape``: the (H, W) of the heatmaps (with boxes)."""
    if masks is not None:
        m = np.asarray(masks)
        return relevance_ratio(np.ones(m.shape[:3]), masks=m)
    if shape is None:
        raise ValueError("pass shape=(H, W) of the heatmaps with boxes.")
    n = len(boxes)
    return relevance_ratio(np.ones((n,) + tuple(shape)), boxes, image_shape)


def relevance_ratio_table(result: dict) -> dict:
    """The columns of Kohlbrenner et al.'s Tab. 1 from :func:`relevance_ratio`: mean mu_w,
    mean mu over boxes covering <= 25 % and <= 50 % of the image, and mean mu (NaNs skipped)."""
    mu, size = np.asarray(result["mu"]), np.asarray(result["size"])
    with np.errstate(invalid="ignore"):
        def mean(v):
            v = v[np.isfinite(v)]
            return float(v.mean()) if v.size else float("nan")
        return {"mu_w": mean(np.asarray(result["mu_w"])), "mu<=0.25": mean(mu[size <= 0.25]),
                "mu<=0.5": mean(mu[size <= 0.5]), "mu": mean(mu)}


def mu_by_box_size(result: dict, bins: int = 100):
    """mu as a function of box size (Kohlbrenner et al., Fig. 3): the box fraction S_in/S_tot
    in ``bins`` equal intervals of [0, 1]. Returns (edges (bins+1,), mean mu per bin (NaN where
    empty), count per bin)."""
    mu, size = np.asarray(result["mu"]), np.asarray(result["size"])
    ok = np.isfinite(mu)
    edges = np.linspace(0.0, 1.0, bins + 1)
    idx = np.clip(np.digitize(size[ok], edges[1:-1], right=True), 0, bins - 1)
    count = np.bincount(idx, minlength=bins)
    total = np.bincount(idx, weights=mu[ok], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return edges, mean, count


def pointing_game(R, boxes=None, image_shape=None, *, masks=None, channel_reduce: str = "sum",
                  weighted: bool = False) -> np.ndarray:
    """Pointing game: a hit when the maximum of the channel-pooled heatmap lies in the union
    of the image's boxes / in its mask. Ties: a hit only if every maximal pixel is inside (a
    constant heatmap points nowhere). Returns float (N,): 1.0 hit, 0.0 miss, NaN for an image
    without box/mask. ``weighted=True``: a hit scores 1 - S_in / S_tot (a hit on a small object
    counts more); a miss 0. Unlike Quantus 0.6.0 the scores keep their values and NaNs."""
    h = _pixel_scores(R, channel_reduce)
    m = _masks(boxes, masks, h.shape[1:], len(h), image_shape).reshape(len(h), -1)
    h = h.reshape(len(h), -1)
    is_max = h == h.max(axis=1, keepdims=True)
    hit = ~np.any(is_max & ~m, axis=1)
    score = hit.astype(np.float64)
    if weighted:
        score = np.where(hit, 1.0 - m.mean(axis=1), 0.0)
    score[m.sum(axis=1) == 0] = np.nan
    return score


def _normalise01(h, how):
    flat = h.reshape(len(h), -1)
    if how == "minmax":
        lo, hi = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return ((flat - lo) / span).reshape(h.shape)
    if how == "max":
        pos = np.maximum(flat, 0)
        hi = pos.max(axis=1, keepdims=True)
        return (pos / np.where(hi > 0, hi, 1.0)).reshape(h.shape)
    raise ValueError(f"normalise={how!r} is not supported; use 'minmax' ((h - min) / (max - min)) "
                     "or 'max' (positive part / max).")


def precision_recall_curves(R, masks=None, boxes=None, image_shape=None, *, thresholds=101,
                            normalise: str = "minmax", beta: float = 1.0,
                            channel_reduce: str = "sum") -> dict:
    """Seo et al., "Quantitative comparisons": the heatmap, channel-pooled and normalised to
    [0, 1] per image (``normalise``: "minmax" or "max" = positive part / max), is thresholded,
    B = {p : h_p >= t}, and matched with the ground truth G (mask or union of boxes):

        precision = |B & G| / |B|,  recall = |B & G| / |G|,
        F = (1 + beta^2) P R / (beta^2 P + R)     (beta = 1: the harmonic mean)

    for thresholds t in [0, 1] (``thresholds``: a number of equally spaced values or the
    values). An empty B gives precision 0 (as scikit-learn's zero_division=0), P = R = 0 gives
    F = 0. Returns "thresholds" (T,), "precision", "recall", "f" (N, T).
    """
    h = _pixel_scores(R, channel_reduce)
    g = _masks(boxes, masks, h.shape[1:], len(h), image_shape).reshape(len(h), -1)
    if np.any(g.sum(axis=1) == 0):
        raise ValueError("a ground-truth mask is empty; recall is undefined. Drop images "
                         "without object pixels.")
    if isinstance(thresholds, numbers.Integral):
        if thresholds < 2:
            raise ValueError("thresholds must be at least 2 (or an array of values in [0, 1]).")
        t = np.linspace(0.0, 1.0, int(thresholds))
    else:
        t = np.asarray(thresholds, dtype=np.float64).reshape(-1)
        if t.size == 0 or np.any(~np.isfinite(t)) or np.any((t < 0) | (t > 1)):
            raise ValueError("thresholds must be values in [0, 1].")
    if not (isinstance(beta, numbers.Real) and beta > 0):
        raise ValueError(f"beta={beta!r} must be a positive number (1: F1; 0.3**0.5 is common in "
                         "saliency evaluation).")
    s = _normalise01(h, normalise).reshape(len(h), -1)
    b = s[:, None, :] >= t[None, :, None]                          # (N, T, P)
    tp = (b & g[:, None, :]).sum(axis=2).astype(np.float64)
    npred = b.sum(axis=2)
    precision = np.where(npred > 0, tp / np.maximum(npred, 1), 0.0)
    recall = tp / g.sum(axis=1, keepdims=True)
    b2 = beta * beta
    den = b2 * precision + recall
    f = np.where(den > 0, (1 + b2) * precision * recall / np.where(den > 0, den, 1), 0.0)
    return {"thresholds": t, "precision": precision, "recall": recall, "f": f}
