"""What the Kohlbrenner et al. reproduction runs, and :func:`run`.

:func:`setup` checks a call's options and fixes its data and model (``clutter`` with the
shipped demo CNN, or the ImageNet validation images with VGG-16); :func:`fit_patterns` and
:func:`training_mean` compute PatternAttribution's patterns and the occluder of Fig. 2 once;
:func:`table1_config` / :func:`pa_config` are the two batch runs of Table 1 and Figs. 2-3;
:func:`fig1_heatmaps` explains two images for two classes each. Everything is kept under
``<out>`` (runs under ``runs/``, models and arrays under ``models/``, figures under
``figures/``), so a second call computes nothing.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from xaibench.papers._common import check_int, parse_data, sub_run
from xaibench.papers.cache import cached
from xaibench.papers.comparison import Reproduction
from xaibench.papers.kohlbrenner import claims, figures
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, FIG1_FLAT_LAYERS, FIG3_BINS, METHODS, TITLE)
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults

ALLOWED_DATA = ("clutter", "imagenet_val")
#: the runner's model per data set: the shipped demo CNN (trained on 48x48 clutter, three
#: conv layers: shallow like the paper's CaffeNet), VGG-16 with Keras's ImageNet weights
MODELS = {"clutter": "demo", "imagenet_val": "vgg16:imagenet"}
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


@dataclass(frozen=True)
class Setup:
    """One call's protocol: the ``source`` data (:func:`~xaibench.papers._common.parse_data`:
    ``name``, and ``root`` for ImageNet), the runner's ``model``, the explained ``images``,
    Fig. 3's ``bins``, the ``pattern_images`` PatternAttribution is fitted on, the runs'
    ``seed``, ``quick`` mode and the output folder ``out``."""

    source: dict
    model: str
    images: int
    bins: int
    pattern_images: int
    seed: int
    quick: bool
    out: str

    @property
    def kind(self) -> str:
        return self.source["name"]

    @property
    def root(self) -> str | None:
        return self.source.get("root")

    @property
    def models(self) -> str:
        return os.path.join(self.out, "models")

    def data(self, n: int | None = None) -> dict:
        """The runner's data mapping of the first ``n`` (default :attr:`images`) images."""
        n = n or self.images
        if self.kind == "clutter":
            return {"name": "clutter", "n": n}
        return {"name": "imagenet_val", "root": self.root, "preprocess": "vgg16", "n": n}

    @property
    def shard_size(self) -> int:
        return self.images if self.quick else (64 if self.kind == "clutter" else 32)

    @property
    def description(self) -> str:
        label = self.kind if self.kind == "clutter" else f"imagenet_val ({self.root})"
        return f"{label}, {self.images} images"


def setup(out, quick, data, seed, images, bins, pattern_images) -> Setup:
    """The :class:`Setup` of a call (None: the mode's default), every option checked with
    a one-line error before any model is loaded or folder made."""
    seed = check_int("seed", seed, 0)
    images = check_int("images", images, 1, allow_none=True)
    bins = check_int("bins", bins, 2, allow_none=True)
    pattern_images = check_int("pattern_images", pattern_images, 1, allow_none=True)
    spec = parse_data(data, "clutter", ALLOWED_DATA)
    kind, mode = spec["name"], 0 if quick else 1
    if kind == "imagenet_val":
        from xaibench.data import imagenet_val
        from xaibench.zoo import vgg16_weights_file

        imagenet_val(spec["root"], limit=1)      # a wrong folder layout fails here
        vgg16_weights_file()
    return Setup(spec, MODELS[kind], images or N_IMAGES[kind][mode],
                 bins or (QUICK_BINS if quick else FIG3_BINS),
                 pattern_images or PATTERN_IMAGES[kind][mode], seed, bool(quick), out)


# --------------------------------------------------------------------------- training data

@dataclass
class TrainingImages:
    """The images PatternAttribution is fitted on and the training mean is taken over,
    read once on first use: clutter's training split (digits never seen in the test
    images), or the first ImageNet validation images (decoded 32 at a time)."""

    s: Setup

    @functools.cached_property
    def x(self):
        import xaibench as xb

        if self.s.kind == "clutter":
            return xb.data.clutter(self.s.pattern_images, split="train", **CLUTTER).x
        return xb.data.imagenet_val(self.s.root, preprocess="vgg16",
                                    limit=self.s.pattern_images, lazy=True)

    def batches(self):
        x = self.x
        return x if self.s.kind == "clutter" else (x[i:i + 32].x for i in range(0, len(x), 32))


