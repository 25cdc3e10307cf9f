"""Shared machinery of the perturbation explainers: the explained score, the
batched ``tf.function`` that builds perturbed copies on the device and scores
them, counter-based noise, sliding windows and parameter checks.

Every method describes its perturbed copies as *jobs* (one small record per
copy: image index, window position, region, sample number...).  The kernel
gathers the images of a chunk of ``batch_size`` jobs, perturbs them inside the
traced function and evaluates the model once per chunk, so copies of several
images share a model call.  Noise is a pure function of ``(seed, copy id,
element)`` (a 32-bit integer hash and Box-Muller), so the numbers do not depend
on ``batch_size`` or on which other images are explained in the same call.

The perturbation itself (gathers, masks, noise, the select) is always compiled
with XLA, which fuses it into one pass over the batch: TensorFlow's own select
with a channel-broadcast mask cost as much as a small CNN's forward pass (rmpd on
the 48x48 demo CNN: 5.4 ms per batch of 256 against 0.8 ms fused).  The model
runs on TensorFlow's kernels unless ``jit_compile=True`` (XLA compiles the whole
step; on a CPU that was 2.6-3.2x slower for the MNIST CNN, batch 256, 2 cores).
"""
from __future__ import annotations

import functools
import math
import time

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from xaibench._checks import check_in_range, model_input_shape
from xaibench._keras import input_shape
from xaibench._progress import inner_enabled
from xaibench.prepare import output_head

OUTPUTS = ("probability", "logit")
PROGRESS_MIN_CALLS = 100   #: show a progress bar from this many model calls on
_MASK32 = 0xFFFFFFFF


# --------------------------------------------------------------------------- parameters

def check_output(output) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output={output!r} is not understood; use 'probability' (softmax "
                         "of the logits) or 'logit' (pre-softmax score).")
    return output


def check_seed(seed) -> int:
    return int(check_in_range("seed", seed, 0, 2**31 - 1, integer=True))


def check_batch_size(batch_size) -> int:
    return int(check_in_range("batch_size", batch_size, 1, integer=True))


def check_fill(fill, allowed=("mean",)) -> object:
    """A fill value: a finite number or one of the named strategies ``allowed``."""
    if isinstance(fill, str):
        if fill not in allowed:
            raise ValueError(f"fill={fill!r} is not understood; use a number or one of "
                             f"{', '.join(map(repr, allowed))}.")
        return fill
    return float(check_in_range("fill", fill))


def image_size(model, x=None) -> tuple:
    """``(H, W)`` of the images: from ``x`` when given, else from the model (may hold None)."""
    if x is not None:
        return tuple(x.shape[1:3])
    shape = input_shape(model)
    shape = shape[0] if isinstance(shape, list) else shape
    return tuple(shape[1:3]) if len(shape) in (3, 4) else (None, None)


# --------------------------------------------------------------------------- scores

def score_function(model, output: str):
    """``f(x) -> (B, K)``: class probabilities or logits of ``model``.

    A model that already ends in a softmax is not softmaxed twice: its output
    *is* the probability, and its logits come from :func:`xaibench.prepare.logits_model`.
    """
    net, apply_softmax = output_head(model, output)
    if apply_softmax:
        return lambda x: tf.nn.softmax(net(x, training=False), axis=-1)
    return lambda x: net(x, training=False)


# --------------------------------------------------------------------------- noise

def _hash32(v):
    """``lowbias32`` integer hash of int64 values in ``[0, 2^32)`` (wraps mod 2^32)."""
    v = tf.bitwise.bitwise_xor(v, tf.bitwise.right_shift(v, 16))
    v = tf.bitwise.bitwise_and(v * 0x7FEB352D, _MASK32)
    v = tf.bitwise.bitwise_xor(v, tf.bitwise.right_shift(v, 15))
    v = tf.bitwise.bitwise_and(v * 0x846CA68B, _MASK32)
    return tf.bitwise.bitwise_xor(v, tf.bitwise.right_shift(v, 16))


