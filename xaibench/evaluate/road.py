"""ROAD: Remove And Debias (Rong et al., ICML 2022) -- faithfulness without the class
leaking through the shape of the removed region (evaluator arrow of DESIGN.md).

Rong, Leemann, Borisov, Kasneci, Kasneci: "A Consistent and Efficient Evaluation Strategy for
Attribution Methods", ICML 2022, Sec. 4.2 "Noisy Linear Imputation": each removed pixel takes
the weighted mean of its 8 neighbours (direct neighbours weight 1/6, diagonal ones 1/12 --
the weights of the authors' code ``road/imputations.py``, ``neighbors_weights``, which
Quantus 0.6.0 ``noisy_linear_imputation`` copies), the removed pixels' values being the
solution of that sparse linear system (neighbours that are removed too are unknowns,
neighbours outside the image are left out and the weights renormalised); Gaussian noise of
std ``noise`` (0.01 in the paper) is then added to the imputed pixels. The curve is the
explained output (and the accuracy) after removing the ``fraction`` most (MoRF) or least
(LeRF) relevant pixels.

Execution: one traced ``tf.function`` per setting takes a batch of (image, fraction) pairs
with each distinct image once: channel pooling and the ranking (argsort) per image (every
fraction removes a prefix of the same order), the removal masks, the imputation, the seeded
noise and ONE model call on all pairs. The noise is one field per image (stateless Philox
keyed by (seed, image id)), shared by its fractions: a pixel removed at 30 % and at 50 % gets
the same noise at both (common random numbers: the curve's steps come from the removal, not
from fresh noise), and it is drawn once per distinct image of a batch, not once per pair.

The imputation solves the system below on the device by mixed-precision iterative
refinement: the solution u and the residual r = b - A u are kept and recomputed in float64;
each correction solves A e = r / |r| (scaled per system to unit norm) by plain conjugate
gradients in float32 (each system one (H, W) plane of a (P, C, H, W) array; the stencil as
8 shifted adds; two inner products per iteration; no Jacobi scaling: D_i = 1 on every
interior pixel) down to a relative residual of 1e-5, or to
what ``tol`` still needs, and u += |r| e. The solve stops when every system's float64
residual |b - A u| is <= ``tol`` * |b| (default 1e-7), so a ``tol`` below float32's
precision is met too (tested at 1e-11). Why: the float32 iterations cost about half of
float64 ones (half the memory traffic), and the refinement needs only 2-3 steps; on
224x224x3, MoRF with a gradient heatmap: 13 / 22 / 127 CG iterations at 10 / 50 / 90 %
removed, and mask + imputation + noise of 2 images at those fractions take 0.20 s, 1.85x
less than a float64 CG solve to the same tol (TF 2.21, paired medians). It is compiled with
XLA (the elementwise work fused; 1.8x faster than op by op with TF 2.14 too); the planes
layout, rather than channels last, solves 6x224x224x3 2.8x faster with TF 2.14 (the same
with TF 2.21, paired medians). Measured and
not used: a pull-push (pyramid) initial guess saves 3 of 127 iterations; a geometric
multigrid preconditioner cuts them to 15-19 at 90 % but its V-cycles cost more than they
save under XLA's CPU backend.

A batch runs the solver until its hardest system converges, and the removed fraction sets
how hard it is: on large images (H*W > 4096) a batch holds pairs of one fraction only, so
each fraction costs its own iterations; on small ones the pairs fill the batches in fraction
order (the solve is cheap there, the model calls' overhead is not). The last batch is not
padded (the kernel takes any batch size). At most ``batch_size`` imputed images exist at a
time, so peak memory does not grow with N. The solve matches ``scipy.sparse.linalg.spsolve``
on the same system to 1e-4 (``tests/test_evaluate_road.py``, also on 64x56x3 with 90 %
removed and values of the 255 scale).

The system per image and channel, for removed pixels i (set M), with weights w_ij of the
in-image neighbours N(i) and D_i = sum_{j in N(i)} w_ij:

    D_i u_i - sum_{j in N(i) & M} w_ij u_j = sum_{j in N(i) \\ M} w_ij x_j

It is symmetric, and positive definite when every removed region touches a kept pixel; an
image with every pixel removed (fraction 1) has no kept neighbour anywhere and is imputed by
0 (plus noise).
"""
from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from xaibench import heatmaps
from xaibench._checks import (check_images, check_in_range, model_num_classes,
                              resolve_neuron_selection)
