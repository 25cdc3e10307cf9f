"""Throughput of xb.evaluate.perturbation_curve, measured side by side in one run.

    .venv/bin/python benchmarks/evaluate_throughput.py            # ratios + peak memory
    .venv/bin/python benchmarks/evaluate_throughput.py --jit      # also XLA on vs off

Prints, for the demo CNN (zoo.mnist_cnn, 28x28) and VGG-16 (random weights, 224x224):
  * perturbed images per second of perturbation_curve / plain model.predict throughput on the
    same number of images (target >= 0.8);
  * the speed ratio against Quantus 0.6.0 RegionPerturbation on identical inputs and settings
    (constant fill, patch = region, logits; target >= 10x on the demo CNN);
  * peak resident memory of a fresh process evaluating 100 and 1000 images (bounded by
    batch_size, so it should not grow with N).
Run on an otherwise idle machine; the numbers are for the CPU it runs on.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import xaibench as xb  # noqa: E402


def side_by_side(fns: dict, repeat: int) -> dict:
    """Best time of each function, run round-robin ``repeat`` times (after one warm-up call
    each), so that a change in machine load hits all of them alike."""
    for fn in fns.values():
        fn()
    best = {name: np.inf for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t)
    return best


def compare(model, x, R, jits, batch_size, repeat, **setting):
    """Plain model.predict vs perturbation_curve on the same number of images."""
    n_img = len(x) * setting["repeats"] * (setting["steps"] + 1)
    big = np.resize(x, (n_img,) + x.shape[1:])
    fns = {"predict": lambda: model.predict(big, batch_size=batch_size, verbose=0)}
    for jit in jits:
        kw = dict(setting, batch_size=batch_size, jit_compile=jit, output="logit")
        fns[f"curve jit={jit}"] = (lambda kw=kw: xb.evaluate.perturbation_curve(model, x, R, **kw))
    t = side_by_side(fns, repeat)
    print(f"  model.predict            : {n_img / t['predict']:9.2f} images/s ({t['predict']:.2f} s)")
    for jit in jits:
        tc = t[f"curve jit={jit}"]
        print(f"  perturbation_curve jit={jit!s:5}: {n_img / tc:9.2f} images/s ({tc:.2f} s)  "
              f"ratio to predict = {t['predict'] / tc:.2f}")



def quantus_run(model, x, R, y, region, steps, fill):
    import quantus
    metric = quantus.RegionPerturbation(patch_size=region, regions_evaluation=steps, order="morf",
                                        perturb_baseline=fill, normalise=False, abs=False,
                                        disable_warnings=True)
    # Quantus moves x to channels-first; a_batch must match
    return metric(model=model, x_batch=x, y_batch=y, a_batch=R.transpose(0, 3, 1, 2),
                  softmax=False, channel_first=False, batch_size=len(x))


def memory_child(n, region, steps, repeats):
    """Peak RSS (MB) of a process that evaluates n demo-CNN images."""
    model = xb.zoo.mnist_cnn()
    rng = np.random.default_rng(0)
    x = rng.random((n, 28, 28, 1), dtype=np.float32)
    R = rng.normal(size=x.shape).astype(np.float32)
    xb.evaluate.perturbation_curve(model, x, R, region=region, steps=steps, repeats=repeats,
                                   batch_size=256)
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across fork/exec (the parent's peak)
    with open("/proc/self/status") as f:
        hwm = [line for line in f if line.startswith("VmHWM:")]
    if hwm:
        return int(hwm[0].split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jit", action="store_true", help="also measure jit_compile on vs off")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--no-vgg", action="store_true")
    args = ap.parse_args()
    if args.memory_child:
        print(json.dumps({"peak_mb": memory_child(args.memory_child, 4, 20, 2)}))
        return
    warnings.filterwarnings("ignore")
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPU cores, "
          f"default jit_compile={xb.evaluate.faithfulness.default_jit_compile()}")
    rng = np.random.default_rng(0)
    jits = (False, True) if args.jit else (None,)

    # ---- demo CNN, Samek's protocol scaled to 28x28: region 2, 100 steps, 10 repeats ----
    model = xb.zoo.mnist_cnn()
    x = rng.random((16, 28, 28, 1), dtype=np.float32)
    R = rng.normal(size=x.shape).astype(np.float32)
    bs = 512
    print(f"\n[demo CNN 28x28] {len(x)} images x 10 repeats x 101 steps = {len(x) * 1010} "
          f"perturbed images, region 2, uniform noise, batch_size={bs}")
    compare(model, x, R, jits, bs, 5, region=2, steps=100, repeats=10, perturbation="uniform")

    # ---- Quantus RegionPerturbation on identical inputs / settings ----
    region, steps, fill = 4, 48, 0.0
    y = np.argmax(model.predict(x, verbose=0), axis=1)
    fns = {"quantus": lambda: quantus_run(model, x, R, y, region, steps, fill)}
    for jit in jits:
        kw = dict(region=region, steps=steps, repeats=1, perturbation=fill, y=y, output="logit",
                  batch_size=bs, jit_compile=jit)
        fns[f"xaibench jit={jit}"] = (lambda kw=kw: xb.evaluate.perturbation_curve(model, x, R, **kw))
    big = np.resize(x, (len(x) * steps,) + x.shape[1:])
    fns["predict"] = lambda: model.predict(big, batch_size=bs, verbose=0)
    t = side_by_side(fns, 3)
    print(f"  vs Quantus RegionPerturbation (patch {region}, {steps} regions, fill {fill}, logits, "
          f"{len(x)} images): Quantus {t['quantus']:.3f} s")
    for jit in jits:
        tx = t[f"xaibench jit={jit}"]
        print(f"    xaibench jit={jit!s:5} {tx:.3f} s: speed-up = {t['quantus'] / tx:.1f}x")
    print(f"  Quantus throughput = {t['predict'] / t['quantus']:.3f} of plain predict "
          f"({len(x) * steps} images)")

    # ---- VGG-16 at 224x224 (random weights) ----
    if not args.no_vgg:
        vgg = xb.zoo.vgg16(weights=None)
        xv = rng.random((1, 224, 224, 3), dtype=np.float32) * 255 - 128
        Rv = rng.normal(size=xv.shape).astype(np.float32)
        bsv = 16
        print(f"\n[VGG-16 224x224] 1 image x 2 repeats x 16 steps = 32 perturbed images, "
              f"region 9, uniform noise, batch_size={bsv}")
        compare(vgg, xv, Rv, jits, bsv, 2, region=9, steps=15, repeats=2, perturbation="uniform")

    # ---- peak memory: fresh processes, 100 vs 1000 images ----
    print("\n[peak memory] demo CNN, region 4, 20 steps, 2 repeats, batch_size 256")
    for n in (100, 1000):
        out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", str(n)],
                             capture_output=True, text=True, check=True)
        peak = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
        print(f"  {n:5d} images: peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
