"""What the Seo et al. reproduction runs, and :func:`run`: the settings (quick or the
paper's), the data and model, the batch run of the six methods of Figs. 4 / 5 with the
``precision_recall`` metric, the measurements beyond it (:mod:`.measures`, each computed
once into the output folder) and the comparison rows."""
from __future__ import annotations

import functools
import json
import os
from collections import namedtuple

import numpy as np

from xaibench.papers import cache
from xaibench.papers._common import (VGG16, check_folder_data, check_ints, model_data,
                                      parse_data, sub_run)
from xaibench.papers.comparison import Reproduction, Row
from xaibench.papers.seo import claims, figures, measures, paper
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.results import RunResults

ALLOWED_DATA = ("clutter", "voc2007", "imagenet_val")
#: quick mode (ours): 12 images, a cheap PD (4 samples, stride 3), timing on 2 images
QUICK = {"images": 12, "pd_samples": 4, "pd_stride": 3, "timing_images": 2}
#: full mode: the paper's Fig. 5 image count and Alg. 2 settings; timing on 10 images
FULL = {"images": paper.FIG5_IMAGES, "pd_samples": paper.PD_SAMPLES,
        "pd_stride": paper.PD_STRIDE, "timing_images": 10}
#: side of the clutter images, and PD's window k there (the paper's k = 10 is for 224-256 px)
CLUTTER_SIDE, CLUTTER_PD_INNER, LARGE_SIDE = 48, 4, 224
#: Fig. 5: maps normalised to [0, 1] (positive part / max), thresholds 0..1 (101 of them:
#: ours), F with beta = 1 (the paper gives no beta)
PR_METRIC = Step("precision_recall", {"thresholds": 101, "normalise": "max", "beta": 1.0})
#: the comparison rows of mean F, in the order Sec. 4 ranks them
F_ROWS = ("RMPD", "Grad-CAM", "SA", "PD", "LRP", "DC")
#: the options of :func:`run` with their ranges, checked in this order
LIMITS = {"images": (1, 100_000), "scales": (1, 8), "pd_inner": (1, 64), "pd_outer": (2, 128),
          "pd_samples": (1, 1000), "pd_stride": (1, 64), "timing_images": (1, 1000),
          "seed": (0, 2 ** 31 - 1)}
#: the explained images (``x``, classes ``y``, object ``masks``, ``shown`` for the figures)
#: with the runner's names of their model and data
Experiment = namedtuple("Experiment", "model_spec data x y masks shown")
#: what the claims, figures and tables are made of: ``scales`` (:func:`.measures.per_scale`),
#: ``effect`` (Fig. 2), ``scale_f`` / ``fused_f`` (Fig. 3: mean F per scale and fused),
#: ``pr`` (Fig. 5, :func:`numbers`), its ``thresholds`` and ``cost`` (Sec. 3.3 / 4)
Numbers = namedtuple("Numbers", "scales effect scale_f fused_f pr thresholds cost")


class Settings(namedtuple("Settings", LIMITS)):
    """The protocol of one call: explained ``images``, r = ``scales`` of Alg. 3, k, l, r
    and the window stride of Alg. 2 (``pd_*``), ``timing_images`` timed for Sec. 4."""

    @property
    def pd_text(self) -> str:
        return (f"k={self.pd_inner}, l={self.pd_outer}, r={self.pd_samples}, "
                f"stride {self.pd_stride}")


def settings(quick: bool, data: dict, **options) -> Settings:
    """The :class:`Settings` of this call (``options``: None = the mode's default), every
    option checked with a one-line ``ValueError`` before any work."""
    big = data["name"] != "clutter"
    s = check_ints(options, LIMITS, {
        "scales": paper.SCALES, "pd_inner": paper.PD_INNER if big else CLUTTER_PD_INNER,
        "seed": 0, **(QUICK if quick else FULL),     # pd_outer: l = k + 4, as 14 = 10 + 4
        "pd_outer": lambda done: done["pd_inner"] + paper.PD_OUTER - paper.PD_INNER})
    if s["pd_outer"] <= s["pd_inner"]:
        raise ValueError(f"pd_outer={s['pd_outer']} must be larger than pd_inner="
                         f"{s['pd_inner']} (Alg. 2: l > k); use pd_outer >= {s['pd_inner'] + 1}")
    if s["timing_images"] > s["images"]:
        raise ValueError(f"timing_images={s['timing_images']} exceeds images={s['images']}; "
                         "time at most the explained images")
    side = LARGE_SIDE if big else CLUTTER_SIDE
    if s["pd_inner"] >= side:
        raise ValueError(f"pd_inner={s['pd_inner']} does not fit the {side} px images; use "
                         f"pd_inner < {side}")
    return Settings(**s)


