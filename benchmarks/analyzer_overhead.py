"""xaibench's native analyzers against iNNvestigate run directly and against plain
``model.predict``, all ratios measured side by side in one run (CPU numbers are
for the machine it runs on; other load hits every side alike, absolute times do not
mean much).

    .venv/bin/python benchmarks/analyzer_overhead.py              # everything (~15 min, 2 cores)
    .venv/bin/python benchmarks/analyzer_overhead.py --quick      # small version (~2 min)
    .venv/bin/python benchmarks/analyzer_overhead.py --only warm,jit --no-vgg --repeat 5
    .venv/bin/python benchmarks/analyzer_overhead.py --only profile --analyzers lrp.epsilon

Parts (``--only PART,...``; ``--no-PART`` drops one; ``--no-vgg`` drops VGG-16 everywhere):

warm     seconds per warm ``analyze`` call for ANALYZERS on ``zoo.mnist_cnn()`` x 256
         and ``zoo.vgg16(weights=None)`` x 8: native (default backend and batch size)
         against iNNvestigate 2.1.2 run directly in graph mode (a subprocess,
         ``_innvestigate_direct_timing.py``, that times its own warm calls on the same
         ``xb.prepare``-d weights and the same images; ``neuron_selection_mode="index"``)
         and against ``model.predict`` on the same images in this process.
         Targets: native <= 0.8 x iNNvestigate, native <= 3.5 x predict. Also the
         first call (create + first analyze) of each side in its warm process, and on
         mnist the native engine with ``batch_size=len(x)`` (iNNvestigate takes the
         whole array in one ``predict_on_batch``; the default ``batch_size=None`` does
         the same where the activations fit ``ACTIVATION_BUDGET``).
jit      the same native analyzers with ``jit_compile=True`` against ``False`` (warm
         time, and the first call that pays the XLA compile), with a recommendation.
first    fresh processes: import -> first lrp.epsilon heatmap on mnist_cnn x 256 against
         import -> first predict; on VGG-16 x 8 (model built, untimed) create + first
         call against the first predict. Target <= 2x.
memory   a fresh process (``native_memory.py``): ten analyzers created and called
         once on VGG-16; RSS added over the process holding the model. Target <= 10 %.
apps     ResNet50 and DenseNet121 (``keras.applications``, weights=None, 224x224):
         native LRP seconds per image over predict seconds per image; a refusal of the
         architecture is printed and the run goes on.
worker   (opt-in) ``backend="innvestigate"`` (xaibench's graph-mode worker process)
         against iNNvestigate direct, warm: the isolation cost (target <= 1.10).
profile  (opt-in) where the native time goes on mnist / VGG-16: create (prepare, trace),
         first call (tf.function trace + run), warm call split into the forward pass of
         the canonized model and the backward walk, against a traced plain forward call,
         model.predict and the ``gradient`` analyzer (one forward + one backward pass).
         Reads the analyzer's internals (``_walk``): a diagnostic.

Timing: each side makes ``--reps`` calls per round; sides alternate over ``--repeat``
rounds (the order reversed every other round). The tables show each side's median
seconds per call; a ratio is the median over rounds of the two sides' times in the
same round (paired, so a change of load from other processes between rounds cancels);
fresh processes (first heatmap) are paired the same way.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time

T0 = time.perf_counter()          # the child processes time their imports from here

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ANALYZERS = ("lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.sequential_preset_a_flat", "deep_taylor",
             "guided_backprop")
APPS_ANALYZERS = ("lrp.epsilon", "lrp.sequential_preset_a_flat")
PARTS = ("warm", "jit", "first", "memory", "apps")
OPT_IN = ("worker", "profile")
TARGET_VS_INN, TARGET_VS_PREDICT, TARGET_FIRST, TARGET_WORKER = 0.8, 3.5, 2.0, 1.10
CHILD_ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")


def log(msg: str) -> None:
    """Progress, on stderr (the tables go to stdout)."""
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def verdict(value, target) -> str:
    if value is None or value != value:
        return "n/a"
    return "met" if value <= target else "NOT met"


def fmt(value, spec=".4f", none="n/a") -> str:
    return none if value is None else format(value, spec)


# --------------------------------------------------------------------------- models

def build(key: str, n: int, seed: int = 0):
    """``(model, x, y, label)``: the model with weights fixed by ``seed``, n images, n labels."""
    import numpy as np
    import tensorflow as tf

    import xaibench as xb

    tf.keras.utils.set_random_seed(seed)
    apps = tf.keras.applications
    specs = {
        "mnist": (xb.zoo.mnist_cnn, (28, 28, 1), (0.0, 1.0), "mnist_cnn"),
        "vgg16": (lambda: xb.zoo.vgg16(weights=None), (224, 224, 3), (-120.0, 120.0), "vgg16"),
        "resnet50": (lambda: apps.ResNet50(weights=None, input_shape=(224, 224, 3)),
                     (224, 224, 3), (-120.0, 120.0), "ResNet50"),
        "densenet121": (lambda: apps.DenseNet121(weights=None, input_shape=(224, 224, 3)),
                        (224, 224, 3), (-2.0, 2.0), "DenseNet121"),
    }
    make, shape, (lo, hi), name = specs[key]
    model = make()
    rng = np.random.default_rng(seed)
    x = rng.uniform(lo, hi, (n,) + shape).astype("float32")
    y = rng.integers(0, model.output_shape[-1], n)
    return model, x, y, f"{name} x{n}"


def timed(fn, k: int) -> list:
    out = []
    for _ in range(k):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


class Timings(dict):
    """Median seconds per call of each side, with the per-round medians kept in ``rounds``."""

    def __init__(self, rounds: dict):
        import numpy as np

        super().__init__({k: float(np.median(sum(v, []))) for k, v in rounds.items()})
        self.rounds = {k: [float(np.median(r)) for r in v] for k, v in rounds.items()}

    def ratio(self, a: str, b: str):
        """Median over rounds of a's time over b's in the same round (paired, so that a
        change in machine load between rounds cancels), None if a side is missing."""
        import numpy as np

        if a not in self.rounds or b not in self.rounds:
            return None
        return float(np.median([x / y for x, y in zip(self.rounds[a], self.rounds[b])]))


def side_by_side(sides: dict, rounds: int, reps: int) -> Timings:
    """``sides[name](k)`` makes k calls and returns their times. Sides alternate per round,
    the order reversed every other round."""
    times = {name: [] for name in sides}
    for r in range(rounds):
        for name in (list(sides) if r % 2 == 0 else list(reversed(sides))):
            times[name].append(sides[name](reps))
    return Timings(times)


# --------------------------------------------------------------------------- iNNvestigate direct

class DirectError(RuntimeError):
    pass


class Direct:
    """iNNvestigate run directly (graph mode) in ``_innvestigate_direct_timing.py``, on the
    ``xb.prepare``-d model (iNNvestigate refuses softmax outputs and needs folded batch norm),
    the same weights and images as this process."""

    def __init__(self, model, x, y, tmp):
        import numpy as np

        import xaibench as xb

        prepared = xb.prepare(model)
        self.path = os.path.join(tmp, "model.npz")
        weights = prepared.get_weights()
        np.savez(self.path, model_json=prepared.to_json(), n_weights=len(weights), x=x, y=y,
                 **{f"w{i}": w for i, w in enumerate(weights)})
        del prepared, weights
        self.err_path = os.path.join(tmp, "direct.stderr")
        self.proc = None
        self.start()

    def start(self):
        self.close()
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "_innvestigate_direct_timing.py"), self.path],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err, text=True,
            env=CHILD_ENV)
        self._read()

    def _read(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            with open(self.err_path) as f:
                tail = [s for s in f.read().strip().splitlines() if s.strip()][-3:]
            raise DirectError(" | ".join(tail) or f"exit code {self.proc.returncode}")
        return json.loads(line)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._read()

    def first(self, name) -> float:
        return self.ask(f"first {name}")["seconds"]

    def run(self, name, k) -> list:
        return self.ask(f"run {name} {k}")["times"]

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait()
        if self.proc is not None:
            self.err.close()
        self.proc = None


# --------------------------------------------------------------------------- warm + jit

def measure_model(key, n, names, parts, args, reps):
    """One row per analyzer: median warm seconds per call of every side, first calls, errors."""
    import xaibench as xb

    model, x, y, label = build(key, n)
    log(f"{label}: built")
    xb.list_analyzers()          # the providers' import is not the first analyzer's cost
    rows = []
    warm, jit, worker = "warm" in parts, "jit" in parts, "worker" in parts
    predict = (lambda k: timed(lambda: model.predict(x, verbose=0), k))
    t = time.perf_counter()
    model.predict(x, verbose=0)
    first_predict = time.perf_counter() - t
    with tempfile.TemporaryDirectory() as tmp:
        direct = None
        if warm or worker:
            try:
                direct = Direct(model, x, y, tmp)
            except DirectError as err:
                log(f"{label}: iNNvestigate direct did not start: {err}")
        for name in names:
            row = {"model": label, "analyzer": name, "errors": {}, "first": {},
                   "first_predict": first_predict}
            sides, keep = {}, []
            if warm:
                sides["predict"] = predict
            if (warm or worker) and direct is not None:
                try:
                    if direct.proc is None:
                        direct.start()
                    row["first"]["inn"] = direct.first(name)
                    sides["inn"] = (lambda k, name=name: direct.run(name, k))
                except DirectError as err:
                    row["errors"]["inn"] = str(err)
                    direct.proc = None           # restarted for the next analyzer
            variants = []
            if warm or jit:
                variants.append(("native", dict(jit_compile=False)))
            if jit:
                variants.append(("native_jit", dict(jit_compile=True)))
            if warm and n > 32:
                variants.append(("native_bsN", dict(batch_size=n)))
            if worker:
                variants.append(("worker", dict(backend="innvestigate", batch_size=n)))
            for side, params in variants:
                try:
                    if side == "worker":
                        from xaibench.analyzers import innvestigate_backend

                        # the worker's start counts as first-call cost
                        innvestigate_backend.shutdown_worker()
                    t = time.perf_counter()
                    an = xb.create_analyzer(name, model, **params)
                    row.setdefault("create", {})[side] = time.perf_counter() - t
                    an.analyze(x, neuron_selection=y)
                    row["first"][side] = time.perf_counter() - t
                    keep.append(an)
                    sides[side] = (lambda k, an=an: timed(
                        lambda: an.analyze(x, neuron_selection=y), k))
                except Exception as err:  # a refusal or a failure: reported, the run goes on
                    row["errors"][side] = f"{type(err).__name__}: {str(err).splitlines()[0]}"
            log(f"{label} {name}: first calls done ({', '.join(sides)}); timing")
            row["warm"] = side_by_side(sides, args.repeat, reps)
            rows.append(row)
            del keep, sides
            gc.collect()
        if direct is not None:
            direct.close()
    if worker:
        from xaibench.analyzers import innvestigate_backend

        innvestigate_backend.shutdown_worker()
    del model
    gc.collect()
    return rows


def ratio(row, a, b):
    w = row.get("warm")
    return None if w is None else w.ratio(a, b)


def print_warm(rows):
    print("\n== Warm: seconds per analyze call (median), native = default backend and "
          "batch_size (None: as many images per call as fit 1 GiB of activations) ==")
    print(f"{'model':<16}{'analyzer':<30}{'native':>9}{'iNNvest.':>10}{'predict':>9}"
          f"{'nat/inn':>9}  {'<=' + str(TARGET_VS_INN):<9}{'nat/pred':>9}  "
          f"{'<=' + str(TARGET_VS_PREDICT):<9}{'1st nat':>9}{'1st inn':>9}")
    for r in rows:
        w = r["warm"]
        vi, vp = ratio(r, "native", "inn"), ratio(r, "native", "predict")
        print(f"{r['model']:<16}{r['analyzer']:<30}{fmt(w.get('native')):>9}"
              f"{fmt(w.get('inn')):>10}{fmt(w.get('predict')):>9}{fmt(vi, '.2f'):>9}  "
              f"{verdict(vi, TARGET_VS_INN):<9}{fmt(vp, '.2f'):>9}  "
              f"{verdict(vp, TARGET_VS_PREDICT):<9}{fmt(r['first'].get('native'), '.2f'):>9}"
              f"{fmt(r['first'].get('inn'), '.2f'):>9}")
        for side, err in r["errors"].items():
            if side in ("native", "inn"):
                print(f"{'':<16}  {side} failed: {err}")
    print("1st = create + first call in the warm process (s); iNNvestigate's includes building "
          "its graph, native's includes xb.prepare and the tf.function trace.")
    big = [r for r in rows if "native_bsN" in r["warm"]]
    if big:
        print("\n  native with batch_size=len(x) (iNNvestigate analyzes the whole array at once):")
        print(f"  {'model':<16}{'analyzer':<30}{'bs=N':>9}{'default':>9}{'bsN/inn':>9}"
              f"{'bsN/pred':>9}")
        for r in big:
            print(f"  {r['model']:<16}{r['analyzer']:<30}{r['warm']['native_bsN']:9.4f}"
                  f"{fmt(r['warm'].get('native')):>9}{fmt(ratio(r, 'native_bsN', 'inn'), '.2f'):>9}"
                  f"{fmt(ratio(r, 'native_bsN', 'predict'), '.2f'):>9}")


def print_worker(rows):
    rows = [r for r in rows if "worker" in r["warm"] or "worker" in r["errors"]]
    if not rows:
        return
    print("\n== Worker: backend='innvestigate' vs iNNvestigate direct, warm seconds per call ==")
    print(f"{'model':<16}{'analyzer':<30}{'worker':>9}{'direct':>9}{'ratio':>8}  "
          f"{'<=' + str(TARGET_WORKER):<9}{'1st wkr':>9}")
    for r in rows:
        v = ratio(r, "worker", "inn")
        print(f"{r['model']:<16}{r['analyzer']:<30}{fmt(r['warm'].get('worker')):>9}"
              f"{fmt(r['warm'].get('inn')):>9}{fmt(v, '.3f'):>8}  {verdict(v, TARGET_WORKER):<9}"
              f"{fmt(r['first'].get('worker'), '.2f'):>9}")
        if "worker" in r["errors"]:
            print(f"{'':<16}  worker failed: {r['errors']['worker']}")


def print_jit(rows):
    rows = [r for r in rows if "native_jit" in r["warm"] or "native_jit" in r["errors"]]
    if not rows:
        return []
    print("\n== jit_compile: native warm seconds per call, off vs on ==")
    print(f"{'model':<16}{'analyzer':<30}{'off':>9}{'on':>9}{'on/off':>8}"
          f"{'1st off':>9}{'1st on':>9}{'calls to repay compile':>24}")
    gains = []
    for r in rows:
        w, f = r["warm"], r["first"]
        v = ratio(r, "native_jit", "native")
        repay = "never"
        if v is not None and w["native_jit"] < w["native"]:
            extra = max(0.0, f["native_jit"] - f["native"])
            repay = f"{extra / (w['native'] - w['native_jit']):.0f}"
        print(f"{r['model']:<16}{r['analyzer']:<30}{fmt(w.get('native')):>9}"
              f"{fmt(w.get('native_jit')):>9}{fmt(v, '.2f'):>8}{fmt(f.get('native'), '.2f'):>9}"
              f"{fmt(f.get('native_jit'), '.2f'):>9}{repay:>24}")
        if "native_jit" in r["errors"]:
            print(f"{'':<16}  jit_compile=True failed: {r['errors']['native_jit']}")
        if v is not None:
            gains.append((r["model"], r["analyzer"], v))
    if gains:
        faster = [g for g in gains if g[2] < 0.9]
        slower = [g for g in gains if g[2] > 1.1]
        if len(faster) == len(gains):
            rec = "jit_compile=True is >= 10 % faster everywhere measured: worth turning on."
        elif not faster:
            rec = ("jit_compile=True is nowhere >= 10 % faster"
                   + (f" and slower on {len(slower)} of {len(gains)}" if slower else "")
                   + ": keep the default jit_compile=False on CPU.")
        else:
            where = ", ".join(f"{m.split()[0]} {a} ({v:.2f}x)" for m, a, v in faster)
            rec = (f"jit_compile=True is >= 10 % faster on {len(faster)} of {len(gains)} only "
                   f"({where}); keep the default False and turn it on per analyzer where the "
                   "analyzer is called often enough to repay the compile.")
        print("Recommendation: " + rec)
    return gains


# --------------------------------------------------------------------------- first heatmap

def child_first(args):
    """A fresh process: import, build, then create + first call, or the first predict."""
    import tensorflow as tf  # noqa: F401  (xaibench imports it too; timed with it)

    import xaibench as xb

    t_import = time.perf_counter()
    model, x, y, _ = build(args.child_model, args.child_n)
    t_build = time.perf_counter()
    if args.child_side == "predict":
        model.predict(x, verbose=0)
        t_create = t_build
    else:
        an = xb.create_analyzer(args.child_analyzer, model)
        t_create = time.perf_counter()
        an.analyze(x, neuron_selection=y)
    t_call = time.perf_counter()
    print("JSON " + json.dumps({"import": t_import - T0, "build": t_build - t_import,
                                "create": t_create - t_build, "call": t_call - t_create}))


def run_child_first(model, n, side, analyzer="lrp.epsilon"):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "first", "--child-model", model,
           "--child-n", str(n), "--child-side", side, "--child-analyzer", analyzer]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=CHILD_ENV)
    for line in proc.stdout.splitlines():
        if line.startswith("JSON "):
            return json.loads(line[5:])
    tail = [s for s in proc.stderr.strip().splitlines() if s.strip()][-2:]
    raise RuntimeError(" | ".join(tail) or f"exit code {proc.returncode}")


def measure_first(models, repeat):
    """Median over ``repeat`` fresh processes per side, the sides alternating."""
    import numpy as np

    out = []
    for key, n, label in models:
        runs = {"native": [], "predict": []}
        try:
            for r in range(repeat):
                for side in (("native", "predict") if r % 2 == 0 else ("predict", "native")):
                    runs[side].append(run_child_first(key, n, side))
                log(f"first heatmap {label}: round {r + 1}/{repeat}")
        except RuntimeError as err:
            out.append({"label": label, "key": key, "error": str(err)})
            continue
        med = {side: {k: float(np.median([d[k] for d in v])) for k in v[0]}
               for side, v in runs.items()}
        out.append({"label": label, "key": key, "runs": runs, **med})
    return out


def first_spent(key: str, d: dict) -> float:
    """The compared time of one fresh process: on mnist from the start of the import,
    on VGG-16 from the built model (create + first call, or the first predict)."""
    if key == "mnist":
        return d["import"] + d["build"] + d["create"] + d["call"]
    return d["create"] + d["call"]


def print_first(results, repeat):
    import numpy as np

    print(f"\n== First heatmap (lrp.epsilon) in a fresh process, median of {repeat} "
          "process(es) per side, seconds ==")
    rows = []
    for r in results:
        if "error" in r:
            print(f"{r['label']}: failed: {r['error']}")
            continue
        a, p, key = r["native"], r["predict"], r["key"]
        v = float(np.median([first_spent(key, da) / first_spent(key, dp)
                             for da, dp in zip(r["runs"]["native"], r["runs"]["predict"])]))
        if key == "mnist":
            what = (f"import {a['import']:.2f} + build {a['build']:.2f} + create {a['create']:.2f} "
                    f"+ first call {a['call']:.2f} = {first_spent(key, a):.2f}   vs   import "
                    f"{p['import']:.2f} + build {p['build']:.2f} + first predict {p['call']:.2f}"
                    f" = {first_spent(key, p):.2f}")
        else:
            what = (f"(built untimed: {a['build']:.1f}) create {a['create']:.2f} + first call "
                    f"{a['call']:.2f} = {first_spent(key, a):.2f}   vs   first predict "
                    f"{p['call']:.2f}")
        rows.append((r["label"], v))
        print(f"{r['label']:<16}{what}")
        print(f"{'':<16}ratio {v:.2f} (median of the per-round ratios; target <= "
              f"{TARGET_FIRST:.0f}): {verdict(v, TARGET_FIRST)}")
    return rows


# --------------------------------------------------------------------------- memory

def measure_memory(count, images):
    cmd = [sys.executable, os.path.join(HERE, "native_memory.py"), "--count", str(count),
           "--images", str(images)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=CHILD_ENV)
    result = None
    print()
    for line in proc.stdout.splitlines():
        if line.startswith("JSON "):
            result = json.loads(line[5:])
        else:
            print(line)
    if result is None:
        tail = [s for s in proc.stderr.strip().splitlines() if s.strip()][-3:]
        print(f"== Memory: native_memory.py failed: {' | '.join(tail)}")
    return result


# --------------------------------------------------------------------------- apps

def measure_apps(keys, n, names, args):
    import xaibench as xb

    print(f"\n== keras.applications (weights=None, 224x224, {n} images): native LRP "
          "per image / predict per image ==")
    print(f"{'model':<18}{'analyzer':<30}{'predict/img':>12}{'LRP/img':>10}{'ratio':>8}"
          f"{'1st call':>10}")
    out = []
    for key in keys:
        model, x, y, label = build(key, n)
        model.predict(x, verbose=0)
        log(f"{label}: built")
        for name in names:
            try:
                t = time.perf_counter()
                an = xb.create_analyzer(name, model)
                an.analyze(x, neuron_selection=y)
                first = time.perf_counter() - t
            except Exception as err:  # the refusal of an architecture is a result here
                msg = f"{type(err).__name__}: {str(err).splitlines()[0]}"
                print(f"{label:<18}{name:<30}refused: {msg}")
                out.append((label, name, None))
                continue
            w = side_by_side({"predict": lambda k: timed(lambda: model.predict(x, verbose=0), k),
                              "lrp": lambda k, an=an: timed(
                                  lambda: an.analyze(x, neuron_selection=y), k)},
                             args.repeat, 1)
            v = w.ratio("lrp", "predict")
            print(f"{label:<18}{name:<30}{w['predict'] / n:12.4f}{w['lrp'] / n:10.4f}{v:8.2f}"
                  f"{first:10.2f}")
            out.append((label, name, v))
            del an
            gc.collect()
        del model
        gc.collect()
    return out


# --------------------------------------------------------------------------- profile

def profile(key, n, names, args):
    """Where the native time goes (reads the analyzer's traced walk: a diagnostic)."""
    import tensorflow as tf

    import xaibench as xb
    from xaibench.analyzers.native.graph import forward, trace
    from xaibench.prepare import prepare

    model, x, y, label = build(key, n)
    model.predict(x, verbose=0)
    print(f"\n== Profile: native engine on {label} (seconds; warm = median of {args.repeat}) ==")
    t = time.perf_counter()
    prepared = prepare(model)
    t_prepare = time.perf_counter() - t
    t = time.perf_counter()
    trace(prepared)
    t_trace = time.perf_counter() - t
    print(f"  xb.prepare(model) {t_prepare:.2f}   trace(prepared) {t_trace:.3f}")
    g0 = trace(prepared)
    fwd_user = tf.function(lambda v: model(v, training=False))
    fwd_prep = tf.function(lambda v: forward(g0, v)[g0.output])
    xs = [tf.constant(x[i:i + 32]) for i in range(0, n, 32)]
    for fn in (fwd_user, fwd_prep):
        for b in xs:
            fn(b)
    base = side_by_side({
        "predict": lambda k: timed(lambda: model.predict(x, verbose=0), k),
        "fwd_user": lambda k: timed(lambda: [fwd_user(b).numpy() for b in xs], k),
        "fwd_prep": lambda k: timed(lambda: [fwd_prep(b).numpy() for b in xs], k),
    }, args.repeat, 1)
    print(f"  model.predict {base['predict']:.4f}   traced model call {base['fwd_user']:.4f}   "
          f"traced forward of the prepared graph (no walk) {base['fwd_prep']:.4f}")
    print(f"  {'analyzer':<30}{'create':>8}{'1st call':>10}{'warm':>9}{'walk fn':>9}"
          f"{'fwd':>8}{'backward':>10}{'warm/pred':>10}")
    for name in list(names) + (["gradient"] if "gradient" not in names else []):
        t = time.perf_counter()
        an = xb.create_analyzer(name, model)
        t_create = time.perf_counter() - t
        t = time.perf_counter()
        an.analyze(x, neuron_selection=y)
        t_first = time.perf_counter() - t
        walk = getattr(an, "_walk", None)
        sides = {"warm": lambda k: timed(lambda: an.analyze(x, neuron_selection=y), k),
                 "predict": lambda k: timed(lambda: model.predict(x, verbose=0), k)}
        if walk is not None:
            fn = walk.function(True, False)
            ys = [tf.constant(y[i:i + 32], tf.int64) for i in range(0, n, 32)]
            g = walk.graph
            fwd = tf.function(lambda v: forward(g, v)[g.output])
            for b in xs:
                fwd(b)
            sides["walk"] = lambda k: timed(lambda: [fn(b, s).numpy() for b, s in zip(xs, ys)], k)
            sides["fwd"] = lambda k: timed(lambda: [fwd(b).numpy() for b in xs], k)
        w = side_by_side(sides, args.repeat, 1)
        back = w["walk"] - w["fwd"] if "walk" in w else None
        print(f"  {name:<30}{t_create:8.2f}{t_first:10.2f}{w['warm']:9.4f}"
              f"{fmt(w.get('walk')):>9}{fmt(w.get('fwd')):>8}{fmt(back):>10}"
              f"{w.ratio('warm', 'predict'):10.2f}")
        del an, sides
        gc.collect()
    print("  create = xb.create_analyzer (prepare + trace + mappings); 1st call - warm = the "
          "tf.function trace; walk fn = the traced walk alone (no input checks); fwd = the "
          "forward pass of the walked graph; backward = walk fn - fwd. gradient (a reference: "
          "one tape over the user's model, no walk) costs one forward + one backward pass.")


# --------------------------------------------------------------------------- main

def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="small version (~2 min): mnist as usual; VGG-16 x2 with "
                             "lrp.epsilon only and no jit; one fresh process per side; 3 "
                             "analyzers in the memory part (extrapolated); ResNet50 and "
                             "DenseNet121 x1 with lrp.epsilon")
    parser.add_argument("--only", default=None,
                        help=f"comma-separated parts of {', '.join(PARTS + OPT_IN)}")
    for part in PARTS:
        parser.add_argument(f"--no-{part}", action="store_true", help=f"skip the {part} part")
    parser.add_argument("--worker", action="store_true", help="add the worker part")
    parser.add_argument("--profile", action="store_true", help="add the profile part")
    parser.add_argument("--no-vgg", action="store_true", help="leave VGG-16 out of every part")
    parser.add_argument("--no-mnist", action="store_true",
                        help="leave mnist_cnn out of warm, jit, worker and profile")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds of side-by-side timing, and fresh processes per side "
                             "(default 3, --quick 2)")
    parser.add_argument("--reps", type=int, default=3,
                        help="calls per side per round on mnist_cnn (VGG-16 and the "
                             "applications: 1)")
    parser.add_argument("--analyzers", default=None,
                        help=f"comma-separated names (default: {', '.join(ANALYZERS)})")
    parser.add_argument("--mnist-n", type=int, default=None, help="mnist images (default 256)")
    parser.add_argument("--vgg-n", type=int, default=None,
                        help="VGG-16 images (default 8; quick 2)")
    parser.add_argument("--apps-n", type=int, default=None, help="ResNet50/DenseNet121 images "
                        "(default 4; quick 1)")
    parser.add_argument("--memory-count", type=int, default=None,
                        help="analyzers in the memory part (default 10; quick 3, extrapolated)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-model", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-n", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-side", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-analyzer", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    q = args.quick
    args.repeat = args.repeat or (2 if q else 3)
    args.mnist_n = args.mnist_n or 256
    args.vgg_n = args.vgg_n or (2 if q else 8)
    args.apps_n = args.apps_n or (1 if q else 4)
    args.memory_count = args.memory_count or (3 if q else 10)
    if args.only:
        parts = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = set(parts) - set(PARTS + OPT_IN)
        if unknown:
            parser.error(f"unknown part(s) {', '.join(sorted(unknown))}")
    else:
        parts = [p for p in PARTS if not getattr(args, f"no_{p}")]
        parts += [p for p in OPT_IN if getattr(args, p)]
    args.parts = parts
    if args.analyzers:
        args.names = [a.strip() for a in args.analyzers.split(",")]
    else:
        args.names = list(ANALYZERS)
    return args


def source_state() -> str:
    """The commit measured, and whether xaibench/ has uncommitted changes (read-only git)."""
    try:
        git = ["git", "-C", ROOT]
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "--", "xaibench"],
                               capture_output=True, text=True, timeout=10).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
        if not changed:
            return head or "?"
        more = f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        return f"{head or '?'} + uncommitted changes in {', '.join(changed[:3])}{more}"
    except (OSError, subprocess.SubprocessError):
        return "? (no git)"


