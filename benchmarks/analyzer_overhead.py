"""Cost of xaibench's isolation of iNNvestigate (worker process) against calling
iNNvestigate directly in graph mode, measured side by side in one run.

    .venv/bin/python benchmarks/analyzer_overhead.py [--rounds 5] [--reps 3]

For lrp.epsilon and lrp.sequential_preset_a_flat on mnist_cnn() (32 and 256 images)
and vgg16(weights=None) (8 images at 224x224): the first call (analyzer build, and for
xaibench the worker start and weight transfer) and the warm time per call. Warm
calls alternate between the two sides in rounds; the ratio is the median of
xaibench's times over the median of iNNvestigate's. Target: ratio <= 1.10 warm.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import xaibench as xb  # noqa: E402
from xaibench.analyzers import innvestigate_backend  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ANALYZERS = ("lrp.epsilon", "lrp.sequential_preset_a_flat")


def direct_process(model, x, y, tmp):
    prepared = xb.prepare(model)
    path = os.path.join(tmp, "model.npz")
    weights = prepared.get_weights()
    np.savez(path, model_json=prepared.to_json(), n_weights=len(weights), x=x, y=y,
             **{f"w{i}": w for i, w in enumerate(weights)})
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "_innvestigate_direct_timing.py"),
                             path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    json.loads(proc.stdout.readline())
    return proc


def ask(proc, line):
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    return json.loads(proc.stdout.readline())


def measure(label, model, x, y, rounds, reps):
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc = direct_process(model, x, y, tmp)
        for name in ANALYZERS:
            innvestigate_backend.shutdown_worker()        # count the worker start as first-call cost
            t = time.perf_counter()
            an = xb.create_analyzer(name, model, batch_size=len(x))
            an.analyze(x, neuron_selection=y)
            first_xb = time.perf_counter() - t
            first_direct = ask(proc, f"first {name}")["seconds"]
            t_xb, t_direct = [], []
            for _ in range(rounds):
                t_direct += ask(proc, f"run {name} {reps}")["times"]
                for _ in range(reps):
                    t = time.perf_counter()
                    an.analyze(x, neuron_selection=y)
                    t_xb.append(time.perf_counter() - t)
            rows.append((label, name, first_xb, first_direct, np.median(t_xb),
                         np.median(t_direct)))
        proc.stdin.close()
        proc.wait()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-vgg", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for n in (32, 256):
        rows += measure(f"mnist_cnn x{n}", xb.zoo.mnist_cnn(),
                        rng.uniform(0, 1, (n, 28, 28, 1)).astype("float32"),
                        rng.integers(0, 10, n), args.rounds, args.reps)
    if not args.skip_vgg:
        rows += measure("vgg16 x8", xb.zoo.vgg16(weights=None),
                        rng.uniform(-120, 120, (8, 224, 224, 3)).astype("float32"),
                        rng.integers(0, 1000, 8), max(2, args.rounds // 2), 2)
    print(f"\n{'model':<15}{'analyzer':<30}{'first xb':>10}{'first inn':>11}"
          f"{'warm xb':>10}{'warm inn':>10}{'ratio':>8}")
    for label, name, fx, fd, wx, wd in rows:
        print(f"{label:<15}{name:<30}{fx:>9.2f}s{fd:>10.2f}s{wx:>9.4f}s{wd:>9.4f}s"
              f"{wx / wd:>8.3f}")
    print("ratio = warm xaibench / warm iNNvestigate direct (target <= 1.10)")


if __name__ == "__main__":
    main()
