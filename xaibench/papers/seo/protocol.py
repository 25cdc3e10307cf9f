"""What the Seo et al. reproduction runs, and :func:`run`.

The settings of a call (:func:`settings`: quick or the paper's), the data and model
(:func:`experiment`: ``clutter`` with the shipped demo CNN; VOC 2007 segmentation or
ImageNet validation images with VGG-16), the batch run of the six methods of Figs. 4 / 5
with the ``precision_recall`` metric (:func:`compare_config`), and the measurements
beyond it (:mod:`.measures`: per-scale maps, counted passes, seconds), each computed
once into the output folder through :func:`~xaibench.papers.cache.cached`.
"""
from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass

import numpy as np

from xaibench.papers import cache
from xaibench.papers._common import check_int, parse_data, sub_run
from xaibench.papers.comparison import Reproduction
from xaibench.papers.seo import claims, figures, measures, paper
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.results import RunResults

ALLOWED_DATA = ("clutter", "voc2007", "imagenet_val")
#: the model of the 224 px data sets (ImageNet weights from the Keras cache)
VGG16 = "vgg16:imagenet"
#: quick mode (ours): 12 images, a cheap PD (4 samples, stride 3), timing on 2 images
QUICK = {"images": 12, "pd_samples": 4, "pd_stride": 3, "timing_images": 2}
#: full mode: the paper's Fig. 5 image count and Alg. 2 settings; timing on 10 images
FULL = {"images": paper.FIG5_IMAGES, "pd_samples": paper.PD_SAMPLES,
        "pd_stride": paper.PD_STRIDE, "timing_images": 10}
#: side of the clutter images, and PD's window k there (the paper's k = 10 is for 224-256 px)
CLUTTER_SIDE, CLUTTER_PD_INNER = 48, 4
LARGE_SIDE = 224
#: Fig. 5: maps normalised to [0, 1] (positive part / max), thresholds 0..1 (101 of them:
#: ours), F with beta = 1 (the paper gives no beta)
PR_METRIC = Step("precision_recall", {"thresholds": 101, "normalise": "max", "beta": 1.0})
#: the comparison rows of mean F, in the order Sec. 4 ranks them
F_ROWS = ("RMPD", "Grad-CAM", "SA", "PD", "LRP", "DC")


@dataclass(frozen=True)
class Settings:
    """The protocol of one call: explained ``images``, r = ``scales`` of Alg. 3, k, l, r
    and the window stride of Alg. 2 (``pd_*``), ``timing_images`` timed for Sec. 4."""

    images: int
    scales: int
    pd_inner: int
    pd_outer: int
    pd_samples: int
    pd_stride: int
    timing_images: int
    seed: int

    @property
    def pd_params(self) -> dict:
        return {"inner": self.pd_inner, "outer": self.pd_outer, "samples": self.pd_samples,
                "stride": self.pd_stride, "seed": self.seed}

    @property
    def pd_text(self) -> str:
        return (f"k={self.pd_inner}, l={self.pd_outer}, r={self.pd_samples}, "
                f"stride {self.pd_stride}")


def settings(quick: bool, data: dict, **options) -> Settings:
    """The :class:`Settings` of this call (``options``: None = the mode's default), every
    option checked with a one-line ``ValueError`` before any work."""
    big = data["name"] != "clutter"
    s = {"scales": paper.SCALES, "pd_inner": paper.PD_INNER if big else CLUTTER_PD_INNER,
         "pd_outer": None, "seed": 0, **(QUICK if quick else FULL)}
    s.update({k: v for k, v in options.items() if v is not None})
    s["images"] = check_int("images", s["images"], 1, 100_000)
    s["scales"] = check_int("scales", s["scales"], 1, 8)
    s["pd_inner"] = check_int("pd_inner", s["pd_inner"], 1, 64)
    s["pd_outer"] = (s["pd_inner"] + paper.PD_OUTER - paper.PD_INNER if s["pd_outer"] is None
                     else check_int("pd_outer", s["pd_outer"], 2, 128))
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
    side = LARGE_SIDE if big else CLUTTER_SIDE
    if s["pd_inner"] >= side:
        raise ValueError(f"pd_inner={s['pd_inner']} does not fit the {side} px images; use "
                         f"pd_inner < {side}")
    return Settings(**s)


