"""Seo, Oh and Oh (2018), "Regional Multi-scale Approach for Visually Pleasing
Explanations of Deep Neural Networks" (../shared/papers/003_0df79accd0ee0cf4.txt).

What is reproduced:

* Fig. 2 (effect of regions): the class probability when, in the 16-region
  segmentation (2^4), the region holding most of the object is erased by
  boundary-prior noise (Alg. 3 lines 2 and 6) against erasing the largest region
  without object pixels; and the 16-level saliency map.
* Fig. 3 (coarse to fine): the per-scale maps s^j of Alg. 3 line 9 for 2, 4, 8,
  16, 32 regions and their fusion s = 1/r sum_j s^j (line 13), computed here from
  the analyzer's own segmentation, prior and noise; the fused map is checked
  against the ``rmpd`` heatmap of the batch run.
* Fig. 4 (visual comparison): deconvnet (DC), sensitivity (SA, |gradient|),
  LRP (epsilon), prediction difference (PD, Alg. 2), Grad-CAM and RMPD (Alg. 3),
  one row per image.
* Fig. 5 (quantitative comparison): precision, recall and F-measure (beta = 1;
  the paper does not give beta) of the thresholded maps (normalised to [0, 1],
  thresholds 0..1) against the object masks, through the runner metric
  ``precision_recall``, and the paper's claims on them.
* Sec. 3.3 / Sec. 4: forward passes per image (counted by a wrapper layer in the
  model) and seconds per image of RMPD against PD on the same images.

Quick mode (``quick=True``): 12 ``clutter`` test images (48 x 48 RGB, digit masks)
explained by the shipped ``demo`` CNN; PD with 4 x 4 windows, an 8 x 8 ring, 4
samples and stride 3 (the paper: stride 1, r = 10) so that it finishes in seconds;
timing on 2 images. Full protocol: 100 images (Fig. 5 used 100 ImageNet images of
one object on white background, GoogLeNet, not available), PD with stride 1 and
r = 10 samples, timing on 10 images. ``data="voc2007:PATH"`` uses PASCAL VOC 2007
segmentation masks with VGG-16 (ImageNet weights from the Keras cache; the
explained class is VGG-16's top-1 ImageNet class, the mask the VOC object's);
``data="imagenet_val:PATH"`` ImageNet validation images with their boxes as the
ground truth. A GPU is expected there (PD needs ~r n^2 forward passes per image).
"""
from __future__ import annotations

import hashlib
import json
import os
import time

import numpy as np

from xaibench.papers._common import (
    cached_arrays, cached_model, check_int, parse_data, rows_of, sub_run)
from xaibench.papers.comparison import Reproduction, order_text, vs
from xaibench.plots import new_figure
from xaibench.runner.store import load_heatmaps

TITLE = ("Seo et al. (2018): regional multi-scale prediction difference (Alg. 3) against "
         "DC, SA, LRP, PD and Grad-CAM")

#: the paper's numbers, transcribed from its text (item of the comparison -> value)
PAPER = {
    # Sec. 3.3, last paragraph: line 7 of Alg. 3 runs 2^1 + ... + 2^r times, "62 for r = 5"
    "Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)": 62,
    # Sec. 3.2: Alg. 2 line 8 runs r n^2 times; the example: n = 256, r = 10
    "Sec. 3.2: forward passes per image, PD (paper: r n^2, n = 256, r = 10)":
        10 * 256 ** 2,
    # Sec. 4: "The average computation time of Algorithm 3 was approximately 5 s" (GoogLeNet,
    # GTX1080)
    "Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)": 5.0,
    # Sec. 3.2: "Algorithm 2 required 70 minutes on a VGG network with a GPU for a 256 x 256
    # image where k = 10, l = 14, and r = 10"
    "Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)": 70 * 60.0,
    # Sec. 4: "two orders of magnitude faster than Algorithm 2" (its own times, 70 min for
    # Alg. 2 on VGG and 5 s for Alg. 3 on GoogLeNet, would give 840)
    "Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)": 100.0,
    # Fig. 2 / Sec. 4 "Effect of regions": "Samoyed" score 70.63 % -> 0.01 % when the
    # Samoyed's region (16-level segmentation) is erased
    "Fig. 2: class probability, image intact": 0.7063,
    "Fig. 2: class probability, object region erased": 0.0001,
    # Sec. 4 "Quantitative comparisons": 100 ImageNet images with one object on white
    "Fig. 5: images": 100,
}