def fit_patterns(s: Setup, train: TrainingImages) -> str:
    """PatternAttribution's patterns (Kindermans et al.'s ReLU estimator) fitted once on
    ``train``, kept at ``models/patterns.npz``; returns that file's absolute path."""
    def compute():
        import xaibench as xb
        from xaibench.zoo import load

        an = xb.create_analyzer("pattern.attribution", load(s.model), pattern_type="relu")
        an.fit(train.batches(), batch_size=32)
        return {**an.patterns, "__pattern_type__": np.array(an.pattern_type)}

    path = os.path.abspath(os.path.join(s.models, "patterns.npz"))
    cached(path, compute)
    return path


def training_mean(s: Setup, train: TrainingImages):
    """The occluder of Fig. 2, the per-channel training mean (Sec. 3.1), kept at
    ``models/train_mean.json``: clutter's; 0 for ImageNet, whose ``vgg16`` preprocessing
    subtracts it."""
    def compute():
        fill = 0.0 if s.kind != "clutter" else [
            round(float(v), 6) for v in np.asarray(train.x, np.float64).mean(axis=(0, 1, 2))]
        return {"fill": fill, "images": int(len(train.x))}

    return cached(os.path.join(s.models, "train_mean.json"), compute)["fill"]


# --------------------------------------------------------------------------- runs

def method_steps(patterns: str) -> dict:
    """Table 1: method key -> analyzer :class:`Step` (PA with the fitted ``patterns``)."""
    return {key: Step(name, {"patterns": patterns} if key == "pa" else {})
            for key, (name, _) in METHODS.items()}


def table1_config(s: Setup, steps: dict, fill) -> RunConfig:
    """Every method but PA with mu / mu_w (eq. 2) and the baseline's object / context
    occlusion by ``fill`` (Fig. 2); heatmaps kept on clutter (ImageNet: 0.3 MB each)."""
    return RunConfig(model=s.model, data=s.data(), shard_size=s.shard_size, seed=s.seed,
                     analyzers=tuple(v for k, v in steps.items() if k != "pa"),
                     metrics=(RELEVANCE_RATIO, Step("object_occlusion", {"fill": fill})),
                     save_heatmaps=s.kind == "clutter")


def pa_config(s: Setup, steps: dict) -> RunConfig:
    """PA on its own, without saved heatmaps: the patterns' path is part of its label."""
    return RunConfig(model=s.model, data=s.data(), shard_size=s.shard_size, seed=s.seed,
                     analyzers=(steps["pa"],), metrics=(RELEVANCE_RATIO,))


def _per_image(results: RunResults, analyzer, metric, keys) -> dict:
    """``{key: values per image}`` of one analyzer and metric, in the order of the images
    that have a ``size`` row (NaN where a value is missing)."""
    images = results.images(analyzer, metric, "size")
    return {k: results.per_image(analyzer, metric, k, images=images) for k in keys}


def ratios(main: RunResults, pa: RunResults, steps: dict) -> dict:
    """:attr:`claims.Measured.ratios` of the two runs: per method key and the baseline."""
    out = {key: _per_image(pa if key == "pa" else main, step, RELEVANCE_RATIO,
                           ("mu", "mu_w", "size")) for key, step in steps.items()}
    out[BASELINE_KEY] = _per_image(main, BASELINE, RELEVANCE_RATIO, ("mu", "mu_w", "size"))
    return out


def occlusion(main: RunResults) -> dict:
    """:attr:`claims.Measured.occlusion`: the baseline's ``object_occlusion`` rows."""
    return _per_image(main, BASELINE, "object_occlusion", ("f", "object", "context", "size"))


# --------------------------------------------------------------------------- Fig. 1

def fig1_steps(n_conv: int, steps: dict) -> list:
    """``(column title, analyzer Step)`` of Fig. 1: (a)-(d) Table 1's ``steps`` of LRP_z,
    LRP_alpha1, GB and PA; (e)-(g) LRP_CMP:alpha1 with LRP_b on the input layer, on all
    ``n_conv`` conv layers and on the first three (fewer in a model with up to three)."""
    first = min(FIG1_FLAT_LAYERS, max(1, n_conv - 1))
    flat = [("(e) CMP:alpha1, b on input", 1), (f"(f) CMP, b on all {n_conv} conv", n_conv),
            (f"(g) CMP:alpha1, b on {first} conv", first)]
    return [("(a) LRP_z", steps["lrp_z"]), ("(b) LRP_alpha1", steps["lrp_a1"]),
            ("(c) GB", steps["gb"]), ("(d) PA", steps["pa"])] + [
        (title, Step("lrp.cmp_flat_until", {"flat_layers": n, "alpha": 1})) for title, n in flat]


def _two_classes(z: np.ndarray, y: np.ndarray) -> tuple:
    """``(rows, classes)``: the first two correctly classified images (others if fewer),
    each twice, for its true class and for the highest-scoring other class."""
    right = np.flatnonzero(z.argmax(axis=1) == y)
    pick = np.asarray((list(right) + [i for i in range(len(y)) if i not in right])[:2])
    top2 = np.argsort(z[pick], axis=1)[:, -2:]
    other = np.where(top2[:, 0] == y[pick], top2[:, 1], top2[:, 0])
    return np.repeat(pick, 2), np.stack([y[pick], other], axis=1).reshape(-1)