# --------------------------------------------------------------------------- data and model

@dataclass
class Experiment:
    """The explained images (``x``, classes ``y``, object ``masks``, ``shown`` for the
    figures) with the runner's names of their data and model; :attr:`model` is loaded
    only when something has to be computed."""

    model_spec: str
    data: dict
    x: np.ndarray
    y: np.ndarray
    masks: np.ndarray
    shown: np.ndarray

    @functools.cached_property
    def model(self):
        from xaibench.zoo import load

        return load(self.model_spec)


def _voc2007(folder: str, root: str, n: int) -> tuple:
    """``(runner data mapping, display images)`` of the first ``n`` VOC 2007 segmentation
    test images, saved once under ``folder``; the explained class is VGG-16's top-1
    ImageNet class, the mask the VOC object's."""
    from xaibench.data import voc2007
    from xaibench.runner.datasets import save_npz
    from xaibench.runner.engine import predicted_classes
    from xaibench.zoo import load

    path = os.path.join(folder, "voc2007.npz")

    def compute():
        ds = voc2007(root, split="test", segmentation=True, preprocess="vgg16", limit=n)
        save_npz(path, ds.x, predicted_classes(load(VGG16), ds.x, batch_size=16),
                 masks=ds.masks)
        return {"images": ds.x if ds.images is None else ds.images}

    shown = cache.cached(os.path.join(folder, "voc2007_images.npz"), compute, key=f"n={n}")
    return {"name": "npz", "path": path, "n": n}, shown["images"]


def experiment(out: str, data: dict, n: int) -> Experiment:
    """The :class:`Experiment` of data choice ``data`` (:func:`parse_data`) on ``n`` images;
    ImageNet boxes stand in for masks."""
    from xaibench.evaluate.localisation import boxes_to_masks
    from xaibench.runner.datasets import load

    shown = None
    if data["name"] == "clutter":
        model, mapping = "demo", {"name": "clutter", "n": n}
    elif data["name"] == "imagenet_val":
        model, mapping = VGG16, {"name": "imagenet_val", "root": data["root"], "n": n,
                                 "preprocess": "vgg16"}
    else:
        model = VGG16
        mapping, shown = _voc2007(os.path.join(out, "data"), data["root"], n)
    d = load(mapping)
    masks = d.masks if d.masks is not None else boxes_to_masks(d.boxes, d.x.shape[1:3])
    return Experiment(model, mapping, d.x, d.y, masks, d.x if shown is None else shown)


# --------------------------------------------------------------------------- runs

def method_steps(s: Settings) -> dict:
    """Figs. 4 / 5: method key (:data:`~.paper.METHODS`) -> analyzer :class:`Step`."""
    return {"DC": Step("deconvnet"), "SA": Step("gradient", {"postprocess": "abs"}),
            "LRP": Step("lrp.epsilon"), "PD": Step("prediction_difference", s.pd_params),
            "Grad-CAM": Step("grad_cam"),
            "RMPD": Step("rmpd", {"scales": s.scales, "seed": s.seed})}


def compare_config(exp: Experiment, s: Settings, steps: dict) -> RunConfig:
    """The batch run of Figs. 4 / 5: every method, precision / recall against the masks,
    heatmaps kept for Fig. 4."""
    return RunConfig(model=exp.model_spec, data=exp.data, analyzers=tuple(steps.values()),
                     metrics=(PR_METRIC,), shard_size=min(s.images, 16), seed=s.seed,
                     save_heatmaps=True)


def measure(out: str, exp: Experiment, s: Settings, steps: dict) -> tuple:
    """``(per-scale results of Alg. 3, timing of RMPD and PD)``, each computed once."""
    made = {"data": exp.data, "model": exp.model_spec}
    sc = cache.cached(os.path.join(out, "scales.npz"), lambda: measures.per_scale(
        exp.model, exp.x, exp.y, s.scales, s.seed), key=json.dumps(
        {**made, "scales": s.scales, "seed": s.seed, "n": len(exp.x)}, sort_keys=True))
    n, timed = s.timing_images, {k: steps[k] for k in ("RMPD", "PD")}
    tm = cache.cached(os.path.join(out, "timing.json"), lambda: measures.timing(
        exp.model, exp.x[:n], exp.y[:n], timed),
        key={**made, "steps": {k: v.label for k, v in timed.items()}, "n": n})
    return sc, tm


