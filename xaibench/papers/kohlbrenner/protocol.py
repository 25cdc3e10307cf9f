"""What the reproduction runs, and :func:`run`: PatternAttribution's patterns and Fig. 2's
occluder (:func:`training_statistics`), the two batch runs of Table 1 and Figs. 2-3 (in
:func:`run`) and Fig. 1's heatmaps (:func:`fig1_heatmaps`). Everything is kept under
``<out>`` (``runs/``, ``models/``, ``figures/``), so a second call computes nothing."""
import functools
import json
import os

import numpy as np

import xaibench as xb
from xaibench.papers._common import (check_folder_data, check_ints, model_data, parse_data,
                                      sub_run)
from xaibench.papers.cache import cached
from xaibench.papers.comparison import Reproduction
from xaibench.papers.kohlbrenner import claims, figures
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, FIG1_FLAT_LAYERS, FIG3_BINS, METHODS, TITLE)
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults

#: the data sets, each with its model (:func:`~xaibench.papers._common.model_data`): the
#: shipped demo CNN (trained on 48x48 clutter, three conv layers: shallow like the paper's
#: CaffeNet), VGG-16 with Keras's ImageNet weights
DATA = ("clutter", "imagenet_val")
#: images of Table 1 / Figs. 2-3: (quick, full) per data set (ours; the paper: all 50,000
#: ImageNet validation images, Sec. 3.3)
N_IMAGES = {"clutter": (40, 1000), "imagenet_val": (32, 10000)}
#: images the patterns (and clutter's training mean) are estimated from: (quick, full)
PATTERN_IMAGES = {"clutter": (512, 5000), "imagenet_val": (32, 2000)}
#: the demo model's clutter images (xaibench/models/train_clutter_cnn.py)
CLUTTER = dict(size=48, seed=0, digit_scale=(0.45, 0.8))
#: box-size intervals of Fig. 3 in quick mode (the paper's 100 leave most of them empty)
QUICK_BINS = 20
#: Fig. 1 shows the first two correctly classified of this many test images
FIG1_POOL = 16
RELEVANCE_RATIO = Step("relevance_ratio")


def training_statistics(source: dict, model: str, n: int, models: str) -> tuple:
    """``(absolute path of <models>/patterns.npz, fill)``, each computed once from ``n``
    images: PatternAttribution's patterns (Kindermans et al.'s ReLU estimator) and Fig. 2's
    occluder, the per-channel training mean (Sec. 3.1; in ``train_mean.json``), of
    clutter's training split (digits never seen in the test images) or of the first
    ImageNet validation images (decoded 32 at a time; the mean is 0: ``vgg16``
    preprocessing subtracts it)."""
    clutter = source["name"] == "clutter"

    @functools.cache
    def train():
        if clutter:
            return xb.data.clutter(n, split="train", **CLUTTER).x
        return xb.data.imagenet_val(source["root"], preprocess="vgg16", limit=n, lazy=True)

    def patterns():
        x = train()
        an = xb.create_analyzer("pattern.attribution", xb.zoo.load(model), pattern_type="relu")
        an.fit(x if clutter else (x[i:i + 32].x for i in range(0, len(x), 32)), batch_size=32)
        return {**an.patterns, "__pattern_type__": np.array(an.pattern_type)}

    def mean():
        fill = 0.0 if not clutter else [
            round(float(v), 6) for v in np.asarray(train(), np.float64).mean(axis=(0, 1, 2))]
        return {"fill": fill, "images": int(len(train()))}

    path = os.path.abspath(os.path.join(models, "patterns.npz"))
    cached(path, patterns)
    return path, cached(os.path.join(models, "train_mean.json"), mean)["fill"]


def measured(main: RunResults, pa: RunResults, steps: dict, heatmaps: dict):
    """:class:`claims.Measured` of the two runs (per image, in the order of the images with
    a ``size`` row; NaN where a value is missing) and of :func:`fig1_heatmaps`."""
    def per_image(results, analyzer, metric, keys):
        images = results.images(analyzer, metric, "size")
        return {k: results.per_image(analyzer, metric, k, images=images) for k in keys}

    ratios = {key: per_image(pa if key == "pa" else main, step, RELEVANCE_RATIO,
                             ("mu", "mu_w", "size"))
              for key, step in {**steps, BASELINE_KEY: BASELINE}.items()}
    occlusion = per_image(main, BASELINE, "object_occlusion", ("f", "object", "context", "size"))
    return claims.Measured(ratios, occlusion, {
        str(t): claims.class_correlation(heatmaps[f"R{k}"])
        for k, t in enumerate(heatmaps["titles"])})