def main(argv=None):
    args = parse(argv)
    if args.child == "first":
        return child_first(args)
    parts, q = args.parts, args.quick
    import tensorflow as tf

    log(f"parts: {', '.join(parts)}; repeat {args.repeat}; TF {tf.__version__}; "
        f"{os.cpu_count()} CPU(s)")
    summary = []
    print(f"analyzer_overhead.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"xaibench at {source_state()}")
    print(f"TF {tf.__version__}, {os.cpu_count()} CPU core(s), load average "
          f"{open('/proc/loadavg').read().split()[0] if os.path.exists('/proc/loadavg') else '?'}")

    rows = []
    if {"warm", "jit", "worker"} & set(parts):
        if not args.no_mnist:
            rows += measure_model("mnist", args.mnist_n, args.names, parts, args, args.reps)
        if not args.no_vgg:
            # --quick: VGG-16 with lrp.epsilon only and without the XLA compiles
            vgg_names = ["lrp.epsilon"] if q and not args.analyzers else args.names
            vgg_parts = [p for p in parts if p != "jit"] if q else parts
            rows += measure_model("vgg16", args.vgg_n, vgg_names, vgg_parts, args, 1)
        if "warm" in parts:
            print_warm(rows)
            for r in rows:
                for side, target, label in (("inn", TARGET_VS_INN, "x iNNvestigate"),
                                            ("predict", TARGET_VS_PREDICT, "x predict")):
                    v = ratio(r, "native", side)
                    summary.append((f"warm {r['model']} {r['analyzer']} native {label}", v, target))
        if "worker" in parts:
            print_worker(rows)
            for r in rows:
                if "worker" in r["warm"]:
                    summary.append((f"worker {r['model']} {r['analyzer']} x iNNvestigate direct",
                                    ratio(r, "worker", "inn"), TARGET_WORKER))
        if "jit" in parts:
            print_jit(rows)

    if "first" in parts:
        models = [("mnist", args.mnist_n, f"mnist_cnn x{args.mnist_n}")]
        if not args.no_vgg:
            models.append(("vgg16", args.vgg_n, f"vgg16 x{args.vgg_n}"))
        results = measure_first(models, 1 if q else args.repeat)
        for label, v in print_first(results, 1 if q else args.repeat):
            summary.append((f"first heatmap {label} / first predict", v, TARGET_FIRST))

    if "memory" in parts and not args.no_vgg:
        log(f"memory: {args.memory_count} analyzers on VGG-16 in a fresh process")
        mem = measure_memory(args.memory_count, 1)
        if mem is not None:
            extra = " (extrapolated)" if mem["extrapolated"] else ""
            summary.append((f"memory ten analyzers on VGG-16{extra}, fraction of RSS",
                            mem["fraction10"], 0.10))

    if "apps" in parts:
        names = ["lrp.epsilon"] if q else list(APPS_ANALYZERS)
        measure_apps(["resnet50", "densenet121"], args.apps_n, names, args)

    if "profile" in parts:
        if not args.no_mnist:
            profile("mnist", args.mnist_n, args.names, args)
        if not args.no_vgg:
            profile("vgg16", args.vgg_n, args.names, args)

    if summary:
        print("\n== Targets ==")
        for what, v, target in summary:
            print(f"  {what:<72}{fmt(v, '.2f'):>7}  <= {target:<5}{verdict(v, target)}")
        met = sum(verdict(v, t) == "met" for _, v, t in summary)
        print(f"  {met} of {len(summary)} met")
    log("done")


if __name__ == "__main__":
    main()
