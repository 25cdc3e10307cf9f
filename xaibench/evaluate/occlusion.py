"""The model's output on images with a set of pixels kept or occluded (evaluator arrow).

* :func:`kept_score` -- Anjomshoae et al. (2021), Fig. 3: the class probability when only
  the pixels of relevance >= a threshold are kept;
* :func:`object_occlusion` -- Kohlbrenner et al. (2020), Fig. 2: the change of the class
  output when the object, or its context, is occluded (needs no heatmap).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from xaibench._checks import check_images, model_num_classes, resolve_neuron_selection
from xaibench.evaluate.faithfulness import OUTPUTS, _check_heatmaps, _scoring_model
from xaibench.evaluate.localisation import _masks


def class_scores(model, x, output: str = "logit", batch_size: int = 64) -> np.ndarray:
    """``(N, K)`` float64 logits (``output="logit"``) or probabilities of ``model``, the
    softmax applied once (:func:`xaibench.prepare.output_head`), ``batch_size`` images at a
    time."""
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not supported; use one of {', '.join(OUTPUTS)}.")
    net, softmax = _scoring_model(model, output)
    out = tf.concat([tf.cast(net(x[k:k + batch_size], training=False), tf.float64)
                     for k in range(0, len(x), batch_size)], axis=0)
    return (tf.nn.softmax(out, axis=-1) if softmax else out).numpy()


def _classes(y, model, x, scores):
    """The explained classes: ``y`` resolved, else the model's top class on ``x``."""
    y = resolve_neuron_selection(y, len(x), model_num_classes(model))
    return scores.argmax(axis=1).astype(np.int64) if y is None else np.asarray(y, np.int64)


def kept_score(model, x, R, y=None, threshold: float = 0.01, fill: float = 0.0,
               batch_size: int = 64) -> dict:
    """Anjomshoae et al., Fig. 3: p_c(x_kept), the probability of class c (``y``; None: the
    predicted class) on the image x_kept that keeps only the pixels whose relevance, averaged
    over channels, is >= ``threshold`` (0.01: the paper's display threshold of contextual
    importance) and sets every other pixel to ``fill``.

    Returns a dict of (N,) arrays: "kept" p_c(x_kept), "whole" p_c(x), "kept_argmax"
    (bool: c is still the top class on x_kept), "kept_fraction" (share of pixels kept), "y".
    """
    x = check_images(x, model, channels=True)
    R = _check_heatmaps(R, x)
    keep = (R.mean(axis=-1) if R.ndim == 4 else R) >= np.float32(threshold)   # (N, H, W)
    kept = np.where(keep[..., None], x, np.float32(fill)).astype(np.float32)
    n = len(x)
    p = class_scores(model, np.concatenate([x, kept]), "probability", batch_size)
    y = _classes(y, model, x, p[:n])
    return {"kept": p[n + np.arange(n), y], "whole": p[np.arange(n), y],
            "kept_argmax": np.argmax(p[n:], axis=1) == y,
            "kept_fraction": keep.reshape(n, -1).mean(axis=1), "y": y}


def object_occlusion(model, x, boxes=None, image_shape=None, *, masks=None, y=None,
                     fill=0.0, output: str = "logit", batch_size: int = 64) -> dict:
    """Kohlbrenner et al., Fig. 2: how much the output f_c of class c (``y``; None: the
    predicted class) depends on the object and on its context,

        object  = f_c(x with the object occluded)  - f_c(x),
        context = f_c(x with the context occluded) - f_c(x),

    the object being the union of the image's ``boxes`` (x_min, y_min, x_max, y_max, in
    ``image_shape`` pixels; None: x's) or its ``masks`` (N, H, W), occluded by ``fill``: a
    number or one value per channel (e.g. the training mean). ``output``: "logit" (the
    paper's) or "probability".

    Returns a dict of (N,) arrays: "f" f_c(x), "object", "context", "size" S_in / S_tot (the
    object's share of the pixels) and "y".
    """
    x = check_images(x, model, channels=True)
    n, h, w, c = x.shape
    fill = np.asarray(fill, np.float32)
    if fill.ndim > 1 or (fill.ndim == 1 and fill.shape[0] != c):
        raise ValueError(f"object_occlusion fill must be a number or {c} channel values, got "
                         f"shape {fill.shape}")
    m = _masks(boxes, masks, (h, w), n, image_shape)[..., None]       # (N, H, W, 1)
    filled = np.broadcast_to(fill, x.shape).astype(np.float32)
    batch = np.concatenate([x, np.where(m, filled, x), np.where(m, x, filled)])
    out = class_scores(model, batch, output, batch_size)
    y = _classes(y, model, x, out[:n])
    f = out[np.arange(3 * n), np.tile(y, 3)].reshape(3, n)
    return {"f": f[0], "object": f[1] - f[0], "context": f[2] - f[0],
            "size": m.reshape(n, -1).mean(axis=1), "y": y}
