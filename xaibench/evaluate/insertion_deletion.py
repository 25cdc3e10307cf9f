"""Deletion and insertion curves (Petsiuk et al., RISE, BMVC 2018) and the area between the
LeRF and MoRF perturbation curves, ABPC (evaluator arrow of DESIGN.md).

* :func:`insertion_deletion` -- Petsiuk, Das, Saenko: "RISE: Randomized Input Sampling for
  Explanation of Black-box Models", BMVC 2018, Sec. 4.1 "Deletion and insertion metrics":
  deletion removes the pixels from the most relevant down, replacing them by a baseline
  (a constant, 0 in the paper), insertion starts from a baseline image (a blurred copy in
  the paper) and puts back the original pixels from the most relevant down; each curve
  records the class probability, and its area under the curve (AUC, trapezoids against the
  fraction of pixels changed) summarises it: low deletion AUC and high insertion AUC are
  good. The curves share the kernel of :func:`xaibench.evaluate.perturbation_curve`
  (region 1 = single pixels, all channels): deletion step k = MoRF with k pixels replaced;
  insertion step k = the H*W - k least relevant pixels replaced (LeRF), i.e. the k most
  relevant ones kept.
* :func:`abpc` / :func:`area_between_curves` -- the M4 benchmark (Li et al., "M4: A Unified
  XAI Benchmark for Faithfulness Evaluation of Feature Attribution Methods across Metrics,
  Modalities and Models", NeurIPS 2023 Datasets and Benchmarks), ABPC = the area between
  the LeRF and MoRF region-perturbation curves,
      ABPC = 1/(L+1) sum_{k=0}^{L} f(x_LeRF^(k)) - f(x_MoRF^(k))
           = AOPC_MoRF - AOPC_LeRF  (Samek et al., eq. 12),
  larger is better.
"""
from __future__ import annotations

import numpy as np

from xaibench._checks import check_in_range, model_num_classes, resolve_neuron_selection
from xaibench.evaluate.faithfulness import (Curves, _check_common, _check_curves, _check_ids,
                                            _check_perturbation, _run, perturbation_curve)


def _trapezoid(values, fraction):
    return ((values[..., 1:] + values[..., :-1]) * np.diff(fraction) / 2).sum(axis=-1)


def insertion_deletion(model, x, R, y=None, steps: int = 100, deletion_baseline=0.0,
                       insertion_baseline="blur", blur_sigma: float = 5.0,
                       channel_reduce: str = "sum", output: str = "probability",
                       seed: int = 0, batch_size: int | None = None,
                       jit_compile: bool | None = None, progress: bool | None = None,
                       image_ids=None) -> dict:
    """Deletion and insertion curves of Petsiuk et al. (2018) (module docstring) at
    ``steps`` + 1 points: after step i, round(i * H*W / steps) pixels are deleted (resp.
    inserted), from the most relevant (channel-pooled ``R``; ties broken at random by
    ``seed``).

    ``deletion_baseline`` / ``insertion_baseline``: what deleted pixels become and what the
    insertion starts from: a number (a constant), "zero", "mean" (the image's channel
    means), "blur" (the image blurred by a Gaussian of std ``blur_sigma``; RISE: kernel
    size 11, sigma 5) or an array broadcastable to (H, W, C). ``output``: "probability"
    (as in the paper) or "logit". ``y``: explained class (None: predicted).

    Returns a dict of numpy arrays: "fraction" (steps + 1,), "deletion" and "insertion"
    (N, steps + 1) curves, "deletion_auc" and "insertion_auc" (N,), "y" (N,).
    """
    x, R, dele, _ = _check_common(model, x, R, "morf", deletion_baseline, 1, channel_reduce,
                                  output, seed, batch_size, None, blur_sigma)
    ins = _check_perturbation(insertion_baseline, x.shape)
    for name, b in (("deletion_baseline", dele), ("insertion_baseline", ins)):
        if isinstance(b, str) and b == "uniform":
            raise ValueError(f"{name}='uniform' is not a baseline here; use a number, 'zero', "
                             "'mean', 'blur' or an array.")
        if callable(b) and not isinstance(b, str):
            raise ValueError(f"{name} must be a number, 'zero', 'mean', 'blur' or an array.")
    n, h, w, _ = x.shape
    check_in_range("steps", steps, 1, h * w, integer=True)
    y = resolve_neuron_selection(y, n, model_num_classes(model))
    ids = _check_ids(image_ids, n)
    pixels = np.round(np.arange(steps + 1) * h * w / steps).astype(np.int64)
    common = dict(repeats=1, channel_reduce=channel_reduce, output=output, seed=seed,
                  batch_size=batch_size, jit_compile=jit_compile, value_range=None,
                  blur_sigma=blur_sigma, progress=progress, image_ids=ids)
    d, y = _run(model, x, R, y, pixels, 1, "morf", dele, **common)
    i, y = _run(model, x, R, y, h * w - pixels, 1, "lerf", ins, **common)
    fraction = pixels / (h * w)
    d, i = d[:, 0], i[:, 0]
    return {"fraction": fraction, "deletion": d, "insertion": i,
            "deletion_auc": _trapezoid(d.astype(np.float64), fraction),
            "insertion_auc": _trapezoid(i.astype(np.float64), fraction), "y": y}


def area_between_curves(morf: Curves, lerf: Curves) -> np.ndarray:
    """ABPC of M4 (Li et al. 2023) per image from two :class:`Curves` of the same images and
    steps: 1/(L+1) sum_k f(x_LeRF^(k)) - f(x_MoRF^(k)), averaged over repeats; (N,)."""
    _check_curves(morf, "morf")
    _check_curves(lerf, "lerf")
    if morf.values.shape[0] != lerf.values.shape[0] or len(morf.steps) != len(lerf.steps):
        raise ValueError("morf and lerf curves must hold the same images and steps.")
    if not np.array_equal(morf.y, lerf.y):
        raise ValueError("morf and lerf curves explain different classes; pass the same y.")
    return (lerf.mean().astype(np.float64) - morf.mean()).mean(axis=1)


def abpc(model, x, R, y=None, **curve_kwargs) -> dict:
    """ABPC (M4, Li et al. 2023; module docstring) from :func:`perturbation_curve`'s MoRF and
    LeRF curves with the same settings (``curve_kwargs``: region, steps, perturbation,
    repeats, seed, ...). Returns {"abpc": (N,), "morf": Curves, "lerf": Curves, "y": (N,)}."""
    if "order" in curve_kwargs:
        raise TypeError("abpc computes both orders itself; do not pass order=.")
    morf = perturbation_curve(model, x, R, y=y, order="morf", **curve_kwargs)
    lerf = perturbation_curve(model, x, R, y=morf.y, order="lerf", **curve_kwargs)
    return {"abpc": area_between_curves(morf, lerf), "morf": morf, "lerf": lerf, "y": morf.y}
