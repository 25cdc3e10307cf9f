"""What is run: the batch-runner configs of Figs. 4, 5 and 8, Fig. 7's training and its
runs on each checkpoint, and :func:`run`, which reads the numbers back, decides the claims
(:mod:`.claims`), draws the figures (:mod:`.figures`) and fills the comparison.

Sec. IV-A on ``side`` px inputs: regions of max(1, round(9 * side / 227)) px (Fig. 8's
sizes likewise; those equal after rounding are one: 1, 3 and 5 are all 1 px on 48 px
images), the same L at every size (capped by the regions on the grid), uniform noise,
heatmaps and curves of the predicted class (``target: predicted``).
"""
import functools
import os
from collections import namedtuple
from types import SimpleNamespace

import numpy as np

from xaibench.data import cifar10, digits
from xaibench.heatmaps import reduce_channels
from xaibench.papers import comparison
from xaibench.papers._common import (accuracy, check_folder_data, check_ints, compiled,
                                      model_data, parse_data, sub_run)
from xaibench.papers.cache import cached
from xaibench.papers.samek import claims, figures
from xaibench.papers.samek.paper import FIG8, LABELS, LRP, METHODS, PAPER, PAPER_REGIONS, TITLE
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.datasets import load
from xaibench.runner.engine import BASELINE, predicted_classes
from xaibench.runner.results import RunResults

#: quick (True) and full (False) defaults; the full ones are Sec. IV-A's, except Fig. 7's
#: epochs (the paper does not give them)
DEFAULTS = {True: dict(images=16, steps=30, repeats=2, epochs=4), False: dict(
    images=PAPER["Sec. IV-A, images per data set"], steps=PAPER["Sec. IV-A, perturbation steps L"],
    repeats=PAPER["Sec. IV-A, repeats of the random perturbation"], epochs=20)}
#: the least value of each option
LEAST = dict(images=2, steps=1, repeats=1, epochs=2)
#: Fig. 7's LRP rule (the paper does not name it; eps = 1 is the best rule of Fig. 8 and
#: builds in a fraction of alpha2-beta1's time)
FIG7_METHOD = "lrp_eps1"
#: Fig. 7's data, image side and batch size: quick (True) or the paper's CIFAR-10 (False)
FIG7 = {True: ("digits 16x16, small CNN", 16, 64), False: ("CIFAR-10, xb.zoo.cifar_cnn", 32, 128)}
#: one point of Fig. 7: test accuracy, mean AOPC (MoRF, random order) at L, the results file
Checkpoint = namedtuple("Checkpoint", "epoch accuracy aopc random path")


def check_options(quick, data, seed, **options) -> SimpleNamespace:
    """Every option of :func:`run` checked before any work; ``None``: the default."""
    opts = SimpleNamespace(quick=bool(quick), data_name=data or "clutter",
                           data=parse_data(data, "clutter", ("clutter", "imagenet_val")),
                           **check_ints(dict(options, seed=seed), {"seed": 0, **LEAST},
                                        DEFAULTS[bool(quick)]))
    if opts.images > 50000:
        raise ValueError(f"images={opts.images} is more than the 50,000 validation images; "
                         "use at most 50000 (the paper: 5040)")
    check_folder_data(opts.data)
    if not quick:
        try:
            cifar10("test", limit=1)
        except FileNotFoundError as err:
            raise ValueError("Fig. 7 of the full protocol needs CIFAR-10 in the Keras cache (or "
                             f"run with --quick): {err}") from None
    return opts