#: method key -> (display name, analyzer step of the batch run) for Fig. 4 / 5
METHODS = {
    "DC": ("deconvnet", {}),
    "SA": ("gradient", {"postprocess": "abs"}),
    "LRP": ("lrp.epsilon", {}),
    "PD": ("prediction_difference", None),      # params from the options
    "Grad-CAM": ("grad_cam", {}),
    "RMPD": ("rmpd", None),
}
ALLOWED_DATA = ("clutter", "voc2007", "imagenet_val")


# --------------------------------------------------------------------------- options

def settings(quick: bool, data: dict, images=None, scales=5, pd_inner=None, pd_outer=None,
             pd_samples=None, pd_stride=None, timing_images=None, seed=0) -> dict:
    """The protocol of this call, every option checked (a one-line ``ValueError``)."""
    big = data["name"] != "clutter"          # 224 x 224 images of VOC / ImageNet
    s = {
        "images": 12 if quick else 100,
        "scales": 5,
        # Zintgraf / Seo Alg. 2: k = 10, l = 14, r = 10 on 224-256 px images; the 48 px
        # clutter images get k = 4, l = 8
        "pd_inner": 10 if big else 4,
        "pd_outer": None,
        "pd_samples": 4 if quick else 10,
        "pd_stride": 3 if quick else 1,
        "timing_images": 2 if quick else 10,
        "seed": 0,
    }
    given = dict(images=images, scales=scales, pd_inner=pd_inner, pd_outer=pd_outer,
                 pd_samples=pd_samples, pd_stride=pd_stride, timing_images=timing_images,
                 seed=seed)
    s.update({k: v for k, v in given.items() if v is not None})
    s["images"] = check_int("images", s["images"], 1, 100_000)
    s["scales"] = check_int("scales", s["scales"], 1, 8)
    s["pd_inner"] = check_int("pd_inner", s["pd_inner"], 1, 64)
    s["pd_outer"] = s["pd_inner"] + 4 if s["pd_outer"] is None else check_int(
        "pd_outer", s["pd_outer"], 2, 128)
    if s["pd_outer"] <= s["pd_inner"]:
        raise ValueError(f"pd_outer={s['pd_outer']} must be larger than pd_inner="
                         f"{s['pd_inner']} (Alg. 2: l > k); use pd_outer >= {s['pd_inner'] + 1}")
    s["pd_samples"] = check_int("pd_samples", s["pd_samples"], 1, 1000)
    s["pd_stride"] = check_int("pd_stride", s["pd_stride"], 1, 64)
    s["timing_images"] = check_int("timing_images", s["timing_images"], 1, 1000)
    if s["timing_images"] > s["images"]:
        raise ValueError(f"timing_images={s['timing_images']} exceeds images={s['images']}; "
                         "time at most the explained images")
    s["seed"] = check_int("seed", s["seed"], 0, 2 ** 31 - 1)
    side = 224 if big else 48
    if s["pd_inner"] >= side:
        raise ValueError(f"pd_inner={s['pd_inner']} does not fit the {side} px images; use "
                         f"pd_inner < {side}")
    return s


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- data and model

def _prepare(result, data: dict, s: dict, progress: bool):
    """``(model spec for the runner, runner data mapping, display images or None)``.

    clutter: the shipped demo CNN. voc2007: VGG-16 (ImageNet) cached under
    ``models/``; the VOC segmentation images with their masks and VGG-16's top-1
    class are saved once to ``data/voc2007.npz``. imagenet_val: VGG-16, the boxes.
    """
    if data["name"] == "clutter":
        return "demo", {"name": "clutter", "n": s["images"]}, None
    from xaibench import zoo

    model_path = os.path.join(result.out, "models", "vgg16_imagenet.keras")
    model = cached_model(model_path, lambda: zoo.vgg16("imagenet"), progress)
    if data["name"] == "imagenet_val":
        return model_path, {"name": "imagenet_val", "root": data["root"], "n": s["images"],
                            "preprocess": "vgg16"}, None
    from xaibench.data import voc2007
    from xaibench.runner.datasets import save_npz

    folder = os.path.join(result.out, "data")
    path = os.path.join(folder, "voc2007.npz")
    shown = os.path.join(folder, "voc2007_images.npy")
    if not os.path.isfile(path):
        os.makedirs(folder, exist_ok=True)
        ds = voc2007(data["root"], split="test", segmentation=True, preprocess="vgg16",
                     limit=s["images"])
        from xaibench.runner.engine import predicted_classes

        y = predicted_classes(model, ds.x, batch_size=16)
        np.save(shown + ".part.npy", ds.images if ds.images is not None else ds.x)
        os.replace(shown + ".part.npy", shown)
        save_npz(path, ds.x, y, masks=ds.masks)
    return model_path, {"name": "npz", "path": path, "n": s["images"]}, np.load(shown)


