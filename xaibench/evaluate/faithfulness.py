"""Faithfulness of heatmaps by region perturbation (evaluator arrow of DESIGN.md).

* :func:`perturbation_curve` -- Samek et al. (2017), eq. 11: MoRF / LeRF / random-order
  region perturbation curves f(x^(k)), k = 0..L;
* :func:`aopc` / :func:`aopc_curve` -- Samek et al., eq. 12 (and "relative to the random
  baseline", their Fig. 4);
* :func:`confidence_drop` -- Amorim et al. (2023), eq. 3, with the random-pixel control.

Execution: a batch of (image, repeat) pairs goes through ONE traced ``tf.function``: channel
pooling, region scores, ranking (argsort, inverse permutation), the replacement values
(uniform noise / mean / blur / constant; stateless Philox random numbers keyed by (seed,
image, repeat)), the masks of all steps and every model call (unrolled up to 16 model calls,
else a ``tf.while_loop`` over groups of steps) run on the device. At most ``batch_size``
perturbed images exist at a time, so peak memory does not grow with N.

``jit_compile`` default, measured with ``benchmarks/evaluate_throughput.py --jit`` on the
2-core CPU of the project machine (TF 2.14.1, shared and loaded, functions timed round-robin
in one run; two runs on 2026-11-23): demo CNN 28x28, region 2, 100 steps, 10 repeats,
batch 512: XLA off 36,400 / 29,000 perturbed images/s, XLA on 8,000 / 8,800 (3.3-4.5x
slower); VGG-16 224x224, batch 16: off 2.40 / 5.38, on 1.42 / 2.64 images/s (1.7-2.0x
slower). Hence ``JIT_DEFAULT["CPU"] = False``. GPU default: XLA on --
not measured (no GPU on the machine); measure with the same script before relying on it.
The random draws are made outside the XLA cluster, so the same seed gives the same numbers
with and without ``jit_compile``.
"""
from __future__ import annotations

import inspect
import math
import weakref
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from xaibench import heatmaps
from xaibench._progress import inner_enabled
from xaibench._checks import (check_images, check_in_range, model_num_classes,
                              resolve_neuron_selection)
from xaibench.prepare import output_head

ORDERS = ("morf", "lerf", "random")
PERTURBATIONS = ("uniform", "mean", "zero", "blur")
OUTPUTS = ("logit", "probability")

#: default of ``jit_compile`` per device kind (CPU measured, see the module docstring)
JIT_DEFAULT = {"CPU": False, "GPU": True}

#: images per model call when ``batch_size`` is None: about 2**22 input floats, within [8, 512]
_INPUT_BUDGET = 2 ** 22
#: model calls per kernel up to which the step loop is unrolled in the graph
_MAX_UNROLL = 16
#: traced kernels kept per model (one per setting)
_MAX_KERNELS = 16


def default_jit_compile() -> bool:
    """The ``jit_compile`` default for the device TensorFlow will use (see JIT_DEFAULT)."""
    kind = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    return JIT_DEFAULT[kind]