def fig5_numbers(res: RunResults, steps: dict) -> dict:
    """Fig. 5 from the run: method -> ``precision`` / ``recall`` / ``f`` (mean over images
    at each threshold), ``mean_<those>`` (mean over images of the per-image mean over
    thresholds) and ``max_f`` (mean over images of the per-image best F)."""
    out = {}
    for key, step in steps.items():
        if not res.steps(step, PR_METRIC, "f"):
            continue
        d = {k: res.mean_curve(step, PR_METRIC, k)[1] for k in ("precision", "recall", "f")}
        d.update({f"mean_{k}": res.mean(step, PR_METRIC, k) for k in list(d)})
        d["max_f"] = res.mean(step, PR_METRIC, "max_f")
        out[key] = d
    return out


@dataclass(frozen=True)
class Numbers:
    """What the claims, figures and tables are made of."""

    scales: dict                    # measures.per_scale
    effect: measures.RegionEffect   # Fig. 2
    scale_f: list                   # Fig. 3: mean F per scale
    fused_f: float                  # Fig. 3: mean F of the fused map
    pr: dict                        # Fig. 5: fig5_numbers
    thresholds: np.ndarray          # Fig. 5: the thresholds 0..1
    cost: measures.Cost             # Sec. 3.3 / 4


def read_numbers(out: str, exp: Experiment, s: Settings, steps: dict,
                 res: RunResults) -> Numbers:
    """The :class:`Numbers` of this reproduction: the run's Fig. 5 results and the
    measurements of :func:`measure` (computed when not cached)."""
    sc, tm = measure(out, exp, s, steps)
    scale_f, fused_f = measures.f_measures(sc["maps"], exp.masks, PR_METRIC.params)
    return Numbers(sc, measures.region_effect(sc, exp.masks, paper.FIG2_REGIONS), scale_f,
                   fused_f, fig5_numbers(res, steps),
                   np.linspace(0.0, 1.0, PR_METRIC.params["thresholds"]),
                   measures.Cost.of(tm))


# --------------------------------------------------------------------------- report

def draw_figures(result: Reproduction, exp: Experiment, num: Numbers, res: RunResults,
                 steps: dict) -> None:
    """Figs. 2-5 into ``<out>/figures`` (drawn again only when their inputs are newer)."""
    folder, sc = os.path.join(result.out, "figures"), num.scales
    arrays = [os.path.join(result.out, "scales.npz")]
    run = [res.path]
    e = num.effect
    if e.pick is not None:
        (i, obj, bg), j = e.pick, e.scale
        seg, offset = sc["segments"][i, j], 2 ** (j + 1) - 2
        erased = [measures.erase(exp.x[i], seg, reg, sc["mu"][i], float(sc["sigma"][i]),
                                 sc["noise"][j]) for reg in (obj, bg)]
        probs = (sc["p"][i], sc["p_without"][i, offset + obj], sc["p_without"][i, offset + bg])
        result.figures["Fig. 2: effect of regions"] = figures.figure_regions(
            os.path.join(folder, "fig2_regions.png"), exp.shown[i], seg, erased, probs,
            sc["maps"][i, j], depends=arrays)
    k = min(len(exp.x), 3)
    titles = [f"y={c}" for c in exp.y]
    result.figures["Fig. 3: maps from coarse to fine scales"] = figures.figure_scales(
        os.path.join(folder, "fig3_scales.png"), exp.shown[:k], sc["maps"][:k],
        sc["maps"][:k].mean(axis=1), titles[:k], depends=arrays)
    k = min(len(exp.x), 6)
    heat = res.heatmaps(list(steps.values()), limit=k)
    maps = {m: heat[step.label][:k] for m, step in steps.items() if step.label in heat}
    if maps:
        result.figures["Fig. 4: visual comparison"] = figures.figure_comparison(
            os.path.join(folder, "fig4_comparison.png"), exp.shown[:k], maps, titles[:k],
            depends=run)
    result.figures["Fig. 5: precision, recall and F-measure curves"] = figures.figure_curves(
        os.path.join(folder, "fig5_precision_recall.png"), num.pr, num.thresholds,
        depends=run)