def _check_vgg16_weights(saved: str) -> None:
    """VOC / ImageNet need VGG-16's ImageNet weights: a saved copy or the Keras cache."""
    from xaibench.zoo import VGG16_WEIGHTS_FILE

    cached = os.path.join(os.path.expanduser("~"), ".keras", "models", VGG16_WEIGHTS_FILE)
    if not (os.path.isfile(saved) or os.path.isfile(cached)):
        raise FileNotFoundError(f"VGG-16 ImageNet weights are not in the Keras cache ({cached}); "
                                f"download {VGG16_WEIGHTS_FILE} there (no network is used)")


def _steps(s: dict) -> dict:
    steps = {}
    for key, (name, params) in METHODS.items():
        if key == "PD":
            params = {"inner": s["pd_inner"], "outer": s["pd_outer"],
                      "samples": s["pd_samples"], "stride": s["pd_stride"], "seed": s["seed"]}
        elif key == "RMPD":
            params = {"scales": s["scales"], "seed": s["seed"]}
        steps[key] = {"name": name, "params": params} if params else {"name": name}
    return steps


def _labels(steps: dict) -> dict:
    """analyzer label of the run (``name(k=v,...)``) -> method key."""
    from xaibench.runner.config import Step

    return {Step(v["name"], dict(v.get("params", {}))).label: k for k, v in steps.items()}


def curves(folder: str, labels: dict) -> dict:
    """Fig. 5 from the run's rows: ``{method: {"precision"|"recall"|"f": (T,) mean over
    images, "mean_<key>": mean over images of the per-image mean over thresholds,
    "max_f": mean over images of the per-image best F}}``."""
    acc: dict = {}
    for image, analyzer, metric, setting, step, value in rows_of(folder):
        if not metric.startswith("precision_recall") or analyzer not in labels:
            continue
        acc.setdefault((labels[analyzer], setting, step), []).append(value)
    out: dict = {}
    for (method, setting, step), values in acc.items():
        d = out.setdefault(method, {})
        if step < 0:
            d["mean_" + setting if setting != "max_f" else "max_f"] = float(np.mean(values))
        else:
            d.setdefault(setting + "_steps", {})[step] = float(np.mean(values))
    for d in out.values():
        for key in ("precision", "recall", "f"):
            steps = d.pop(key + "_steps")
            d[key] = np.array([steps[k] for k in sorted(steps)])
    return out


# --------------------------------------------------------------------------- Alg. 3 per scale

def per_scale(model, x, y, scales: int, seed: int, segmentation: str = "slic") -> dict:
    """The maps s^j of every scale j (Alg. 3 lines 3-12) and the region probabilities.

    Uses the ``rmpd`` analyzer's segmentation (``segment_scales``, line 4), its
    boundary prior (``prior``, line 2) and its noise fields (``noise``, one per
    scale), so that ``mean_j s^j`` (line 13) is the
    analyzer's heatmap. Returns ``maps`` (N, r, H, W), ``segments`` (N, r, H, W),
    ``p`` (N,) = p(y|x), ``p_without`` (N, 2^(r+1) - 2) = p(y|x_\\i) per region, the
    prior's ``mu`` (N, C) and ``sigma`` (N,).
    """
    import tensorflow as tf

    import xaibench as xb
    from xaibench.analyzers.perturbation._kernels import score_function

    analyzer = xb.create_analyzer("rmpd", model, scales=scales, seed=seed,
                                  segmentation=segmentation)
    prob = score_function(model, "probability")
    n, h, w, c = x.shape
    sizes = [2 ** j for j in range(1, scales + 1)]
    m = sum(sizes)
    maps = np.zeros((n, scales, h, w))
    segs = np.zeros((n, scales, h, w), np.int16)
    p = np.zeros(n)
    p_without = np.zeros((n, m))
    mus, sigmas = np.zeros((n, c), np.float32), np.zeros(n, np.float32)
    z = analyzer.noise((h, w, c))
    for i in range(n):
        seg = analyzer.segment_scales(x[i])
        mu, sd = analyzer.prior(x[i])
        mus[i], sigmas[i] = mu, sd
        copies, offset = [], 0
        for j, k in enumerate(sizes):
            for region in range(k):
                mask = (seg[j] == region)[..., None]
                copies.append(np.where(mask, mu[None, None, :] + sd * z[j], x[i]))
            offset += k
        scores = prob(tf.constant(np.concatenate([x[i:i + 1], np.stack(copies)]),
                                  tf.float32)).numpy()[:, int(y[i])].astype(np.float64)
        p[i], p_without[i] = scores[0], scores[1:]
        diff = np.maximum(0.0, p[i] - p_without[i])
        offset = 0
        for j, k in enumerate(sizes):
            maps[i, j] = diff[offset:offset + k][seg[j]]
            offset += k
        segs[i] = seg
    return {"maps": maps, "segments": segs, "p": p, "p_without": p_without, "mu": mus,
            "sigma": sigmas, "noise": z}




