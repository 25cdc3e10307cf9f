"""Samek et al. (2017), "Evaluating the visualization of what a deep neural network has learned".

Reproduces the paper's evaluation of heatmaps by region perturbation:

* Fig. 4 -- AOPC (eq. 12) of MoRF region perturbation (eq. 11) as a function of the number of
  perturbation steps L, relative to the random-order baseline, for sensitivity analysis
  (eq. 3, gradient pooled over colour channels by the l2 and the l-inf norm), the
  deconvolution method (Sec. II-B, pooled like sensitivity) and LRP (eq. 7 with epsilon =
  0.01, 1, 100; eq. 8 with alpha = 2, beta = -1, the paper's "LRP"). The paper's regions are
  9 x 9 non-overlapping squares, 100 steps (15.7 % of a 227 x 227 image), uniform noise,
  10 repeats, heatmaps of the predicted class (Sec. IV-A);
* Fig. 8 (appendix) -- the same at region sizes 1, 3, 5, 9 and 19 relative to the
  sensitivity-l2 baseline, for sensitivity l2, deconvolution, LRP alpha2-beta1 and LRP
  epsilon 1 / 100;
* Fig. 5 -- heatmap complexity: PNG and JPEG file size of the rendered heatmaps (LRP against
  deconvolution and sensitivity per image) and their entropy (MATLAB's ``entropy``);
* Fig. 7 -- AOPC of LRP heatmaps and test accuracy of a network after each training epoch
  (the paper: CIFAR-10), to show that heatmap quality follows network performance (the paper
  does not name the LRP rule; xaibench uses epsilon = 1, the best rule of Fig. 8).

Heatmaps and perturbation curves are computed for the predicted class (Sec. IV-A: the
evaluation is unsupervised): every batch run has ``target: predicted``; the small data
sets also go to the runner as an ``npz`` copy holding the predictions as labels (for the
heatmap figure).

The paper prints no numbers for these figures (they are plots), so the numbers transcribed
in :data:`PAPER` are its protocol (Sec. IV-A); the results are compared through the paper's
qualitative claims (:data:`CLAIMS`), each marked holds / does not hold on the data used.

Region sizes are scaled to the input: region = max(1, round(9 * side / 227)) (9 px on
ImageNet's 224 px, 2 px on the 48 px clutter images), the Fig. 8 sizes likewise
(duplicates after rounding dropped: 1, 3 and 5 all become 1 px on 48 px images); the number
of steps L is the same at every region size, as in the paper (capped by the regions on the
grid).

Full protocol (``quick=False``): ``data="imagenet_val:PATH"`` (ILSVRC2012 validation images,
VGG-16 with its ImageNet weights from the Keras cache: CaffeNet weights are not available
to Keras), 5040 images, 100 steps, 10 repeats; Fig. 7 trains ``xb.zoo.cifar_cnn`` on
CIFAR-10 from the Keras cache for 20 epochs. Without ``data`` the full protocol runs on 5040
clutter images with the shipped ``demo`` model. A GPU is expected.

Quick mode (``quick=True``): 16 clutter images (48 x 48 RGB) and the shipped ``demo``
model, 30 steps, 2 repeats; Fig. 7 trains a small CNN on scikit-learn's digits (16 x 16)
for 4 epochs: well under a minute on 2 CPU cores.

Every evaluation is a resumable batch run under ``<out>/runs``; the trained Fig. 7
checkpoints (one ``.keras`` per epoch) and the VGG-16 are cached under ``<out>/models``.
"""
from __future__ import annotations

import json
import os

import numpy as np

from xaibench.papers._common import (
    cached_model, check_int, npz_once, parse_data, step_label, sub_run)
from xaibench.papers.comparison import Reproduction, markdown_table, order_text, ordered, vs
from xaibench.plots import new_figure
from xaibench.runner.store import load_heatmaps

TITLE = ("Samek et al. (2017): Evaluating the visualization of what a deep neural network "
         "has learned -- AOPC of sensitivity, deconvolution and LRP heatmaps")

#: the numbers the paper prints (Sec. IV-A and the appendix): its protocol. Figs. 4, 5, 7
#: and 8 are plots without printed values.
PAPER = {
    "Sec. IV-A, region size (px)": 9,
    "Sec. IV-A, region share of the image (%)": 0.157,
    "Sec. IV-A, perturbation steps L": 100,
    "Sec. IV-A, image share perturbed after L steps (%)": 15.7,
    "Sec. IV-A, repeats of the random perturbation": 10,
    "Sec. IV-A, images per data set": 5040,
    "Sec. IV-A, input side of the network (px)": 227,
}
#: the region sizes of Fig. 8 (appendix), on 227 px inputs
PAPER_REGIONS = (1, 3, 5, 9, 19)

