"""Reports of a run folder: Markdown tables (mean and 95 % interval per analyzer and
metric), the analyzers that fall below the analyzer-free baseline, the values that are
missing (NULL rows of ``results.sqlite``), the randomisation sanity check, the failed
shards, AOPC curves against the random baseline, mu against box size, the ROAD,
randomisation and insertion/deletion curves and a heatmap grid. Analyzers appear in the run config's order
everywhere (tables, legends, heatmap columns), the baseline first."""
from __future__ import annotations

import os

import numpy as np

from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults, step_of, t_interval
from xaibench.tables import markdown_table

# (metric name, analyzer setting) -> the baseline setting it is compared with, or None:
# each metric's MetricSpec declares its pairs
from xaibench.runner.metrics import baseline_setting as _baseline_setting


def _results(run) -> RunResults:
    """A run folder's :class:`RunResults` (read once when a folder is given)."""
    return run if isinstance(run, RunResults) else RunResults(run)


def config_order(manifest: dict) -> tuple:
    """``(analyzer labels, metric labels)`` in the order of the run's config; the
    baseline comes first among the analyzers."""
    config = manifest.get("config", {})
    steps = [[step_of(s) for s in config.get(kind, [])] for kind in ("analyzers", "metrics")]
    analyzers = [a.label for a in steps[0]]
    return [BASELINE] + [a for a in analyzers if a != BASELINE], [m.label for m in steps[1]]


def summary(run) -> list:
    """Rows ``(analyzer, metric, setting, n, mean, low, high)``: mean over images with
    its 95 % t-interval, for every scalar result of the run (a folder or its
    :class:`RunResults`); in the config's order of analyzers (the baseline first) and
    metrics, settings alphabetically. ``n`` counts the images with a value (see
    :func:`missing` for the others)."""
    return [(s.analyzer, s.metric, s.setting, s.n, s.mean, s.low, s.high)
            for s in _results(run).summary()]


def below_baseline(run) -> list:
    """The analyzers whose mean falls below the analyzer-free baseline's on a metric of
    :meth:`MetricSpec.baseline_setting` (higher is better there), as dicts with ``analyzer``,
    ``metric``, ``setting``, ``n`` (images with both values), ``mean``, ``baseline``
    (its mean on the same images), ``difference`` and its paired 95 % t-interval
    ``low`` / ``high`` over the images, in the config's order."""
    res = _results(run)
    out = []
    for s in res.summary():
        ref = _baseline_setting(res.metric_step(s.metric).name, s.setting)
        if s.analyzer == BASELINE or ref is None:
            continue
        per, base = (res.values(a, s.metric, setting) for a, setting in
                     ((s.analyzer, s.setting), (BASELINE, ref)))
        images = sorted(i for i in set(per) & set(base)
                        if np.isfinite(per[i]) and np.isfinite(base[i]))
        if not images:
            continue
        a = np.array([per[i] for i in images])
        b = np.array([base[i] for i in images])
        difference, low, high = t_interval(a - b)
        if difference >= 0:
            continue
        out.append({"analyzer": s.analyzer, "metric": s.metric, "setting": s.setting,
                    "baseline_setting": ref, "n": len(images), "mean": float(a.mean()),
                    "baseline": float(b.mean()), "difference": difference,
                    "low": low, "high": high})
    return out


def missing(run) -> list:
    """The values a metric could not compute from a heatmap (NULL rows of
    ``results.sqlite``, e.g. mu of a heatmap without positive relevance), per analyzer
    and metric: dicts with ``analyzer``, ``metric``, ``images`` (how many images lack a
    value), ``rows`` (NULL rows) and ``settings`` (which), in the config's order."""
    return _results(run).missing()


def _metrics_named(res: RunResults, name: str) -> list:
    return [m.label for m in res.metrics if m.name == name]


def _mean_curves(res: RunResults, metric: str, setting_of) -> dict:
    """``{analyzer: (steps, mean over images)}`` of one metric label, the setting per
    analyzer from ``setting_of(analyzer)`` (a str), analyzers without rows left out."""
    curves = {}
    for a in res.analyzer_labels:
        steps, mean = res.mean_curve(a, metric, setting_of(a))
        if len(steps):
            curves[a] = (steps, mean)
    return curves


def _plot_aopc(res: RunResults, path, order):
    from xaibench.plots import line_plot

    labels = _metrics_named(res, "aopc")
    if not labels:
        return None
    curves = _mean_curves(res, labels[0], lambda a: "random" if a == BASELINE else "morf")
    if not curves:
        return None
    return line_plot(curves, path, "perturbation steps L", "AOPC (eq. 12)",
                     baseline=(BASELINE, "random order"), order=order)


