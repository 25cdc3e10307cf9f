"""``make demo`` / ``xaibench demo``: the whole tool on embedded data, no network.

Loads the CNN shipped in ``xaibench/models/clutter_cnn.weights.npz`` (``xb.zoo.shipped("clutter")``,
made by ``xaibench/models/train_clutter_cnn.py``; retrained when the file is missing), explains 64
test images of the ``clutter`` localisation set for their true class with 15
analyzers (``lrp.epsilon`` with epsilon 0.1: at its default, iNNvestigate's 1e-7, it
gives the map of ``lrp.z``), evaluates AOPC against the random-order baseline (Samek et al.),
mu / mu_w inside the digit's box (Kohlbrenner et al.), the pointing game, the
heatmap complexity, ROAD (Rong et al.), the cascading randomisation sanity check
(Adebayo et al.) and sparseness, as a resumable batch run, and writes its report.
"""
from __future__ import annotations

import os
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(HERE, "models")

DEMO_ANALYZERS = ("gradient", "deconvnet", "guided_backprop", "deep_taylor", "lrp.z",
                  "lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.cmp_alpha1_flat",
                  "lrp.cmp_alpha2_flat", "lrp.cam", "grad_cam", "occlusion", "rmpd",
                  "contextual_importance", "lime")
#: parameters the demo gives its analyzers: lrp.epsilon's default epsilon (1e-7, as in
#: iNNvestigate) is too small to change anything on this model, 0.1 shows the rule
DEMO_PARAMS = {"lrp.epsilon": {"epsilon": 0.1}}
#: ROAD's removed fractions in the demo: 10, 30, 50 % (larger ones need the most solver
#: iterations; the function's default is 0.1..0.9)
ROAD_FRACTIONS = (0.1, 0.3, 0.5)
#: the demo's cascading randomisation: Spearman only, compared after the top layer and
#: with every layer re-initialised (2 explanations per analyzer instead of 7)
RANDOMISATION = {"similarity": "spearman", "evaluate_at": ["predictions", "conv1"]}


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
                    "relevance_ratio", "pointing_game", "complexity",
                    {"name": "road", "params": {"fractions": list(ROAD_FRACTIONS)}},
                    {"name": "randomisation", "params": dict(RANDOMISATION)},
                    "sparseness"],
        "shard_size": 32, "seed": 0, "save_heatmaps": True,
    }


def demo_config(n_images: int = 64):
    from xaibench.runner import from_mapping

    return from_mapping(demo_mapping(n_images))


def run(out: str = "out/demo", n_images: int = 64) -> str:
    """Run the demo into ``out`` (resumable) and return the report's path."""
    from xaibench.report import SANITY_THRESHOLD, report
    from xaibench.runner import run as run_config
    from xaibench.runner.results import RunResults

    start = time.perf_counter()
    run_config(demo_config(n_images), out).close()
    path = report(out)
    res = RunResults(out)
    scores: dict = {}
    for s in res.summary():
        scores.setdefault(s.analyzer, {})[(res.metric_step(s.metric).name, s.setting)] = s.mean
    random = scores.get("baseline", {}).get(("aopc", "random"), 0.0)
    nan = float("nan")
    print(f"\n{'analyzer':<24}{'AOPC-random':>12}{'mu':>7}{'mu_w':>7}{'pointing':>9}"
          f"{'PNG B':>7}{'ROAD':>7}{'Gini':>6}{'rand rho':>10}")
    for analyzer, s in scores.items():
        label = "uniform / random" if analyzer == "baseline" else analyzer
        aopc = s.get(("aopc", "random" if analyzer == "baseline" else "morf"), nan)
        rho = s.get(("randomisation", "spearman"), nan)
        flag = "  FAILS" if rho >= SANITY_THRESHOLD else ""
        print(f"{label:<24}{aopc - random:>12.3f}{s.get(('relevance_ratio', 'mu'), nan):>7.3f}"
              f"{s.get(('relevance_ratio', 'mu_w'), nan):>7.3f}"
              f"{s.get(('pointing_game', 'hit'), nan):>9.2f}"
              f"{s.get(('complexity', 'png'), nan):>7.0f}"
              f"{s.get(('road', 'morf'), nan):>7.2f}{s.get(('sparseness', 'gini'), nan):>6.2f}"
              f"{rho:>10.2f}{flag}")
    checked = [(a, s[("randomisation", "spearman")]) for a, s in scores.items()
               if ("randomisation", "spearman") in s]
    if checked:
        fails = [a for a, rho in checked if rho >= SANITY_THRESHOLD]
        worst = ", ".join(f"{a} {rho:.2f}" for a, rho in sorted(checked, key=lambda t: -t[1])[:3])
        print(f"\nROAD: mean class logit with the {', '.join(f'{f:.0%}' for f in ROAD_FRACTIONS)} "
              f"most relevant pixels imputed (lower: more faithful). Gini: sparseness of |R|."
              f"\nrand rho: Spearman rank correlation with the heatmap of the fully "
              f"re-initialised model (sanity check, Adebayo et al.; lower is better, "
              f">= {SANITY_THRESHOLD:g} fails): "
              + (f"{', '.join(fails)} fail{'s' if len(fails) == 1 else ''}"
                 if fails else "every analyzer passes") + f"; most similar: {worst}.")
    for gap in res.missing():
        print(f"missing: {gap['analyzer']} has no {gap['metric']} "
              f"({', '.join(gap['settings'])}) for {gap['images']} of {n_images} images "
              "(left out of its means; see the report)")
    print(f"\n{n_images} images x {len(DEMO_ANALYZERS)} analyzers in "
          f"{time.perf_counter() - start:.0f} s; report: {os.path.abspath(path)}")
    return path
