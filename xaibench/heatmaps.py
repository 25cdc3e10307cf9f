"""Heatmap helpers shared by the analyzers and the evaluator (the ``R`` arrow of DESIGN.md).

* :func:`reduce_channels` turns a heatmap of the shape of ``x`` into one score per pixel;
* :func:`render` draws a heatmap as an RGB ``uint8`` image (red positive, blue negative,
  white zero, symmetric scale), the picture whose PNG/JPEG size Samek et al. measure (Fig. 5).
"""
from __future__ import annotations

import numpy as np

CHANNEL_REDUCTIONS = ("sum", "l2", "linf", "abs")


def _check_how(how: str) -> str:
    if how not in CHANNEL_REDUCTIONS:
        raise ValueError(
            f"channel_reduce={how!r} is not supported; use one of {', '.join(CHANNEL_REDUCTIONS)} "
            "('sum' for relevance, 'l2'/'linf' for sensitivity as in Samek et al. eq. 3)."
        )
    return how


def reduce_channels(R, how: str = "sum"):
    """Pool the colour channels of ``R`` (N, H, W, C) to one score per pixel, (N, H, W).

    ``how``: ``"sum"``  h_p = sum_c R_{p,c}       (relevance: conserves the total);
             ``"l2"``   h_p = ||(R_{p,c})_c||_2   (Samek et al., eq. 3 with q = 2);
             ``"linf"`` h_p = max_c |R_{p,c}|     (eq. 3 with q = inf);
             ``"abs"``  h_p = sum_c |R_{p,c}|.
    A rank-3 ``R`` (N, H, W) is returned as it is. Works on numpy arrays and, with the
    same semantics, on ``tf.Tensor`` inside traced functions.
    """
    _check_how(how)
    if not isinstance(R, np.ndarray) and type(R).__module__.startswith("tensorflow"):
        import tensorflow as tf

        if R.shape.rank == 3:
            return R
        if how == "sum":
            return tf.reduce_sum(R, axis=-1)
        if how == "l2":
            return tf.sqrt(tf.reduce_sum(tf.square(R), axis=-1))
        if how == "linf":
            return tf.reduce_max(tf.abs(R), axis=-1)
        return tf.reduce_sum(tf.abs(R), axis=-1)
    R = np.asarray(R)
    if R.ndim == 3:
        return R
    if R.ndim != 4:
        raise ValueError(
            f"R has rank {R.ndim} (shape {R.shape}); a heatmap batch must be (N, H, W, C) or "
            "(N, H, W). Add the batch axis with R[None] for a single heatmap."
        )
    if how == "sum":
        return R.sum(axis=-1)
    if how == "l2":
        return np.sqrt(np.square(R).sum(axis=-1))
    if how == "linf":
        return np.abs(R).max(axis=-1)
    return np.abs(R).sum(axis=-1)


def render(R, how: str = "sum", cmap: str = "bwr") -> np.ndarray:
    """Heatmaps as RGB ``uint8`` images (N, H, W, 3): red = positive, blue = negative,
    white = 0, on a symmetric scale [-max|h|, max|h|] per image (an all-zero map is white).

    ``R`` is (N, H, W, C) (channels pooled with :func:`reduce_channels`) or (N, H, W).
    A single heatmap is refused, not misread as a batch: (H, W, C) with C = 1, 3 or 4
    (pass ``R[None]``) and (H, W) (pass ``R[None]``); channel-pooled maps (N, H, W)
    whose width is 1, 3 or 4 go in as ``R[..., None]``.
    """
    import matplotlib

    R = np.asarray(R, dtype=np.float64)
    if R.ndim == 3 and R.shape[-1] in (1, 3, 4):
        raise ValueError(
            f"R has shape {R.shape}, a single heatmap (H, W, C); render needs a batch: pass "
            f"R[None] (or R[..., None] if these are {R.shape[0]} channel-pooled maps (N, H, W))")
    if R.ndim == 2:
        raise ValueError(f"R has shape {R.shape}, a single channel-pooled heatmap (H, W); "
                         "render needs a batch: pass R[None]")
    h = np.asarray(reduce_channels(R, how), dtype=np.float64)
    if h.ndim != 3:
        raise ValueError(f"R has shape {np.shape(R)}; render needs (N, H, W, C) or (N, H, W).")
    scale = np.abs(h).reshape(len(h), -1).max(axis=1)
    scale[scale == 0] = 1.0
    t = 0.5 + 0.5 * h / scale[:, None, None]            # symmetric: 0 -> 0.5 (white)
    rgba = matplotlib.colormaps[cmap](t, bytes=True)    # (N, H, W, 4) uint8
    return np.ascontiguousarray(rgba[..., :3])
