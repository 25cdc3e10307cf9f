"""Kohlbrenner et al. (2020), "Towards best practice in explaining neural network decisions
with LRP": LRP_CMP against uniformly applied rules, measured by where the relevance lies.

What is reproduced (paper numbers in :data:`PAPER`):

* **Table 1**: mu_w, mu for boxes covering <= 25 % and <= 50 % of the image, and mu
  (eq. 2: mu = R_in / R_tot of the positive relevance, mu_w = mu * S_tot / S_in) for the
  four composites LRP_CMP:alpha2+b, alpha1, alpha1+b, alpha2 ("+b": LRP_b = flat on the
  input layer; LRP_eps on dense layers, LRP_alpha-beta on conv layers, Sec. 2.2), uniform
  LRP_alpha2, LRP_alpha1, LRP_z (eq. 1), guided backprop, PatternAttribution and the
  uniform baseline (mu_w = 1), all explaining the true class (Sec. 3.3). The paper's
  qualitative claims (Sec. 4.2) are checked on the measured numbers.
* **Fig. 3**: mean mu against box size in ``bins`` equal intervals (paper: 100), with the
  25 % / 50 % lines and the uniform baseline.
* **Fig. 2**: the true-class logit change when the pixels inside the box (object) or
  outside it (context) are replaced by the training mean, against the occluded area
  (runner metric ``object_occlusion``, Sec. 3.1).
* **Fig. 1** style grid: two images explained for their true class and for the model's
  runner-up class with LRP_z, LRP_alpha1, GB, PA and LRP_CMP:alpha1 with LRP_b on the input
  layer, on the whole conv stack and on the first layers (e)-(g); class discriminativity is
  measured as the correlation of the two classes' heatmaps (lower: more discriminative).

Data and protocol:

* default ``clutter`` (``quick`` and full): the shipped demo CNN (``model: "demo"``, trained on
  48x48 ``clutter``; 3 conv layers, so shallow like the paper's CaffeNet rather than VGG-16),
  its test images with the digit's tight box; PatternAttribution's patterns and the
  occlusion's training mean come from the clutter training split (cached under
  ``<out>/models``). ``quick``: 40 test images, patterns from 512 training images, under a
  minute on 2 CPU cores; full: 1000 test images, 5000 training images.
* ``imagenet_val:PATH`` (the paper's ImageNet protocol): VGG-16 with Keras's ImageNet
  weights (from the Keras cache ``~/.keras/models``, saved once to ``<out>/models``),
  shortest side to 224 and centre crop, ``vgg16`` preprocessing (so the training mean is
  0), the first 10,000 validation images by default (the paper: all 50,000; pass ``images``; the
  batch runner keeps the images in memory, 0.6 MB each). Patterns are fitted on the first
  ``pattern_images`` validation images (the paper used iNNvestigate's ImageNet patterns).
  A GPU is expected.
* Not reproduced: the PASCAL VOC 2007 half of Table 1 (its CaffeNet was trained on the
  multi-label PVOC 2012 and is not available here; the numbers are shown for reference) and
  LRP_CAM (shown only for demonstration in the paper).

Everything expensive is resumable: the heatmap evaluations are batch-runner runs under
``<out>/runs`` and the fitted patterns / training mean are files under ``<out>/models``.
"""
from __future__ import annotations

import json
import os

import numpy as np

from xaibench.papers._common import check_int, parse_data, rows_of, sub_run
from xaibench.papers.comparison import Reproduction, vs
from xaibench.plots import new_figure

TITLE = ("Kohlbrenner et al. (2020): Towards best practice in explaining neural network "
         "decisions with LRP")

