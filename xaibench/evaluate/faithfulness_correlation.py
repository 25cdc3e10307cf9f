"""Faithfulness correlation (Bhatt, Weller, Moura: "Evaluating and Aggregating Feature-based
Model Explanations", IJCAI 2020, Sec. 3.2, eq. 2) (evaluator arrow of DESIGN.md):

    mu_F(f, g; x) = corr_{S in ([d] choose |S|)} ( sum_{i in S} g(f, x)_i ,
                                                    f(x) - f(x_[x_S = xbar_S]) ),

the Pearson correlation, over random subsets S of |S| pixels, between the summed relevance of
the subset and the drop of the explained output when the subset is set to the baseline
xbar. With a linear model f(x) = sum(w x), R = w x and a zero baseline it is exactly 1.

Execution: a batch of (image, subset) pairs goes through ONE traced ``tf.function``: the
subsets (drawn on the device from stateless Philox numbers keyed by (seed, image id): run r's
keys are row r of the image's (runs, H*W) uniform draw and its subset the |S| largest keys,
i.e. a uniform random subset without replacement; one draw per image, not per run, and a
run's subset does not depend on how many runs are asked -- or given by the caller), the
masks, the baseline, the relevance sums and one model call; the kernel takes any batch size,
so the last batch is not padded. At most ``batch_size`` perturbed images exist at a time.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from xaibench import heatmaps
from xaibench.evaluate.statistics import pearson_rows
from xaibench._checks import check_in_range, model_num_classes, resolve_neuron_selection
from xaibench.evaluate.faithfulness import (_CACHE, _check_common, _gaussian_blur,
                                            _unperturbed)

_MAX_KERNELS = 16


def _build_kernel(fmodel, softmax, image_shape, r_shape, baseline, blur_sigma, channel_reduce,
                  size, given):
    """The traced kernel of one batch of P (image, run) pairs: x, R, y per pair, and either
    the given subsets (P, size) or the draws' inputs -- (U, 2) seeds of the batch's U distinct
    images, each pair's (image among the U, run) and the number of key rows to draw."""
    h, w, c = image_shape
    pair = [tf.TensorSpec((None, h, w, c), tf.float32),
            tf.TensorSpec((None,) + tuple(r_shape), tf.float32), tf.TensorSpec((None,), tf.int32)]
    draws = ([tf.TensorSpec((None, size), tf.int32)] if given else
             [tf.TensorSpec((None, 2), tf.int64), tf.TensorSpec((None, 2), tf.int32),
              tf.TensorSpec((), tf.int32)])
    fill = None if isinstance(baseline, str) else tf.constant(
        np.broadcast_to(baseline, image_shape).astype(np.float32))

    def subsets_of(seeds, rows, n_rows):
        keys = tf.map_fn(lambda s: tf.random.stateless_uniform((n_rows, h * w), s, alg="philox"),
                         seeds, fn_output_signature=tf.TensorSpec((None, h * w), tf.float32))
        return tf.math.top_k(tf.gather_nd(keys, rows), k=size, sorted=False).indices

    def kernel(x, R, y, *draw):
        p = tf.shape(x)[0]
        idx = draw[0] if given else subsets_of(*draw)
        hmap = tf.reshape(heatmaps.reduce_channels(R, channel_reduce), (p, h * w))
        rel = tf.reduce_sum(tf.gather(hmap, idx, batch_dims=1), axis=1)
        rows = tf.repeat(tf.range(p)[:, None], size, axis=1)
        mask = tf.scatter_nd(tf.stack([rows, idx], -1), tf.ones((p, size)), (p, h * w))
        mask = tf.reshape(tf.minimum(mask, 1.0), (p, h, w, 1))
        if baseline == "mean":
            repl = tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), tf.shape(x))
        elif baseline == "blur":
            repl = _gaussian_blur(x, blur_sigma)
        elif baseline == "zero":
            repl = tf.zeros_like(x)
        else:
            repl = tf.broadcast_to(fill, tf.shape(x))
        xs = tf.where(mask > 0, repl, x)
        f = fmodel(xs, training=False)
        if softmax:
            f = tf.nn.softmax(f, axis=-1)
        return rel, tf.gather(f, y, axis=1, batch_dims=1)

    return tf.function(kernel, input_signature=pair + draws)