def write_tables(result: Reproduction, num: Numbers, s: Settings, size: tuple) -> None:
    """The tables of Figs. 2, 3, 5 and Sec. 3.3 / 4 (``size``: the images' H, W)."""
    paper_pd = measures.pd_passes_formula(*size, s.pd_inner, paper.PD_SAMPLES,
                                          paper.PD_STRIDE)
    result.tables.update({
        "Fig. 2: effect of regions (16 regions, mean over images)":
            figures.regions_table(num.effect),
        "Fig. 3: mean F-measure per scale (thresholds 0..1)":
            figures.scales_table(num.scale_f, num.fused_f),
        "Fig. 5: mean over thresholds 0..1 (and best F)": figures.fig5_table(num.pr),
        "Sec. 3.3 / 4: forward passes and seconds per image":
            figures.cost_table(num.cost, s, paper_pd, size)})


def _numbers(result: Reproduction, pairs) -> None:
    for item, ours in pairs:
        result.add(item, paper=paper.PAPER.get(item), ours=ours)


def add_rows(result: Reproduction, num: Numbers, s: Settings, n: int) -> None:
    """The comparison: the paper's numbers next to ours, each claim after its numbers."""
    c, e, pr = num.cost, num.effect, num.pr
    _numbers(result, [("Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)",
                       c.rmpd_passes - 1)])
    result.rows.append(claims.rmpd_passes(c.rmpd_passes, s.scales))
    _numbers(result, [
        ("Sec. 3.2: forward passes per image, PD (paper: r n^2, n = 256, r = 10)", c.pd_passes),
        ("Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)", c.rmpd_seconds),
        ("Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)", c.pd_seconds),
        ("Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)", c.speedup)])
    result.rows.append(claims.two_orders_faster(c.speedup, s.pd_text))
    _numbers(result, [("Fig. 2: class probability, image intact", e.p),
                      ("Fig. 2: class probability, object region erased", e.p_object)])
    result.add("Fig. 2: class probability, background region erased", paper="little change",
               ours=e.p_background)
    result.rows.append(claims.regions(e.p, e.p_object, e.p_background, e.images))
    _numbers(result, [("Fig. 5: images", n)] + [
        (f"Fig. 5: mean F-measure (thresholds 0..1), {m}", pr[m]["mean_f"])
        for m in F_ROWS if m in pr])
    result.rows.extend(claims.fig5(pr, num.thresholds)
                       + [claims.fusion_beats_scales(num.fused_f, num.scale_f)])


def run(out, quick=False, data=None, progress=True, seed=0, images=None,
        scales=paper.SCALES, pd_inner=None, pd_outer=None, pd_samples=None, pd_stride=None,
        timing_images=None) -> Reproduction:
    """Reproduce Seo et al. Figs. 2-5 and the cost comparison of Sec. 3.3 / 4.

    Options: ``images`` (explained images; quick 12, full 100 as Fig. 5), ``scales``
    (r of Alg. 3, 5), ``pd_inner`` / ``pd_outer`` / ``pd_samples`` / ``pd_stride`` (k, l,
    r and the window stride of Alg. 2), ``timing_images`` (images timed for Sec. 4),
    ``seed``. Everything is checked before any work.
    """
    spec = parse_data(data, "clutter", ALLOWED_DATA)
    s = settings(quick, spec, images=images, scales=scales, pd_inner=pd_inner,
                 pd_outer=pd_outer, pd_samples=pd_samples, pd_stride=pd_stride,
                 timing_images=timing_images, seed=seed)
    if spec["name"] != "clutter":
        from xaibench.zoo import vgg16_weights_file

        vgg16_weights_file()
    result = Reproduction("seo", paper.TITLE, str(out), bool(quick), data or "clutter")
    exp = experiment(result.out, spec, s.images)
    steps = method_steps(s)
    res = RunResults(sub_run(result, "compare", compare_config(exp, s, steps), progress))
    num = read_numbers(result.out, exp, s, steps, res)
    draw_figures(result, exp, num, res, steps)
    write_tables(result, num, s, exp.x.shape[1:3])
    add_rows(result, num, s, len(exp.x))
    return result