#: Table 1 methods: key -> (xaibench analyzer, label as in the paper)
METHODS = {
    "cmp_a2b": ("lrp.cmp_alpha2_flat", "LRP_CMP:alpha2+b"),
    "cmp_a1": ("lrp.cmp_alpha1", "LRP_CMP:alpha1"),
    "cmp_a1b": ("lrp.cmp_alpha1_flat", "LRP_CMP:alpha1+b"),
    "cmp_a2": ("lrp.cmp_alpha2", "LRP_CMP:alpha2"),
    "lrp_a2": ("lrp.alpha_2_beta_1", "LRP_alpha2"),
    "lrp_a1": ("lrp.alpha_1_beta_0", "LRP_alpha1"),
    "lrp_z": ("lrp.z", "LRP_z"),
    "gb": ("guided_backprop", "GB"),
    "pa": ("pattern.attribution", "PA"),
}
BASELINE_KEY = "baseline"
LABELS = {**{k: v[1] for k, v in METHODS.items()}, BASELINE_KEY: "Baseline"}
CMP = ("cmp_a2b", "cmp_a1", "cmp_a1b", "cmp_a2")
UNIFORM_LRP = ("lrp_a2", "lrp_a1", "lrp_z")
COLUMNS = ("mu_w", "mu<=0.25", "mu<=0.5", "mu")

#: Table 1 of the paper: (mu_w, mu<=0.25, mu<=0.5, mu) per method and data set
PAPER = {
    "Table 1, ImageNet (VGG-16)": {
        "cmp_a2b": (1.902, 0.397, 0.534, 0.714),
        "cmp_a2": (1.797, 0.368, 0.505, 0.693),
        "cmp_a1": (1.7044, 0.3467, 0.4887, 0.6898),
        "cmp_a1b": (1.7043, 0.3466, 0.4886, 0.6898),
        "lrp_a2": (1.702, 0.332, 0.496, 0.706),
        "gb": (1.640, 0.312, 0.485, 0.710),
        "lrp_a1": (1.609, 0.306, 0.475, 0.699),
        "pa": (1.591, 0.303, 0.471, 0.698),
        "lrp_z": (1.347, 0.236, 0.389, 0.632),
        "baseline": (1.000, 0.128, 0.260, 0.547),
    },
    "Table 1, PVOC 2007 (CaffeNet)": {
        "cmp_a2b": (2.716, 0.307, 0.421, 0.532),
        "cmp_a1": (2.664, 0.306, 0.426, 0.539),
        "cmp_a1b": (2.598, 0.301, 0.421, 0.535),
        "cmp_a2": (2.475, 0.276, 0.388, 0.504),
        "lrp_z": (2.128, 0.236, 0.353, 0.480),
        "gb": (1.943, 0.212, 0.335, 0.470),
        "lrp_a2": (1.843, 0.205, 0.320, 0.452),
        "lrp_a1": (1.486, 0.163, 0.273, 0.403),
        "baseline": (1.000, 0.100, 0.186, 0.322),
    },
}
#: the paper's table the numbers of this reproduction are set against (single-label data)
REFERENCE = "Table 1, ImageNet (VGG-16)"

#: images of Table 1 / Figs. 2-3: (quick, full) per data set
N_IMAGES = {"clutter": (40, 1000), "imagenet_val": (32, 10000)}
#: images the patterns (and clutter's training mean) are estimated from: (quick, full)
PATTERN_IMAGES = {"clutter": (512, 5000), "imagenet_val": (32, 2000)}
#: the demo model's clutter images (xaibench/models/train_clutter_cnn.py)
CLUTTER = dict(size=48, seed=0, digit_scale=(0.45, 0.8))
#: box-size intervals of Fig. 3 in quick mode (the paper's 100 leave most of them empty)
QUICK_BINS = 20
#: bins of Fig. 2 (occluded area)
OCCLUSION_BINS = 20


# --------------------------------------------------------------------------- setup

def _vgg16_weights_file() -> str:
    from xaibench.zoo import VGG16_WEIGHTS_FILE

    return os.path.join(os.path.expanduser("~"), ".keras", "models", VGG16_WEIGHTS_FILE)


def _model_spec(kind: str, models: str, progress: bool) -> str:
    """The runner's model: the shipped demo CNN, or VGG-16 with ImageNet weights saved once
    to ``models/vgg16_imagenet.keras`` (a file the runner can load by path)."""
    if kind == "clutter":
        return "demo"
    from xaibench import zoo
    from xaibench.papers._common import cached_model

    path = os.path.join(models, "vgg16_imagenet.keras")
    cached_model(path, lambda: zoo.vgg16(weights="imagenet"), progress)
    return path