def normal_noise(seed, copy_ids, shape):
    """Standard normal noise of shape ``(B,) + shape``, a pure function of
    ``(seed, copy id, element index)`` (hash-based uniforms, Box-Muller).

    ``copy_ids``: int tensor ``(B,)``. Usable inside and outside ``tf.function``.
    """
    shape = tf.cast(shape, tf.int32)
    n = tf.cast(tf.reduce_prod(shape), tf.int64)
    copy_ids = tf.cast(copy_ids, tf.int64)
    key = _hash32(tf.bitwise.bitwise_xor(_hash32(tf.constant(seed, tf.int64) + 0x3C6EF372),
                                         tf.bitwise.bitwise_and(copy_ids, _MASK32)))
    key = _hash32(tf.bitwise.bitwise_xor(key, tf.bitwise.right_shift(copy_ids, 32)))
    elem = tf.range(n, dtype=tf.int64)[None, :]
    h1 = _hash32(tf.bitwise.bitwise_xor(_hash32(2 * elem), key[:, None]))
    h2 = _hash32(tf.bitwise.bitwise_xor(_hash32(2 * elem + 1), key[:, None]))
    u1 = (tf.cast(h1, tf.float32) + 0.5) / 4294967296.0
    u2 = (tf.cast(h2, tf.float32) + 0.5) / 4294967296.0
    z = tf.sqrt(-2.0 * tf.math.log(u1)) * tf.cos(2.0 * math.pi * u2)
    return tf.reshape(z, tf.concat([tf.shape(copy_ids), shape], 0))


# --------------------------------------------------------------------------- windows

def window_starts(size: int, k: int, stride: int) -> np.ndarray:
    """Start offsets ``0, stride, 2 stride, ...`` of a window of ``k`` pixels,
    plus ``size - k`` so that the last pixels are covered too."""
    starts = list(range(0, size - k + 1, stride))
    if starts[-1] != size - k:
        starts.append(size - k)
    return np.asarray(starts, dtype=np.int32)


def window_mask(rows, cols, kh: int, kw: int, height: int, width: int):
    """Boolean ``(B, H, W)`` masks of the ``kh x kw`` windows at ``(rows, cols)``."""
    h = tf.range(height)[None, :, None]
    w = tf.range(width)[None, None, :]
    r = tf.cast(rows, tf.int32)[:, None, None]
    c = tf.cast(cols, tf.int32)[:, None, None]
    return (h >= r) & (h < r + kh) & (w >= c) & (w < c + kw)


def spread_windows(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, kh: int, kw: int,
                   height: int, width: int) -> np.ndarray:
    """Each window's value spread over its pixels, averaged by the number of
    windows covering a pixel (``s = s / c``, Seo Alg. 2 line 16). ``values`` is
    ``(len(rows), len(cols))``; returns ``(H, W)``."""
    acc = np.zeros((height, width), np.float64)
    cnt = np.zeros((height, width), np.float64)
    for di in range(kh):
        for dj in range(kw):
            idx = np.ix_(rows + di, cols + dj)
            acc[idx] += values
            cnt[idx] += 1.0
    return np.where(cnt > 0, acc / np.maximum(cnt, 1.0), 0.0)


# --------------------------------------------------------------------------- the kernel

@functools.lru_cache(maxsize=None)
def xla_available() -> bool:
    """Whether XLA compiles on the default device (not on every TensorFlow build,
    e.g. some Apple Metal set-ups); without it the perturbation runs unfused."""
    try:
        tf.function(lambda v: v + 1.0, jit_compile=True)(tf.zeros(1)).numpy()
        return True
    except (tf.errors.OpError, NotImplementedError, ValueError):
        return False