from xaibench._progress import inner_enabled
from xaibench.evaluate.faithfulness import OUTPUTS, _check_heatmaps, _unperturbed

#: (row offset, column offset, weight) of the 8-neighbourhood (Rong et al. 2022, Sec. 4.2)
NEIGHBOURS = ((-1, 0, 1 / 6), (1, 0, 1 / 6), (0, -1, 1 / 6), (0, 1, 1 / 6),
              (-1, -1, 1 / 12), (-1, 1, 1 / 12), (1, -1, 1 / 12), (1, 1, 1 / 12))
ORDERS = ("morf", "lerf")
DEFAULT_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MAX_KERNELS = 16


# --------------------------------------------------------------------------------------------
# the imputation (device)

def _stencil(v):
    """S(v)_i = sum_j w_ij v_j over the in-image 8-neighbourhood; v: (P, C, H, W)."""
    h, w = int(v.shape[2]), int(v.shape[3])
    vp = tf.pad(v, [[0, 0], [0, 0], [1, 1], [1, 1]])
    out = None
    for di, dj, wt in NEIGHBOURS:
        term = wt * vp[:, :, 1 + di:1 + di + h, 1 + dj:1 + dj + w]
        out = term if out is None else out + term
    return out


#: the inner products as a product with a vector of ones (XLA's CPU backend of TF 2.21 runs
#: that 1.4x faster than a ``reduce_sum`` over (H, W) on a 320x28x28 batch; TF 2.14's 1.3x
#: slower: measured solves, both stacks)
_DOT_AS_MATMUL = tuple(int(v) for v in tf.__version__.split(".")[:2]) > (2, 14)


def _dot(a, b):
    """One inner product per (image, channel) system: (P, C, 1, 1)."""
    if not _DOT_AS_MATMUL:
        return tf.reduce_sum(a * b, axis=(2, 3), keepdims=True)
    c, h, w = (int(n) for n in a.shape[1:])
    rows = tf.reshape(a * b, (-1, h * w))
    return tf.reshape(tf.matmul(rows, tf.ones((h * w, 1), a.dtype)), (-1, c, 1, 1))


def _operator(m, d, v):
    """A v = m (D v - S(v)) for v that is zero outside the removed pixels M."""
    return m * (d * v - _stencil(v))


#: the inner float32 solves stop at this relative residual (of their own right-hand side, the
#: current float64 residual), or at the looser one that ``tol`` still needs (module docstring)
_INNER_TOL = 1e-5


def _cg32(m, d, r, thresh2, max_iter, it0):
    """Plain conjugate gradients in float32 on A e = r from e = 0, A v = m (d v - S(v)) for v on
    M, per (image, channel) system, until every system's squared residual is <= ``thresh2``
    (or ``max_iter`` iterations in all, counted from ``it0``); returns e and the count."""
    rr = _dot(r, r)

    def cond(it, e, r, p, rr):
        return tf.logical_and(it < max_iter, tf.reduce_any(rr > thresh2))

    def body(it, e, r, p, rr):
        ap = _operator(m, d, p)
        alpha = tf.math.divide_no_nan(rr, _dot(p, ap))
        e = e + alpha * p
        r = r - alpha * ap
        rr_new = _dot(r, r)
        p = r + tf.math.divide_no_nan(rr_new, rr) * p
        return it + 1, e, r, p, rr_new

    it, e, _, _, _ = tf.while_loop(cond, body, (it0, tf.zeros_like(r), r, r, rr))
    return e, it