def _training_statistics(kind, data_map, models, n_fit, model_spec):
    """Patterns of PatternAttribution (Kindermans et al., fitted with the ReLU estimator)
    and the per-channel training mean (the occluder of Fig. 2), computed once and cached
    under ``models/``; returns (patterns path, fill)."""
    import xaibench as xb
    from xaibench.runner.engine import load_model

    patterns = os.path.abspath(os.path.join(models, "patterns.npz"))
    mean_file = os.path.join(models, "train_mean.json")
    if not (os.path.isfile(patterns) and os.path.isfile(mean_file)):
        if kind == "clutter":       # the demo model's training split: digits unseen in the test
            x = xb.data.clutter(n_fit, split="train", **CLUTTER).x
            mean = [round(float(v), 6) for v in np.asarray(x, np.float64).mean(axis=(0, 1, 2))]
            batches = x
        else:                       # vgg16 preprocessing subtracts the ImageNet training mean
            x = xb.data.imagenet_val(data_map["root"], preprocess="vgg16", limit=n_fit, lazy=True)
            mean = 0.0
            batches = (x[i:i + 32].x for i in range(0, len(x), 32))    # 32 decoded at a time
        if not os.path.isfile(patterns):
            an = xb.create_analyzer("pattern.attribution", load_model(model_spec),
                                    pattern_type="relu")
            an.fit(batches, batch_size=32)
            tmp = patterns[:-4] + ".part.npz"
            an.save_patterns(tmp)
            os.replace(tmp, patterns)
        with open(mean_file + ".part", "w") as fh:
            json.dump({"fill": mean, "images": int(len(x))}, fh)
        os.replace(mean_file + ".part", mean_file)
    with open(mean_file) as fh:
        return patterns, json.load(fh)["fill"]


# --------------------------------------------------------------------------- results

def _per_image(folder):
    """{analyzer: {metric: {setting: {image: value}}}} of a run's scalar rows (NULL -> NaN)."""
    out: dict = {}
    for image, analyzer, metric, setting, step, value in rows_of(folder):
        if step == -1:
            out.setdefault(analyzer, {}).setdefault(metric.split("(")[0], {}).setdefault(
                setting, {})[image] = np.nan if value is None else float(value)
    return out


def _ratio_arrays(per_image: dict) -> dict:
    d = per_image["relevance_ratio"]
    images = sorted(d["size"])
    return {k: np.array([d[k].get(i, np.nan) for i in images]) for k in ("mu", "mu_w", "size")}


def _table1(runs):
    """Per method key: the relevance_ratio arrays and the Table 1 columns."""
    from xaibench.evaluate import relevance_ratio_table

    main, pa = (_per_image(f) for f in runs)
    arrays = {key: _ratio_arrays(main[name]) for key, (name, _) in METHODS.items()
              if key != "pa"}
    arrays["pa"] = _ratio_arrays(next(v for k, v in pa.items() if k.startswith("pattern.")))
    arrays[BASELINE_KEY] = _ratio_arrays(main["baseline"])
    table = {k: relevance_ratio_table(a) for k, a in arrays.items()}
    for k, a in arrays.items():
        table[k]["n"] = int(np.isfinite(a["mu"]).sum())
    return arrays, table


def _table1_markdown(table):
    ref, pvoc = PAPER[REFERENCE], PAPER["Table 1, PVOC 2007 (CaffeNet)"]

    def cells(values):
        return " / ".join("-" if v is None else f"{v:.3f}" for v in values)

    order = sorted((k for k in table if k != BASELINE_KEY), key=lambda k: -table[k]["mu_w"])
    lines = ["Row order by xaibench's mu_w (as the paper's). Paper cells: mu_w / mu<=0.25 / "
             "mu<=0.5 / mu.", "",
             "| analyzer | mu_w | mu<=0.25 | mu<=0.5 | mu | n | paper ImageNet (VGG-16) | "
             "paper PVOC (CaffeNet) |", "|---|---|---|---|---|---|---|---|"]
    for k in order + [BASELINE_KEY]:
        t = table[k]
        ours = " | ".join("nan" if not np.isfinite(t[c]) else f"{t[c]:.3f}" for c in COLUMNS)
        lines.append(f"| {LABELS[k]} | {ours} | {t['n']} | {cells(ref.get(k, [None] * 4))} | "
                     f"{cells(pvoc.get(k, [None] * 4))} |")
    return "\n".join(lines)