def perturbation(side: int, steps: int, repeats: int) -> SimpleNamespace:
    """Sec. IV-A's region perturbation (eq. 11) on ``side`` px inputs: Fig. 4's ``region``,
    Fig. 8's ``sizes`` (``{px: the paper's sizes scaled to it}``, smallest first) and the
    steps ``L[px]`` at each."""
    scaled = {r: max(1, round(r * side / PAPER["Sec. IV-A, input side of the network (px)"]))
              for r in PAPER_REGIONS}
    sizes = {s: tuple(r for r in scaled if scaled[r] == s) for s in sorted(set(scaled.values()))}
    return SimpleNamespace(side=side, repeats=repeats, sizes=sizes,
                           region=scaled[PAPER["Sec. IV-A, region size (px)"]],
                           L={s: min(steps, (side // s) ** 2) for s in sizes})


def aopc(p: SimpleNamespace, region: int, pooling: str) -> Step:
    """AOPC (eq. 12) of the :func:`perturbation` ``p`` at ``region`` px."""
    return Step("aopc", {"region": region, "steps": p.L[region], "repeats": p.repeats,
                         "perturbation": "uniform", "channel_reduce": pooling, "output": "logit"})


def complexity(pooling: str) -> Step:
    """Fig. 5's complexity of the heatmaps pooled by ``pooling``."""
    return Step("complexity", {"channel_reduce": pooling})


def predicted_data(path: str, images, model) -> dict:
    """The runner data set ``path`` (npz, made once) of ``images()`` labelled with the
    classes ``model()`` predicts (Sec. IV-A: heatmaps of the predicted label)."""
    def make():
        x = np.asarray(images(), np.float32)
        return {"x": x, "y": predicted_classes(model(), x, batch_size=256)}
    cached(path, make)
    return {"name": "npz", "path": path}


class MainRuns:
    """The two runs of Figs. 4, 5 and 8, run (or resumed) when made: clutter images with
    the shipped demo CNN, or ILSVRC2012 validation images with VGG-16's ImageNet weights
    from the Keras cache (CaffeNet's are not available to Keras); gradient-type maps
    pooled by norms, LRP summed."""

    def __init__(self, result, opts, progress: bool):
        model, self.data = model_data(opts.data, opts.images)
        if model == "demo":             # clutter: kept once, labelled with the demo's classes
            from xaibench import zoo

            clutter = self.data
            self.data = predicted_data(
                os.path.join(result.out, "data", f"clutter_{opts.images}.npz"),
                lambda: load(clutter).x, lambda: zoo.shipped("demo"))
        p = self.p = perturbation(48 if model == "demo" else 224, opts.steps, opts.repeats)
        common = dict(model=model, data=self.data, target="predicted", seed=opts.seed,
                      shard_size=opts.images if opts.quick else 64, save_heatmaps=opts.quick)
        grad = RunConfig(analyzers=(METHODS["sens_l2"].analyzer, METHODS["deconv"].analyzer),
                         metrics=(*(aopc(p, r, "l2") for r in p.sizes), aopc(p, p.region, "linf"),
                                  complexity("l2")), **common)
        lrp = RunConfig(analyzers=tuple(METHODS[k].analyzer for k in LRP),
                        metrics=(*(aopc(p, r, "sum") for r in p.sizes), complexity("sum")),
                        **common)
        self.grad, self.lrp = (sub_run(result, name, config, progress) for name, config
                               in (("fig4_gradient_deconv", grad), ("fig4_lrp", lrp)))
        self.files = self.grad.path, self.lrp.path          # what the figures are drawn from

    def run(self, key: str) -> RunResults:
        return self.lrp if key in LRP else self.grad

    def read(self, how: str, key: str, region: int | None = None, setting: str = "morf"):
        """``RunResults.<how>`` of method ``key``'s AOPC at ``region`` px (``None``: its
        complexity) in ``setting`` (``"random"``: the random order in ``key``'s run)."""
        m = METHODS[key]
        metric = aopc(self.p, region, m.pooling) if region else complexity(m.pooling)
        return getattr(self.run(key), how)(BASELINE if setting == "random" else m.analyzer,
                                           metric, setting)


def add_protocol(result, p: SimpleNamespace, images: int):
    """Sec. IV-A's numbers: the paper's next to the scaled ones used here."""
    L, share = p.L[p.region], p.region * p.region / (p.side * p.side) * 100
    ours = (p.region, round(share, 4), L, round(share * L, 2), p.repeats, images, p.side)
    for (item, value), mine in zip(PAPER.items(), ours):        # in PAPER's order
        result.add(item, paper=value, ours=mine)


def add_fig4(result, main: MainRuns, title: str):
    """Fig. 4: AOPC(L) relative to the random order at Fig. 4's region."""
    r, L = main.p.region, main.p.L[main.p.region]
    curves = {k: main.read("mean_curve", k, r)[1] for k in METHODS}
    rel = {k: curves[k] - main.read("mean_curve", k, r, "random")[1] for k in METHODS}
    final = {k: float(rel[k][-1]) for k in METHODS}
    random = float(main.read("mean_curve", "lrp_a2b1", r, "random")[1][-1])   # the LRP run's
    result.add("Fig. 4, AOPC of the random baseline at L", ours=random)
    for k in METHODS:
        result.add(f"Fig. 4, AOPC - random at L, {LABELS[k]}", ours=final[k])
    result.rows.extend(claims.fig4_claims(final))
    result.add("Fig. 4, ordering on this data (AOPC - random)",
               ours=comparison.order_text(sorted(METHODS, key=lambda k: -final[k]), LABELS))
    result.figure("Fig. 4: AOPC relative to the random baseline",
                  "fig4_aopc_relative_to_random.png", lambda: figures.fig4(rel, r, L, title),
                  main.files)
    result.tables["Fig. 4: AOPC at L relative to the random baseline"] = figures.fig4_table(
        {k: float(c[-1]) for k, c in curves.items()}, final, random, L)


def add_fig8(result, main: MainRuns):
    """Fig. 8: AOPC at L relative to sensitivity l2 at every region size."""
    sizes, table = main.p.sizes, {}
    for r in sizes:
        f = {k: main.read("mean", k, r) for k in FIG8}
        table[r] = {k: f[k] - f["sens_l2"] for k in FIG8}
        for k in FIG8[1:]:
            result.add(f"Fig. 8, region {r} px (paper {claims.sizes_text(sizes[r])}), AOPC - "
                       f"sensitivity l2, {LABELS[k]}", ours=table[r][k])
    result.rows.extend(claims.fig8_claims(table, sizes))
    result.figure("Fig. 8: AOPC relative to sensitivity l2 by region size",
                  "fig8_region_sizes.png", lambda: figures.fig8(table, sizes), main.files)
    result.tables["Fig. 8: AOPC at L relative to sensitivity l2"] = figures.fig8_table(
        table, sizes, main.p.L)


def add_fig5(result, main: MainRuns):
    """Fig. 5: complexity of the heatmaps (sensitivity once, l2-pooled)."""
    cx = {k: {s: main.read("per_image", k, None, s) for s in ("png", "jpeg", "entropy")}
          for k in METHODS if k != "sens_linf"}
    result.rows.extend(claims.fig5_claims(cx))
    result.figure("Fig. 5: heatmap complexity (PNG size, entropy)", "fig5_complexity.png",
                  lambda: figures.fig5(cx), main.files)
    result.tables["Fig. 5: median heatmap complexity"] = figures.fig5_table(cx)


def add_heatmaps(result, main: MainRuns, n: int = 6):
    """The first ``n`` images of the quick run and their saved heatmaps (as Fig. 6)."""
    def make():
        maps = {}
        for k in figures.GRID:
            a = METHODS[k].analyzer
            maps[k] = reduce_channels(main.run(k).heatmaps([a], limit=1)[a.label][:n],
                                      METHODS[k].pooling)
        with np.load(main.data["path"]) as f:
            return figures.heatmap_grid(f["x"][:n], maps)
    result.figure("Heatmaps of the first images (as Fig. 6)", "heatmaps.png", make, main.files)


class Training:
    """Fig. 7's network trained one epoch at a time, each checkpoint kept as
    ``<out>/models/fig7_epoch_NN.keras`` (epoch 0: the initial weights). The data are read
    and a checkpoint is loaded only when something made from it is missing."""

    def __init__(self, out: str, quick: bool, seed: int):
        self.folder, self.quick, self.seed = os.path.join(out, "models"), quick, seed
        #: the last checkpoint stays in memory: the next epoch trains on it
        self.model = functools.lru_cache(maxsize=1)(self._model)

    def path(self, epoch: int) -> str:
        return os.path.join(self.folder, f"fig7_epoch_{epoch:02d}.keras")

    @functools.cached_property
    def data(self) -> tuple:
        """``(x_train, y_train, x_test, y_test)``: the digits (quick) or CIFAR-10."""
        if self.quick:
            return tuple(digits(size=16))
        train, test = cifar10("train"), cifar10("test")
        return train.x, train.y, test.x, test.y

    def _model(self, epoch: int):
        """The checkpoint after ``epoch`` epochs (trainable), trained when missing: epoch 0
        the compiled, seeded, untrained network, then one more epoch of Adam each."""
        return cached(self.path(epoch), lambda: self._train(epoch), trainable=True)

    def _train(self, epoch: int):
        import tensorflow as tf

        x, y = self.data[:2]
        if epoch > 0:
            model = self.model(epoch - 1)           # trained on in place: it becomes epoch's
            tf.keras.utils.set_random_seed(self.seed + epoch)
            model.fit(x, y, epochs=1, batch_size=FIG7[self.quick][2], verbose=0)
            return model
        tf.keras.utils.set_random_seed(self.seed)
        if self.quick:
            L = tf.keras.layers
            model = tf.keras.Sequential([
                L.Input(shape=x.shape[1:]), L.Conv2D(8, 3, padding="same", activation="relu"),
                L.MaxPooling2D(2), L.Conv2D(16, 3, padding="same", activation="relu"),
                L.MaxPooling2D(2), L.Flatten(), L.Dense(10, activation="softmax")],
                name="samek_fig7_cnn")
        else:
            from xaibench import zoo

            model = zoo.cifar_cnn(input_shape=x.shape[1:])
        return compiled(model)

    def accuracy(self, epoch: int) -> dict:
        """Test accuracy of the checkpoint (Fig. 7's performance curve)."""
        x, y = self.data[2:]
        return {"epoch": epoch, "test_accuracy": accuracy(self.model(epoch), x, y),
                "test_images": len(y)}


def fig7_runs(result, opts, p: SimpleNamespace, progress: bool) -> list:
    """Train epoch by epoch and run the AOPC of LRP heatmaps on every checkpoint, with
    the :func:`perturbation` ``p`` of the training images."""
    training = Training(result.out, opts.quick, opts.seed)
    metric, analyzer = aopc(p, p.region, "sum"), METHODS[FIG7_METHOD].analyzer
    n = opts.images if opts.quick else min(opts.images, 10000)
    out = []
    for epoch in range(opts.epochs + 1):
        name = f"fig7_epoch_{epoch:02d}"
        if not os.path.isfile(training.path(epoch)):
            training.model(epoch)
        info = cached(os.path.join(training.folder, name + ".json"),
                      lambda: training.accuracy(epoch))
        data = predicted_data(os.path.join(result.out, "data", name + ".npz"),
                              lambda: training.data[2][:n], lambda: training.model(epoch))
        config = RunConfig(model=training.path(epoch), data=data, analyzers=(analyzer,),
                           metrics=(metric,), target="predicted", shard_size=64,
                           seed=opts.seed, save_heatmaps=False)
        res = sub_run(result, name, config, progress)
        out.append(Checkpoint(epoch, info["test_accuracy"], res.mean(analyzer, metric, "morf"),
                              res.mean(BASELINE, metric, "random"), res.path))
    return out


def add_fig7(result, checkpoints: list, dataset: str):
    """Fig. 7: AOPC and test accuracy over training."""
    label = LABELS[FIG7_METHOD]
    for c in checkpoints:
        result.add(f"Fig. 7, epoch {c.epoch}: test accuracy / AOPC ({label})",
                   ours=f"{c.accuracy:.3f} / {c.aopc:.4g}")
    result.rows.extend(claims.fig7_claims([c.accuracy for c in checkpoints],
                                           [c.aopc for c in checkpoints]))
    result.figure("Fig. 7: AOPC and accuracy over training", "fig7_aopc_accuracy.png",
                  lambda: figures.fig7(checkpoints, dataset, label),
                  [c.path for c in checkpoints])
    result.tables["Fig. 7: AOPC and accuracy per epoch"] = figures.fig7_table(checkpoints, label)


def run(out, quick=False, data=None, progress=True, seed=0, images=None, steps=None,
        repeats=None, epochs=None) -> comparison.Reproduction:
    """Reproduce Figs. 4, 5, 7 and 8 of Samek et al. into ``out``.

    ``data``: ``"clutter"`` (default: the shipped ``demo`` model) or ``"imagenet_val:PATH"``
    (VGG-16, ImageNet weights from the Keras cache). ``images``: images evaluated (paper
    5040), ``steps``: perturbation steps L (paper 100), ``repeats``: noise draws per image
    (paper 10), ``epochs``: training epochs of Fig. 7 (checkpoints after epochs
    0..epochs). ``None``: the quick or full default (:data:`DEFAULTS`).
    """
    opts = check_options(quick, data, seed, images=images, steps=steps, repeats=repeats,
                         epochs=epochs)
    result = comparison.Reproduction("samek", TITLE, out, opts.quick, opts.data_name,
                                     savefig={"dpi": figures.DPI})
    main, (dataset, side, _) = MainRuns(result, opts, progress), FIG7[opts.quick]
    f7 = perturbation(side, opts.steps, opts.repeats)
    checkpoints = fig7_runs(result, opts, f7, progress)
    add_protocol(result, main.p, opts.images)
    add_fig4(result, main, f"Fig. 4 on {opts.data_name}")
    add_fig8(result, main)
    add_fig5(result, main)
    if opts.quick and "path" in main.data:       # the full protocol keeps no heatmaps
        add_heatmaps(result, main)
    add_fig7(result, checkpoints, dataset)
    p = main.p
    result.tables["Settings used"] = comparison.markdown_table(["setting", "value"], [
        ["data (Figs. 4, 5, 8)", f"{opts.data_name}, {opts.images} images, {p.side} px"],
        ["model", "shipped demo CNN" if opts.data["name"] == "clutter" else "VGG-16 (ImageNet)"],
        ["class explained", "predicted"],
        ["regions (Fig. 4)", f"{p.region} px, L = {p.L[p.region]} steps, {p.repeats} repeats, "
                             "uniform noise"],
        ["regions (Fig. 8)", ", ".join(f"{r} px (L = {p.L[r]})" for r in p.sizes)],
        ["Fig. 7", f"{dataset}, epochs 0..{opts.epochs}, region {f7.region} px, "
                   f"L = {f7.L[f7.region]}"],
        ["seed", opts.seed]])
    return result
