"""Resident memory of native analyzers kept alive on one model, in a fresh process.

    .venv/bin/python benchmarks/native_memory.py                  # ten analyzers on VGG-16
    .venv/bin/python benchmarks/native_memory.py --count 3 --images 1
    .venv/bin/python benchmarks/native_memory.py --model mnist --names lrp.epsilon,lrp.z

Steps, each followed by a reading of the process's RSS (VmRSS of /proc/self/status,
psutil where /proc is missing): import xaibench; build the model (``weights=None``);
one ``model.predict`` (the baseline: the process with its model and a warm TF
runtime); create the analyzers one by one; call each once on the same images.

Target: the analyzers, created and called once, add <= 10 % to the baseline RSS
(the memory of the process with the model in it). The added memory is also given
per analyzer and against the model's weights. With fewer than ten analyzers
(``--count``), ten is extrapolated linearly and printed as such. The run stops
early, and says so, when the machine's MemAvailable falls below
``--min-available-gb`` (every LRP analyzer may hold its own prepared copy of the
weights). ``analyzer_overhead.py`` runs this script as its memory part and reads
the last line (``JSON {...}``).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

#: ten analyzers of the native engine: the five of analyzer_overhead.py first
NAMES = ("lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.sequential_preset_a_flat", "deep_taylor",
         "guided_backprop", "lrp.z", "lrp.alpha_1_beta_0", "lrp.sequential_preset_b_flat",
         "deconvnet", "gradient")
TARGET = 0.10
MIB = 1024 * 1024


def _status_kib(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mib() -> float:
    """Resident set size of this process in MiB."""
    kib = _status_kib("VmRSS")
    if kib is not None:
        return kib / 1024
    import psutil  # pragma: no cover - only where /proc is missing

    return psutil.Process().memory_info().rss / MIB


def peak_mib() -> float | None:
    kib = _status_kib("VmHWM")
    return None if kib is None else kib / 1024


def available_gib() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) / 1024 / 1024
    except OSError:
        return None
    return None


def build(model_key: str, n: int):
    import numpy as np
    import tensorflow as tf

    import xaibench as xb

    tf.keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    if model_key == "vgg16":
        model, shape, lo, hi = xb.zoo.vgg16(weights=None), (224, 224, 3), -120.0, 120.0
    elif model_key == "mnist":
        model, shape, lo, hi = xb.zoo.mnist_cnn(), (28, 28, 1), 0.0, 1.0
    else:
        raise SystemExit(f"--model must be vgg16 or mnist, not {model_key!r}")
    x = rng.uniform(lo, hi, (n,) + shape).astype("float32")
    y = rng.integers(0, model.output_shape[-1], n)
    return model, x, y


def measure(model_key: str, names, images: int, min_available_gb: float) -> dict:
    readings = {"start": rss_mib()}
    import numpy as np
    import tensorflow as tf

    import xaibench as xb

    readings["import"] = rss_mib()
    model, x, y = build(model_key, images)
    gc.collect()
    readings["model"] = rss_mib()
    model.predict(x, verbose=0)
    gc.collect()
    base = readings["baseline"] = rss_mib()
    weights_mib = sum(int(np.prod(w.shape)) * tf.as_dtype(w.dtype).size
                      for w in model.weights) / MIB

    alive, rows, stopped = [], [], None
    for name in names:
        avail = available_gib()
        if avail is not None and avail < min_available_gb:
            stopped = f"MemAvailable {avail:.1f} GiB < {min_available_gb} GiB before {name}"
            break
        alive.append(xb.create_analyzer(name, model))
        gc.collect()
        rows.append({"name": name, "created": rss_mib()})
    readings["created"] = rss_mib()
    for row, an in zip(rows, alive):
        an.analyze(x, neuron_selection=y)
        gc.collect()
        row["called"] = rss_mib()
    readings["called"] = rss_mib()
    k = len(alive)
    result = {
        "model": model_key, "images": images, "analyzers": [r["name"] for r in rows],
        "readings_mib": readings, "rows": rows, "weights_mib": weights_mib,
        "peak_mib": peak_mib(), "stopped": stopped, "count": k,
        "added_created_mib": readings["created"] - base,
        "added_called_mib": readings["called"] - base,
    }
    scale = 10 / k if k else float("nan")
    result["added10_mib"] = result["added_called_mib"] * scale
    result["fraction10"] = result["added10_mib"] / base
    result["extrapolated"] = k != 10
    result["met"] = bool(result["fraction10"] <= TARGET)
    del alive
    return result


def report(r: dict) -> None:
    rd = r["readings_mib"]
    print(f"== Memory: native analyzers alive on {r['model']} (fresh process, RSS in MiB, "
          f"{r['images']} image(s) per call) ==")
    print(f"  after import xaibench        {rd['import']:9.0f}")
    print(f"  after building the model     {rd['model']:9.0f}   (+{rd['model'] - rd['import']:.0f};"
          f" its weights: {r['weights_mib']:.0f} MiB)")
    print(f"  after one predict (baseline) {rd['baseline']:9.0f}")
    print(f"  {'analyzer':<30}{'created':>9}{'+':>8}{'called':>9}{'+':>8}"
          "   (created one by one, then all called once in turn)")
    prev_c, prev_k = rd["baseline"], rd["created"]
    for row in r["rows"]:
        print(f"  {row['name']:<30}{row['created']:9.0f}{row['created'] - prev_c:+8.0f}"
              f"{row['called']:9.0f}{row['called'] - prev_k:+8.0f}")
        prev_c, prev_k = row["created"], row["called"]
    base = rd["baseline"]
    k = r["count"]
    print(f"  {k} analyzers created: +{r['added_created_mib']:.0f} MiB "
          f"({r['added_created_mib'] / base:.1%} of the baseline); created and called once: "
          f"+{r['added_called_mib']:.0f} MiB ({r['added_called_mib'] / base:.1%}); "
          f"{r['added_called_mib'] / max(k, 1):.0f} MiB per analyzer, "
          f"{r['added_called_mib'] / r['weights_mib']:.2f}x the model's weights")
    if r["peak_mib"] is not None:
        print(f"  peak RSS of the process: {r['peak_mib']:.0f} MiB")
    if r["stopped"]:
        print(f"  stopped early: {r['stopped']}")
    label = "ten analyzers (extrapolated linearly from " + str(k) + ")" if r["extrapolated"] \
        else "ten analyzers"
    print(f"  {label}: +{r['added10_mib']:.0f} MiB = {r['fraction10']:.1%} of the process with "
          f"the model (target <= {TARGET:.0%}): {'met' if r['met'] else 'NOT met'}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vgg16", choices=("vgg16", "mnist"))
    parser.add_argument("--count", type=int, default=10, help="first COUNT of the ten names")
    parser.add_argument("--names", default=None, help="comma-separated analyzer names")
    parser.add_argument("--images", type=int, default=1, help="images per call")
    parser.add_argument("--min-available-gb", type=float, default=3.0)
    args = parser.parse_args(argv)
    names = args.names.split(",") if args.names else list(NAMES[:args.count])
    r = measure(args.model, names, args.images, args.min_available_gb)
    report(r)
    print("JSON " + json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