def table1_claims(mu_w: dict, mu25: dict) -> list:
    """The qualitative statements of Sec. 4.2 on Table 1, as ``(claim, holds)``; ``mu_w`` /
    ``mu25`` map method keys (and "baseline") to mu_w / mu<=0.25. Used on xaibench's
    numbers and, in the tests, on the paper's own."""
    methods = [k for k in mu_w if k != BASELINE_KEY]
    cmp = [k for k in CMP if k in mu_w]
    others = [k for k in methods if k not in CMP]
    uniform = [k for k in UNIFORM_LRP if k in mu_w]
    out = [
        ("every method attributes more to the object than the uniform baseline (mu_w > 1)",
         all(mu_w[k] > mu_w[BASELINE_KEY] for k in methods)),
        ("LRP_CMP:alpha2+b has the highest mu_w of all methods",
         max(methods, key=lambda k: mu_w[k]) == "cmp_a2b"),
        ("every LRP_CMP variant has a higher mu_w than every other method",
         min(mu_w[k] for k in cmp) > max(mu_w[k] for k in others)),
        ("every LRP_CMP variant has a higher mu<=0.25 than every other method (small boxes)",
         min(mu25[k] for k in cmp) > max(mu25[k] for k in others)),
        ("the composite strategy matters more than its parameters: mean mu_w of LRP_CMP minus "
         "that of uniform LRP (alpha2, alpha1, z) exceeds the spread among LRP_CMP variants",
         np.mean([mu_w[k] for k in cmp]) - np.mean([mu_w[k] for k in uniform])
         > max(mu_w[k] for k in cmp) - min(mu_w[k] for k in cmp)),
        ("LRP_z has the lowest mu_w of all methods (ImageNet: gradient shattering in the deep "
         "VGG-16; on the shallower CaffeNet it did not)",
         min(methods, key=lambda k: mu_w[k]) == "lrp_z"),
    ]
    if "pa" in mu_w:
        near = min((k for k in methods if k != "pa"), key=lambda k: abs(mu_w[k] - mu_w["pa"]))
        out.append(("PA and LRP_alpha1 give close measurements: LRP_alpha1 is PA's nearest "
                    "method in mu_w", near == "lrp_a1"))
    return out


def table1_evidence(mu_w: dict, mu25: dict) -> list:
    """The numbers each claim of :func:`table1_claims` compares (same order), as short
    texts for the comparison's paper / xaibench cells."""
    methods = [k for k in mu_w if k != BASELINE_KEY]
    cmp = [k for k in CMP if k in mu_w]
    others = [k for k in methods if k not in CMP]
    uniform = [k for k in UNIFORM_LRP if k in mu_w]
    best_other = max((k for k in methods if k != "cmp_a2b"), key=lambda k: mu_w[k])
    spread = max(mu_w[k] for k in cmp) - min(mu_w[k] for k in cmp)
    out = [vs(min(mu_w[k] for k in methods), mu_w[BASELINE_KEY], digits=4),
           vs(mu_w["cmp_a2b"], mu_w[best_other], digits=4),
           vs(min(mu_w[k] for k in cmp), max(mu_w[k] for k in others), digits=4),
           vs(min(mu25[k] for k in cmp), max(mu25[k] for k in others), digits=4),
           vs(np.mean([mu_w[k] for k in cmp]) - np.mean([mu_w[k] for k in uniform]), spread,
              digits=4),
           vs(mu_w["lrp_z"], min(mu_w[k] for k in methods if k != "lrp_z"), digits=4)]
    if "pa" in mu_w:
        near = min((k for k in methods if k != "pa"), key=lambda k: abs(mu_w[k] - mu_w["pa"]))
        out.append(LABELS[near])
    return out


