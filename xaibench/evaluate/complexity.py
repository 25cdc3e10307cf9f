"""Complexity of heatmaps (Samek et al. 2017, Sec. IV-C, Fig. 5): the size of the heatmap
image compressed as PNG and JPEG, and its Shannon entropy (evaluator arrow of DESIGN.md).
"""
from __future__ import annotations

import io

import numpy as np
from scipy.stats import entropy as _entropy

from xaibench import heatmaps
from xaibench._checks import check_heatmap_array


def encoded_size(image: np.ndarray, fmt: str = "png", **options) -> int:
    """Bytes of one RGB ``uint8`` image (H, W, 3) encoded by Pillow as ``fmt``."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format=fmt.upper(), **options)
    return buf.tell()


def image_entropy(image: np.ndarray) -> float:
    """Shannon entropy in bits of the 256-bin histogram of a ``uint8`` image, all channels
    pooled (what MATLAB's ``entropy`` computes for a uint8 array): -sum_i p_i log2 p_i."""
    counts = np.bincount(np.asarray(image, dtype=np.uint8).ravel(), minlength=256)
    return float(_entropy(counts, base=2))


def complexity(R, channel_reduce: str = "sum", formats=("png", "jpeg"),
               jpeg_quality: int = 75) -> dict:
    """Samek et al., Fig. 5: each heatmap is rendered as an RGB image (:func:`xaibench.heatmaps.render`:
    red positive, blue negative, symmetric scale), and measured by its compressed file size
    (Pillow, PNG lossless at the default level; JPEG at ``jpeg_quality``) and by the entropy of
    the image (:func:`image_entropy`, MATLAB's ``entropy``). Smaller is less complex.

    ``R``: (N, H, W, C) (channels pooled by ``channel_reduce``) or (N, H, W).
    Returns numpy arrays (N,) keyed by format name ("png", "jpeg": bytes) and "entropy" (bits).
    """
    R = check_heatmap_array(R)
    for fmt in formats:
        if fmt not in ("png", "jpeg"):
            raise ValueError(f"format {fmt!r} is not supported; use 'png' and/or 'jpeg'.")
    images = heatmaps.render(R, channel_reduce)
    out = {}
    for fmt in formats:
        opts = {"quality": int(jpeg_quality)} if fmt == "jpeg" else {}
        out[fmt] = np.array([encoded_size(im, fmt, **opts) for im in images], dtype=np.int64)
    out["entropy"] = np.array([image_entropy(im) for im in images])
    return out