def _plot_mu(res: RunResults, path, order, bins=10):
    """mu against box size (Kohlbrenner et al., Fig. 3) in ``bins`` intervals."""
    from xaibench.evaluate import mu_by_box_size
    from xaibench.plots import line_plot

    labels = _metrics_named(res, "relevance_ratio")
    curves = {}
    for analyzer in (res.analyzer_labels if labels else []):
        images = res.images(analyzer, labels[0], "size")
        if not images:
            continue
        result = {key: res.per_image(analyzer, labels[0], key, images=images)
                  for key in ("mu", "size")}
        edges, mean, _ = mu_by_box_size(result, bins=bins)
        curves[analyzer] = ((edges[:-1] + edges[1:]) / 2, mean)
    if not curves:
        return None
    return line_plot(curves, path, "box size / image size", "mu = R_in / R_tot (eq. 2)",
                     baseline=(BASELINE, "uniform"), order=order)


#: the report's heatmap grid scales each heatmap to this percentile of its |R|
#: (``xaibench.plots``, scale "percentile"): a few extreme pixels saturate instead of
#: leaving the rest of the map blank (lrp.alpha_2_beta_1 at its maximum looks empty)
HEATMAP_PERCENTILE = 99.0


def _heatmap_grid(res: RunResults, path, order, n=8):
    from xaibench.plots import heatmap_grid
    from xaibench.runner.datasets import load

    heatmaps = res.heatmaps(limit=1)                   # the first shard of each analyzer
    if not heatmaps:
        return None
    k = min(n, min(len(v) for v in heatmaps.values()))
    data = load(res.manifest["config"]["data"]).slice(0, k)   # a folder set decodes k images
    heatmaps = {a: v[:k] for a, v in heatmaps.items()}
    return heatmap_grid(data.x, heatmaps, path, titles=[f"y={c}" for c in data.y],
                        overlay=True, order=order, scale="percentile",
                        percentile=HEATMAP_PERCENTILE)


def failed_shards(run) -> list:
    """The shards whose last attempt failed (the store's ``failures`` table): dicts with
    ``shard``, ``analyzer``, ``error`` and ``tries``, in image-range order; empty when
    none failed."""
    return list(_results(run).failures)


#: the Spearman rank correlation between the heatmaps of the model and of the fully
#: randomised model (cascading randomisation) from which the report says an analyzer
#: fails the sanity check of Adebayo et al. (2018): its heatmaps barely depend on the
#: learned weights. A convention (the paper judges the curves by eye), the same as the
#: sanity-check test of ``tests/test_evaluate_randomisation.py``.
SANITY_THRESHOLD = 0.5


def sanity_check(run) -> list:
    """Per analyzer of a run with the cascading ``randomisation`` metric: dicts with
    ``analyzer``, ``metric``, ``n``, ``mean`` (the Spearman rank correlation of the
    heatmaps after every layer is randomised, over images), ``low`` / ``high`` (its
    95 % t-interval) and ``fails`` (mean >= :data:`SANITY_THRESHOLD`), in config order."""
    res = _results(run)
    out = []
    for s in res.summary():
        step = res.metric_step(s.metric)
        if step.name == "randomisation" and s.setting == "spearman" and \
                step.params.get("order", "cascading") == "cascading":
            out.append({"analyzer": s.analyzer, "metric": s.metric, "n": s.n, "mean": s.mean,
                        "low": s.low, "high": s.high, "fails": bool(s.mean >= SANITY_THRESHOLD)})
    return out


def _randomisation_steps(manifest: dict, params: dict):
    """The layer of each (evaluated) step of a ``randomisation`` metric with ``params``, top
    down, from the run's model (None when the model cannot be loaded here)."""
    import warnings

    try:
        from xaibench.evaluate.randomisation import weighted_layers
        from xaibench.runner.engine import load_model

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            names = weighted_layers(load_model(manifest["config"]["model"]))
    except Exception:                           # a moved model file: step numbers instead
        return None
    layers, at = params.get("layers"), params.get("evaluate_at")
    if layers is not None:
        layers = [layers] if isinstance(layers, str) else list(layers)
        names = [n for n in names if n in layers]
    steps = names[::-1]
    if at is not None:
        at = [at] if isinstance(at, str) else list(at)
        steps = [n for n in steps if n in at]
    return steps