#: what :func:`table1_evidence` shows for each claim of :func:`table1_claims`
TABLE1_EVIDENCE = ("mu_w: worst method vs baseline", "mu_w: CMP:alpha2+b vs best other",
                   "mu_w: worst CMP vs best other", "mu<=0.25: worst CMP vs best other",
                   "mu_w: CMP - uniform LRP vs CMP spread", "mu_w: LRP_z vs lowest other",
                   "mu_w: PA's nearest method")


def _kendall_tau(a: dict, b: dict) -> float:
    from scipy.stats import kendalltau

    keys = sorted(set(a) & set(b) - {BASELINE_KEY})
    return float(kendalltau([a[k] for k in keys], [b[k] for k in keys])[0])


def _fig3(arrays, bins, path):
    """Fig. 3: mean mu per box-size interval (``bins`` equal intervals of [0, 1])."""
    from xaibench.evaluate import mu_by_box_size
    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(6.4, 4.0))
    styles = dict(zip(METHODS, line_styles(len(METHODS))))
    for key in list(METHODS) + [BASELINE_KEY]:
        edges, mean, _ = mu_by_box_size(arrays[key], bins=bins)
        centre = (edges[:-1] + edges[1:]) / 2
        ok = np.isfinite(mean)
        style = dict(color="k", linestyle="--", marker=".") if key == BASELINE_KEY else \
            styles[key]
        ax.plot(centre[ok], mean[ok], linewidth=1, markersize=4, label=LABELS[key], **style)
    for t in (0.25, 0.5):
        ax.axvline(t, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("bounding box size / image size")
    ax.set_ylabel("mean mu = R_in / R_tot (eq. 2)")
    ax.set_title(f"mu against box size ({bins} intervals)", fontsize=9)
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def _fig2(occ, path, bins=OCCLUSION_BINS):
    """Fig. 2: mean true-class logit change against the occluded share of the image."""
    fig, ax = new_figure(figsize=(5.6, 3.8))
    edges = np.linspace(0, 1, bins + 1)
    for what, area, colour in (("object", occ["size"], "tab:red"),
                               ("context", 1 - occ["size"], "tab:blue")):
        delta = occ[what]
        ax.scatter(area, delta, s=6, color=colour, alpha=0.25)
        idx = np.clip(np.digitize(area, edges[1:-1], right=True), 0, bins - 1)
        count = np.bincount(idx, minlength=bins)
        mean = np.bincount(idx, weights=delta, minlength=bins) / np.maximum(count, 1)
        ok = count > 0
        ax.plot(((edges[:-1] + edges[1:]) / 2)[ok], mean[ok], marker="o", color=colour,
                label=f"occluding the {what} (mean per interval)")
    ax.axhline(0, color="k", linewidth=0.6)
    ax.set_xlim(0, 1)
    ax.set_xlabel("occluded area / image size")
    ax.set_ylabel("change of the true-class logit")
    ax.set_title("occlusion with the training mean: object vs. context", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


# --------------------------------------------------------------------------- Fig. 1

def _fig1_analyzers(n_conv: int, patterns: str) -> list:
    """(column title, analyzer, params) of Fig. 1 (a)-(g)."""
    first = min(3, max(1, n_conv - 1))
    return [("(a) LRP_z", "lrp.z", {}),
            ("(b) LRP_alpha1", "lrp.alpha_1_beta_0", {}),
            ("(c) GB", "guided_backprop", {}),
            ("(d) PA", "pattern.attribution", {"patterns": patterns}),
            ("(e) CMP:alpha1, b on input", "lrp.cmp_flat_until", {"flat_layers": 1, "alpha": 1}),
            (f"(f) CMP, b on all {n_conv} conv", "lrp.cmp_flat_until",
             {"flat_layers": n_conv, "alpha": 1}),
            (f"(g) CMP:alpha1, b on {first} conv", "lrp.cmp_flat_until",
             {"flat_layers": first, "alpha": 1})]


def _fig1(data_map, model_spec, patterns, cache, path):
    """Fig. 1 style grid: two correctly classified images, each explained for its true and
    its runner-up class; heatmaps cached in ``cache`` (.npz). Returns the per-column mean
    correlation between the two classes' heatmaps."""
    import tensorflow as tf

    import xaibench as xb
    from xaibench.plots import heatmap_grid
    from xaibench.prepare import logits_model
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import load_model

    data = load(dict(data_map, n=min(16, data_map.get("n") or 16)))
    if os.path.isfile(cache):
        with np.load(cache, allow_pickle=False) as f:
            titles = [str(t) for t in f["titles"]]
            R = {t: f[f"R{k}"] for k, t in enumerate(titles)}
            pick, classes, logits = f["pick"], f["classes"], f["logits"]
    else:
        model = load_model(model_spec)
        z = np.asarray(logits_model(model)(tf.constant(data.x), training=False))
        right = np.flatnonzero(z.argmax(axis=1) == data.y)
        pick = (list(right) + [i for i in range(len(data.y)) if i not in right])[:2]
        pick = np.asarray(pick)
        runner_up = np.argsort(z[pick], axis=1)[:, -2]
        second = np.where(runner_up == data.y[pick], np.argsort(z[pick], axis=1)[:, -1],
                          runner_up)
        classes = np.stack([data.y[pick], second], axis=1).reshape(-1)      # true, other, ...
        rows = np.repeat(pick, 2)
        logits = z[rows, classes]
        n_conv = sum(isinstance(layer, tf.keras.layers.Conv2D) for layer in model.layers)
        R = {}
        for title, name, params in _fig1_analyzers(n_conv, patterns):
            an = xb.create_analyzer(name, model, **params)
            R[title] = np.asarray(an.analyze(data.x[rows], neuron_selection=classes), np.float32)
        tmp = cache[:-4] + ".part.npz"
        np.savez_compressed(tmp, titles=np.array(list(R)), pick=pick, classes=classes,
                            logits=logits, **{f"R{k}": v for k, v in enumerate(R.values())})
        os.replace(tmp, cache)
    rows = np.repeat(pick, 2)
    if not (os.path.isfile(path) and os.path.getmtime(path) >= os.path.getmtime(cache)):
        heatmap_grid(data.x[rows], R, path, overlay=True,
                     titles=[f"img {i}: class {c} ({v:.1f})" for i, c, v in
                             zip(rows, classes, logits)])
    corr = {}
    for title, r in R.items():
        h = r.sum(axis=-1).reshape(len(r), -1).astype(np.float64)
        corr[title] = float(np.mean([np.corrcoef(h[2 * k], h[2 * k + 1])[0, 1]
                                     for k in range(len(pick))]))
    return corr


# --------------------------------------------------------------------------- run

def run(out, quick=False, data=None, progress=True, seed=0, images=None, bins=None,
        pattern_images=None) -> Reproduction:
    """Run Table 1 and Figs. 1-3 (see the module docstring) into ``out``.

    ``data``: ``clutter`` (default) or ``imagenet_val:PATH``; ``images``: test images (default
    40 quick / 1000 full on clutter, 32 / 10,000 on ImageNet); ``bins``: box-size intervals
    of Fig. 3 (default: the paper's 100; 20 in quick mode); ``pattern_images``: images
    PatternAttribution's patterns (and clutter's training mean) are estimated from (512 /
    5000 clutter training images, 32 / 2000 ImageNet validation images); ``seed``: the
    runs' seed.
    """
    seed = check_int("seed", seed, 0)
    n = check_int("images", images, 1, allow_none=True)
    bins = check_int("bins", bins, 2, allow_none=True)
    pattern_images = check_int("pattern_images", pattern_images, 1, allow_none=True)
    spec = parse_data(data, "clutter", ("clutter", "imagenet_val"))
    kind = spec["name"]
    models = os.path.join(out, "models")
    if kind == "imagenet_val":
        from xaibench.data import imagenet_val

        imagenet_val(spec["root"], limit=1)      # a wrong folder layout fails before any model
        weights = _vgg16_weights_file()
        if not (os.path.isfile(os.path.join(models, "vgg16_imagenet.keras"))
                or os.path.isfile(weights)):
            raise FileNotFoundError(f"the VGG-16 ImageNet weights are not in the Keras cache: "
                                    f"put {os.path.basename(weights)} at {weights}")
    n = n or N_IMAGES[kind][0 if quick else 1]
    bins = bins or (QUICK_BINS if quick else 100)
    n_fit = pattern_images or PATTERN_IMAGES[kind][0 if quick else 1]
    label = kind if kind == "clutter" else f"imagenet_val ({spec['root']})"
    result = Reproduction("kohlbrenner", TITLE, out, quick, f"{label}, {n} images")
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    os.makedirs(models, exist_ok=True)

    model_spec = _model_spec(kind, models, progress)
    patterns, fill = _training_statistics(kind, spec, models, n_fit, model_spec)
    data_map = {"name": "clutter", "n": n} if kind == "clutter" else \
        {"name": "imagenet_val", "root": spec["root"], "preprocess": "vgg16", "n": n}
    shard = n if quick else (64 if kind == "clutter" else 32)
    common = {"model": model_spec, "data": data_map, "shard_size": shard, "seed": seed}
    main = sub_run(result, "table1", dict(
        common, analyzers=[name for key, (name, _) in METHODS.items() if key != "pa"],
        metrics=["relevance_ratio", {"name": "object_occlusion", "params": {"fill": fill}}],
        save_heatmaps=kind == "clutter"), progress)     # ImageNet: 0.3 MB per heatmap
    # own run without saved heatmaps: the patterns' path in the analyzer label would become
    # part of the heatmap file name
    pa = sub_run(result, "table1_pa", dict(
        common, analyzers=[{"name": "pattern.attribution", "params": {"patterns": patterns}}],
        metrics=["relevance_ratio"], save_heatmaps=False), progress)

    # ---- Table 1
    arrays, table = _table1((main, pa))
    result.tables["Table 1: relevance inside the box (eq. 2), true class"] = \
        _table1_markdown(table)
    ref = PAPER[REFERENCE]
    for column in ("mu_w", "mu"):
        for key in list(METHODS) + [BASELINE_KEY]:
            result.add(f"Table 1, {column}, {LABELS[key]}",
                       paper=ref[key][COLUMNS.index(column)], ours=table[key][column])
    mu_w = {k: t["mu_w"] for k, t in table.items()}
    result.add("Table 1, rank agreement of mu_w with the paper (Kendall tau)",
               ours=_kendall_tau(mu_w, {k: v[0] for k, v in ref.items()}))
    mu25 = {k: t["mu<=0.25"] for k, t in table.items()}
    ref_mu_w, ref_mu25 = ({k: v[COLUMNS.index(c)] for k, v in ref.items()}
                          for c in ("mu_w", "mu<=0.25"))
    for (claim, holds), what, paper, ours in zip(
            table1_claims(mu_w, mu25), TABLE1_EVIDENCE,
            table1_evidence(ref_mu_w, ref_mu25), table1_evidence(mu_w, mu25)):
        result.add(f"Table 1, {what}", claim=claim, holds=holds, paper=paper, ours=ours)

    # ---- Fig. 3
    result.figures["Fig. 3: mu against box size"] = _fig3(
        arrays, bins, os.path.join(out, "figures", "fig3_mu_by_box_size.png"))
    from scipy.stats import spearmanr

    rho = {}
    for key in METHODS:
        a = arrays[key]
        ok = np.isfinite(a["mu"])
        rho[key] = float(spearmanr(a["size"][ok], a["mu"][ok])[0])
    result.add("Fig. 3, smallest Spearman rho(box size, mu) over the methods",
               ours=min(rho.values()),
               claim="mu grows with the box size for every method (decided: rho > 0 for "
               "every method)", holds=all(r > 0 for r in rho.values()))
    small, large = {}, {}
    for key in METHODS:
        a = arrays[key]
        ok = np.isfinite(a["mu"])
        if np.any(ok & (a["size"] <= 0.25)):
            small[key] = float(np.mean(a["mu"][ok & (a["size"] <= 0.25)]))
        if np.any(ok & (a["size"] > 0.5)):
            large[key] = float(np.mean(a["mu"][ok & (a["size"] > 0.5)]))
    decided = len(small) == len(METHODS) and len(large) == len(METHODS)
    spread = {k: max(v.values()) - min(v.values()) if v else None
              for k, v in (("large", large), ("small", small))}
    result.add("Fig. 3, spread of mean mu: boxes > 50 % vs <= 25 %",
               ours=vs(spread["large"], spread["small"]) if decided else None,
               claim="methods converge for boxes > 50 % of the image: the spread of "
               "mean mu between methods is smaller there than for boxes <= 25 %",
               holds=(spread["large"] < spread["small"]) if decided else None)

    # ---- Fig. 2
    o = _per_image(main)["baseline"]["object_occlusion"]
    images = sorted(o["size"])
    occ = {k: np.array([o[k][i] for i in images]) for k in ("f", "object", "context", "size")}
    result.figures["Fig. 2: occluding object vs. context"] = _fig2(
        occ, os.path.join(out, "figures", "fig2_occlusion.png"))
    result.add("Fig. 2, mean logit change, occluding the object", ours=float(occ["object"].mean()))
    result.add("Fig. 2, mean logit change, occluding the context",
               ours=float(occ["context"].mean()))
    result.add("Fig. 2, share of images where occluding the object lowers the logit more",
               ours=float(np.mean(occ["object"] < occ["context"])))
    result.add("Fig. 2, mean logit change: object vs context",
               ours=vs(float(occ["object"].mean()), float(occ["context"].mean())),
               claim="occluding the object lowers the true-class logit more than "
               "occluding the context (mean over images)",
               holds=occ["object"].mean() < occ["context"].mean())
    median = np.median(occ["size"])
    gap = occ["context"] - occ["object"]
    lower, upper = gap[occ["size"] <= median], gap[occ["size"] > median]
    split = len(lower) and len(upper)
    result.add("Fig. 2, context - object change: smaller vs larger half of the objects",
               ours=vs(float(lower.mean()), float(upper.mean())) if split else None,
               claim="the difference is larger for the smaller half of the objects",
               holds=(lower.mean() > upper.mean()) if split else None)

    # ---- Fig. 1
    corr = _fig1(data_map, model_spec, patterns,
                 os.path.join(out, "models", "fig1_heatmaps.npz"),
                 os.path.join(out, "figures", "fig1_heatmaps.png"))
    result.figures["Fig. 1: two classes, uniform rules (a)-(d) vs. LRP_CMP (e)-(g)"] = \
        os.path.join(out, "figures", "fig1_heatmaps.png")
    titles = list(corr)
    uniform_corr = float(np.mean([corr[t] for t in titles[:4]]))
    cmp_corr = float(np.mean([corr[t] for t in titles[4:]]))
    result.add("Fig. 1, correlation of true- and runner-up-class heatmaps, (a)-(d)",
               ours=uniform_corr)
    result.add("Fig. 1, correlation of true- and runner-up-class heatmaps, LRP_CMP (e)-(g)",
               ours=cmp_corr)
    result.add("Fig. 1, correlation of the two classes' heatmaps: LRP_CMP vs (a)-(d)",
               ours=vs(cmp_corr, uniform_corr),
               claim="LRP_CMP is more class-discriminative than uniform rules, GB "
               "and PA (lower correlation between the two classes' heatmaps)",
               holds=cmp_corr < uniform_corr)
    result.tables["Fig. 1: correlation between the two classes' heatmaps"] = "\n".join(
        ["| column | mean correlation (true vs. runner-up class) |", "|---|---|"]
        + [f"| {t} | {c:.3f} |" for t, c in corr.items()])
    return result