#: the paper's qualitative claims checked here (figure -> statement)
CLAIMS = {
    "Fig. 4, LRP best": "every LRP variant > deconvolution, sensitivity (AOPC - random at L)",
    "Fig. 4, deconvolution second": "deconvolution > sensitivity l2, sensitivity l-inf",
    "Fig. 4, deconvolution beats random": "deconvolution > random baseline",
    "Fig. 4, epsilon-LRP beats alpha-beta": "best epsilon-LRP (0.01 / 100) > LRP alpha2-beta1",
    "Fig. 4, epsilon 100 beats 0.01": "LRP eps=100 > LRP eps=0.01",
    "Fig. 8, epsilon-LRP best": "best epsilon-LRP (1 / 100) > every other method, at {r}",
    "Fig. 8, epsilon 1 beats 100": "LRP eps=1 > LRP eps=100 at every region size",
    "Fig. 8, deconvolution only at large regions": (
        "deconvolution > sensitivity l2 only at the large regions (paper 9, 19)"),
    "Fig. 5, PNG": "LRP PNG smaller than {other} for almost all (>= 90 %) images",
    "Fig. 5, JPEG": "LRP JPEG smaller than {other} for almost all (>= 90 %) images",
    "Fig. 5, entropy": "median entropy LRP < {other}",
    "Fig. 7, AOPC follows accuracy": "AOPC and test accuracy correlate over training (r > 0)",
}

#: the methods of Fig. 4: key -> (analyzer, params, channel pooling, label)
METHODS = {
    "sens_l2": ("gradient", {}, "l2", "sensitivity (l2)"),
    "sens_linf": ("gradient", {}, "linf", "sensitivity (l-inf)"),
    "deconv": ("deconvnet", {}, "l2", "deconvolution (l2)"),
    "lrp_eps0.01": ("lrp.epsilon", {"epsilon": 0.01}, "sum", "LRP eps=0.01"),
    "lrp_eps1": ("lrp.epsilon", {"epsilon": 1}, "sum", "LRP eps=1"),
    "lrp_eps100": ("lrp.epsilon", {"epsilon": 100}, "sum", "LRP eps=100"),
    "lrp_a2b1": ("lrp.alpha_2_beta_1", {}, "sum", "LRP alpha2-beta1"),
}
LABELS = {k: v[3] for k, v in METHODS.items()}
LRP = ("lrp_eps0.01", "lrp_eps1", "lrp_eps100", "lrp_a2b1")
#: Fig. 8's methods (the appendix leaves out l-inf and eps=0.01)
FIG8 = ("sens_l2", "deconv", "lrp_a2b1", "lrp_eps1", "lrp_eps100")
#: Fig. 5: LRP (alpha2-beta1, the paper's "LRP") against these
FIG5_OTHERS = ("deconv", "sens_l2")
#: the LRP rule whose AOPC Fig. 7 follows over training (the paper does not name it; eps = 1
#: is the best rule of Fig. 8, and builds in a fraction of alpha2-beta1's time)
FIG7_ANALYZER = ("lrp.epsilon", {"epsilon": 1})

DEFAULTS = {True: dict(images=16, steps=30, repeats=2, epochs=4),
            False: dict(images=5040, steps=100, repeats=10, epochs=20)}


# --------------------------------------------------------------------------------------------
# settings

def scaled_region(side: int, paper_region: int = 9) -> int:
    """A paper region size (on 227 px inputs, Sec. IV-A) scaled to an input of ``side`` px."""
    paper_side = PAPER["Sec. IV-A, input side of the network (px)"]
    return max(1, int(round(paper_region * side / paper_side)))