def default_batch_size(image_shape) -> int:
    """Perturbed images per model call when ``batch_size`` is None."""
    return int(min(512, max(8, _INPUT_BUDGET // int(np.prod(image_shape)))))


@dataclass
class Curves:
    """Perturbation curves and what produced them.

    ``values``: (N, repeats, K) output f(x^(k)) of the explained class at the evaluated
    steps ``steps`` (K,) (0..L for :func:`perturbation_curve`); ``y``: (N,) explained class;
    ``fraction``: (K,) fraction of the image's pixels replaced after each evaluated step;
    ``settings``: region, order, perturbation, repeats, channel_reduce, output, seed, ...
    """

    values: np.ndarray
    y: np.ndarray
    steps: np.ndarray
    fraction: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def drop(self) -> np.ndarray:
        """f(x^(0)) - f(x^(k)), shape (N, repeats, K)."""
        return self.values[..., :1] - self.values

    def mean(self) -> np.ndarray:
        """The curves averaged over repeats, (N, K)."""
        return self.values.mean(axis=1)

    def __repr__(self):  # short: the arrays can be large
        s = ", ".join(f"{k}={v!r}" for k, v in self.settings.items() if k != "value_range")
        return f"Curves(values{self.values.shape}, {s})"


# --------------------------------------------------------------------------------------------
# validation

def _check_heatmaps(R, x: np.ndarray, name: str = "R") -> np.ndarray:
    if isinstance(R, tf.Tensor):
        R = R.numpy()
    R = np.asarray(R)
    if R.dtype == object or not np.issubdtype(R.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {R.dtype}.")
    n, h, w, c = x.shape
    ok = (R.ndim == 4 and R.shape[:3] == (n, h, w) and R.shape[3] in (c, 1)) or (
        R.ndim == 3 and R.shape == (n, h, w))
    if not ok:
        raise ValueError(
            f"{name} has shape {R.shape} but x has shape {x.shape}; a heatmap must have x's shape "
            f"(N, H, W, C) = {x.shape}, or ({n}, {h}, {w}) after channel reduction. Pass one "
            "heatmap per image, channels last."
        )
    R = R.astype(np.float32, copy=False)
    if not np.all(np.isfinite(R)):
        bad = int(R.size - np.count_nonzero(np.isfinite(R)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); fix the analyzer output or replace "
            "them (np.nan_to_num) before evaluating."
        )
    return R


def _grid(h: int, w: int, region: int):
    """Non-overlapping region x region squares, centred: (gh, gw, top, left)."""
    gh, gw = h // region, w // region
    return gh, gw, (h - gh * region) // 2, (w - gw * region) // 2


def _check_perturbation(perturbation, x_shape):
    if isinstance(perturbation, str):
        if perturbation not in PERTURBATIONS:
            raise ValueError(
                f"perturbation={perturbation!r} is not supported; use one of "
                f"{', '.join(PERTURBATIONS)}, a number (constant fill), an array broadcastable to "
                "(H, W, C) (e.g. the training mean), or a callable fn(x) / fn(x, seeds)."
            )
        return perturbation
    if callable(perturbation):
        return perturbation
    if isinstance(perturbation, bool):
        raise TypeError("perturbation must be a name, a number, an array or a callable, not a bool.")
    arr = np.asarray(perturbation, dtype=np.float32)
    try:
        np.broadcast_to(arr, x_shape[1:])
    except ValueError:
        raise ValueError(
            f"perturbation array of shape {arr.shape} does not broadcast to the image shape "
            f"{x_shape[1:]}; pass a scalar, a per-channel vector ({x_shape[-1]},) or an (H, W, C) "
            "image."
        ) from None
    if not np.all(np.isfinite(arr)):
        raise ValueError("perturbation array contains NaN or inf; pass finite fill values.")
    return arr


def _check_common(model, x, R, order, perturbation, repeats, channel_reduce, output, seed,
                  batch_size, value_range, blur_sigma):
    x = check_images(x, model, channels=True)
    R = _check_heatmaps(R, x)
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is not supported; use one of {', '.join(ORDERS)}.")
    perturbation = _check_perturbation(perturbation, x.shape)
    check_in_range("repeats", repeats, 1, integer=True)
    heatmaps._check_how(channel_reduce)
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not supported; use 'logit' (pre-softmax, the "
                         "default) or 'probability' (softmax).")
    check_in_range("seed", seed, 0, 2 ** 31 - 1, integer=True)
    if batch_size is not None:
        check_in_range("batch_size", batch_size, 1, integer=True)
    if value_range is not None:
        lo, hi = (float(v) for v in value_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"value_range={value_range!r} must be two finite numbers low < high, "
                             "e.g. (0, 1) or the range of the preprocessed inputs.")
        value_range = (lo, hi)
    if blur_sigma is not None:
        check_in_range("blur_sigma", blur_sigma, 0, low_inclusive=False)
    return x, R, perturbation, value_range


# --------------------------------------------------------------------------------------------
# the traced kernel

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _scoring_model(model, output):
    """The function f whose value is tracked: logits or probabilities of ``model``."""
    store = _CACHE.setdefault(model, {})
    key = ("__f__", output)
    if key not in store:
        store[key] = output_head(model, output)
    return store[key]


def _gaussian_blur(x, sigma):
    radius = max(1, int(math.ceil(3 * sigma)))
    radius = min(radius, int(x.shape[1]) - 1, int(x.shape[2]) - 1)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    g = np.exp(-0.5 * (t / sigma) ** 2)
    g = (g / g.sum()).astype(np.float32)
    c = int(x.shape[-1])
    xp = tf.pad(x, [[0, 0], [radius, radius], [radius, radius], [0, 0]], mode="SYMMETRIC")
    kv = tf.constant(np.tile(g[:, None, None, None], (1, 1, c, 1)))
    kh = tf.constant(np.tile(g[None, :, None, None], (1, 1, c, 1)))
    xp = tf.nn.depthwise_conv2d(xp, kv, [1, 1, 1, 1], "VALID")
    return tf.nn.depthwise_conv2d(xp, kh, [1, 1, 1, 1], "VALID")


def _stateless(shape, seeds):
    """One stateless uniform [0, 1) sample of ``shape`` per row of ``seeds`` (P, 2)."""
    return tf.map_fn(lambda s: tf.random.stateless_uniform(shape, s, alg="philox"), seeds,
                     fn_output_signature=tf.float32)


def _build_kernel(fmodel, softmax, image_shape, region, ks, pairs, per_call, order,
                  perturbation, channel_reduce, value_range, blur_sigma, jit_compile):
    h, w, c = image_shape
    gh, gw, top, left = _grid(h, w, region)
    n_regions = gh * gw
    K = len(ks)
    n_iter = int(math.ceil(K / per_call))
    ks_pad = np.concatenate([ks, np.full(n_iter * per_call - K, ks[-1])]).astype(np.int32)
    ks_pad = tf.constant(ks_pad.reshape(n_iter, per_call))
    sign = -1.0 if order == "morf" else 1.0
    fill = None if isinstance(perturbation, str) or callable(perturbation) else tf.constant(
        np.broadcast_to(perturbation, image_shape).astype(np.float32))
    kind = perturbation if isinstance(perturbation, str) else (
        "callable" if callable(perturbation) else "fill")
    takes_seeds = callable(perturbation) and len(inspect.signature(perturbation).parameters) >= 2
    sigma = float(blur_sigma if blur_sigma is not None else region / 2)

    def core(x, R, y, noise_seeds, order_keys, noise):
        # -- region scores (eq. 11: locations r on a grid, ranked by summed relevance) --
        hmap = heatmaps.reduce_channels(R, channel_reduce)   # (P, H, W)
        hmap = hmap[:, top:top + gh * region, left:left + gw * region]
        scores = tf.reduce_sum(tf.reshape(hmap, (pairs, gh, region, gw, region)), axis=(2, 4))
        scores = tf.reshape(scores, (pairs, n_regions))
        # -- ordering O = (r_1, ..., r_L), eq. 9/10; ties broken by a seeded random order --
        perm = tf.argsort(order_keys, axis=1)
        if order != "random":
            s_perm = tf.gather(scores, perm, batch_dims=1)
            perm = tf.gather(perm, tf.argsort(sign * s_perm, axis=1, stable=True), batch_dims=1)
        rank = tf.argsort(perm, axis=1) + 1                 # rank of region i: 1..G
        rank = tf.reshape(rank, (pairs, gh, 1, gw, 1))
        rank = tf.broadcast_to(rank, (pairs, gh, region, gw, region))
        rank = tf.reshape(rank, (pairs, gh * region, gw * region))
        rank = tf.pad(rank, [[0, 0], [top, h - top - gh * region], [left, w - left - gw * region]],
                      constant_values=n_regions + 1)       # pixels off the grid: never replaced
        rank = rank[:, None, :, :, None]
        # -- replacement values g(., r_k) --
        if kind == "uniform":
            if value_range is None:
                lo = tf.reduce_min(x, axis=(1, 2, 3), keepdims=True)
                hi = tf.reduce_max(x, axis=(1, 2, 3), keepdims=True)
            else:
                lo, hi = value_range
            repl = lo + (hi - lo) * noise
        elif kind == "zero":
            repl = tf.zeros_like(x)
        elif kind == "mean":
            repl = tf.broadcast_to(tf.reduce_mean(x, axis=(1, 2), keepdims=True), tf.shape(x))
        elif kind == "blur":
            repl = _gaussian_blur(x, sigma)
        elif kind == "callable":
            repl = perturbation(x, noise_seeds) if takes_seeds else perturbation(x)
            repl = tf.broadcast_to(tf.cast(repl, tf.float32), tf.shape(x))
        else:
            repl = tf.broadcast_to(fill, tf.shape(x))
        x5, repl5 = x[:, None], repl[:, None]
        out = tf.TensorArray(tf.float32, size=n_iter)
        # unrolled when short: TF 2.14's CPU graph optimiser does not fuse the model's ops
        # inside a while-loop body (measured: VGG-16 about 2x slower per call)
        for it in (range(n_iter) if n_iter <= _MAX_UNROLL else tf.range(n_iter)):
            k = ks_pad[it]                                   # (S,) steps of this model call
            xk = tf.where(rank <= k[None, :, None, None, None], repl5, x5)   # x^(k), eq. 11
            f = fmodel(tf.reshape(xk, (pairs * per_call, h, w, c)), training=False)
            if softmax:
                f = tf.nn.softmax(f, axis=-1)
            f = tf.reshape(f, (pairs, per_call, -1))
            out = out.write(it, tf.gather(f, y, axis=2, batch_dims=1))
        res = tf.transpose(out.stack(), (1, 0, 2))
        return tf.reshape(res, (pairs, n_iter * per_call))[:, :K]

    core = tf.function(core, jit_compile=bool(jit_compile))

    def kernel(x, R, y, noise_seeds, order_seeds):
        # random draws outside the XLA cluster: XLA's stateless RNG gives other numbers, and
        # the same seed must give the same curves with and without jit_compile
        order_keys = _stateless((n_regions,), order_seeds)
        noise = _stateless((h, w, c), noise_seeds) if kind == "uniform" else tf.zeros((pairs, 1, 1, 1))
        return core(x, R, y, noise_seeds, order_keys, noise)

    return tf.function(kernel)


def _unperturbed(store, model, x, y, output, batch_size, image_ids):
    """What a perturbation metric needs before it perturbs: the scoring model (and whether
    its softmax is applied by the metric), the batch budget, the image ids (default 0..N-1),
    the unperturbed scores f(x) (N, K) and the explained classes (default: the top ones).

    f(x) comes from a traced call of the scoring model per batch of ``budget`` images, kept in
    ``store`` (the model's kernel cache) between calls: the forward pass of ``predict``
    without Keras's per-call set-up, which costs about 0.1 s per call -- more than a whole
    ROAD curve of 16 images on the 28x28 demo CNN."""
    n = len(x)
    ids = _check_ids(image_ids, n)
    ids = np.arange(n, dtype=np.int64) if ids is None else ids
    fmodel, softmax = _scoring_model(model, output)
    budget = batch_size or default_batch_size(x.shape[1:])
    key = ("__f0__", output, x.shape[1:])
    if key not in store:
        store[key] = tf.function(lambda xb_: fmodel(xb_, training=False), input_signature=[
            tf.TensorSpec((None,) + x.shape[1:], tf.float32)])
    scores = store[key]
    f0 = np.concatenate([np.asarray(scores(tf.constant(x[i:i + budget])))
                         for i in range(0, n, budget)])
    y = f0.argmax(axis=1) if y is None else y
    return fmodel, softmax, budget, ids, f0, np.asarray(y, dtype=np.int32)


def predicted_classes(model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """The top class of each image of ``x`` (checked float32 images), by the traced
    scoring-model call of :func:`_unperturbed` (no Keras ``predict`` set-up per call); the
    probability head, which never cuts a layer off, so any model the metrics take works."""
    if x.ndim == 3:         # of a model of (N, H, W) grey images: check_images(channels=True)
        x = x[..., None]
    return _unperturbed(_CACHE.setdefault(model, {}), model, x, None, "probability",
                        batch_size, None)[5]


def _run(model, x, R, y, ks, region, order, perturbation, repeats, channel_reduce, output,
         seed, batch_size, jit_compile, value_range, blur_sigma, progress, image_ids=None):
    """Evaluate f(x^(k)) for k in ``ks`` for every (image, repeat): (N, repeats, K)."""
    n, h, w, c = x.shape
    store = _CACHE.setdefault(model, {})
    fmodel, softmax = _scoring_model(model, output)
    if y is None:
        y = predicted_classes(model, x, batch_size)
    y = np.asarray(y, dtype=np.int32)
    stochastic = order == "random" or callable(perturbation) or (
        isinstance(perturbation, str) and perturbation == "uniform")
    reps = repeats if stochastic else 1                # deterministic repeats are identical
    K = len(ks)
    budget = batch_size or default_batch_size(x.shape[1:])
    if K <= budget:
        per_call, pairs = K, max(1, budget // K)
    else:
        per_call, pairs = int(math.ceil(K / math.ceil(K / budget))), 1
    n_pairs = n * reps
    pairs = min(pairs, n_pairs)
    if jit_compile is None:
        jit_compile = default_jit_compile()
    key = ("kernel", (h, w, c), region, tuple(int(k) for k in ks), pairs, per_call, order,
           perturbation if isinstance(perturbation, str) else (
               id(perturbation) if callable(perturbation)
               else (perturbation.shape, perturbation.tobytes())), channel_reduce, value_range, blur_sigma, bool(jit_compile),
           output, R.shape[3:])
    if key not in store:
        kernels = [k for k in store if k[0] == "kernel"]
        if len(kernels) >= _MAX_KERNELS:               # bounded cache: drop the oldest
            del store[kernels[0]]
        store[key] = _build_kernel(fmodel, softmax, (h, w, c), region, np.asarray(ks), pairs,
                                   per_call, order, perturbation, channel_reduce, value_range,
                                   blur_sigma, jit_compile)
    kernel = store[key]
    img = np.repeat(np.arange(n), reps)
    rep = np.tile(np.arange(reps), n)
    gid = (np.arange(n, dtype=np.int64) if image_ids is None else image_ids)[img]
    stream = (gid * repeats + rep) * 2
    noise_seeds = np.stack([np.full(n_pairs, seed, np.int64), stream], axis=1)
    # the order/tie-break stream depends on the repeat only for the random order
    order_stream = (gid * repeats + (rep if order == "random" else 0)) * 2 + 1
    order_seeds = np.stack([np.full(n_pairs, seed, np.int64), order_stream], axis=1)
    result = np.empty((n_pairs, K), np.float32)
    chunks = range(0, n_pairs, pairs)
    if progress is None:
        progress = n_pairs * K > 200_000 and inner_enabled()
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="perturbation curves", unit="chunk")
    for start in chunks:
        idx = np.arange(start, start + pairs)
        idx = np.minimum(idx, n_pairs - 1)          # pad the last chunk: same shapes, one trace
        ii = img[idx]
        res = kernel(tf.constant(x[ii]), tf.constant(R[ii]), tf.constant(y[ii]),
                     tf.constant(noise_seeds[idx]), tf.constant(order_seeds[idx]))
        m = min(pairs, n_pairs - start)
        result[start:start + m] = res.numpy()[:m]
    values = result.reshape(n, reps, K)
    if reps != repeats:
        values = np.repeat(values, repeats, axis=1)
    return values, y.astype(np.int64)


# --------------------------------------------------------------------------------------------
# public API

def perturbation_curve(model, x, R, y=None, region: int = 9, steps: int = 100,
                       order: str = "morf", perturbation="uniform", repeats: int = 10,
                       channel_reduce: str = "sum", output: str = "logit", seed: int = 0,
                       batch_size: int | None = None, jit_compile: bool | None = None,
                       value_range=None, blur_sigma: float | None = None,
                       progress: bool | None = None, image_ids=None) -> Curves:
    """Region perturbation curves of Samek et al. (2017), eq. 11:

        x^(0) = x,   x^(k) = g(x^(k-1), r_k)  for 1 <= k <= L,

    returned as f(x^(k)), k = 0..L (``steps`` = L), for every image and repeat.

    The image is tiled into non-overlapping ``region`` x ``region`` squares on a grid (centred;
    the H mod region, W mod region border pixels are never replaced); each square's score is
    the sum of its channel-pooled relevance h_p (``channel_reduce``: "sum", or the sensitivity
    norms "l2"/"linf" of eq. 3, or "abs"). ``order``: "morf" (most relevant first, eq. 10),
    "lerf" (least relevant first) or "random" (a fresh random order per repeat: the baseline).
    Ties are broken by a random order drawn from ``seed`` (the same for all repeats).

    g replaces all pixels of r_k by ``perturbation``:
      "uniform"  uniform noise in ``value_range`` (default: each image's [min, max]), as in the
                 paper (Sec. IV-A: 9x9 regions, 100 steps, 10 repeats);
      "mean"     the image's per-channel mean (pass an array, e.g. the training mean, to fill
                 with it instead, as Kohlbrenner et al.'s occlusion);
      "zero"     0;  a number: that constant;  an array broadcastable to (H, W, C): its values;
      "blur"     the same pixels of x blurred by a Gaussian of std ``blur_sigma`` (region / 2);
      callable   ``fn(x)`` or ``fn(x, seeds)`` on a (P, H, W, C) tf batch (``seeds``: (P, 2)
                 int64 for ``tf.random.stateless_*``) returning replacement images.
    Replacement values are drawn once per (image, repeat), so the recursion equals
    x^(k) = x outside r_1..r_k and g's values inside.

    ``y``: the explained class (None: the predicted class; int or one int per image).
    ``output``: "logit" (pre-softmax) or "probability". ``seed``: the same seed gives the same
    numbers, independent of ``batch_size``; the random streams are keyed by (seed, image id,
    repeat) with ``image_ids`` (default 0..N-1): pass the images' indices in the data set and
    shards give the same numbers as one call. ``batch_size``: perturbed images per model call
    (bounds peak memory; default about 2**22 input floats). ``jit_compile``: XLA, default per
    device kind (:data:`JIT_DEFAULT`; on CPU off: measured 1.7-4.5x slower with XLA).
    Returns :class:`Curves` with ``values`` of shape (N, repeats, steps + 1).
    """
    x, R, perturbation, value_range = _check_common(
        model, x, R, order, perturbation, repeats, channel_reduce, output, seed, batch_size,
        value_range, blur_sigma)
    n, h, w, _ = x.shape
    check_in_range("region", region, 1, integer=True)
    if region > min(h, w):
        raise ValueError(f"region={region} is larger than the {h}x{w} image; use "
                         f"region <= {min(h, w)}.")
    gh, gw, _, _ = _grid(h, w, region)
    check_in_range("steps", steps, 1, integer=True)
    if steps > gh * gw:
        raise ValueError(
            f"steps={steps} is more than the {gh * gw} regions of a {h}x{w} image with "
            f"region={region}; use steps <= {gh * gw} or a smaller region.")
    y = resolve_neuron_selection(y, n, model_num_classes(model))
    ks = np.arange(steps + 1)
    values, y = _run(model, x, R, y, ks, region, order, perturbation, repeats, channel_reduce,
                     output, seed, batch_size, jit_compile, value_range, blur_sigma, progress,
                     _check_ids(image_ids, n))
    settings = dict(region=region, order=order, repeats=repeats, channel_reduce=channel_reduce,
                    output=output, seed=seed, value_range=value_range,
                    perturbation=perturbation if isinstance(perturbation, str) else (
                        getattr(perturbation, "__name__", "callable") if callable(perturbation)
                        else "fill"))
    return Curves(values=values, y=y, steps=ks, fraction=ks * region * region / (h * w),
                  settings=settings)


def _check_ids(image_ids, n):
    if image_ids is None:
        return None
    ids = np.asarray(image_ids)
    if ids.shape != (n,) or not np.issubdtype(ids.dtype, np.integer) or np.any(ids < 0) or \
            len(np.unique(ids)) != n:
        raise ValueError(f"image_ids must be {n} distinct non-negative ints (the images' indices "
                         f"in the data set), got shape {ids.shape} and dtype {ids.dtype}.")
    return ids.astype(np.int64)


def _check_curves(curves, name="curves"):
    if not isinstance(curves, Curves):
        raise TypeError(f"{name} must be the Curves returned by perturbation_curve, got "
                        f"{type(curves).__name__}.")
    if not np.array_equal(curves.steps, np.arange(len(curves.steps))):
        raise ValueError(f"{name} do not hold every step 0..L; AOPC (eq. 12) needs the whole "
                         "curve from perturbation_curve.")


def aopc_curve(curves: Curves, relative_to: Curves | None = None) -> np.ndarray:
    """AOPC as a function of the number of steps L (Samek et al., eq. 12, and Fig. 4):

        AOPC(L) = 1/(L+1) * sum_{k=0}^{L} f(x^(0)) - f(x^(k)),

    averaged over repeats, for L = 0..steps; shape (N, steps + 1). With ``relative_to`` (the
    random-order curves of the same images) the random baseline's AOPC(L) is subtracted.
    """
    _check_curves(curves)
    d = curves.drop.mean(axis=1).astype(np.float64)               # (N, L+1)
    a = np.cumsum(d, axis=1) / np.arange(1, d.shape[1] + 1)
    if relative_to is not None:
        _check_curves(relative_to, "relative_to")
        if relative_to.values.shape[0] != curves.values.shape[0] or len(relative_to.steps) != len(
                curves.steps):
            raise ValueError(
                f"relative_to has {relative_to.values.shape[0]} images and "
                f"{len(relative_to.steps) - 1} steps, curves {curves.values.shape[0]} and "
                f"{len(curves.steps) - 1}; compute both with the same images and steps.")
        if not np.array_equal(relative_to.y, curves.y):
            raise ValueError("relative_to explains other classes than curves; pass the same y.")
        a = a - aopc_curve(relative_to)
    return a


def aopc(curves: Curves, relative_to: Curves | None = None) -> np.ndarray:
    """Samek et al., eq. 12, per image: 1/(L+1) sum_{k=0}^{L} f(x^(0)) - f(x^(k)), averaged
    over repeats; shape (N,), whose mean is the paper's <.>_{p(x)}. ``relative_to``: subtract
    the AOPC of these (random-order) curves, as in Fig. 4."""
    return aopc_curve(curves, relative_to)[:, -1]


def confidence_drop(model, x, R, fractions=(.05, .1, .2, .3, .4, .5, .75),
                    perturbation="uniform", control: str | None = "random", y=None,
                    repeats: int = 10, channel_reduce: str = "sum", output: str = "probability",
                    seed: int = 0, batch_size: int | None = None,
                    jit_compile: bool | None = None, value_range=None,
                    progress: bool | None = None, image_ids=None) -> dict:
    """Amorim et al., eq. 3: Drop(k) = f(x^(0)) - f(x^(k)), x^(k) being x with its k % most
    relevant pixels (channel-pooled ``R``) replaced by ``perturbation`` (default: a uniform
    random value per pixel and channel in the image's range, Sec. III-C), for k in
    ``fractions``; ``control="random"``: the same with k % random pixels. f is the
    confidence (``output="probability"``) of the class ``y`` (None: predicted).
    ``R=None``: the control alone (it does not depend on any heatmap, so a comparison of
    several methods on the same images needs it once).

    Returns a dict of numpy arrays: "fractions" (F,), "pixels" (F,) number of pixels replaced,
    "drop" (N, F) (unless ``R`` is None) and, with a control, "control" (N, F) -- both
    averaged over ``repeats`` draws of the noise -- and "y" (N,). ``seed``, ``image_ids``: as
    in :func:`perturbation_curve`.
    """
    if control not in ("random", None):
        raise ValueError(f"control={control!r} is not supported; use 'random' or None.")
    heatmap_free = R is None
    if heatmap_free and control is None:
        raise ValueError("R=None computes only the random-pixel control; give heatmaps R, or "
                         "keep control='random'.")
    x, R, perturbation, value_range = _check_common(
        model, x, np.zeros(np.shape(x), np.float32) if heatmap_free else R, "morf",
        perturbation, repeats, channel_reduce, output, seed, batch_size, value_range, None)
    fr = np.asarray(fractions, dtype=np.float64).reshape(-1)
    if fr.size == 0 or np.any(~np.isfinite(fr)) or np.any(fr <= 0) or np.any(fr > 1):
        raise ValueError(f"fractions={fractions!r} must be numbers in (0, 1], e.g. (.05, .1, .5).")
    n, h, w, _ = x.shape
    y = resolve_neuron_selection(y, n, model_num_classes(model))
    pixels = np.maximum(1, np.round(fr * h * w)).astype(np.int64)
    ks = np.concatenate([[0], pixels])
    out = {"fractions": fr, "pixels": pixels}
    common = dict(perturbation=perturbation, repeats=repeats, channel_reduce=channel_reduce,
                  output=output, seed=seed, batch_size=batch_size, jit_compile=jit_compile,
                  value_range=value_range, blur_sigma=None, progress=progress,
                  image_ids=_check_ids(image_ids, len(x)))
    if not heatmap_free:
        v, y = _run(model, x, R, y, ks, 1, "morf", **common)
        out["drop"] = (v[..., :1] - v[..., 1:]).mean(axis=1)
    if control == "random":
        v, y = _run(model, x, R, y, ks, 1, "random", **common)
        out["control"] = (v[..., :1] - v[..., 1:]).mean(axis=1)
    out["y"] = y
    return out