# --------------------------------------------------------------------------- timing

def counting_model(model):
    """``(wrapper, counter)``: a model giving ``model``'s logits whose first layer adds
    the batch size of every call to ``counter`` (a tf.Variable), inside traced
    functions too; a softmax on top gives ``model``'s probabilities."""
    import tensorflow as tf

    from xaibench.prepare import logits_model

    class CountImages(tf.keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.count = tf.Variable(0, dtype=tf.int64, trainable=False)

        def call(self, x):
            self.count.assign_add(tf.cast(tf.shape(x)[0], tf.int64))
            return tf.identity(x)

    inp = tf.keras.Input(model.input_shape[1:])
    layer = CountImages(name="count_images")
    wrapper = tf.keras.Model(inp, logits_model(model)(layer(inp)), name="counted")
    return wrapper, layer.count


def timing(model, x, y, steps: dict, seed: int) -> dict:
    """Forward passes and seconds per image of RMPD and PD on the same images (one
    warm-up image first, so that tracing is not timed)."""
    import xaibench as xb

    wrapper, count = counting_model(model)
    out = {"images": int(len(x))}
    for key in ("RMPD", "PD"):
        step = steps[key]
        analyzer = xb.create_analyzer(step["name"], wrapper, **step.get("params", {}))
        analyzer.analyze(x[:1], neuron_selection=y[:1])
        count.assign(0)
        t0 = time.perf_counter()
        analyzer.analyze(x, neuron_selection=y)
        seconds = time.perf_counter() - t0
        out[key] = {"forward_passes": int(count.numpy()), "seconds": seconds,
                    "stats_model_images": int(analyzer.stats.get("model_images", -1))}
    return out


def pd_passes_formula(h: int, w: int, inner: int, samples: int, stride: int) -> int:
    """Forward passes of Alg. 2 per image: 1 + (windows) r, windows at stride ``stride``
    plus the last position (n^2 r for stride 1 and k = 1 as in Sec. 3.2)."""
    def count(size):
        starts = list(range(0, size - inner + 1, stride))
        return len(starts) + (starts[-1] != size - inner)

    return 1 + count(h) * count(w) * samples


# --------------------------------------------------------------------------- figures

def _drawn(path: str, draw) -> str:
    """``path``, drawn there by ``draw(tmp_path)`` (atomically) unless it exists: its
    inputs are cached with the run, so a re-run draws nothing."""
    if not os.path.isfile(path):
        tmp = path[:-len(".png")] + ".part.png"
        draw(tmp)
        os.replace(tmp, path)
    return path



#: the non-negative prediction-difference maps (max(0, .) per region, Alg. 3): white at 0,
#: dark red at the row's maximum (a sequential map; the paper's rainbow map is not
#: perceptually ordered)
MAP_CMAP = "Reds"


def _show(img):
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo + 1e-12)


def figure_regions(path, image, seg16, erased, probs, smap):
    """Fig. 2: (a) 16-region segmentation, (b) object region erased, (c) a background
    region erased, (d) the 16-level saliency map."""
    from skimage.segmentation import mark_boundaries

    from xaibench.plots import add_colorbar

    fig, ax = new_figure(1, 4, figsize=(8.6, 2.3), layout="constrained")
    ax[0].imshow(mark_boundaries(_show(image), seg16, color=(1, 1, 0)))
    ax[0].set_title(f"(a) 16 regions, p={probs[0]:.3f}", fontsize=7)
    ax[1].imshow(_show(erased[0]))
    ax[1].set_title(f"(b) object erased, p={probs[1]:.3f}", fontsize=7)
    ax[2].imshow(_show(erased[1]))
    ax[2].set_title(f"(c) background erased, p={probs[2]:.3f}", fontsize=7)
    top = float(np.max(smap)) or 1.0
    ax[3].imshow(smap, cmap=MAP_CMAP, vmin=0, vmax=top)
    ax[3].set_title("(d) 16-level map", fontsize=7)
    for a in ax:
        a.set_xticks([])
        a.set_yticks([])
    add_colorbar(fig, ax[3], MAP_CMAP, 0, top, "prediction difference")
    fig.savefig(path, dpi=120)
    return path


