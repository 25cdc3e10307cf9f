"""``make demo`` / ``xaibench demo``: the whole tool on embedded data, no network.

Loads the CNN shipped in ``models/clutter_cnn.keras`` (``xb.zoo.shipped("clutter")``,
made by ``models/train_clutter_cnn.py``; retrained when the file is missing), explains 64
test images of the ``clutter`` localisation set for their true class with 15
analyzers (``lrp.epsilon`` with epsilon 0.1: at its default, iNNvestigate's 1e-7, it
gives the map of ``lrp.z``), evaluates AOPC against the random-order baseline (Samek et al.),
mu / mu_w inside the digit's box (Kohlbrenner et al.), the pointing game and the
heatmap complexity, as a resumable batch run, and writes its report.
"""
from __future__ import annotations

import os
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(HERE, "models")
#: model names a run or ``xaibench explain`` may use besides zoo names and files
#: (``xb.zoo.shipped``; "demo" is the clutter CNN)
SHIPPED = {"demo": ("clutter_cnn.keras", "train_clutter_cnn.py"),
           "digits": ("digits_cnn.keras", "train_digits_cnn.py"),
           "clutter": ("clutter_cnn.keras", "train_clutter_cnn.py")}

DEMO_ANALYZERS = ("gradient", "deconvnet", "guided_backprop", "deep_taylor", "lrp.z",
                  "lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.cmp_alpha1_flat",
                  "lrp.cmp_alpha2_flat", "lrp.cam", "grad_cam", "occlusion", "rmpd",
                  "contextual_importance", "lime")
#: parameters the demo gives its analyzers: lrp.epsilon's default epsilon (1e-7, as in
#: iNNvestigate) is too small to change anything on this model, 0.1 shows the rule
DEMO_PARAMS = {"lrp.epsilon": {"epsilon": 0.1}}


def load_shipped_model(name: str = "demo"):
    """A model shipped in ``models/`` (``demo`` / ``clutter``: the clutter CNN, ``digits``:
    the digits CNN), as :func:`xaibench.zoo.shipped` loads it (for inference, without an
    optimizer); trained by its script when the file is missing."""
    from xaibench.zoo import shipped

    return shipped(name)


def demo_mapping(n_images: int = 64) -> dict:
    """The demo's run config as a mapping (``configs/demo.yaml`` holds the same)."""
    return {
        "model": "demo",
        "data": {"name": "clutter", "n": n_images},
        "analyzers": [{"name": a, "params": DEMO_PARAMS[a]} if a in DEMO_PARAMS else a
                      for a in DEMO_ANALYZERS],
        "metrics": [{"name": "aopc", "params": {"region": 4, "steps": 48, "repeats": 3}},
                    "relevance_ratio", "pointing_game", "complexity"],
        "shard_size": 32, "seed": 0, "save_heatmaps": True,
    }


def demo_config(n_images: int = 64):
    from xaibench.runner import from_mapping

    return from_mapping(demo_mapping(n_images))


def run(out: str = "out/demo", n_images: int = 64) -> str:
    """Run the demo into ``out`` (resumable) and return the report's path."""
    from xaibench.report import report, summary
    from xaibench.runner import run as run_config

    start = time.perf_counter()
    run_config(demo_config(n_images), out).close()
    path = report(out)
    scores: dict = {}
    for analyzer, metric, setting, n, mean, low, high in summary(out):
        scores.setdefault(analyzer, {})[(metric.split("(")[0], setting)] = mean
    random = scores.get("baseline", {}).get(("aopc", "random"), 0.0)
    print(f"\n{'analyzer':<24}{'AOPC-random':>12}{'mu':>8}{'mu_w':>8}{'pointing':>10}{'PNG B':>8}")
    for analyzer, s in scores.items():
        label = "uniform / random" if analyzer == "baseline" else analyzer
        aopc = s.get(("aopc", "random" if analyzer == "baseline" else "morf"), float("nan"))
        print(f"{label:<24}{aopc - random:>12.3f}{s.get(('relevance_ratio', 'mu'), float('nan')):>8.3f}"
              f"{s.get(('relevance_ratio', 'mu_w'), float('nan')):>8.3f}"
              f"{s.get(('pointing_game', 'hit'), float('nan')):>10.2f}"
              f"{s.get(('complexity', 'png'), float('nan')):>8.0f}")
    print(f"\n{n_images} images x {len(DEMO_ANALYZERS)} analyzers in "
          f"{time.perf_counter() - start:.0f} s; report: {os.path.abspath(path)}")
    return path