def _impute(x, removed, tol, max_iter):
    """Solve the neighbourhood-averaging system for the pixels where ``removed`` (P, H, W, 1)
    is 1, per image and channel, by mixed-precision iterative refinement (module docstring):
    the residual and the solution in float64, the corrections by float32 conjugate gradients,
    until the float64 residual of every system is <= ``tol`` times its right-hand side's;
    returns x with the removed pixels replaced by the solution (no noise), and the CG
    iterations used (all inner solves together)."""
    x = tf.transpose(tf.cast(x, tf.float64), (0, 3, 1, 2))    # (P, C, H, W): rows of a system
    m = tf.transpose(tf.cast(removed, tf.float64), (0, 3, 1, 2))
    keep = 1.0 - m
    d = _stencil(tf.ones_like(m))                           # D_i: the in-image weights
    m32, d32 = tf.cast(m, tf.float32), tf.cast(d, tf.float32)

    b = m * _stencil(keep * x)
    bb = _dot(b, b)
    tol2 = tf.constant(tol * tol, tf.float64)
    inner2 = tf.constant(_INNER_TOL * _INNER_TOL, tf.float64)

    def cond(it, u, r, rr):
        return tf.logical_and(it < max_iter, tf.reduce_any(rr > tol2 * bb))

    def body(it, u, r, rr):
        # the correction's system scaled to |r| = 1 (float32 range); converged systems get
        # r = 0 and stay as they are
        scale = tf.where(rr > tol2 * bb, tf.math.rsqrt(rr), tf.zeros_like(rr))
        target2 = 0.25 * tf.maximum(tol2 * bb * scale * scale, inner2)
        e, it = _cg32(m32, d32, tf.cast(r * scale, tf.float32), tf.cast(target2, tf.float32),
                      max_iter, it)
        u = u + tf.cast(e, tf.float64) * tf.math.divide_no_nan(tf.ones_like(scale), scale)
        r = b - _operator(m, d, u)                           # the true residual, float64
        return it, u, r, _dot(r, r)

    it, u, _, _ = tf.while_loop(cond, body, (tf.constant(0), tf.zeros_like(b), b, bb))
    return tf.transpose(keep * x + m * u, (0, 2, 3, 1)), it


def _removal_mask(R, k, sign, channel_reduce, tie_keys, which):
    """1 where a pixel of pair p is among the ``k[p]`` first in the order of its image
    ``which[p]`` (MoRF: most relevant first, LeRF: least): the order is ranked once per image
    of ``R`` (U images; ties broken by ``tie_keys`` (U, H*W)), since every fraction of an image
    removes a prefix of the same order. (P, H, W, 1) float32."""
    hmap = heatmaps.reduce_channels(R, channel_reduce)
    shape = tf.shape(hmap)
    flat = tf.reshape(hmap, (shape[0], -1))
    perm = tf.argsort(tie_keys, axis=1)
    s_perm = tf.gather(flat, perm, batch_dims=1)
    perm = tf.gather(perm, tf.argsort(sign * s_perm, axis=1, stable=True), batch_dims=1)
    rank = tf.gather(tf.argsort(perm, axis=1), which)        # 0 = first removed
    mask = tf.cast(rank < tf.cast(k[:, None], rank.dtype), tf.float32)
    return tf.reshape(mask, (-1, shape[1], shape[2], 1))


_impute_fn = tf.function(_impute, reduce_retracing=True)
#: the solve inside ROAD's kernel, compiled with XLA (module docstring)
_impute_xla = tf.function(_impute, jit_compile=True, reduce_retracing=True)
#: images up to this many pixels share batches across fractions (module docstring)
_SMALL_IMAGE = 4096


def _default_max_iter(h, w):
    return int(20 * (h + w) + 100)


def linear_imputation(x, removed, noise: float = 0.0, seed: int = 0, tol: float = 1e-7,
                      max_iter: int | None = None) -> np.ndarray:
    """Noisy linear imputation of Rong et al. (2022), Sec. 4.2, on its own: ``x`` (N, H, W, C)
    with the pixels where ``removed`` (N, H, W) is true replaced by the solution of the
    neighbourhood-averaging system (module docstring) plus N(0, ``noise``^2) noise. Solved on
    the device (float64 iterative refinement of float32 conjugate-gradient solves, module
    docstring; ``tol``: the float64 residual relative to the right-hand side's)."""
    x = check_images(x)
    removed = np.asarray(removed)
    if removed.shape != x.shape[:3]:
        raise ValueError(f"removed has shape {removed.shape}; it must be one boolean mask per "
                         f"image, {x.shape[:3]}.")
    check_in_range("noise", noise, 0)
    check_in_range("seed", seed, 0, 2 ** 31 - 1, integer=True)
    check_in_range("tol", tol, 0, low_inclusive=False)
    max_iter = _default_max_iter(*x.shape[1:3]) if max_iter is None else max_iter
    check_in_range("max_iter", max_iter, 1, integer=True)
    m = tf.constant(removed.astype(np.float32)[..., None])
    out, _ = _impute_fn(tf.constant(x), m, float(tol), int(max_iter))
    out = out.numpy().astype(np.float32)
    if noise > 0:
        eps = tf.random.stateless_normal(x.shape, (seed, 0), alg="philox").numpy()
        out = out + removed[..., None] * noise * eps
    return out