def figure_scales(path, images, maps, fused, titles):
    """Fig. 3: per-scale maps from coarse (2 regions) to fine (2^r) and their fusion."""
    from xaibench.plots import add_colorbar

    n, r = maps.shape[:2]
    fig, ax = new_figure(n, r + 2, figsize=(1.4 * (r + 2) + 0.8, 1.5 * n + 0.3), squeeze=False,
                         layout="constrained")
    for i in range(n):
        ax[i, 0].imshow(_show(images[i]))
        ax[i, 0].set_ylabel(titles[i], fontsize=7)
        top = max(float(np.max(maps[i])), float(np.max(fused[i]))) or 1.0   # one scale a row
        for j in range(r):
            ax[i, j + 1].imshow(maps[i, j] / top, cmap=MAP_CMAP, vmin=0, vmax=1)
            if i == 0:
                ax[i, j + 1].set_title(f"{2 ** (j + 1)} regions", fontsize=7)
        ax[i, r + 1].imshow(fused[i] / top, cmap=MAP_CMAP, vmin=0, vmax=1)
        if i == 0:
            ax[i, 0].set_title("input", fontsize=7)
            ax[i, r + 1].set_title("fused (mean)", fontsize=7)
    for a in ax.ravel():
        a.set_xticks([])
        a.set_yticks([])
    add_colorbar(fig, list(ax[:, 1:].ravel()), MAP_CMAP, 0, 1,
                 "PD / s, s = max of the row", ticks=[0, 0.5, 1])
    fig.savefig(path, dpi=120)
    return path