class PerturbationKernel:
    """Scores perturbed copies in chunks of ``batch_size`` with one traced function.

    ``perturb(images, aux, jobs) -> (B, H, W, C)`` builds the copies on the
    device; ``images`` is the stack of explained images, ``aux`` a dict of
    per-method tensors (fill images, segment maps, ...), ``jobs`` a dict of
    ``(B,)`` int tensors with at least ``"img"``.  ``stats`` records the model
    images and wall time of the last run.
    """

    def __init__(self, model, output: str, batch_size: int, perturb, jit_compile: bool = False):
        self.score = score_function(model, output)
        self.batch_size = batch_size
        # compiled per concrete input shape (tens of ms); shapes repeat across chunks
        self._perturb = tf.function(perturb, jit_compile=True, autograph=False) \
            if xla_available() else perturb
        self._jit = jit_compile
        self._steps = {}    # one traced function per argument structure (shapes relaxed)
        self._cleans = {}
        self.stats = {}

    @staticmethod
    def _spec(t: tf.Tensor) -> tf.TensorSpec:
        """The tensor's spec with its leading (batch / job) axis left open."""
        shape = t.shape.as_list()
        return tf.TensorSpec([None] + shape[1:] if shape else [], t.dtype)

    def _traced(self, images, aux, jobs, targets):
        sig = (self._spec(images), {k: self._spec(v) for k, v in aux.items()},
               {k: self._spec(v) for k, v in jobs.items()}, self._spec(targets))
        key = repr(sig)
        if key not in self._steps:
            # a partial, not a method: TF's retracing detector counts traces per code
            # object, and each analyzer legitimately traces its own kernel once
            self._steps[key] = tf.function(functools.partial(PerturbationKernel._step_impl, self),
                                           input_signature=sig, jit_compile=self._jit,
                                           autograph=False)
        return self._steps[key]

    def _clean_impl(self, x):
        return self.score(x)

    def _step_impl(self, images, aux, jobs, targets):
        xb = self._perturb(images, aux, jobs)
        s = self.score(xb)
        t = tf.gather(targets, jobs["img"])
        return tf.gather(s, t, axis=1, batch_dims=1)

    def clean_scores(self, x: np.ndarray) -> np.ndarray:
        """All class scores of the unperturbed images ``(N, K)``, ``batch_size`` at a time."""
        t0 = time.perf_counter()
        key = x.shape[1:]
        if key not in self._cleans:
            self._cleans[key] = tf.function(
                functools.partial(PerturbationKernel._clean_impl, self), input_signature=[
                    tf.TensorSpec((None,) + key, tf.float32)],
                jit_compile=self._jit, autograph=False)
        clean = self._cleans[key]
        out = [clean(tf.constant(x[i:i + self.batch_size]))
               for i in range(0, len(x), self.batch_size)]
        self.stats = {"model_images": len(x), "model_calls": len(out),
                      "model_seconds": time.perf_counter() - t0}
        return np.concatenate([o.numpy() for o in out]).astype(np.float64)

    def run(self, images: np.ndarray, aux: dict, jobs: dict, targets: np.ndarray) -> np.ndarray:
        """The explained score of every job's copy, ``(num_jobs,)`` float64."""
        t0 = time.perf_counter()
        n = len(jobs["img"])
        images = tf.constant(images, tf.float32)
        aux = {k: tf.constant(v) for k, v in aux.items()}
        targets = tf.constant(np.asarray(targets, np.int64))
        jobs = {k: tf.constant(np.asarray(v)) for k, v in jobs.items()}
        step = self._traced(images, aux, jobs, targets)
        out, calls = [], 0
        chunks = range(0, n, self.batch_size)
        for i in tqdm(chunks, desc="perturbed copies", unit="batch", leave=False,
                      disable=len(chunks) < PROGRESS_MIN_CALLS or not inner_enabled()):
            chunk = {k: v[i:i + self.batch_size] for k, v in jobs.items()}
            out.append(step(images, aux, chunk, targets))
            calls += 1
        res = np.concatenate([o.numpy() for o in out]) if out else np.zeros(0)
        st = self.stats
        st["model_images"] = st.get("model_images", 0) + n
        st["model_calls"] = st.get("model_calls", 0) + calls
        st["model_seconds"] = st.get("model_seconds", 0.0) + time.perf_counter() - t0
        return res.astype(np.float64)


def targets_from(clean: np.ndarray, neuron_selection) -> np.ndarray:
    """The explained class per image: the selection, or the top-scoring class."""
    if neuron_selection is None:
        return np.argmax(clean, axis=1).astype(np.int64)
    return np.asarray(neuron_selection, np.int64)


def broadcast_channels(maps: np.ndarray, channels: int) -> np.ndarray:
    """``(N, H, W)`` maps repeated over the channel axis -> ``(N, H, W, C)`` float32."""
    return np.repeat(maps[..., None], channels, axis=-1).astype(np.float32)


# --------------------------------------------------------------------------- analyzer base

class PerturbationAnalyzer:
    """Mixin of the common parameters ``output``, ``batch_size``, ``seed``,
    ``jit_compile`` and of the kernel; subclasses define ``_perturb``."""

    default_output = "probability"
    needs_channels = True       # (N, H, W) grey images are explained as (N, H, W, 1)

    def _setup(self, model, output, batch_size, seed, jit_compile):
        if len(model_input_shape(model)) not in (2, 3):
            dims = ", ".join(map(str, model_input_shape(model)))
            raise ValueError(
                f"{type(self).__name__} perturbs image regions: it needs a model "
                f"of images (N, H, W, C) or (N, H, W); model {model.name!r} takes (N, {dims}). "
                "Reshape inside the model (an image Input, then Flatten) or use a "
                "gradient-family analyzer.")
        self.output = check_output(self.default_output if output is None else output)
        self.batch_size = check_batch_size(batch_size)
        self.seed = check_seed(seed)
        if not isinstance(jit_compile, bool):
            raise TypeError(f"jit_compile must be True or False, got {jit_compile!r}.")
        self.kernel = PerturbationKernel(model, self.output, self.batch_size, self._perturb,
                                         jit_compile=jit_compile)

    @property
    def stats(self) -> dict:
        """Model images, model calls and seconds of the last ``analyze`` call
        (``model_seconds``: the batched model loop; ``prepare_seconds``: segmentation etc.)."""
        return dict(self.kernel.stats)