# --------------------------------------------------------------------------------------------
# the traced kernel

def _build_kernel(fmodel, softmax, image_shape, r_shape, order, channel_reduce, noise, tol,
                  max_iter):
    h, w, c = image_shape
    sign = -1.0 if order == "morf" else 1.0
    signature = [tf.TensorSpec((None, h, w, c), tf.float32),
                 tf.TensorSpec((None,) + tuple(r_shape), tf.float32),
                 tf.TensorSpec((None, 2), tf.int64), tf.TensorSpec((None,), tf.int32),
                 tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)]

    def draws(s):
        """The tie keys (H*W,) and the noise field (H, W, C) of the image seeded (seed, id)."""
        ties = tf.random.stateless_uniform((h * w,), (s[0], 2 * s[1] + 1), alg="philox")
        if noise == 0:
            return ties, tf.zeros((h, w, c))
        return ties, tf.random.stateless_normal((h, w, c), (s[0], 2 * s[1]), alg="philox")

    def kernel(x, R, seeds, which, k, y):
        """The U distinct images of a batch (``x``, ``R``, ``seeds`` = (seed, image id)) and
        its P pairs: the image ``which`` (index into the U), pixels removed ``k``, class
        ``y``."""
        tie_keys, eps = tf.map_fn(draws, seeds, fn_output_signature=(tf.float32, tf.float32))
        m = _removal_mask(R, k, sign, channel_reduce, tie_keys, which)
        xi, it = _impute_xla(tf.gather(x, which), m, tol, max_iter)
        xi = tf.cast(xi, tf.float32)
        if noise > 0:
            xi = xi + m * (noise * tf.gather(eps, which))
        f = fmodel(xi, training=False)
        if softmax:
            f = tf.nn.softmax(f, axis=-1)
        pred = tf.argmax(f, axis=-1, output_type=tf.int32)
        return tf.gather(f, y, axis=1, batch_dims=1), pred, it

    return tf.function(kernel, input_signature=signature)