def fig1_heatmaps(data: dict, model: str, steps: dict, models: str) -> dict:
    """Fig. 1's heatmaps, computed once into ``<models>/fig1_heatmaps.npz``: the first two
    correctly classified images of ``data`` (others if fewer), each explained for its true
    and its highest-scoring other class by (a)-(d) Table 1's LRP_z, LRP_alpha1, GB and PA
    and (e)-(g) LRP_CMP:alpha1 with LRP_b on the input layer, on all conv layers and on the
    first three (fewer in a model with up to three). Arrays: ``titles`` and ``R<k>`` per
    column; ``rows`` (image index), ``classes``, ``logits`` and ``images`` per row.
    Analyzed in memory: the runner explains one class per image and keeps float16."""
    def compute():
        import tensorflow as tf

        from xaibench.prepare import logits_model
        from xaibench.runner.datasets import load

        d, net = load(data), xb.zoo.load(model)
        z = np.asarray(logits_model(net)(tf.constant(d.x), training=False))
        right = np.flatnonzero(z.argmax(axis=1) == d.y)
        pick = np.asarray((list(right) + [i for i in range(len(d.y)) if i not in right])[:2])
        top2 = np.argsort(z[pick], axis=1)[:, -2:]
        other = np.where(top2[:, 0] == d.y[pick], top2[:, 1], top2[:, 0])
        rows, classes = np.repeat(pick, 2), np.stack([d.y[pick], other], axis=1).reshape(-1)
        n_conv = sum(isinstance(layer, tf.keras.layers.Conv2D) for layer in net.layers)
        first = min(FIG1_FLAT_LAYERS, max(1, n_conv - 1))
        columns = {"(a) LRP_z": steps["lrp_z"], "(b) LRP_alpha1": steps["lrp_a1"],
                   "(c) GB": steps["gb"], "(d) PA": steps["pa"]} | {
            title: Step("lrp.cmp_flat_until", {"flat_layers": n, "alpha": 1}) for title, n in (
                ("(e) CMP:alpha1, b on input", 1), (f"(f) CMP, b on all {n_conv} conv", n_conv),
                (f"(g) CMP:alpha1, b on {first} conv", first))}
        R = [np.asarray(xb.create_analyzer(step.name, net, **step.params).analyze(
            d.x[rows], neuron_selection=classes), np.float32) for step in columns.values()]
        return {"titles": np.array(list(columns)), "rows": rows, "classes": classes,
                "logits": z[rows, classes], "images": d.x[rows],
                **{f"R{k}": r for k, r in enumerate(R)}}

    key = json.dumps({"model": model, "data": data, "pa": steps["pa"].label}, sort_keys=True)
    return cached(os.path.join(models, "fig1_heatmaps.npz"), compute, key=key)


def run(out, quick=False, data=None, progress=True, seed=0, images=None, bins=None,
        pattern_images=None) -> Reproduction:
    """Run Table 1 and Figs. 1-3 into ``out``, every option checked with a one-line error
    before any model is loaded or folder made. ``data``: ``clutter`` (default) or
    ``imagenet_val:PATH``; ``images``: test images (default 40 quick / 1000 full on clutter,
    32 / 10,000 on ImageNet); ``bins``: box-size intervals of Fig. 3 (default: the paper's
    100; 20 in quick mode); ``pattern_images``: images PatternAttribution's patterns (and
    clutter's training mean) are estimated from (512 / 5000 clutter training images, 32 /
    2000 ImageNet validation images); ``seed``: the runs' seed."""
    opts = check_ints(dict(seed=seed, images=images, bins=bins, pattern_images=pattern_images),
                      {"seed": 0, "images": 1, "bins": 2, "pattern_images": 1},
                      optional=("images", "bins", "pattern_images"))
    source = parse_data(data, "clutter", DATA)
    kind, mode, models = source["name"], 0 if quick else 1, os.path.join(out, "models")
    check_folder_data(source)
    model, data_map = model_data(source, opts["images"] or N_IMAGES[kind][mode])
    n, bins = data_map["n"], opts["bins"] or (QUICK_BINS if quick else FIG3_BINS)
    where = kind if kind == "clutter" else f"imagenet_val ({source['root']})"
    result = Reproduction("kohlbrenner", TITLE, out, quick, f"{where}, {n} images",
                          savefig={"dpi": figures.DPI})

    patterns, fill = training_statistics(
        source, model, opts["pattern_images"] or PATTERN_IMAGES[kind][mode], models)
    steps = {key: Step(name, {"patterns": patterns} if key == "pa" else {})
             for key, (name, _) in METHODS.items()}
    # Table 1, Figs. 2-3: every method but PA with mu / mu_w (eq. 2) and the baseline's
    # object / context occlusion by the training mean, heatmaps kept on clutter (ImageNet:
    # 0.3 MB each); PA on its own, without them (the patterns' path is in its label)
    common = dict(model=model, data=data_map, seed=opts["seed"],
                  shard_size=n if quick else (64 if kind == "clutter" else 32))
    main = sub_run(result, "table1", RunConfig(
        **common, analyzers=tuple(v for k, v in steps.items() if k != "pa"),
        metrics=(RELEVANCE_RATIO, Step("object_occlusion", {"fill": fill})),
        save_heatmaps=kind == "clutter"), progress)
    pa = sub_run(result, "table1_pa", RunConfig(
        **common, analyzers=(steps["pa"],), metrics=(RELEVANCE_RATIO,)), progress)
    heatmaps = fig1_heatmaps(dict(data_map, n=min(FIG1_POOL, n)), model, steps, models)
    m = measured(main, pa, steps, heatmaps)
    result.rows.extend(claims.rows(m))
    figures.draw(result, m, heatmaps, bins, [main.path, pa.path],
                 os.path.join(models, "fig1_heatmaps.npz"))
    return result