def fig1_heatmaps(s: Setup, steps: dict) -> dict:
    """Fig. 1's heatmaps, computed once into ``models/fig1_heatmaps.npz``: ``titles``, per
    row ``rows`` (image index), ``classes``, ``logits`` and ``images``, and ``R<k>`` per
    column. Analyzed in memory: the runner explains one class per image and keeps float16."""
    data = s.data(min(FIG1_POOL, s.images))

    def compute():
        import tensorflow as tf

        import xaibench as xb
        from xaibench.prepare import logits_model
        from xaibench.runner.datasets import load as load_data
        from xaibench.zoo import load

        d, model = load_data(data), load(s.model)
        z = np.asarray(logits_model(model)(tf.constant(d.x), training=False))
        rows, classes = _two_classes(z, d.y)
        n_conv = sum(isinstance(layer, tf.keras.layers.Conv2D) for layer in model.layers)
        columns = fig1_steps(n_conv, steps)
        R = [np.asarray(xb.create_analyzer(step.name, model, **step.params).analyze(
            d.x[rows], neuron_selection=classes), np.float32) for _, step in columns]
        return {"titles": np.array([t for t, _ in columns]), "rows": rows, "classes": classes,
                "logits": z[rows, classes], "images": d.x[rows],
                **{f"R{k}": r for k, r in enumerate(R)}}

    key = json.dumps({"model": s.model, "data": data, "pa": steps["pa"].label}, sort_keys=True)
    return cached(os.path.join(s.models, "fig1_heatmaps.npz"), compute, key=key)


def correlation(heatmaps: dict) -> dict:
    """:attr:`claims.Measured.correlation` of :func:`fig1_heatmaps`, per column."""
    return {str(t): claims.class_correlation(heatmaps[f"R{k}"])
            for k, t in enumerate(heatmaps["titles"])}


# --------------------------------------------------------------------------- run

def _draw(result: Reproduction, s: Setup, m: claims.Measured, heatmaps: dict,
          runs: tuple) -> None:
    """Figs. 1-3 (drawn again only when the ``runs`` or heatmaps they show are newer) and
    the tables of Table 1 and Fig. 1."""

    runs = [r.path for r in runs]
    result.tables["Table 1: relevance inside the box (eq. 2), true class"] = \
        figures.table1_markdown(claims.table1_columns(m.ratios))
    result.figure("Fig. 3: mu against box size", f"fig3_mu_by_box_size_{s.bins}_bins.png",
                  lambda: figures.fig3(m.ratios, s.bins), runs, dpi=120)
    result.figure("Fig. 2: occluding object vs. context", "fig2_occlusion.png",
                  lambda: figures.fig2(m.occlusion), runs, dpi=120)
    result.figure("Fig. 1: two classes, uniform rules (a)-(d) vs. LRP_CMP (e)-(g)",
                  "fig1_heatmaps.png", lambda: figures.fig1(heatmaps),
                  [os.path.join(s.models, "fig1_heatmaps.npz")], dpi=110)
    result.tables["Fig. 1: correlation between the two classes' heatmaps"] = \
        figures.fig1_markdown(m.correlation)


def run(out, quick=False, data=None, progress=True, seed=0, images=None, bins=None,
        pattern_images=None) -> Reproduction:
    """Run Table 1 and Figs. 1-3 into ``out``.

    ``data``: ``clutter`` (default) or ``imagenet_val:PATH``; ``images``: test images (default
    40 quick / 1000 full on clutter, 32 / 10,000 on ImageNet); ``bins``: box-size intervals
    of Fig. 3 (default: the paper's 100; 20 in quick mode); ``pattern_images``: images
    PatternAttribution's patterns (and clutter's training mean) are estimated from (512 /
    5000 clutter training images, 32 / 2000 ImageNet validation images); ``seed``: the
    runs' seed.
    """
    s = setup(out, quick, data, seed, images, bins, pattern_images)
    result = Reproduction("kohlbrenner", TITLE, out, quick, s.description)
    train = TrainingImages(s)
    patterns = fit_patterns(s, train)
    steps = method_steps(patterns)
    fill = training_mean(s, train)
    main = RunResults(sub_run(result, "table1", table1_config(s, steps, fill), progress))
    pa = RunResults(sub_run(result, "table1_pa", pa_config(s, steps), progress))
    heatmaps = fig1_heatmaps(s, steps)
    m = claims.Measured(ratios(main, pa, steps), occlusion(main), correlation(heatmaps))
    result.rows.extend(claims.rows(m))
    _draw(result, s, m, heatmaps, (main, pa))
    return result