def scaled_steps(side: int, region: int, steps: int) -> int:
    """``steps`` (the paper: 100 at every region size, Sec. IV-A and appendix), capped by the
    number of regions on the grid."""
    return int(min(steps, (side // region) ** 2))


def _aopc_step(region, steps, repeats, reduce):
    from xaibench.runner.config import Step

    return Step("aopc", {"region": region, "steps": steps, "repeats": repeats,
                         "perturbation": "uniform", "channel_reduce": reduce, "output": "logit"})


def _mapping(model, data, analyzers, metrics, seed, shard_size, save):
    return {"model": model, "data": data, "shard_size": shard_size, "seed": seed,
            "save_heatmaps": save, "target": "predicted",
            "analyzers": [{"name": a, "params": p} for a, p in analyzers],
            "metrics": [{"name": m.name, "params": m.params} for m in metrics]}




# --------------------------------------------------------------------------------------------
# data with the predicted class (Sec. IV-A: heatmaps of the predicted label)

def _predicted_npz(path, x, model):
    """``x`` saved with the model's predicted classes as ``y`` (once; reused afterwards)."""
    from xaibench.runner.engine import predicted_classes

    return npz_once(path, x, lambda: predicted_classes(model, x, batch_size=256))


def _main_data(result, spec, n, quick):
    """(runner model, runner data, image side) for Figs. 4, 5 and 8."""
    if spec["name"] == "clutter":
        path = os.path.join(result.out, "data", f"clutter_{n}.npz")
        if not os.path.isfile(path):
            from xaibench.demo import load_shipped_model
            from xaibench.runner.datasets import load

            x = load({"name": "clutter", "n": n}).x
            _predicted_npz(path, x, load_shipped_model("demo"))
        return "demo", {"name": "npz", "path": path}, 48
    # ILSVRC2012 with VGG-16's ImageNet weights; the images are read by the runner, which
    # explains the predicted class (target: predicted)
    from xaibench import zoo

    model_path = os.path.join(result.out, "models", "vgg16_imagenet.keras")
    cached_model(model_path, lambda: zoo.vgg16(weights="imagenet"))
    return model_path, {"name": "imagenet_val", "root": spec["root"], "n": n,
                        "preprocess": "vgg16"}, 224


# --------------------------------------------------------------------------------------------
# Fig. 7: checkpoints per epoch

def _small_cnn(input_shape, seed):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    L = tf.keras.layers
    inputs = L.Input(shape=input_shape)
    h = L.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    h = L.MaxPooling2D(2)(h)
    h = L.Conv2D(16, 3, padding="same", activation="relu")(h)
    h = L.MaxPooling2D(2)(h)
    h = L.Flatten()(h)
    outputs = L.Dense(10, activation="softmax")(h)
    return tf.keras.Model(inputs, outputs, name="samek_fig7_cnn")


def _fig7_data(quick):
    """(x_train, y_train, x_test, y_test, builder, batch size, learning rate)."""
    import xaibench as xb

    if quick:
        x_train, y_train, x_test, y_test = xb.data.digits(size=16)
        return x_train, y_train, x_test, y_test, _small_cnn, 64, 1e-3
    train = xb.data.cifar10("train")
    test = xb.data.cifar10("test")

    def builder(shape, seed):
        import tensorflow as tf

        tf.keras.utils.set_random_seed(seed)
        return xb.zoo.cifar_cnn(input_shape=shape)
    return train.x, train.y, test.x, test.y, builder, 128, 1e-3


def _check_cifar10():
    from xaibench.data._keras_sets import _FILES, keras_cache_dir

    path = os.path.join(keras_cache_dir(), _FILES["cifar10"][0])
    if not os.path.exists(path):
        raise ValueError(f"Fig. 7 of the full protocol needs CIFAR-10 in the Keras cache: {path} "
                         "does not exist; download it there, or run with --quick")


def _fig7(result, quick, images, steps, repeats, epochs, seed, progress):
    """Train epoch by epoch (one cached .keras per epoch, epoch 0 = the initial weights),
    evaluate the test accuracy and the AOPC of LRP heatmaps of every checkpoint."""
    import tensorflow as tf

    models = os.path.join(result.out, "models")
    loaded, previous = None, None
    rows = []
    for epoch in range(epochs + 1):
        path = os.path.join(models, f"fig7_epoch_{epoch:02d}.keras")
        info_path = os.path.join(models, f"fig7_epoch_{epoch:02d}.json")
        data_path = os.path.join(result.out, "data", f"fig7_epoch_{epoch:02d}.npz")
        if not (os.path.isfile(path) and os.path.isfile(info_path)
                and os.path.isfile(data_path)):
            if loaded is None:
                loaded = _fig7_data(quick)
            x_train, y_train, x_test, y_test, builder, batch, lr = loaded

            def train(epoch=epoch):
                if epoch == 0:
                    model = builder(x_train.shape[1:], seed)
                    model.compile(tf.keras.optimizers.Adam(lr), "sparse_categorical_crossentropy",
                                  metrics=["accuracy"])
                    return model
                model = previous if previous is not None else tf.keras.models.load_model(
                    os.path.join(models, f"fig7_epoch_{epoch - 1:02d}.keras"))
                tf.keras.utils.set_random_seed(seed + epoch)
                model.fit(x_train, y_train, epochs=1, batch_size=batch, verbose=0)
                return model

            model = previous = cached_model(path, train, compile=True)   # trained on
            if not os.path.isfile(info_path):
                p = np.asarray(model.predict(x_test, batch_size=256, verbose=0))
                acc = float(np.mean(p.argmax(axis=1) == y_test))
                with open(info_path, "w") as fh:
                    json.dump({"epoch": epoch, "test_accuracy": acc, "test_images": len(y_test)},
                              fh)
            _predicted_npz(data_path, x_test[:images], model)
        with open(info_path) as fh:
            info = json.load(fh)
        side = 16 if quick else 32
        region = scaled_region(side)
        k = scaled_steps(side, region, steps)
        metric = _aopc_step(region, k, repeats, "sum")
        folder = sub_run(result, f"fig7_epoch_{epoch:02d}", _mapping(
            path, {"name": "npz", "path": data_path}, [FIG7_ANALYZER], [metric], seed,
            64, False), progress)
        res = _Results(folder)
        rows.append(dict(epoch=epoch, accuracy=info["test_accuracy"],
                         aopc=res.final(step_label(*FIG7_ANALYZER), metric.label),
                         random=res.final("baseline", metric.label), region=region, steps=k))
    return rows


# --------------------------------------------------------------------------------------------
# reading the runs

class _Results:
    """Means of a run folder's results: ``mean[(analyzer, metric, setting, step)]``.

    Each mean is ``math.fsum`` (exactly rounded, so independent of the order SQLite
    returns rows in; its ``AVG`` over a ``GROUP BY`` is not, by an ulp) over the count."""

    def __init__(self, folder):
        import math
        import sqlite3

        self.folder = folder
        con = sqlite3.connect(os.path.join(folder, "results.sqlite"))
        groups: dict = {}
        try:
            for *key, value in con.execute(
                    "SELECT analyzer, metric, setting, step, value FROM results "
                    "WHERE value IS NOT NULL"):
                groups.setdefault(tuple(key), []).append(value)
        finally:
            con.close()
        self.mean = {k: math.fsum(v) / len(v) for k, v in groups.items()}

    def curve(self, analyzer, metric):
        """Mean AOPC(L) over images, L = 0..steps (eq. 12 as a function of L, Fig. 4)."""
        setting = "random" if analyzer == "baseline" else "morf"
        steps = sorted(k[3] for k in self.mean
                       if k[:3] == (analyzer, metric, setting) and k[3] >= 0)
        return np.array([self.mean[(analyzer, metric, setting, s)] for s in steps])

    def final(self, analyzer, metric):
        """Mean AOPC at L = steps (the scalar rows)."""
        setting = "random" if analyzer == "baseline" else "morf"
        return float(self.mean[(analyzer, metric, setting, -1)])

    def per_image(self, analyzer, metric, setting):
        """Values per image (image order) of a scalar metric setting."""
        import sqlite3

        con = sqlite3.connect(os.path.join(self.folder, "results.sqlite"))
        try:
            rows = con.execute("SELECT value FROM results WHERE analyzer = ? AND metric = ? "
                               "AND setting = ? ORDER BY image",
                               (analyzer, metric, setting)).fetchall()
        finally:
            con.close()
        return np.array([r[0] for r in rows], dtype=np.float64)


# --------------------------------------------------------------------------------------------
# figures


def _fig4(path, rel, region, steps, title):
    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    for key, style in zip(METHODS, line_styles(len(METHODS))):
        y = np.asarray(rel[key], dtype=np.float64)
        style["linestyle"] = "-" if key in LRP else "--"        # solid: LRP, dashed: the others
        ax.plot(np.arange(len(y)), y, label=LABELS[key], markersize=4,
                markevery=max(1, len(y) // 10), **style)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("perturbation steps L")
    ax.set_ylabel("AOPC(L) - AOPC_random(L)")
    ax.set_title(title + f" ({region}x{region} regions, {steps} steps)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              frameon=False)
    fig.savefig(path, dpi=110)


def _fig8(path, table, regions, paper_of):
    from matplotlib import colormaps

    # sensitivity l2 is the reference: 0 at every region size by definition, so it gets
    # no bar and no legend entry (the zero line is its value)
    keys = [k for k in FIG8 if k != "sens_l2"]
    fig, ax = new_figure(figsize=(7.4, 4), layout="constrained")
    width = 0.8 / len(keys)
    xs = np.arange(len(regions))
    colours = colormaps["tab10"].colors
    hatches = ("", "//", "..", "xx", "\\\\")
    for j, key in enumerate(keys):
        ax.bar(xs + (j - len(keys) / 2 + 0.5) * width, [table[r][key] for r in regions], width,
               label=LABELS[key], color=colours[FIG8.index(key)], hatch=hatches[j % 5],
               edgecolor="white", linewidth=0.5)
    ax.set_xticks(xs, [f"{r} px\n(paper {paper_of[r]})" for r in regions], fontsize=8)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("region size")
    ax.set_ylabel("AOPC - AOPC(sensitivity l2)")
    ax.set_title("relative to sensitivity (l2) = 0 at every region size", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0,
              frameon=False)
    fig.savefig(path, dpi=110)


def _fig5(path, cx):
    fig, axes = new_figure(1, 3, figsize=(11, 3.6))
    lrp = cx["lrp_a2b1"]["png"]
    for ax, other in zip(axes[:2], FIG5_OTHERS):
        o = cx[other]["png"]
        ax.scatter(o, lrp, s=12)
        lim = [min(o.min(), lrp.min()) * 0.95, max(o.max(), lrp.max()) * 1.05]
        ax.plot(lim, lim, "k-", lw=0.8)
        ax.set_xlabel(f"{LABELS[other]}: PNG bytes")
        ax.set_ylabel("LRP alpha2-beta1: PNG bytes")
    keys = ["lrp_a2b1", "lrp_eps1", "lrp_eps100", "deconv", "sens_l2"]
    axes[2].boxplot([cx[k]["entropy"] for k in keys])
    short = {"deconv": "deconv.\n(l2)", "sens_l2": "sensitivity\n(l2)"}
    axes[2].set_xticks(range(1, len(keys) + 1),
                       [short.get(k, LABELS[k].replace("LRP ", "LRP\n")) for k in keys],
                       fontsize=7)
    axes[2].set_ylabel("entropy (bits)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _fig7_plot(path, rows, dataset):
    fig, ax = new_figure(figsize=(6, 4))
    ep = [r["epoch"] for r in rows]
    ax.plot(ep, [r["aopc"] for r in rows], "o-", color="tab:red", label="AOPC (LRP eps=1)")
    ax.set_xlabel("training epoch")
    ax.set_xticks(ep)
    ax.set_ylabel("AOPC of LRP heatmaps", color="tab:red")
    ax2 = ax.twinx()
    ax2.plot(ep, [r["accuracy"] for r in rows], "s--", color="tab:blue", label="accuracy")
    ax2.set_ylabel("test accuracy", color="tab:blue")
    ax.set_title(f"AOPC and accuracy over training ({dataset})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _heatmap_figure(path, folders, data_path, labels_of):
    from xaibench import heatmaps
    from xaibench.plots import heatmap_grid

    maps = {}
    for key in ("sens_l2", "deconv", "lrp_eps1", "lrp_eps100", "lrp_a2b1"):
        name, params, reduce, label = METHODS[key]
        R = load_heatmaps(folders[key], [labels_of[key]], limit=1).get(labels_of[key])
        if R is None:
            return None
        maps[label] = heatmaps.reduce_channels(R[:6], reduce)
    with np.load(data_path) as f:
        x = f["x"][:6]
    return heatmap_grid(x, maps, path)


# --------------------------------------------------------------------------------------------



def run(out, quick=False, data=None, progress=True, seed=0, images=None, steps=None,
        repeats=None, epochs=None) -> Reproduction:
    """Reproduce Figs. 4, 5, 7 and 8 of Samek et al. into ``out``.

    ``data``: ``"clutter"`` (default: the shipped ``demo`` model) or ``"imagenet_val:PATH"``
    (VGG-16, ImageNet weights from the Keras cache). ``images``: images evaluated (paper
    5040), ``steps``: perturbation steps L (paper 100),
    ``repeats``: noise draws per image (paper 10), ``epochs``: training epochs of Fig. 7
    (checkpoints after epochs 0..epochs). ``None``: the quick or full default.
    """
    # ---- validate everything before any work
    spec = parse_data(data, "clutter", ("clutter", "imagenet_val"))
    seed = check_int("seed", seed, 0)
    d = DEFAULTS[bool(quick)]
    images = check_int("images", d["images"] if images is None else images, 2)
    steps = check_int("steps", d["steps"] if steps is None else steps, 1)
    repeats = check_int("repeats", d["repeats"] if repeats is None else repeats, 1)
    epochs = check_int("epochs", d["epochs"] if epochs is None else epochs, 2)
    if images > 50000:
        raise ValueError(f"images={images} is more than the 50,000 validation images; "
                         "use at most 50000 (the paper: 5040)")
    if not quick:
        _check_cifar10()
    data_name = spec["name"] + (f":{spec['root']}" if "root" in spec else "")
    result = Reproduction("samek", TITLE, out, bool(quick), data_name)
    fig_dir = os.path.join(out, "figures")
    os.makedirs(fig_dir, exist_ok=True)

    # ---- Figs. 4, 5, 8: two batch runs (gradient-type maps pooled by norms, LRP summed)
    model, run_data, side = _main_data(result, spec, images, quick)
    region = scaled_region(side)
    regions = sorted({scaled_region(side, r) for r in PAPER_REGIONS})
    paper_of = {}
    for r in PAPER_REGIONS:
        paper_of.setdefault(scaled_region(side, r), []).append(str(r))
    paper_of = {k: ", ".join(v) for k, v in paper_of.items()}
    k_of = {r: scaled_steps(side, r, steps) for r in regions}
    L = k_of[region]
    shard = 64 if not quick else images
    grad_metrics = [_aopc_step(r, k_of[r], repeats, "l2") for r in regions]
    grad_metrics.append(_aopc_step(region, L, repeats, "linf"))
    from xaibench.runner.config import Step

    grad_metrics.append(Step("complexity", {"channel_reduce": "l2"}))
    lrp_metrics = [_aopc_step(r, k_of[r], repeats, "sum") for r in regions]
    lrp_metrics.append(Step("complexity", {"channel_reduce": "sum"}))
    grad_analyzers = [("gradient", {}), ("deconvnet", {})]
    lrp_analyzers = [(METHODS[k][0], METHODS[k][1]) for k in LRP]
    folder_g = sub_run(result, "fig4_gradient_deconv", _mapping(
        model, run_data, grad_analyzers, grad_metrics, seed, shard, bool(quick)), progress)
    folder_l = sub_run(result, "fig4_lrp", _mapping(
        model, run_data, lrp_analyzers, lrp_metrics, seed, shard, bool(quick)), progress)
    folders = {k: (folder_l if k in LRP else folder_g) for k in METHODS}
    res_g, res_l = _Results(folder_g), _Results(folder_l)
    results = {k: (res_l if k in LRP else res_g) for k in METHODS}
    labels_of = {k: step_label(v[0], v[1]) for k, v in METHODS.items()}

    def metric_label(key, r, reduce=None):
        return _aopc_step(r, k_of[r], repeats, reduce or METHODS[key][2]).label

    # Fig. 4: AOPC(L) relative to the random baseline
    curves, rel, final, random_final = {}, {}, {}, None
    for key in METHODS:
        ml = metric_label(key, region)
        curves[key] = results[key].curve(labels_of[key], ml)
        baseline = results[key].curve("baseline", ml)
        rel[key] = curves[key] - baseline
        final[key] = float(rel[key][-1])
        random_final = float(baseline[-1])
    h, w = side, side
    share = region * region / (h * w) * 100
    ours_setup = {
        "Sec. IV-A, region size (px)": region,
        "Sec. IV-A, region share of the image (%)": round(share, 4),
        "Sec. IV-A, perturbation steps L": L,
        "Sec. IV-A, image share perturbed after L steps (%)": round(share * L, 2),
        "Sec. IV-A, repeats of the random perturbation": repeats,
        "Sec. IV-A, images per data set": images,
        "Sec. IV-A, input side of the network (px)": side,
    }
    for item, value in PAPER.items():
        result.add(item, paper=value, ours=ours_setup[item])
    result.add("Fig. 4, AOPC of the random baseline at L", ours=random_final)
    for key in METHODS:
        result.add(f"Fig. 4, AOPC - random at L, {LABELS[key]}", ours=final[key])
    others = ("deconv", "sens_l2", "sens_linf")
    result.add("Fig. 4, worst LRP vs best other", claim=CLAIMS["Fig. 4, LRP best"],
               ours=vs(min(final[k] for k in LRP), max(final[k] for k in others)),
               holds=min(final[k] for k in LRP) > max(final[k] for k in others))
    result.add("Fig. 4, deconvolution vs best sensitivity",
               claim=CLAIMS["Fig. 4, deconvolution second"],
               ours=vs(final["deconv"], max(final["sens_l2"], final["sens_linf"])),
               holds=final["deconv"] > max(final["sens_l2"], final["sens_linf"]))
    result.add("Fig. 4, deconvolution vs random",
               claim=CLAIMS["Fig. 4, deconvolution beats random"],
               ours=vs(final["deconv"], 0.0), holds=final["deconv"] > 0)
    result.add("Fig. 4, best epsilon-LRP vs alpha2-beta1",
               claim=CLAIMS["Fig. 4, epsilon-LRP beats alpha-beta"],
               ours=vs(max(final["lrp_eps0.01"], final["lrp_eps100"]), final["lrp_a2b1"]),
               holds=max(final["lrp_eps0.01"], final["lrp_eps100"]) > final["lrp_a2b1"])
    result.add("Fig. 4, LRP eps=100 vs eps=0.01", claim=CLAIMS["Fig. 4, epsilon 100 beats 0.01"],
               ours=vs(final["lrp_eps100"], final["lrp_eps0.01"]),
               holds=ordered(final, ["lrp_eps100", "lrp_eps0.01"]))
    order = sorted(METHODS, key=lambda k: -final[k])
    result.add("Fig. 4, ordering on this data (AOPC - random)",
               ours=order_text(order, LABELS))
    path = os.path.join(fig_dir, "fig4_aopc_relative_to_random.png")
    _fig4(path, rel, region, L, f"Fig. 4 on {data_name}")
    result.figures["Fig. 4: AOPC relative to the random baseline"] = path
    result.tables["Fig. 4: AOPC at L relative to the random baseline"] = markdown_table(
        ["method", "channel pooling", f"AOPC (L={L})", "AOPC - random"],
        [[LABELS[k], METHODS[k][2], float(curves[k][-1]), final[k]] for k in order]
        + [["random baseline", "-", random_final, 0.0]])

    # Fig. 8: region sizes, relative to sensitivity l2
    fig8 = {}
    for r in regions:
        f = {key: results[key].final(labels_of[key], metric_label(key, r)) for key in FIG8}
        fig8[r] = {key: f[key] - f["sens_l2"] for key in FIG8}
    for r in regions:
        for key in FIG8[1:]:
            result.add(f"Fig. 8, region {r} px (paper {paper_of[r]}), AOPC - sensitivity l2, "
                       f"{LABELS[key]}", ours=fig8[r][key])
    for r in regions:
        best_eps = max(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"])
        rest = max(fig8[r]["lrp_a2b1"], fig8[r]["deconv"], 0.0)
        result.add(f"Fig. 8, region {r} px: best epsilon-LRP vs best other",
                   claim=CLAIMS["Fig. 8, epsilon-LRP best"].format(
                       r=f"{r} px (paper {paper_of[r]})"),
                   ours=vs(best_eps, rest), holds=best_eps > rest)
    result.add("Fig. 8, LRP eps=1 vs eps=100 per region size",
               claim=CLAIMS["Fig. 8, epsilon 1 beats 100"],
               ours="; ".join(vs(fig8[r]["lrp_eps1"], fig8[r]["lrp_eps100"]) for r in regions),
               holds=all(fig8[r]["lrp_eps1"] > fig8[r]["lrp_eps100"] for r in regions))
    large = [r for r in regions if any(p in ("9", "19") for p in paper_of[r].split(", "))]
    small = [r for r in regions if r not in large]
    holds = (all(fig8[r]["deconv"] > 0 for r in large)
             and all(fig8[r]["deconv"] <= 0 for r in small)) if small and large else None
    result.add("Fig. 8, deconvolution - sensitivity l2 per region size",
               claim=CLAIMS["Fig. 8, deconvolution only at large regions"],
               ours="; ".join(f"{r} px: {vs(fig8[r]['deconv'])}" for r in regions),
               holds=holds)
    path = os.path.join(fig_dir, "fig8_region_sizes.png")
    _fig8(path, fig8, regions, paper_of)
    result.figures["Fig. 8: AOPC relative to sensitivity l2 by region size"] = path
    result.tables["Fig. 8: AOPC at L relative to sensitivity l2"] = markdown_table(
        ["method"] + [f"{r} px (paper {paper_of[r]}), L={k_of[r]}" for r in regions],
        [[LABELS[k]] + [fig8[r][k] for r in regions] for k in FIG8])

    # Fig. 5: complexity
    cx = {}
    for key in METHODS:
        if key == "sens_linf":
            continue
        ml = Step("complexity", {"channel_reduce": METHODS[key][2]}).label
        cx[key] = {s: results[key].per_image(labels_of[key], ml, s)
                   for s in ("png", "jpeg", "entropy")}
    lrp = cx["lrp_a2b1"]
    for fmt, claim_key in (("png", "Fig. 5, PNG"), ("jpeg", "Fig. 5, JPEG")):
        for other in FIG5_OTHERS:
            frac = float(np.mean(lrp[fmt] < cx[other][fmt]))
            result.add(f"Fig. 5, share of images with smaller LRP {fmt.upper()} than "
                       f"{LABELS[other]}", ours=frac,
                       claim=CLAIMS[claim_key].format(other=LABELS[other]), holds=frac >= 0.9)
    for other in FIG5_OTHERS:
        result.add(f"Fig. 5, median entropy LRP vs {LABELS[other]}",
                   ours=f"{np.median(lrp['entropy']):.3f} vs {np.median(cx[other]['entropy']):.3f}",
                   claim=CLAIMS["Fig. 5, entropy"].format(other=LABELS[other]),
                   holds=np.median(lrp["entropy"]) < np.median(cx[other]["entropy"]))
    path = os.path.join(fig_dir, "fig5_complexity.png")
    _fig5(path, cx)
    result.figures["Fig. 5: heatmap complexity (PNG size, entropy)"] = path
    result.tables["Fig. 5: median heatmap complexity"] = markdown_table(
        ["method", "PNG bytes", "JPEG bytes", "entropy (bits)"],
        [[LABELS[k], float(np.median(v["png"])), float(np.median(v["jpeg"])),
          float(np.median(v["entropy"]))] for k, v in cx.items()])
    if quick:
        hm = _heatmap_figure(os.path.join(fig_dir, "heatmaps.png"), folders,
                             run_data.get("path"), labels_of) if "path" in run_data else None
        if hm:
            result.figures["Heatmaps of the first images (as Fig. 6)"] = hm

    # Fig. 7: AOPC and accuracy over training
    rows7 = _fig7(result, quick, images if quick else min(images, 10000), steps, repeats,
                  epochs, seed, progress)
    dataset = "digits 16x16, small CNN" if quick else "CIFAR-10, xb.zoo.cifar_cnn"
    acc = np.array([r["accuracy"] for r in rows7])
    aopc = np.array([r["aopc"] for r in rows7])
    r_pearson = float(np.corrcoef(acc, aopc)[0, 1]) if acc.std() > 0 and aopc.std() > 0 \
        else float("nan")
    for r in rows7:
        result.add(f"Fig. 7, epoch {r['epoch']}: test accuracy / AOPC (LRP eps=1)",
                   ours=f"{r['accuracy']:.3f} / {r['aopc']:.4g}")
    result.add("Fig. 7, Pearson r of AOPC and accuracy over epochs", ours=r_pearson,
               claim=CLAIMS["Fig. 7, AOPC follows accuracy"],
               holds=None if np.isnan(r_pearson) else r_pearson > 0)
    path = os.path.join(fig_dir, "fig7_aopc_accuracy.png")
    _fig7_plot(path, rows7, dataset)
    result.figures["Fig. 7: AOPC and accuracy over training"] = path
    result.tables["Fig. 7: AOPC and accuracy per epoch"] = markdown_table(
        ["epoch", "test accuracy", "AOPC (LRP eps=1)", "AOPC - random"],
        [[r["epoch"], r["accuracy"], r["aopc"], r["aopc"] - r["random"]] for r in rows7])
    result.tables["Settings used"] = markdown_table(
        ["setting", "value"],
        [["data (Figs. 4, 5, 8)", data_name + f", {images} images, {side} px"],
         ["model", "shipped demo CNN" if spec["name"] == "clutter" else "VGG-16 (ImageNet)"],
         ["class explained", "predicted" if spec["name"] == "clutter" else "true label"],
         ["regions (Fig. 4)", f"{region} px, L = {L} steps, {repeats} repeats, uniform noise"],
         ["regions (Fig. 8)", ", ".join(f"{r} px (L = {k_of[r]})" for r in regions)],
         ["Fig. 7", f"{dataset}, epochs 0..{epochs}, region {rows7[0]['region']} px, "
                    f"L = {rows7[0]['steps']}"],
         ["seed", seed]])
    return result