def road(model, x, R, fractions=DEFAULT_FRACTIONS, order: str = "morf", noise: float = 0.01,
         y=None, channel_reduce: str = "sum", output: str = "logit", seed: int = 0,
         batch_size: int | None = None, tol: float = 1e-7, max_iter: int | None = None,
         progress: bool | None = None, image_ids=None) -> dict:
    """ROAD curve (Rong et al., ICML 2022): for each fraction q, remove the round-down(q*H*W)
    most (``order="morf"``) or least (``"lerf"``) relevant pixels (channel-pooled ``R``,
    ties broken at random by ``seed``), impute them by noisy linear imputation (Sec. 4.2;
    module docstring) and evaluate the model on the imputed image.

    ``fractions`` in [0, 1] (default 0.1..0.9, the paper's figures); ``noise``: std of the
    Gaussian noise added to the imputed pixels (0.01 as in the paper and Quantus; one field
    per image, shared by its fractions: module docstring);
    ``y``: explained class (None: the predicted class); ``output``: "logit" or
    "probability"; ``tol``: the float64 residual of the imputation's solve relative to its
    right-hand side's, ``max_iter``: its conjugate-gradient iterations in all (module
    docstring); ``batch_size``:
    imputed images per model call (bounds memory); ``seed``/``image_ids``: as in
    :func:`xaibench.evaluate.perturbation_curve` (same seed, same numbers).

    Returns a dict of numpy arrays: "fractions" (F,), "pixels" (F,) removed per image,
    "values" (N, F) the explained output after removal, "original" (N,) before,
    "correct" (N, F) whether the model still predicts ``y`` (the paper's accuracy, per image),
    "accuracy" (F,) its mean over images, "y" (N,), "iterations" (int, the most CG
    iterations, all refinement steps together, any batch took) and "order".
    """
    x = check_images(x, model, channels=True)
    R = _check_heatmaps(R, x)
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is not supported; use 'morf' or 'lerf'.")
    fr = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if fr.size == 0 or np.any(~np.isfinite(fr)) or np.any(fr < 0) or np.any(fr > 1):
        raise ValueError(f"fractions={fractions!r} must be numbers in [0, 1], e.g. "
                         "(0.1, 0.2, ..., 0.9).")
    check_in_range("noise", noise, 0)
    heatmaps._check_how(channel_reduce)
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not supported; use 'logit' or 'probability'.")
    check_in_range("seed", seed, 0, 2 ** 31 - 1, integer=True)
    check_in_range("tol", tol, 0, low_inclusive=False)
    if batch_size is not None:
        check_in_range("batch_size", batch_size, 1, integer=True)
    n, h, w, c = x.shape
    max_iter = _default_max_iter(h, w) if max_iter is None else max_iter
    check_in_range("max_iter", max_iter, 1, integer=True)
    y = resolve_neuron_selection(y, n, model_num_classes(model))
    store = _CACHE.setdefault(model, {})
    fmodel, softmax, budget, ids, f0, y = _unperturbed(store, model, x, y, output, batch_size,
                                                        image_ids)
    original = f0[np.arange(n), y]
    if softmax:
        original = tf.nn.softmax(f0, axis=-1).numpy()[np.arange(n), y]

    pixels = np.floor(fr * h * w + 1e-9).astype(np.int64)
    F = len(fr)
    n_pairs = n * F
    pairs = min(budget, n_pairs)
    key = ("road", (h, w, c), order, channel_reduce, float(noise), float(tol),
           int(max_iter), output, R.shape[1:])
    if key not in store:
        old = [k for k in store if k[0] == "road"]
        if len(old) >= _MAX_KERNELS:
            del store[old[0]]
        store[key] = _build_kernel(fmodel, softmax, (h, w, c), R.shape[1:], order,
                                   channel_reduce, float(noise), float(tol), int(max_iter))
    kernel = store[key]
    img = np.repeat(np.arange(n), F)
    fi = np.tile(np.arange(F), n)
    seeds = np.stack([np.full(n, seed, np.int64), ids], 1)      # ties and noise, per image
    values = np.empty(n_pairs, np.float32)
    pred = np.empty(n_pairs, np.int64)
    iters = 0
    # pairs in fraction order (by pixels removed); on large images a batch never mixes
    # fractions: the solve runs to the hardest system of its batch (module docstring)
    order_idx = np.lexsort((img, pixels[fi]))
    if h * w > _SMALL_IMAGE:
        groups = [order_idx[pixels[fi[order_idx]] == p] for p in np.unique(pixels)]
    else:
        groups = [order_idx]
    chunks = [g[i:i + pairs] for g in groups for i in range(0, len(g), pairs)]
    if progress is None:
        progress = n_pairs > 2000 and inner_enabled()
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="ROAD", unit="chunk")
    for idx in chunks:
        ii = img[idx]
        u, which = np.unique(ii, return_inverse=True)         # each image ranked once
        v, p, it = kernel(tf.constant(x[u]), tf.constant(R[u]), tf.constant(seeds[u]),
                          tf.constant(which.astype(np.int32)),
                          tf.constant(pixels[fi[idx]].astype(np.int32)), tf.constant(y[ii]))
        values[idx] = v.numpy()
        pred[idx] = p.numpy()
        iters = max(iters, int(it))
    if iters >= max_iter:
        import warnings
        warnings.warn(f"ROAD: the imputation stopped at max_iter={max_iter} conjugate-gradient "
                      f"iterations before reaching tol={tol}; raise max_iter.", RuntimeWarning)
    correct = (pred.reshape(n, F) == y[:, None])
    return {"fractions": fr, "pixels": pixels, "values": values.reshape(n, F),
            "original": original.astype(np.float32), "correct": correct,
            "accuracy": correct.mean(axis=0), "y": y.astype(np.int64), "iterations": iters,
            "order": order}