def faithfulness_correlation(model, x, R, y=None, runs: int = 100, subset_size: int = 224,
                             subsets=None, baseline=0.0, blur_sigma: float = 2.0,
                             channel_reduce: str = "sum", output: str = "logit", seed: int = 0,
                             batch_size: int | None = None, image_ids=None) -> dict:
    """Bhatt et al. (2020), eq. 2 (module docstring), per image.

    ``runs`` random subsets of ``subset_size`` pixels (all channels of a pixel together; its
    relevance is the channel-pooled ``R``) per image, seeded by ``seed`` and the image id
    (``image_ids``, default 0..N-1: shards give the numbers of one call); or ``subsets``:
    the flat pixel indices (row * W + column) to use instead, (N, runs, size) or
    (runs, size) for all images -- e.g. the subsets another implementation drew.
    ``baseline``: a number (0: Quantus's default of this metric's tests), "zero", "mean",
    "blur" (std ``blur_sigma``) or an array broadcastable to (H, W, C). ``output``: "logit"
    or "probability"; ``y``: explained class (None: predicted).

    Returns a dict: "correlation" (N,) (NaN where a variance is 0), "relevance" and "drop"
    (N, runs) -- the summed relevance of each subset and the output drop -- and "y" (N,).
    """
    x, R, baseline, _ = _check_common(model, x, R, "morf", baseline, 1, channel_reduce, output,
                                      seed, batch_size, None, blur_sigma)
    if callable(baseline) or (isinstance(baseline, str) and baseline == "uniform"):
        raise ValueError("baseline must be a number, 'zero', 'mean', 'blur' or an array "
                         "broadcastable to (H, W, C).")
    n, h, w, c = x.shape
    if subsets is not None:
        sub = np.asarray(subsets)
        if sub.ndim == 2:
            sub = np.broadcast_to(sub, (n,) + sub.shape)
        if sub.ndim != 3 or sub.shape[0] != n or sub.shape[1] < 2 or sub.shape[2] < 1 or \
                not np.issubdtype(sub.dtype, np.integer):
            raise ValueError(f"subsets has shape {np.shape(subsets)} and dtype {sub.dtype}; pass "
                             f"integer pixel indices (N, runs, size) or (runs, size), runs >= 2.")
        if sub.min() < 0 or sub.max() >= h * w:
            raise ValueError(f"subsets hold pixel indices outside 0..{h * w - 1} (row * W + col).")
        runs, subset_size = sub.shape[1:]
        sub = sub.astype(np.int32)
    else:
        check_in_range("runs", runs, 2, integer=True)
        check_in_range("subset_size", subset_size, 1, h * w, integer=True)
    y = resolve_neuron_selection(y, n, model_num_classes(model))
    store = _CACHE.setdefault(model, {})
    fmodel, softmax, budget, ids, f0, y = _unperturbed(store, model, x, y, output, batch_size,
                                                        image_ids)
    if softmax:
        f0 = tf.nn.softmax(f0, axis=-1).numpy()
    f0 = f0[np.arange(n), y].astype(np.float64)

    n_pairs = n * runs
    pairs = min(budget, n_pairs)
    given = subsets is not None
    key = ("faithfulness_correlation", (h, w, c), baseline if isinstance(baseline, str)
           else (baseline.shape, baseline.tobytes()), float(blur_sigma), channel_reduce,
           int(subset_size), given, output, R.shape[1:])
    if key not in store:
        old = [k for k in store if k[0] == "faithfulness_correlation"]
        if len(old) >= _MAX_KERNELS:
            del store[old[0]]
        store[key] = _build_kernel(fmodel, softmax, (h, w, c), R.shape[1:], baseline,
                                   float(blur_sigma), channel_reduce, int(subset_size), given)
    kernel = store[key]
    img = np.repeat(np.arange(n), runs)
    run = np.tile(np.arange(runs), n)
    rel = np.empty(n_pairs, np.float64)
    val = np.empty(n_pairs, np.float64)
    for start in range(0, n_pairs, pairs):                # the last batch is not padded
        idx = np.arange(start, min(start + pairs, n_pairs))
        ii, rr = img[idx], run[idx]
        if given:
            draw = (tf.constant(sub[ii, rr]),)
        else:
            images, which = np.unique(ii, return_inverse=True)
            draw = (tf.constant(np.stack([np.full(len(images), seed, np.int64), ids[images]], 1)),
                    tf.constant(np.stack([which, rr], 1).astype(np.int32)),
                    tf.constant(int(rr.max()) + 1, tf.int32))
        r, v = kernel(tf.constant(x[ii]), tf.constant(R[ii]), tf.constant(y[ii]), *draw)
        rel[idx] = r.numpy()
        val[idx] = v.numpy()
    rel = rel.reshape(n, runs)
    drop = f0[:, None] - val.reshape(n, runs)
    return {"correlation": pearson_rows(rel, drop), "relevance": rel, "drop": drop,
            "y": y.astype(np.int64)}
