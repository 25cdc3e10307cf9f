"""What is run: the batch-runner configs of Figs. 4, 5, 7 and 8, the training of Fig. 7's
network, the data, and :func:`run`, which reads the numbers back
(:class:`~xaibench.runner.results.RunResults`), decides the claims (:mod:`.claims`), draws
the figures (:mod:`.figures`) and fills the :class:`~xaibench.papers.comparison.Reproduction`.

Sec. IV-A on an input of ``side`` px: regions of max(1, round(9 * side / 227)) px (Fig. 8's
sizes likewise, duplicates after rounding dropped: 1, 3 and 5 are all 1 px on 48 px
images), the same L steps at every region size (capped by the regions on the grid),
uniform noise, heatmaps and perturbation curves of the predicted class (every run has
``target: predicted``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from xaibench.papers import comparison
from xaibench.papers._common import check_int, parse_data, sub_run
from xaibench.papers.cache import cached
from xaibench.papers.samek import claims, figures
from xaibench.papers.samek.paper import (
    FIG8, LABELS, LRP, METHODS, PAPER, PAPER_REGIONS, TITLE)
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults
from xaibench.runner.store import RESULTS

#: quick (True) and full (False) settings; the full ones are Sec. IV-A's, except the
#: epochs of Fig. 7 (the paper does not give them)
DEFAULTS = {True: dict(images=16, steps=30, repeats=2, epochs=4),
            False: dict(images=PAPER["Sec. IV-A, images per data set"],
                        steps=PAPER["Sec. IV-A, perturbation steps L"],
                        repeats=PAPER["Sec. IV-A, repeats of the random perturbation"],
                        epochs=20)}
#: the ILSVRC2012 validation images
MAX_IMAGES = 50000
#: the LRP rule whose AOPC Fig. 7 follows over training (the paper does not name it; eps = 1
#: is the best rule of Fig. 8, and builds in a fraction of alpha2-beta1's time)
FIG7_METHOD = "lrp_eps1"
FIG7_ANALYZER = METHODS[FIG7_METHOD].analyzer
#: side of the clutter images the shipped demo CNN takes
CLUTTER_SIDE = 48


# ---------------------------------------------------------------------------- options

@dataclass(frozen=True)
class Options:
    """The checked options of one reproduction (see :func:`run`)."""

    quick: bool
    data: dict            # parse_data's mapping: {"name": ...} (+ "root")
    seed: int
    images: int
    steps: int
    repeats: int
    epochs: int

    @property
    def data_name(self) -> str:
        return self.data["name"] + (f":{self.data['root']}" if "root" in self.data else "")


def check_options(quick, data, seed, images, steps, repeats, epochs) -> Options:
    """Every option checked before any work; ``None`` takes the quick or full default."""
    spec = parse_data(data, "clutter", ("clutter", "imagenet_val"))
    seed = check_int("seed", seed, 0)
    d = DEFAULTS[bool(quick)]
    images = check_int("images", d["images"] if images is None else images, 2)
    steps = check_int("steps", d["steps"] if steps is None else steps, 1)
    repeats = check_int("repeats", d["repeats"] if repeats is None else repeats, 1)
    epochs = check_int("epochs", d["epochs"] if epochs is None else epochs, 2)
    if images > MAX_IMAGES:
        raise ValueError(f"images={images} is more than the 50,000 validation images; "
                         "use at most 50000 (the paper: 5040)")
    if not quick:
        _check_cifar10()
    return Options(bool(quick), spec, seed, images, steps, repeats, epochs)


def _check_cifar10():
    """The full protocol's Fig. 7 trains on CIFAR-10 from the Keras cache."""
    import xaibench as xb

    try:
        xb.data.cifar10("test", limit=1)
    except FileNotFoundError as err:
        raise ValueError("Fig. 7 of the full protocol needs CIFAR-10 in the Keras cache (or "
                         f"run with --quick): {err}") from None


# ---------------------------------------------------------------------------- settings

def scaled_region(side: int, paper_region: int = 9) -> int:
    """A paper region size (on 227 px inputs, Sec. IV-A) scaled to an input of ``side`` px."""
    paper_side = PAPER["Sec. IV-A, input side of the network (px)"]
    return max(1, int(round(paper_region * side / paper_side)))