def experiment(out: str, data: dict, n: int) -> Experiment:
    """The :class:`Experiment` of data choice ``data`` (:func:`parse_data`) on ``n`` images:
    ``clutter`` with the demo CNN; ImageNet validation images (boxes as masks) or VOC 2007
    segmentation test images with VGG-16, the latter saved once
    under ``out/data`` with VGG-16's top-1 ImageNet class as the explained class and the VOC
    object's mask."""
    from xaibench import zoo
    from xaibench.evaluate.localisation import boxes_to_masks
    from xaibench.runner.datasets import load

    name, shown = data["name"], None
    model, mapping = model_data(data, n)
    if name == "voc2007":
        from xaibench.data import voc2007
        from xaibench.runner.datasets import save_npz
        from xaibench.runner.engine import predicted_classes

        path = os.path.join(out, "data", "voc2007.npz")

        def save():
            ds = voc2007(data["root"], split="test", segmentation=True, preprocess="vgg16",
                         limit=n)
            save_npz(path, ds.x, predicted_classes(zoo.load(VGG16), ds.x, batch_size=16),
                     masks=ds.masks)
            return {"images": ds.x if ds.images is None else ds.images}

        shown = cache.cached(os.path.join(out, "data", "voc2007_images.npz"), save,
                             key=f"n={n}")["images"]
        mapping = {"name": "npz", "path": path, "n": n}
    d = load(mapping)
    masks = d.masks if d.masks is not None else boxes_to_masks(d.boxes, d.x.shape[1:3])
    return Experiment(model, mapping, d.x, d.y, masks, d.x if shown is None else shown)


def numbers(out: str, exp: Experiment, s: Settings, steps: dict, res: RunResults) -> Numbers:
    """The :class:`Numbers` of this reproduction. Fig. 5 from the run: method ->
    ``precision`` / ``recall`` / ``f`` (mean over images at each threshold), ``mean_<those>``
    (mean over images of the per-image mean over thresholds) and ``max_f`` (mean of the
    per-image best F); the per-scale maps of Alg. 3 and the timing of RMPD and PD, each
    computed once into ``out`` (the model is loaded only then)."""
    from xaibench.zoo import load

    model, made = functools.cache(lambda: load(exp.model_spec)), {"data": exp.data,
                                                                  "model": exp.model_spec}
    sc = cache.cached(os.path.join(out, "scales.npz"), lambda: measures.per_scale(
        model(), exp.x, exp.y, s.scales, s.seed), key=json.dumps(
        {**made, "scales": s.scales, "seed": s.seed, "n": len(exp.x)}, sort_keys=True))
    n, timed = s.timing_images, {k: steps[k] for k in ("RMPD", "PD")}
    tm = cache.cached(os.path.join(out, "timing.json"), lambda: measures.timing(
        model(), exp.x[:n], exp.y[:n], timed),
        key={**made, "steps": {k: v.label for k, v in timed.items()}, "n": n})
    pr = {}
    for key, step in steps.items():
        if res.steps(step, PR_METRIC, "f"):
            d = {k: res.mean_curve(step, PR_METRIC, k)[1] for k in ("precision", "recall", "f")}
            pr[key] = {**d, **{f"mean_{k}": res.mean(step, PR_METRIC, k) for k in d},
                       "max_f": res.mean(step, PR_METRIC, "max_f")}
    scale_f, fused_f = measures.f_measures(sc["maps"], exp.masks, PR_METRIC.params)
    return Numbers(sc, measures.region_effect(sc, exp.masks, paper.FIG2_REGIONS), scale_f,
                   fused_f, pr, np.linspace(0.0, 1.0, PR_METRIC.params["thresholds"]),
                   measures.cost(tm))


