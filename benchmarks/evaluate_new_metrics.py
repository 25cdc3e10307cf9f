"""Throughput of the newer metrics (ROAD, MPRT cascading, faithfulness correlation),
measured side by side in one run against Quantus 0.6.0 at equal settings and against plain
``model.predict`` on the same number of model inputs.

    .venv/bin/python benchmarks/evaluate_new_metrics.py            # demo CNN + VGG-16
    .venv/bin/python benchmarks/evaluate_new_metrics.py --quick    # smaller n, one repeat
    .venv/bin/python benchmarks/evaluate_new_metrics.py --quick --only road   # ROAD rows only
    .venv/bin/python benchmarks/evaluate_new_metrics.py --only fc,mprt --no-vgg

Models: the demo CNN (zoo.mnist_cnn, 28x28x1, random weights) and VGG-16 (random weights,
224x224x3). Targets: >= 10x Quantus, >= 0.8 of model.predict. For MPRT the model inputs are
analyzer calls (a forward and a backward pass each), so its predict ratio is bounded by the
cost of a gradient (about 1/3) -- printed for completeness. xaibench keeps one copy of the
model and its traced analyzer between MPRT calls; its first call (the copy and one trace) is
timed on its own line. Quantus 0.6.0 ROAD cannot run on
RGB images (its imputation indexes a (C, H*W) array with C*H*W indices): skipped on VGG-16.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402

import xaibench as xb  # noqa: E402
from evaluate_throughput import side_by_side  # noqa: E402  (same folder)


def report(title, t, n_inputs):
    ours = t["xaibench"]
    line = f"  {title:28s} xaibench {ours:7.2f} s"
    if "predict" in t:
        line += f" | predict ({n_inputs} inputs) {t['predict']:6.2f} s, ratio {t['predict'] / ours:5.2f}"
    if "quantus" in t:
        line += f" | Quantus {t['quantus']:7.2f} s, speed-up {t['quantus'] / ours:6.1f}x"
    print(line, flush=True)


def explain_func(model, inputs, targets, **kwargs):
    x = np.asarray(inputs)
    if x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = np.moveaxis(x, 1, -1)
    R = xb.create_analyzer("gradient", model).analyze(x, neuron_selection=np.asarray(targets))
    return np.moveaxis(R.sum(-1, keepdims=True), -1, 1)


def run(name, model, x, args, quantus):
    n, h, w, c = x.shape
    print(f"{name}: n={n}, {h}x{w}x{c}", flush=True)
    y = model.predict(x, verbose=0).argmax(1)
    R = xb.create_analyzer("gradient", model).analyze(x, neuron_selection=y)
    bs = args.batch_size if h < 100 else 8
    if "road" in args.only:
        road(model, x, R, y, bs, args, quantus)
    if "fc" in args.only:
        faithfulness(model, x, R, y, bs, args, quantus)
    if "mprt" in args.only:
        mprt(model, x, y, bs, args, quantus)


def road(model, x, R, y, bs, args, quantus):
    n, h, w, c = x.shape
    pct = [10, 30, 50, 70, 90] if not args.quick else [10, 50, 90]
    # ROAD's model inputs: the N originals (its "original" scores) and N per fraction
    big = np.resize(x, (n * (len(pct) + 1),) + x.shape[1:])
    fns = {"xaibench": lambda: xb.evaluate.road(model, x, R, fractions=np.array(pct) / 100,
                                                  noise=0.01, y=y, batch_size=bs),
           "predict": lambda: model.predict(big, batch_size=bs, verbose=0)}
    if quantus is not None and c == 1:
        metric = quantus.ROAD(percentages=pct, noise=0.01, abs=False, normalise=False,
                              disable_warnings=True)
        fns["quantus"] = lambda: metric(model=model, x_batch=x, y_batch=y,
                                        a_batch=np.moveaxis(R.sum(-1, keepdims=True), -1, 1),
                                        channel_first=False, softmax=False, batch_size=bs)
    elif c != 1:
        print("  (Quantus ROAD skipped: it fails on RGB images, see the module docstring)")
    report(f"ROAD ({len(pct)} fractions)", side_by_side(fns, args.repeat), len(big))


def faithfulness(model, x, R, y, bs, args, quantus):
    n, h, w, c = x.shape
    runs, size = (20, 224) if not args.quick else (10, 224)
    big = np.resize(x, (n * (runs + 1),) + x.shape[1:])
    fns = {"xaibench": lambda: xb.evaluate.faithfulness_correlation(
               model, x, R, y=y, runs=runs, subset_size=size, baseline=0.0, batch_size=bs),
           "predict": lambda: model.predict(big, batch_size=bs, verbose=0)}
    if quantus is not None:
        metric = quantus.FaithfulnessCorrelation(nr_runs=runs, subset_size=size,
                                                 perturb_baseline=0.0, abs=False, normalise=False,
                                                 return_aggregate=False, disable_warnings=True)
        fns["quantus"] = lambda: metric(model=model, x_batch=x, y_batch=y,
                                        a_batch=np.moveaxis(R.sum(-1, keepdims=True), -1, 1),
                                        channel_first=False, softmax=False, batch_size=bs)
    report(f"faithfulness corr. ({runs} runs)", side_by_side(fns, args.repeat), len(big))


def mprt(model, x, y, bs, args, quantus):
    n, h, w, c = x.shape
    if args.quick and h > 100:
        print("  (MPRT on VGG-16 skipped in --quick)")
        return
    from xaibench.evaluate.randomisation import weighted_layers
    n_layers = len(weighted_layers(model))
    big = np.resize(x, (n * (n_layers + 1),) + x.shape[1:])
    fns = {"xaibench": lambda: xb.evaluate.randomisation(
               model, x, "gradient", y=y, order="cascading", similarity=("spearman",),
               randomise="permute", abs=True, normalise=False),
           "predict": lambda: model.predict(big, batch_size=bs, verbose=0)}
    if quantus is not None:
        from quantus.functions.similarity_func import correlation_spearman
        metric = quantus.MPRT(layer_order="top_down", similarity_func=correlation_spearman,
                              abs=True, normalise=False, disable_warnings=True)
        fns["quantus"] = lambda: metric(model=model, x_batch=x, y_batch=y, a_batch=None,
                                        channel_first=False, explain_func=explain_func,
                                        batch_size=bs)
    # the first call on a model also copies it and traces the analyzer once (later calls
    # reuse both): timed alone, so the steady-state rows below are not the whole story
    import time
    from xaibench.evaluate.randomisation import clear_cache
    clear_cache(model)
    t0 = time.perf_counter()
    fns["xaibench"]()
    cold = time.perf_counter() - t0
    t = side_by_side(fns, args.repeat)
    report(f"MPRT cascading ({n_layers} layers)", t, len(big))
    line = f"  {'  first call (copy + trace)':28s} xaibench {cold:7.2f} s"
    if "quantus" in t:
        line += f" | speed-up over Quantus {t['quantus'] / cold:6.1f}x"
    print(line, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small n, one timed repeat")
    p.add_argument("--repeat", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--no-quantus", action="store_true")
    p.add_argument("--only", default="road,fc,mprt",
                   help="comma-separated rows to run: road, fc (faithfulness correlation), mprt")
    p.add_argument("--no-vgg", action="store_true", help="the demo CNN rows only")
    args = p.parse_args()
    args.only = set(args.only.split(","))
    if not args.only <= {"road", "fc", "mprt"}:
        p.error(f"--only takes road, fc, mprt; got {sorted(args.only)}")
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    warnings.filterwarnings("ignore")
    quantus = None
    if not args.no_quantus:
        try:
            import quantus
        except Exception as err:  # noqa: BLE001
            print(f"Quantus does not import here ({type(err).__name__}: {err}); xaibench only")
    import tensorflow as tf
    print(f"TensorFlow {tf.__version__}, Keras {tf.keras.__version__ if hasattr(tf.keras, '__version__') else '?'}, "
          f"Quantus {getattr(quantus, '__version__', 'n/a')}, repeat={args.repeat}")
    rng = np.random.default_rng(0)
    cnn = xb.zoo.mnist_cnn()
    x = xb.data.digits().x[:16 if args.quick else 64]
    run("demo CNN (zoo.mnist_cnn)", cnn, x, args, quantus)
    if args.no_vgg:
        return
    vgg = xb.zoo.vgg16()
    x = rng.random((2 if args.quick else 4, 224, 224, 3), dtype=np.float32) * 255 - 128
    run("VGG-16 (random weights)", vgg, x, args, quantus)


if __name__ == "__main__":
    main()