def figure_curves(path, pr: dict, thresholds):
    """Fig. 5: precision, recall and F-measure against the threshold, one line per method."""
    from xaibench.plots import line_styles

    fig, ax = new_figure(1, 3, figsize=(11, 3.2), layout="constrained")
    shown = [m for m in METHODS if m in pr]
    for a, key, name in zip(ax, ("precision", "recall", "f"), ("precision", "recall",
                                                                  "F-measure")):
        for method, style in zip(shown, line_styles(len(shown))):
            y = np.asarray(pr[method][key], dtype=np.float64)
            a.plot(thresholds, y, label=method, lw=2.2 if method == "RMPD" else 1.2,
                   markersize=4, markevery=max(1, len(y) // 10), **style)
        a.set_xlabel("threshold")
        a.set_title(name, fontsize=9)
        a.set_xlim(0, 1)
        a.set_ylim(0, 1.02)
    ax[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
                 frameon=False)
    fig.savefig(path, dpi=120)
    return path


# --------------------------------------------------------------------------- run

def run(out, quick=False, data=None, progress=True, seed=0, images=None, scales=5,
        pd_inner=None, pd_outer=None, pd_samples=None, pd_stride=None,
        timing_images=None) -> Reproduction:
    """Reproduce Seo et al. Figs. 2-5 and the cost comparison of Sec. 3.3 / 4.

    Options: ``images`` (explained images; quick 12, full 100 as Fig. 5), ``scales``
    (r of Alg. 3, 5), ``pd_inner`` / ``pd_outer`` / ``pd_samples`` / ``pd_stride`` (k, l,
    r and the window stride of Alg. 2), ``timing_images`` (images timed for Sec. 4),
    ``seed``. Everything is checked before any work.
    """
    from xaibench.evaluate import precision_recall_curves
    from xaibench.plots import heatmap_grid
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import load_model

    spec = parse_data(data, "clutter", ALLOWED_DATA)
    s = settings(quick, spec, images=images, scales=scales, pd_inner=pd_inner,
                 pd_outer=pd_outer, pd_samples=pd_samples, pd_stride=pd_stride,
                 timing_images=timing_images, seed=seed)
    if spec["name"] != "clutter":
        _check_vgg16_weights(os.path.join(str(out), "models", "vgg16_imagenet.keras"))
    result = Reproduction("seo", TITLE, str(out), bool(quick), data or "clutter")
    figdir = os.path.join(result.out, "figures")
    os.makedirs(figdir, exist_ok=True)

    model_spec, data_map, shown = _prepare(result, spec, s, progress)
    steps = _steps(s)
    labels = _labels(steps)
    thresholds = 101
    mapping = {"model": model_spec, "data": data_map, "analyzers": list(steps.values()),
               "metrics": [{"name": "precision_recall",
                            "params": {"thresholds": thresholds, "normalise": "max",
                                       "beta": 1.0}}],
               "shard_size": min(s["images"], 16), "seed": s["seed"], "save_heatmaps": True}
    folder = sub_run(result, "compare", mapping, progress)

    d = load(data_map)
    x, y = d.x, d.y
    shown = d.x if shown is None else shown
    masks = d.masks
    if masks is None:
        from xaibench.evaluate.localisation import boxes_to_masks

        masks = boxes_to_masks(d.boxes, x.shape[1:3])
    models = []

    def model():            # loaded only when something has to be computed
        if not models:
            models.append(load_model(model_spec))
        return models[0]

    key = _digest({"data": data_map, "model": model_spec, "scales": s["scales"],
                   "seed": s["seed"], "n": len(x), "noise": "one field per scale"})
    sc = cached_arrays(os.path.join(result.out, "scales.npz"),
                       lambda: per_scale(model(), x, y, s["scales"], s["seed"]), key=key)
    tpath = os.path.join(result.out, "timing.json")
    tkey = _digest({"steps": steps, "data": data_map, "model": model_spec,
                    "n": s["timing_images"]})
    tm = None
    if os.path.isfile(tpath):
        with open(tpath) as fh:
            tm = json.load(fh)
        tm = tm if tm.get("key") == tkey else None
    if tm is None:
        n_t = s["timing_images"]
        tm = timing(model(), x[:n_t], y[:n_t], steps, s["seed"])
        tm["key"] = tkey
        with open(tpath + ".part", "w") as fh:
            json.dump(tm, fh, indent=1)
        os.replace(tpath + ".part", tpath)

    heat = load_heatmaps(folder)
    pr = curves(folder, labels)
    t_axis = np.linspace(0.0, 1.0, thresholds)
    _report(result, s, spec, x, y, shown, masks, heat, labels, pr, sc, tm, t_axis,
            precision_recall_curves, heatmap_grid, figdir)
    return result


def _report(result, s, spec, x, y, shown, masks, heat, labels, pr, sc, tm, t_axis,
            precision_recall_curves, heatmap_grid, figdir):
    r = s["scales"]
    n = len(x)
    h, w = x.shape[1:3]
    by_method = {labels[k]: v for k, v in heat.items() if k in labels}

    # ---- Fig. 2: effect of regions at 16 levels (scale j = 4)
    j16 = min(4, r) - 1
    offset = sum(2 ** (j + 1) for j in range(j16))
    k16 = 2 ** (j16 + 1)
    p_obj, p_bg, p_clean, picks = [], [], [], []
    for i in range(n):
        seg = sc["segments"][i, j16]
        inside = np.bincount(seg[masks[i]].ravel(), minlength=k16)
        size = np.bincount(seg.ravel(), minlength=k16)
        free = np.nonzero(inside == 0)[0]
        if inside.max() == 0 or len(free) == 0:
            continue
        obj = int(np.argmax(inside))
        bg = int(free[np.argmax(size[free])])
        p_clean.append(sc["p"][i])
        p_obj.append(sc["p_without"][i, offset + obj])
        p_bg.append(sc["p_without"][i, offset + bg])
        picks.append((i, obj, bg))
    fig2 = {"images": len(p_clean), "p": float(np.mean(p_clean)) if p_clean else float("nan"),
            "p_object": float(np.mean(p_obj)) if p_obj else float("nan"),
            "p_background": float(np.mean(p_bg)) if p_bg else float("nan")}
    if picks:
        # the image whose object-region erasure costs the most probability
        drops = [sc["p"][i] - sc["p_without"][i, offset + o] for i, o, _ in picks]
        i, obj, bg = picks[int(np.argmax(drops))]
        seg = sc["segments"][i, j16]
        mu, sd, z = sc["mu"][i], float(sc["sigma"][i]), sc["noise"][j16]
        erased = [np.where((seg == reg)[..., None], mu + sd * z, x[i]) for reg in (obj, bg)]
        result.figures["Fig. 2: effect of regions"] = _drawn(
            os.path.join(figdir, "fig2_regions.png"), lambda path: figure_regions(
                path, shown[i], seg, erased, (sc["p"][i], sc["p_without"][i, offset + obj],
                                              sc["p_without"][i, offset + bg]),
                sc["maps"][i, j16]))
    result.tables["Fig. 2: effect of regions (16 regions, mean over images)"] = "\n".join([
        "| | paper (one image) | xaibench |", "|---|---|---|",
        f"| p(class \\| image) | {PAPER['Fig. 2: class probability, image intact']} | "
        f"{fig2['p']:.4f} |",
        "| p(class \\| object region erased) | "
        f"{PAPER['Fig. 2: class probability, object region erased']} | {fig2['p_object']:.4f} |",
        "| p(class \\| background region erased) | little change | "
        f"{fig2['p_background']:.4f} |",
        f"| images | 1 | {fig2['images']} |"])

    # ---- Fig. 3: coarse to fine and the fusion
    fused = sc["maps"].mean(axis=1)
    scale_f = [float(precision_recall_curves(sc["maps"][:, j], masks=masks, normalise="max",
                                             thresholds=len(t_axis))["f"].mean())
               for j in range(r)]
    fused_f = float(precision_recall_curves(fused, masks=masks, normalise="max",
                                            thresholds=len(t_axis))["f"].mean())
    k3 = min(n, 3)
    result.figures["Fig. 3: maps from coarse to fine scales"] = _drawn(
        os.path.join(figdir, "fig3_scales.png"), lambda path: figure_scales(
            path, shown[:k3], sc["maps"][:k3], fused[:k3], [f"y={c}" for c in y[:k3]]))
    result.tables["Fig. 3: mean F-measure per scale (thresholds 0..1)"] = "\n".join(
        ["| map | mean F |", "|---|---|"]
        + [f"| {2 ** (j + 1)} regions | {v:.4f} |" for j, v in enumerate(scale_f)]
        + [f"| fused (mean of {r} scales) | {fused_f:.4f} |"])

    # ---- Fig. 4: the comparison grid
    k4 = min(n, 6)
    if by_method:
        result.figures["Fig. 4: visual comparison"] = _drawn(
            os.path.join(figdir, "fig4_comparison.png"), lambda path: heatmap_grid(
                shown[:k4], {m: by_method[m][:k4] for m in METHODS if m in by_method}, path,
                titles=[f"y={c}" for c in y[:k4]]))

    # ---- Fig. 5: precision / recall / F-measure
    result.figures["Fig. 5: precision, recall and F-measure curves"] = _drawn(
        os.path.join(figdir, "fig5_precision_recall.png"),
        lambda path: figure_curves(path, pr, t_axis))
    result.tables["Fig. 5: mean over thresholds 0..1 (and best F)"] = "\n".join(
        ["| method | precision | recall | F-measure | best F |", "|---|---|---|---|---|"]
        + [f"| {m} | {pr[m]['mean_precision']:.4f} | {pr[m]['mean_recall']:.4f} | "
           f"{pr[m]['mean_f']:.4f} | {pr[m]['max_f']:.4f} |" for m in METHODS if m in pr])

    # ---- Sec. 3.3 / 4: cost
    nt = tm["images"]
    rm_pass = tm["RMPD"]["forward_passes"] / nt
    pd_pass = tm["PD"]["forward_passes"] / nt
    rm_sec = tm["RMPD"]["seconds"] / nt
    pd_sec = tm["PD"]["seconds"] / nt
    pd_setting = (f"k={s['pd_inner']}, l={s['pd_outer']}, r={s['pd_samples']}, "
                  f"stride {s['pd_stride']}")
    paper_pd = pd_passes_formula(h, w, s["pd_inner"], 10, 1)
    result.tables["Sec. 3.3 / 4: forward passes and seconds per image"] = "\n".join([
        "| method | forward passes / image | seconds / image |", "|---|---|---|",
        f"| RMPD (r = {r}) | {rm_pass:.0f} (1 clean + {rm_pass - 1:.0f}) | {rm_sec:.3f} |",
        f"| PD ({pd_setting}) | {pd_pass:.0f} | {pd_sec:.3f} |",
        f"| PD (k={s['pd_inner']}, r=10, stride 1: the paper's setting, formula) | "
        f"{paper_pd} | - |",
        "| paper: RMPD (GoogLeNet, GPU) | 62 | 5 |",
        "| paper: PD (VGG, GPU, 256 x 256, k=10, l=14, r=10) | r n^2 = 655360 | 4200 |",
        "", f"Timed on {nt} image(s) after one warm-up image, {h} x {w} px."])

    # ---- the side-by-side rows
    add = result.add

    def versus(item, ours):
        add(item, paper=PAPER[item], ours=ours)

    add("Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)",
        paper=PAPER["Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)"],
        ours=rm_pass - 1)
    add("Sec. 3.3: RMPD needs 2 + 4 + ... + 2^r perturbed passes (+ 1 clean)",
        paper=f"{2 ** (r + 1) - 2} + 1", ours=tm["RMPD"]["forward_passes"] / nt,
        claim=f"line 7 of Alg. 3 runs 2 + 4 + ... + 2^r times (decided: counted passes = "
              f"2^(r+1) - 1 = {2 ** (r + 1) - 1} per image, r = {r})",
        holds=tm["RMPD"]["forward_passes"] == nt * (2 ** (r + 1) - 1))
    versus("Sec. 3.2: forward passes per image, PD (paper: r n^2, n = 256, r = 10)", pd_pass)
    versus("Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)", rm_sec)
    versus("Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)", pd_sec)
    speed = pd_sec / rm_sec if rm_sec > 0 else float("nan")
    versus("Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)", speed)
    add(f"Sec. 4: RMPD two orders of magnitude faster than PD ({pd_setting})",
        paper=PAPER["Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)"],
        ours=speed, claim="RMPD is two orders of magnitude faster than PD (decided: PD "
                          "seconds / RMPD seconds >= 100)", holds=speed >= 100)
    add("Fig. 2: class probability, image intact",
        paper=PAPER["Fig. 2: class probability, image intact"], ours=fig2["p"])
    add("Fig. 2: class probability, object region erased",
        paper=PAPER["Fig. 2: class probability, object region erased"], ours=fig2["p_object"])
    add("Fig. 2: class probability, background region erased", paper="little change",
        ours=fig2["p_background"])
    add("Fig. 2: erasing the object's region drops the score, erasing background barely",
        paper=vs(PAPER["Fig. 2: class probability, image intact"],
                 PAPER["Fig. 2: class probability, object region erased"], sep=" -> "),
        ours=f"{vs(fig2['p'], fig2['p_object'], sep=' -> ')}, background "
             f"{vs(fig2['p_background'])}",
        claim="erasing the object's region makes the score drop dramatically, erasing "
              "irrelevant regions has little effect (decided: p(object erased) < p(intact) / 2 "
              "and < p(background erased))",
        holds=None if not p_clean else (fig2["p_object"] < fig2["p"] / 2 and
                                        fig2["p_object"] < fig2["p_background"]))
    add("Fig. 5: images", paper=PAPER["Fig. 5: images"], ours=n)
    for m in ("RMPD", "Grad-CAM", "SA", "PD", "LRP", "DC"):
        if m in pr:
            add(f"Fig. 5: mean F-measure (thresholds 0..1), {m}", ours=pr[m]["mean_f"])
    names = {m: m for m in pr}
    f_scores = {m: pr[m]["mean_f"] for m in pr}
    others = [m for m in pr if m != "RMPD"]
    best_f = sorted(pr, key=lambda m: -f_scores[m])
    best_other = max(others, key=lambda m: f_scores[m])
    add("Fig. 5: RMPD has the highest F-measure",
        ours=f"{vs(f_scores['RMPD'], f_scores[best_other])} ({best_other})",
        claim="RMPD > " + ", ".join(others) + " (mean F)",
        holds=all(f_scores["RMPD"] > f_scores[m] for m in others))
    add("Fig. 5: Grad-CAM ranks second in F-measure", ours=order_text(best_f, names),
        claim="the Grad-CAM method ranks second in terms of F-measure (mean F)",
        holds=len(best_f) > 1 and best_f[1] == "Grad-CAM")
    top = {k: max(pr[m][f"mean_{k}"] for m in others) for k in ("precision", "recall")}
    add("Fig. 5: RMPD superior in precision and recall",
        ours=f"P {vs(pr['RMPD']['mean_precision'], top['precision'])}; "
             f"R {vs(pr['RMPD']['mean_recall'], top['recall'])} (best other)",
        claim="RMPD is superior to the other methods in both precision and recall (mean over "
              "thresholds)",
        holds=all(pr["RMPD"]["mean_precision"] > pr[m]["mean_precision"] and
                  pr["RMPD"]["mean_recall"] > pr[m]["mean_recall"] for m in others))
    add("Fig. 5: DC and LRP: high precision, low recall",
        ours="; ".join(f"{m} {vs(pr[m]['mean_precision'], pr[m]['mean_recall'])}"
                       for m in ("DC", "LRP")),
        claim="DC and LRP have a high precision and a low recall (decided: mean precision > "
              "mean recall over the thresholds, shown as precision vs recall)",
        holds=all(pr[m]["mean_precision"] > pr[m]["mean_recall"] for m in ("DC", "LRP")))
    # the SA curve: "high until the threshold becomes approximately 0.2 ... then reduced
    # rapidly due to its low recall"
    sa = pr["SA"]["f"]
    early, late = float(sa[t_axis <= 0.2].mean()), float(sa[t_axis >= 0.5].mean())
    add("Fig. 5: SA F-measure falls after t ~ 0.2", ours=vs(early, late),
        claim="SA's F-measure is high until the threshold is about 0.2, then falls rapidly "
              "(decided: SA mean F for t <= 0.2 > for t >= 0.5)",
        holds=early > late)
    add("Fig. 3 / abstract (our reading): fusing scales beats every single scale",
        ours=vs(fused_f, max(scale_f)),
        claim="mean F of the fused map > of each scale's map (shown: fused vs best scale)",
        holds=all(fused_f > v for v in scale_f))