def rows(num: Numbers, s: Settings, n: int) -> list:
    """The comparison: the paper's numbers (:data:`~.paper.PAPER`) next to ours, each
    claim after its numbers."""
    c, e, pr = num.cost, num.effect, num.pr

    def ours(item, value):
        return Row(item, paper.PAPER.get(item), value)

    return [
        ours("Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)", c.rmpd_passes - 1),
        claims.rmpd_passes(c.rmpd_passes, s.scales),
        ours("Sec. 3.2: forward passes per image, PD (paper: r n^2, n = 256, r = 10)",
             c.pd_passes),
        ours("Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)", c.rmpd_seconds),
        ours("Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)", c.pd_seconds),
        ours("Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)", c.speedup),
        claims.two_orders_faster(c.speedup, s.pd_text),
        ours("Fig. 2: class probability, image intact", e.p),
        ours("Fig. 2: class probability, object region erased", e.p_object),
        ours("Fig. 2: class probability, background region erased", e.p_background),
        claims.regions(e.p, e.p_object, e.p_background, e.images),
        ours("Fig. 5: images", n),
        *(ours(f"Fig. 5: mean F-measure (thresholds 0..1), {m}", pr[m]["mean_f"])
          for m in F_ROWS if m in pr),
        *claims.fig5(pr, num.thresholds), claims.fusion_beats_scales(num.fused_f, num.scale_f)]


def run(out, quick=False, data=None, progress=True, seed=0, images=None,
        scales=paper.SCALES, pd_inner=None, pd_outer=None, pd_samples=None, pd_stride=None,
        timing_images=None) -> Reproduction:
    """Reproduce Seo et al. Figs. 2-5 and the cost comparison of Sec. 3.3 / 4.

    Options: ``images`` (explained images; quick 12, full 100 as Fig. 5), ``scales``
    (r of Alg. 3, 5), ``pd_inner`` / ``pd_outer`` / ``pd_samples`` / ``pd_stride`` (k, l,
    r and the window stride of Alg. 2), ``timing_images`` (images timed for Sec. 4),
    ``seed``. Everything is checked before any work.
    """
    options = dict(seed=seed, images=images, scales=scales, pd_inner=pd_inner,
                   pd_outer=pd_outer, pd_samples=pd_samples, pd_stride=pd_stride,
                   timing_images=timing_images)
    spec = parse_data(data, "clutter", ALLOWED_DATA)
    s = settings(quick, spec, **options)
    check_folder_data(spec, **({"segmentation": True} if spec["name"] == "voc2007" else {}))
    result = Reproduction("seo", paper.TITLE, str(out), bool(quick), data or "clutter",
                          savefig={"dpi": figures.DPI})
    exp = experiment(result.out, spec, s.images)
    # Figs. 4 / 5: method (paper.METHODS) -> analyzer; SA = |gradient|
    pd = {"inner": s.pd_inner, "outer": s.pd_outer, "samples": s.pd_samples,
          "stride": s.pd_stride, "seed": s.seed}
    steps = {"DC": Step("deconvnet"), "SA": Step("gradient", {"postprocess": "abs"}),
             "LRP": Step("lrp.epsilon"), "PD": Step("prediction_difference", pd),
             "Grad-CAM": Step("grad_cam"),
             "RMPD": Step("rmpd", {"scales": s.scales, "seed": s.seed})}
    res = sub_run(result, "compare", RunConfig(
        model=exp.model_spec, data=exp.data, analyzers=tuple(steps.values()),
        metrics=(PR_METRIC,), shard_size=min(s.images, 16), seed=s.seed, save_heatmaps=True),
        progress)
    num = numbers(result.out, exp, s, steps, res)
    figures.draw(result, exp, num, res, steps)
    result.tables.update(figures.tables(num, s, exp.x.shape[1:3]))
    result.rows += rows(num, s, len(exp.x))
    return result