def _plot_new_metrics(res: RunResults, order) -> list:
    """``[(title, path)]``: ROAD curves over the removed fraction, the randomisation
    similarity over the layers randomised, deletion and insertion curves."""
    from xaibench.plots import line_plot

    folder, manifest = res.folder, res.manifest
    present = {(metric, setting) for _, metric, setting in res.present()}
    figures = []
    for k, step in enumerate(res.metrics):
        label, name, params = step.label, step.name, step.params
        if name == "road":
            from xaibench.evaluate.road import DEFAULT_FRACTIONS

            fractions = np.asarray(params.get("fractions", DEFAULT_FRACTIONS), np.float64)
            orders = params.get("order", "morf")
            for o in ([orders] if isinstance(orders, str) else list(orders)):
                name_o = {"morf": "MoRF", "lerf": "LeRF"}.get(o, o)
                for setting, ylabel in ((o, "class logit" if params.get("output", "logit")
                                         == "logit" else "class probability"),
                                        (f"{o}_accuracy", "accuracy")):
                    if (label, setting) not in present:
                        continue
                    curves = {a: (fractions[s.astype(int)], v) for a, (s, v) in
                              _mean_curves(res, label, lambda a: setting).items()}
                    path = os.path.join(folder, f"road_{k}_{setting}.png")
                    figures.append((f"ROAD {name_o}: {ylabel} against the removed fraction",
                                    line_plot(curves, path, f"fraction removed ({name_o}, "
                                              "noisy linear imputation)", ylabel,
                                              order=order, title=label)))
        elif name == "randomisation":
            independent = params.get("order", "cascading") == "independent"
            sims = [s for s in ("spearman", "ssim", "hog") if (label, s) in present]
            names = _randomisation_steps(manifest, params) if sims else None
            for s in sims:
                curves = {a: (st + 1, v) for a, (st, v) in
                          _mean_curves(res, label, lambda a: s).items()}
                n_steps = max((len(st) for st, _ in curves.values()), default=0)
                ticks = ([(i + 1, t) for i, t in enumerate(names)]
                         if names and len(names) == n_steps else None)
                path = os.path.join(folder, f"randomisation_{k}_{s}.png")
                xlabel = ("layer randomised alone (1 = top)" if independent else
                          "randomised from the top layer down to (cascading)" if ticks else
                          "layers randomised, top down (cascading)")
                figures.append((f"Randomisation: {s} similarity against the layers randomised",
                                line_plot(curves, path, xlabel,
                                          f"{s} similarity to the original heatmaps",
                                          order=order, title=label, xticks=ticks)))
        elif name == "insertion_deletion":
            for s in ("deletion", "insertion"):
                if (label, s) not in present:
                    continue
                curves = _mean_curves(res, label, lambda a: s)
                steps = max((float(st.max()) for st, _ in curves.values()), default=1.0) or 1.0
                curves = {a: (st / steps, v) for a, (st, v) in curves.items()}
                path = os.path.join(folder, f"{s}_{k}.png")
                figures.append((f"{s.capitalize()} curves", line_plot(
                    curves, path, f"fraction of pixels {'deleted' if s == 'deletion' else 'inserted'}"
                    " (most relevant first)", "class probability"
                    if params.get("output", "probability") == "probability" else "class logit",
                    order=order, title=label)))
    return figures


def _interval(low: float, high: float) -> str:
    return f"[{low:.4g}, {high:.4g}]"


def _summary_section(res: RunResults) -> list:
    rows = [(s.analyzer, s.metric, s.setting, s.n, s.missing, s.mean, _interval(s.low, s.high))
            for s in res.summary()]
    return ["Mean over images with the 95 % t-interval; n images have a value, `missing` "
            "have none (see Missing values). `baseline` is the analyzer-free reference "
            "(random-order perturbation, random pixels for confidence_drop, uniform "
            "relevance).", "",
            markdown_table(("analyzer", "metric", "setting", "n", "missing", "mean",
                            "95 % interval"), rows)]


def _below_section(res: RunResults) -> list:
    has_pairs = any(_baseline_setting(res.metric_step(m).name, setting) is not None
                    for a, m, setting in res.present() if a == BASELINE)
    if not has_pairs:
        return []
    below = below_baseline(res)
    if not below:
        return ["## Below the baseline", "",
                "No analyzer falls below the analyzer-free baseline (AOPC against random "
                "order, mu / mu_w against uniform relevance, confidence drop against random "
                "pixels)."]
    who = list(dict.fromkeys(r["analyzer"] for r in below))
    rows = [(r["analyzer"], r["metric"], f"{r['setting']} vs {r['baseline_setting']}", r["n"],
             r["mean"], r["baseline"], r["difference"], _interval(r["low"], r["high"]))
            for r in below]
    return ["## Below the baseline", "",
            f"**{', '.join(who)}** {'falls' if len(who) == 1 else 'fall'} below the "
            "analyzer-free baseline (mean over the same images; higher is better on these "
            "metrics; difference = analyzer - baseline with its paired 95 % t-interval over "
            "the images):", "",
            markdown_table(("analyzer", "metric", "setting", "n", "analyzer mean",
                            "baseline mean", "difference", "95 % interval"), rows)]