def scaled_steps(side: int, region: int, steps: int) -> int:
    """``steps`` (the paper: 100 at every region size, Sec. IV-A and appendix), capped by the
    number of regions on the grid."""
    return int(min(steps, (side // region) ** 2))


@dataclass(frozen=True)
class Perturbation:
    """Region perturbation (eq. 11) and AOPC (eq. 12) on ``side`` px inputs: the Fig. 4
    region, Fig. 8's sizes and the metric Step of each."""

    side: int
    steps: int
    repeats: int

    @property
    def region(self) -> int:
        return scaled_region(self.side)

    @property
    def paper_sizes(self) -> dict:
        """``{region px: the paper's sizes scaled to it}`` for Fig. 8, smallest first."""
        out: dict = {}
        for r in PAPER_REGIONS:
            out.setdefault(scaled_region(self.side, r), []).append(r)
        return {r: tuple(out[r]) for r in sorted(out)}

    def steps_at(self, region: int) -> int:
        return scaled_steps(self.side, region, self.steps)

    def aopc(self, region: int, pooling: str) -> Step:
        return Step("aopc", {"region": region, "steps": self.steps_at(region),
                             "repeats": self.repeats, "perturbation": "uniform",
                             "channel_reduce": pooling, "output": "logit"})


def complexity(pooling: str) -> Step:
    """Fig. 5's complexity of the heatmaps pooled by ``pooling``."""
    return Step("complexity", {"channel_reduce": pooling})


# ---------------------------------------------------------------------------- data

def predicted_data(path: str, images, model) -> str:
    """``path``: a runner ``npz`` data set of ``images()`` labelled with ``model()``'s
    predicted classes (Sec. IV-A: heatmaps of the predicted label), made once."""
    from xaibench.runner.engine import predicted_classes

    def make():
        x = np.asarray(images(), np.float32)
        return {"x": x, "y": predicted_classes(model(), x, batch_size=256)}
    cached(path, make)
    return path


def main_data(out: str, opts: Options) -> tuple:
    """``(runner model, runner data, image side)`` of Figs. 4, 5 and 8: clutter images and
    the shipped demo CNN, or ILSVRC2012 validation images with VGG-16's ImageNet weights
    from the Keras cache (CaffeNet's weights are not available to Keras)."""
    if opts.data["name"] == "clutter":
        from xaibench import zoo
        from xaibench.runner.datasets import load

        path = predicted_data(os.path.join(out, "data", f"clutter_{opts.images}.npz"),
                              lambda: load({"name": "clutter", "n": opts.images}).x,
                              lambda: zoo.shipped("demo"))
        return "demo", {"name": "npz", "path": path}, CLUTTER_SIDE
    return "vgg16:imagenet", {"name": "imagenet_val", "root": opts.data["root"],
                              "n": opts.images, "preprocess": "vgg16"}, 224


# ---------------------------------------------------------------------------- Figs. 4, 5, 8

@dataclass(frozen=True)
class MainRuns:
    """The two runs of Figs. 4, 5 and 8: gradient-type maps pooled by norms, LRP summed."""

    grad: RunResults
    lrp: RunResults
    perturbation: Perturbation
    data: dict

    def of(self, key: str) -> RunResults:
        return self.lrp if key in LRP else self.grad

    @property
    def files(self) -> tuple:
        """The results the figures are drawn from."""
        return tuple(r.path for r in (self.grad, self.lrp))

    def _aopc(self, key, region):
        return self.perturbation.aopc(region, METHODS[key].pooling)

    def curve(self, key: str, region: int) -> np.ndarray:
        """Mean AOPC(L) over images, L = 0..steps (eq. 12 as a function of L)."""
        return self.of(key).mean_curve(METHODS[key].analyzer, self._aopc(key, region),
                                       "morf")[1]

    def random_curve(self, key: str, region: int) -> np.ndarray:
        """The same for the random order, in ``key``'s run and pooling."""
        return self.of(key).mean_curve(BASELINE, self._aopc(key, region), "random")[1]

    def final(self, key: str, region: int) -> float:
        """Mean AOPC at L = steps."""
        return self.of(key).mean(METHODS[key].analyzer, self._aopc(key, region), "morf")

    def complexity(self, key: str) -> dict:
        """Per-image ``png`` / ``jpeg`` bytes and ``entropy`` of ``key``'s heatmaps."""
        m = METHODS[key]
        return {s: self.of(key).per_image(m.analyzer, complexity(m.pooling), s)
                for s in ("png", "jpeg", "entropy")}


def main_runs(result, opts: Options, progress: bool) -> MainRuns:
    """Run (or resume) Figs. 4, 5 and 8's two batch runs."""
    model, data, side = main_data(result.out, opts)
    p = Perturbation(side, opts.steps, opts.repeats)
    common = dict(model=model, data=data, target="predicted", seed=opts.seed,
                  shard_size=opts.images if opts.quick else 64, save_heatmaps=opts.quick)
    grad = RunConfig(analyzers=(METHODS["sens_l2"].analyzer, METHODS["deconv"].analyzer),
                     metrics=(*(p.aopc(r, "l2") for r in p.paper_sizes),
                              p.aopc(p.region, "linf"), complexity("l2")), **common)
    lrp = RunConfig(analyzers=tuple(METHODS[k].analyzer for k in LRP),
                    metrics=(*(p.aopc(r, "sum") for r in p.paper_sizes), complexity("sum")),
                    **common)
    return MainRuns(RunResults(sub_run(result, "fig4_gradient_deconv", grad, progress)),
                    RunResults(sub_run(result, "fig4_lrp", lrp, progress)), p, data)


def add_protocol(result, p: Perturbation, images: int):
    """Sec. IV-A's settings: the paper's next to the scaled ones used here."""
    L = p.steps_at(p.region)
    share = p.region * p.region / (p.side * p.side) * 100
    ours = {
        "Sec. IV-A, region size (px)": p.region,
        "Sec. IV-A, region share of the image (%)": round(share, 4),
        "Sec. IV-A, perturbation steps L": L,
        "Sec. IV-A, image share perturbed after L steps (%)": round(share * L, 2),
        "Sec. IV-A, repeats of the random perturbation": p.repeats,
        "Sec. IV-A, images per data set": images,
        "Sec. IV-A, input side of the network (px)": p.side,
    }
    for item, value in PAPER.items():
        result.add(item, paper=value, ours=ours[item])


def add_fig4(result, main: MainRuns, title: str):
    """Fig. 4: AOPC(L) relative to the random baseline at the Fig. 4 region."""
    r, L = main.perturbation.region, main.perturbation.steps_at(main.perturbation.region)
    curves = {k: main.curve(k, r) for k in METHODS}
    rel = {k: curves[k] - main.random_curve(k, r) for k in METHODS}
    final = {k: float(rel[k][-1]) for k in METHODS}
    random = float(main.random_curve("lrp_a2b1", r)[-1])     # the LRP run's baseline
    result.add("Fig. 4, AOPC of the random baseline at L", ours=random)
    for key in METHODS:
        result.add(f"Fig. 4, AOPC - random at L, {LABELS[key]}", ours=final[key])
    result.rows.extend(claims.fig4_claims(final))
    result.add("Fig. 4, ordering on this data (AOPC - random)",
               ours=comparison.order_text(sorted(METHODS, key=lambda k: -final[k]), LABELS))
    result.figure("Fig. 4: AOPC relative to the random baseline",
                  "fig4_aopc_relative_to_random.png", lambda: figures.fig4(rel, r, L, title),
                  main.files, dpi=figures.DPI)
    result.tables["Fig. 4: AOPC at L relative to the random baseline"] = figures.fig4_table(
        {k: float(c[-1]) for k, c in curves.items()}, final, random, L)


def add_fig8(result, main: MainRuns):
    """Fig. 8: AOPC at every region size relative to sensitivity l2."""
    sizes = main.perturbation.paper_sizes
    table = {}
    for r in sizes:
        f = {key: main.final(key, r) for key in FIG8}
        table[r] = {key: f[key] - f["sens_l2"] for key in FIG8}
    for r in sizes:
        for key in FIG8[1:]:
            result.add(f"Fig. 8, region {r} px (paper {claims.sizes_text(sizes[r])}), AOPC - "
                       f"sensitivity l2, {LABELS[key]}", ours=table[r][key])
    result.rows.extend(claims.fig8_claims(table, sizes))
    result.figure("Fig. 8: AOPC relative to sensitivity l2 by region size",
                  "fig8_region_sizes.png", lambda: figures.fig8(table, sizes), main.files,
                  dpi=figures.DPI)
    result.tables["Fig. 8: AOPC at L relative to sensitivity l2"] = figures.fig8_table(
        table, sizes, {r: main.perturbation.steps_at(r) for r in sizes})


def add_fig5(result, main: MainRuns):
    """Fig. 5: complexity of the heatmaps (sensitivity once, l2-pooled)."""
    cx = {key: main.complexity(key) for key in METHODS if key != "sens_linf"}
    result.rows.extend(claims.fig5_claims(cx))
    result.figure("Fig. 5: heatmap complexity (PNG size, entropy)",
                  "fig5_complexity.png", lambda: figures.fig5(cx), main.files, dpi=figures.DPI)
    result.tables["Fig. 5: median heatmap complexity"] = figures.fig5_table(cx)


def add_heatmaps(result, main: MainRuns, n: int = 6):
    """The first ``n`` images of the quick run and their saved heatmaps (as Fig. 6)."""
    from xaibench.heatmaps import reduce_channels

    def make():
        maps = {}
        for key in figures.GRID:
            m = METHODS[key]
            R = main.of(key).heatmaps([m.analyzer], limit=1)[m.analyzer.label]
            maps[key] = reduce_channels(R[:n], m.pooling)
        with np.load(main.data["path"]) as f:
            return figures.heatmap_grid(f["x"][:n], maps)
    result.figure("Heatmaps of the first images (as Fig. 6)", "heatmaps.png", make,
                  main.files, dpi=figures.DPI)


# ---------------------------------------------------------------------------- Fig. 7

@dataclass(frozen=True)
class Fig7Setup:
    """Fig. 7's network and data: the paper's CIFAR-10, or the digits in quick mode."""

    dataset: str
    side: int
    batch: int
    learning_rate: float


FIG7 = {True: Fig7Setup("digits 16x16, small CNN", 16, 64, 1e-3),
        False: Fig7Setup("CIFAR-10, xb.zoo.cifar_cnn", 32, 128, 1e-3)}


class Checkpoint(NamedTuple):
    """One point of Fig. 7: test accuracy and mean AOPC (MoRF, random order) at L."""

    epoch: int
    accuracy: float
    aopc: float
    random: float


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


def _cifar_cnn(input_shape, seed):
    import tensorflow as tf

    from xaibench import zoo

    tf.keras.utils.set_random_seed(seed)
    return zoo.cifar_cnn(input_shape=input_shape)


class Training:
    """Fig. 7's network trained one epoch at a time; each checkpoint is kept as
    ``<out>/models/fig7_epoch_NN.keras`` (epoch 0: the initial weights). The data are read
    and a checkpoint is loaded only when something made from it is missing."""

    def __init__(self, out: str, quick: bool, seed: int):
        self.folder, self.quick, self.seed = os.path.join(out, "models"), quick, seed
        self._data = None
        self._last = (None, None)          # (epoch, model) of the last checkpoint in memory

    def path(self, epoch: int) -> str:
        return os.path.join(self.folder, f"fig7_epoch_{epoch:02d}.keras")

    def data(self) -> tuple:
        """``(x_train, y_train, x_test, y_test)``."""
        if self._data is None:
            import xaibench as xb

            if self.quick:
                self._data = tuple(xb.data.digits(size=16))
            else:
                train, test = xb.data.cifar10("train"), xb.data.cifar10("test")
                self._data = train.x, train.y, test.x, test.y
        return self._data

    def model(self, epoch: int):
        """The checkpoint after ``epoch`` epochs (trainable), trained when missing."""
        if self._last[0] != epoch:
            self._last = (epoch, cached(self.path(epoch), lambda: self._train(epoch),
                                        trainable=True))
        return self._last[1]

    def checkpoint(self, epoch: int) -> str:
        """The file of the checkpoint after ``epoch`` epochs, trained when missing."""
        if not os.path.isfile(self.path(epoch)):
            self.model(epoch)
        return self.path(epoch)

    def _train(self, epoch: int):
        """Epoch 0: the compiled, untrained network (seeded); else one more epoch of Adam
        on the previous checkpoint."""
        import tensorflow as tf

        x_train, y_train = self.data()[:2]
        setup = FIG7[self.quick]
        if epoch == 0:
            model = (_small_cnn if self.quick else _cifar_cnn)(x_train.shape[1:], self.seed)
            model.compile(tf.keras.optimizers.Adam(setup.learning_rate),
                          "sparse_categorical_crossentropy", metrics=["accuracy"])
            return model
        model = self.model(epoch - 1)       # trained on in place: it becomes epoch's
        tf.keras.utils.set_random_seed(self.seed + epoch)
        model.fit(x_train, y_train, epochs=1, batch_size=setup.batch, verbose=0)
        return model

    def accuracy(self, epoch: int) -> dict:
        """Test accuracy of the checkpoint (Fig. 7's performance curve)."""
        x_test, y_test = self.data()[2:]
        p = np.asarray(self.model(epoch).predict(x_test, batch_size=256, verbose=0))
        return {"epoch": epoch, "test_accuracy": float(np.mean(p.argmax(axis=1) == y_test)),
                "test_images": len(y_test)}


def fig7_perturbation(opts: Options) -> Perturbation:
    """Fig. 7's region perturbation: Sec. IV-A's scaled to the training images."""
    return Perturbation(FIG7[opts.quick].side, opts.steps, opts.repeats)


def fig7_runs(result, opts: Options, progress: bool) -> list:
    """Train epoch by epoch and run the AOPC of LRP heatmaps on every checkpoint."""
    training = Training(result.out, opts.quick, opts.seed)
    n = opts.images if opts.quick else min(opts.images, 10000)
    p = fig7_perturbation(opts)
    metric = p.aopc(p.region, "sum")
    out = []
    for epoch in range(opts.epochs + 1):
        name = f"fig7_epoch_{epoch:02d}"
        model = training.checkpoint(epoch)
        info = cached(os.path.join(training.folder, name + ".json"),
                      lambda: training.accuracy(epoch))
        data = predicted_data(os.path.join(result.out, "data", name + ".npz"),
                              lambda: training.data()[2][:n], lambda: training.model(epoch))
        config = RunConfig(model=model, data={"name": "npz", "path": data},
                           analyzers=(FIG7_ANALYZER,), metrics=(metric,), target="predicted",
                           shard_size=64, seed=opts.seed, save_heatmaps=False)
        res = RunResults(sub_run(result, name, config, progress))
        out.append(Checkpoint(epoch, info["test_accuracy"],
                              res.mean(FIG7_ANALYZER, metric, "morf"),
                              res.mean(BASELINE, metric, "random")))
    return out


def add_fig7(result, checkpoints: list, dataset: str):
    """Fig. 7: AOPC and test accuracy over training."""
    label = LABELS[FIG7_METHOD]
    for c in checkpoints:
        result.add(f"Fig. 7, epoch {c.epoch}: test accuracy / AOPC ({label})",
                   ours=f"{c.accuracy:.3f} / {c.aopc:.4g}")
    result.rows.extend(claims.fig7_claims([c.accuracy for c in checkpoints],
                                           [c.aopc for c in checkpoints]))
    depends = [os.path.join(f, RESULTS) for k, f in result.runs.items() if k.startswith("fig7")]
    result.figure("Fig. 7: AOPC and accuracy over training", "fig7_aopc_accuracy.png",
                  lambda: figures.fig7(checkpoints, dataset, label), depends, dpi=figures.DPI)
    result.tables["Fig. 7: AOPC and accuracy per epoch"] = figures.fig7_table(checkpoints, label)


# ---------------------------------------------------------------------------- the whole

def settings(opts: Options, p: Perturbation) -> dict:
    """What the Settings table lists."""
    f7 = fig7_perturbation(opts)
    return {
        "data (Figs. 4, 5, 8)": f"{opts.data_name}, {opts.images} images, {p.side} px",
        "model": "shipped demo CNN" if opts.data["name"] == "clutter" else "VGG-16 (ImageNet)",
        "class explained": "predicted",
        "regions (Fig. 4)": (f"{p.region} px, L = {p.steps_at(p.region)} steps, {p.repeats} "
                             "repeats, uniform noise"),
        "regions (Fig. 8)": ", ".join(f"{r} px (L = {p.steps_at(r)})" for r in p.paper_sizes),
        "Fig. 7": (f"{FIG7[opts.quick].dataset}, epochs 0..{opts.epochs}, region {f7.region} "
                   f"px, L = {f7.steps_at(f7.region)}"),
        "seed": opts.seed,
    }


def run(out, quick=False, data=None, progress=True, seed=0, images=None, steps=None,
        repeats=None, epochs=None) -> comparison.Reproduction:
    """Reproduce Figs. 4, 5, 7 and 8 of Samek et al. into ``out``.

    ``data``: ``"clutter"`` (default: the shipped ``demo`` model) or ``"imagenet_val:PATH"``
    (VGG-16, ImageNet weights from the Keras cache). ``images``: images evaluated (paper
    5040), ``steps``: perturbation steps L (paper 100), ``repeats``: noise draws per image
    (paper 10), ``epochs``: training epochs of Fig. 7 (checkpoints after epochs
    0..epochs). ``None``: the quick or full default (:data:`DEFAULTS`).

    The options are checked, the runs made (or resumed), and then figure by figure the
    numbers are read back, the claims decided, the figure drawn and the rows added.
    """
    opts = check_options(quick, data, seed, images, steps, repeats, epochs)
    result = comparison.Reproduction("samek", TITLE, out, opts.quick, opts.data_name)
    main = main_runs(result, opts, progress)
    checkpoints = fig7_runs(result, opts, progress)
    add_protocol(result, main.perturbation, opts.images)
    add_fig4(result, main, f"Fig. 4 on {opts.data_name}")
    add_fig8(result, main)
    add_fig5(result, main)
    if opts.quick and "path" in main.data:       # the full protocol keeps no heatmaps
        add_heatmaps(result, main)
    add_fig7(result, checkpoints, FIG7[opts.quick].dataset)
    result.tables["Settings used"] = figures.settings_table(settings(opts, main.perturbation))
    return result
