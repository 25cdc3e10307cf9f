"""Time and peak memory of ``fit`` of pattern.attribution (PatternNet statistics).

Each setting runs in a fresh subprocess (so ``ru_maxrss`` is that setting's own
high-water mark). Reported per setting:

* ``fit_s``: wall time of ``an.fit(x)`` (one pass, streaming float64 statistics;
  includes tracing the ``tf.function``),
* ``one_batch_fit_s``: wall time of a ``fit`` on a single batch (tracing + one batch),
  measured after the peak memory was read,
* ``py_peak_MB``: tracemalloc peak of Python/numpy allocations during ``fit``,
* ``rss_before_MB``: resident memory after TensorFlow, the model and the images are loaded,
* ``rss_peak_MB``: the process's peak resident memory (``ru_maxrss``),
* ``fit_extra_MB``: ``rss_peak - rss_before``, what ``fit`` adds on top.

If ``fit_extra_MB`` stays flat while the number of images grows, memory does not
depend on the number of images. Random weights and random images (nothing is downloaded).

    .venv/bin/python benchmarks/pattern_fit.py            # all settings
    .venv/bin/python benchmarks/pattern_fit.py --quick    # mnist_cnn only
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SETTINGS = [
    # model, number of images, batch size
    ("mnist_cnn", 1000, 64),
    ("mnist_cnn", 5000, 64),
    ("vgg16", 8, 8),
    ("vgg16", 32, 8),
]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def run_one(model_name: str, n: int, batch_size: int, pattern_type: str) -> dict:
    import resource
    import time
    import tracemalloc

    import numpy as np
    import tensorflow as tf

    import xaibench as xb

    tf.keras.utils.set_random_seed(0)
    model = xb.zoo.mnist_cnn() if model_name == "mnist_cnn" else xb.zoo.vgg16(weights=None)
    shape = model.input_shape[1:]
    rng = np.random.default_rng(0)
    x = rng.random((n,) + tuple(shape), dtype=np.float32)
    if model_name == "vgg16":
        x = x * 255.0 - 120.0   # roughly the caffe-style preprocessed range
    an = xb.create_analyzer("pattern.attribution", model, pattern_type=pattern_type)
    rss_before = _rss_mb()
    tracemalloc.start()
    t0 = time.perf_counter()
    an.fit(x, batch_size=batch_size)
    fit_s = time.perf_counter() - t0
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # kB on Linux
    finite = all(np.isfinite(p).all() for p in an.get_patterns())
    t0 = time.perf_counter()   # after the peak was read: fit on one batch = tracing + one batch
    xb.create_analyzer("pattern.attribution", model, pattern_type=pattern_type).fit(
        x[:batch_size], batch_size=batch_size)
    one_batch_s = time.perf_counter() - t0
    return dict(model=model_name, images=n, batch_size=batch_size, pattern_type=pattern_type,
                fit_s=round(fit_s, 2), one_batch_fit_s=round(one_batch_s, 2),
                py_peak_MB=round(py_peak / 2**20, 1), rss_before_MB=round(rss_before, 1),
                rss_peak_MB=round(rss_peak, 1), fit_extra_MB=round(rss_peak - rss_before, 1),
                patterns_finite=bool(finite))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="mnist_cnn settings only")
    parser.add_argument("--pattern-type", default="relu", choices=("relu", "linear"))
    parser.add_argument("--one", nargs=3, metavar=("MODEL", "N", "BATCH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        model, n, bs = args.one
        print(json.dumps(run_one(model, int(n), int(bs), args.pattern_type)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    settings = [s for s in SETTINGS if not args.quick or s[0] == "mnist_cnn"]
    cols = ("model", "images", "batch_size", "fit_s", "one_batch_fit_s", "py_peak_MB",
            "rss_before_MB", "rss_peak_MB", "fit_extra_MB")
    print(f"pattern.attribution fit, pattern_type={args.pattern_type}, "
          f"{os.cpu_count()} CPU(s), one fresh process per row")
    print("  ".join(f"{c:>13}" for c in cols))
    for model, n, bs in settings:
        out = subprocess.run([sys.executable, __file__, "--one", model, str(n), str(bs),
                              "--pattern-type", args.pattern_type],
                             capture_output=True, text=True, env=env)
        if out.returncode != 0:
            print(f"{model} n={n}: failed\n{out.stderr[-2000:]}")
            continue
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print("  ".join(f"{row[c]!s:>13}" for c in cols))


if __name__ == "__main__":
    main()