def _sanity_section(res: RunResults) -> list:
    sanity = sanity_check(res)
    if not sanity:
        return []
    fails = [r["analyzer"] for r in sanity if r["fails"]]
    rows = [(r["analyzer"], r["metric"], r["n"], r["mean"], _interval(r["low"], r["high"]),
             "**fails**" if r["fails"] else "passes") for r in sanity]
    return ["## Randomisation sanity check", "",
            "Spearman rank correlation between each analyzer's heatmaps of the model and of "
            "its copy re-initialised from the top layer down, at the cascade's last step "
            "(every layer re-initialised unless the config stops earlier; Adebayo et al. "
            "2018): a method that explains the model loses the similarity; at "
            f">= {SANITY_THRESHOLD:g} it fails the check (a convention; the curves over the "
            "layers are below).", "",
            (f"**{', '.join(fails)}** {'fails' if len(fails) == 1 else 'fail'} the sanity "
             "check." if fails else "Every analyzer passes the sanity check."), "",
            markdown_table(("analyzer", "metric", "n", "Spearman, last step",
                            "95 % interval", "sanity check"), rows)]


def _failed_section(res: RunResults) -> list:
    failed = res.failures
    if not failed:
        return []
    rows = [(f["shard"], f["tries"], " ".join(str(f["error"]).split()).replace("|", "/"))
            for f in failed]
    return ["## Failed shards", "",
            f"{len(failed)} shard{'s' if len(failed) > 1 else ''} failed (the error of the "
            "last attempt); their rows are missing above. Running the same command again "
            "retries them.", "", markdown_table(("shard", "tries", "error"), rows)]


def _missing_section(res: RunResults) -> list:
    gaps = res.missing()
    if not gaps:
        return ["## Missing values", "", "None: every metric has a value for every heatmap."]
    rows = [(g["analyzer"], g["metric"], g["images"], g["rows"], ", ".join(g["settings"]))
            for g in gaps]
    return ["## Missing values", "",
            "A metric could not be computed for some heatmaps (NULL in results.sqlite, e.g. "
            "mu of a heatmap without positive relevance); those images are left out of n "
            "above.", "",
            markdown_table(("analyzer", "metric", "images without a value", "NULL rows",
                            "settings"), rows)]


def _figure_sections(res: RunResults) -> list:
    folder, order = res.folder, res.analyzer_labels
    figures = [("AOPC against perturbation steps",
                _plot_aopc(res, os.path.join(folder, "aopc.png"), order)),
               ("mu against box size", _plot_mu(res, os.path.join(folder, "mu_by_size.png"),
                                                order)),
               *_plot_new_metrics(res, order),
               ("Heatmaps", _heatmap_grid(res, os.path.join(folder, "heatmaps.png"), order))]
    notes = {"Heatmaps": f"The first images of the run, one column per analyzer in the config's "
                         f"order; red = positive, blue = negative relevance, each heatmap scaled "
                         f"to the {HEATMAP_PERCENTILE:g}th percentile of its |R| (larger values "
                         "saturate)."}
    lines = []
    for title, path in figures:
        if path:
            lines += [[f"## {title}", ""] + ([notes[title], ""] if title in notes else []) +
                      [f"![{title}]({os.path.basename(path)})"]]
    return lines


def report(folder: str) -> str:
    """Write ``report.md`` and its PNG figures into the run folder; returns its path."""
    res = RunResults(folder)
    m = res.manifest
    sections = [[f"# xaibench run `{os.path.basename(os.path.abspath(folder))}`", "",
                 f"config digest `{m['digest']}`, seed {m['seed']}, git "
                 f"{m.get('git_revision') or 'n/a'}, created {m['created']}"],
                _summary_section(res), _below_section(res), _sanity_section(res),
                _failed_section(res), _missing_section(res), *_figure_sections(res)]
    text = "\n\n".join("\n".join(section) for section in sections if section)
    out = os.path.join(folder, "report.md")
    with open(out, "w") as fh:
        fh.write(text + "\n")
    return out
