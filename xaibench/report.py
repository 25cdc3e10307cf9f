"""Reports of a run folder: Markdown tables (mean and 95 % interval per analyzer and
metric), the analyzers that fall below the analyzer-free baseline, the values that are
missing (NULL rows of ``results.sqlite``), the randomisation sanity check, the failed
shards, AOPC curves against the random baseline, mu against box size, the ROAD,
randomisation and insertion/deletion curves and a heatmap grid. Analyzers appear in the run config's order
everywhere (tables, legends, heatmap columns), the baseline first."""
from __future__ import annotations

import json
import os
import sqlite3

import numpy as np

from xaibench.runner.engine import BASELINE

#: metric name -> {analyzer setting: baseline setting}, for metrics where a higher value
#: is better and the baseline is the analyzer-free reference (AOPC of MoRF against the
#: random order; mu / mu_w against uniform relevance; confidence drop at the k % most
#: relevant pixels against k % random pixels, ``drop@k`` against ``control@k``)
BASELINE_PAIRS = {"aopc": {"morf": "random"},
                  "relevance_ratio": {"mu": "mu", "mu_w": "mu_w"},
                  "confidence_drop": "control"}


def _load(folder: str):
    path = os.path.join(folder, "results.sqlite")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{folder} is not a run folder (no results.sqlite); run "
                                "`xaibench evaluate --config ... --out DIR` first")
    with open(os.path.join(folder, "manifest.json")) as fh:
        manifest = json.load(fh)
    db = sqlite3.connect(path)
    rows = db.execute("SELECT image, analyzer, metric, setting, step, value FROM results").fetchall()
    db.close()
    # SQLite stores NaN (e.g. mu of an image without positive relevance) as NULL
    return manifest, [r[:5] + (np.nan if r[5] is None else r[5],) for r in rows]


def _label(step) -> str:
    """The runner's label of a config step ``{"name", "params"}`` (or a bare name)."""
    from xaibench.runner.config import Step

    if isinstance(step, str):
        return step
    return Step(step["name"], dict(step.get("params") or {})).label


def config_order(manifest: dict) -> tuple:
    """``(analyzer labels, metric labels)`` in the order of the run's config; the
    baseline comes first among the analyzers."""
    config = manifest.get("config", {})
    analyzers = [_label(a) for a in config.get("analyzers", [])]
    metrics = [_label(m) for m in config.get("metrics", [])]
    return [BASELINE] + [a for a in analyzers if a != BASELINE], metrics


def _rank(order, key):
    return (order.index(key), "") if key in order else (len(order), key)


def summary(folder: str) -> list:
    """Rows ``(analyzer, metric, setting, n, mean, low, high)``: mean over images with
    its 95 % t-interval, for every scalar result of the run; in the config's order of
    analyzers (the baseline first) and metrics, settings alphabetically. ``n`` counts
    the images with a value (see :func:`missing` for the others)."""
    from scipy import stats

    manifest, rows = _load(folder)
    analyzers, metrics = config_order(manifest)
    groups: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if step == -1 and np.isfinite(value):
            groups.setdefault((analyzer, metric, setting), []).append(value)
    out = []
    for key in sorted(groups, key=lambda k: (_rank(analyzers, k[0]), _rank(metrics, k[1]),
                                              k[2])):
        v = np.asarray(groups[key])
        mean = float(v.mean())
        half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) \
            if len(v) > 1 else float("nan")
        out.append((*key, len(v), mean, mean - half, mean + half))
    return out


def _baseline_setting(metric_name: str, setting: str):
    pairs = BASELINE_PAIRS.get(metric_name)
    if pairs is None:
        return None
    if isinstance(pairs, str):          # confidence_drop: drop@k against control@k
        return f"{pairs}@{setting.split('@', 1)[1]}" if setting.startswith("drop@") else None
    return pairs.get(setting)


def below_baseline(folder: str) -> list:
    """The analyzers whose mean falls below the analyzer-free baseline's on a metric of
    :data:`BASELINE_PAIRS` (higher is better there), as dicts with ``analyzer``,
    ``metric``, ``setting``, ``n`` (images with both values), ``mean``, ``baseline``
    (its mean on the same images), ``difference`` and its paired 95 % t-interval
    ``low`` / ``high`` over the images, in the config's order."""
    from scipy import stats

    manifest, rows = _load(folder)
    analyzers, metrics = config_order(manifest)
    values: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if step == -1 and np.isfinite(value):
            values.setdefault((analyzer, metric, setting), {})[image] = value
    out = []
    for (analyzer, metric, setting), per in values.items():
        if analyzer == BASELINE:
            continue
        ref = _baseline_setting(metric.split("(")[0], setting)
        base = values.get((BASELINE, metric, ref)) if ref else None
        if not base:
            continue
        images = sorted(set(per) & set(base))
        if not images:
            continue
        a = np.array([per[i] for i in images])
        b = np.array([base[i] for i in images])
        d = a - b
        if d.mean() >= 0:
            continue
        half = float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))) \
            if len(d) > 1 else float("nan")
        out.append({"analyzer": analyzer, "metric": metric, "setting": setting,
                    "baseline_setting": ref, "n": len(d), "mean": float(a.mean()),
                    "baseline": float(b.mean()), "difference": float(d.mean()),
                    "low": float(d.mean()) - half, "high": float(d.mean()) + half})
    out.sort(key=lambda r: (_rank(analyzers, r["analyzer"]), _rank(metrics, r["metric"]),
                            r["setting"]))
    return out


def missing(folder: str) -> list:
    """The values a metric could not compute from a heatmap (NULL rows of
    ``results.sqlite``, e.g. mu of a heatmap without positive relevance), per analyzer
    and metric: dicts with ``analyzer``, ``metric``, ``images`` (how many images lack a
    value), ``rows`` (NULL rows) and ``settings`` (which), in the config's order."""
    manifest, rows = _load(folder)
    analyzers, metrics = config_order(manifest)
    acc: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if np.isnan(value):
            d = acc.setdefault((analyzer, metric), {"images": set(), "rows": 0, "settings": set()})
            d["images"].add(image)
            d["rows"] += 1
            d["settings"].add(setting)
    return [{"analyzer": a, "metric": m, "images": len(d["images"]), "rows": d["rows"],
             "settings": sorted(d["settings"])}
            for (a, m), d in sorted(acc.items(), key=lambda kv: (_rank(analyzers, kv[0][0]),
                                                                 _rank(metrics, kv[0][1])))]


def _curves(rows, setting_of):
    """Mean curve per analyzer: {analyzer: (steps, mean values)}."""
    acc: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if step >= 0 and setting == setting_of(analyzer):
            acc.setdefault(analyzer, {}).setdefault(step, []).append(value)
    return {a: (np.array(sorted(d)), np.array([np.nanmean(d[k]) for k in sorted(d)]))
            for a, d in acc.items()}


def _plot_aopc(rows, path, order):
    from xaibench.plots import line_plot

    aopc_rows = [r for r in rows if r[2].startswith("aopc")]
    if not aopc_rows:
        return None
    curves = _curves(aopc_rows, lambda a: "random" if a == BASELINE else "morf")
    return line_plot(curves, path, "perturbation steps L", "AOPC (eq. 12)",
                     baseline=(BASELINE, "random order"), order=order)


def _plot_mu(rows, path, order, bins=10):
    """mu against box size (Kohlbrenner et al., Fig. 3) in ``bins`` intervals."""
    from xaibench.evaluate import mu_by_box_size
    from xaibench.plots import line_plot

    per: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if metric.startswith("relevance_ratio") and setting in ("mu", "size"):
            per.setdefault(analyzer, {}).setdefault(image, {})[setting] = value
    if not per:
        return None
    curves = {}
    for analyzer, images in per.items():
        result = {key: np.array([d.get(key, np.nan) for d in images.values()])
                  for key in ("mu", "size")}
        edges, mean, _ = mu_by_box_size(result, bins=bins)
        curves[analyzer] = ((edges[:-1] + edges[1:]) / 2, mean)
    return line_plot(curves, path, "box size / image size", "mu = R_in / R_tot (eq. 2)",
                     baseline=(BASELINE, "uniform"), order=order)


#: the report's heatmap grid scales each heatmap to this percentile of its |R|
#: (``xaibench.plots``, scale "percentile"): a few extreme pixels saturate instead of
#: leaving the rest of the map blank (lrp.alpha_2_beta_1 at its maximum looks empty)
HEATMAP_PERCENTILE = 99.0


def _heatmap_grid(folder, manifest, path, order, n=8):
    from xaibench.plots import heatmap_grid
    from xaibench.runner.datasets import load
    from xaibench.runner.store import load_heatmaps

    heatmaps = load_heatmaps(folder, limit=1)          # the first shard of each analyzer
    if not heatmaps:
        return None
    k = min(n, min(len(v) for v in heatmaps.values()))
    data = load(manifest["config"]["data"]).slice(0, k)     # a folder set decodes k images
    heatmaps = {a: v[:k] for a, v in heatmaps.items()}
    return heatmap_grid(data.x, heatmaps, path, titles=[f"y={c}" for c in data.y],
                        overlay=True, order=order, scale="percentile",
                        percentile=HEATMAP_PERCENTILE)


def failed_shards(folder: str) -> list:
    """The shards whose last attempt failed (the store's ``failures`` table, as
    :meth:`~xaibench.runner.store.RunStore.failed`): dicts with ``shard``, ``analyzer``,
    ``error`` and ``tries``, in image-range order; empty when none failed."""
    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    try:
        rows = db.execute("SELECT shard, analyzer, error, tries FROM failures "
                          "ORDER BY start, shard").fetchall()
    except sqlite3.OperationalError:            # a store written before failures were kept
        rows = []
    finally:
        db.close()
    return [{"shard": s, "analyzer": a, "error": e, "tries": t} for s, a, e, t in rows]


#: the Spearman rank correlation between the heatmaps of the model and of the fully
#: randomised model (cascading randomisation) from which the report says an analyzer
#: fails the sanity check of Adebayo et al. (2018): its heatmaps barely depend on the
#: learned weights. A convention (the paper judges the curves by eye), the same as the
#: sanity-check test of ``tests/test_evaluate_randomisation.py``.
SANITY_THRESHOLD = 0.5


def _metric_steps(manifest: dict) -> dict:
    """``{metric label: (name, params)}`` of the run's config."""
    from xaibench.runner.config import Step

    out = {}
    for m in manifest.get("config", {}).get("metrics", []):
        step = Step(m, {}) if isinstance(m, str) else Step(m["name"], dict(m.get("params") or {}))
        out[step.label] = (step.name, step.params)
    return out


def sanity_check(folder: str) -> list:
    """Per analyzer of a run with the cascading ``randomisation`` metric: dicts with
    ``analyzer``, ``metric``, ``n``, ``mean`` (the Spearman rank correlation of the
    heatmaps after every layer is randomised, over images), ``low`` / ``high`` (its
    95 % t-interval) and ``fails`` (mean >= :data:`SANITY_THRESHOLD`), in config order."""
    manifest, _ = _load(folder)
    steps = _metric_steps(manifest)
    out = []
    for analyzer, metric, setting, n, mean, low, high in summary(folder):
        name, params = steps.get(metric, (metric.split("(")[0], {}))
        if name == "randomisation" and setting == "spearman" and \
                params.get("order", "cascading") == "cascading":
            out.append({"analyzer": analyzer, "metric": metric, "n": n, "mean": mean,
                        "low": low, "high": high, "fails": bool(mean >= SANITY_THRESHOLD)})
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


def _metric_curves(rows, label, setting):
    """``{analyzer: (steps, mean over images)}`` of one metric label and setting."""
    acc: dict = {}
    for image, analyzer, metric, s, step, value in rows:
        if metric == label and s == setting and step >= 0:
            acc.setdefault(analyzer, {}).setdefault(step, []).append(value)
    return {a: (np.array(sorted(d), dtype=np.float64),
                np.array([np.nanmean(d[k]) for k in sorted(d)])) for a, d in acc.items()}


def _plot_new_metrics(folder, manifest, rows, order) -> list:
    """``[(title, path)]``: ROAD curves over the removed fraction, the randomisation
    similarity over the layers randomised, deletion and insertion curves."""
    from xaibench.plots import line_plot

    present = {(r[2], r[3]) for r in rows if r[4] >= 0}
    figures = []
    for k, (label, (name, params)) in enumerate(_metric_steps(manifest).items()):
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
                              _metric_curves(rows, label, setting).items()}
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
                          _metric_curves(rows, label, s).items()}
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
                curves = _metric_curves(rows, label, s)
                steps = max((float(st.max()) for st, _ in curves.values()), default=1.0) or 1.0
                curves = {a: (st / steps, v) for a, (st, v) in curves.items()}
                path = os.path.join(folder, f"{s}_{k}.png")
                figures.append((f"{s.capitalize()} curves", line_plot(
                    curves, path, f"fraction of pixels {'deleted' if s == 'deletion' else 'inserted'}"
                    " (most relevant first)", "class probability"
                    if params.get("output", "probability") == "probability" else "class logit",
                    order=order, title=label)))
    return figures


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def report(folder: str) -> str:
    """Write ``report.md`` and its PNG figures into the run folder; returns its path."""
    manifest, rows = _load(folder)
    order = config_order(manifest)[0]
    lines = [f"# xaibench run `{os.path.basename(os.path.abspath(folder))}`", "",
             f"config digest `{manifest['digest']}`, seed {manifest['seed']}, "
             f"git {manifest.get('git_revision') or 'n/a'}, created {manifest['created']}", "",
             "Mean over images with the 95 % t-interval. `baseline` is the analyzer-free "
             "reference (random-order perturbation, random pixels for confidence_drop, uniform "
             "relevance).", "",
             "| analyzer | metric | setting | n | mean | 95 % interval |", "|---|---|---|---|---|---|"]
    for analyzer, metric, setting, n, mean, low, high in summary(folder):
        lines.append(f"| {analyzer} | {metric} | {setting} | {n} | {mean:.4g} | "
                     f"[{low:.4g}, {high:.4g}] |")
    below = below_baseline(folder)
    has_pairs = any(r[1] == BASELINE and r[2].split("(")[0] in BASELINE_PAIRS for r in rows)
    if has_pairs:
        lines += ["", "## Below the baseline", ""]
        if below:
            who = list(dict.fromkeys(r["analyzer"] for r in below))
            lines += [f"**{', '.join(who)}** {'falls' if len(who) == 1 else 'fall'} below "
                      "the analyzer-free baseline (mean over the same images; higher is "
                      "better on these metrics; difference = analyzer - baseline with its "
                      "paired 95 % t-interval over the images):", "",
                      "| analyzer | metric | setting | n | analyzer mean | baseline mean | "
                      "difference | 95 % interval |", "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['analyzer']} | {r['metric']} | {r['setting']} vs "
                      f"{r['baseline_setting']} | {r['n']} | {_fmt(r['mean'])} | "
                      f"{_fmt(r['baseline'])} | {_fmt(r['difference'])} | "
                      f"[{_fmt(r['low'])}, {_fmt(r['high'])}] |" for r in below]
        else:
            lines.append("No analyzer falls below the analyzer-free baseline (AOPC against "
                         "random order, mu / mu_w against uniform relevance, confidence drop "
                         "against random pixels).")
    sanity = sanity_check(folder)
    if sanity:
        fails = [r["analyzer"] for r in sanity if r["fails"]]
        lines += ["", "## Randomisation sanity check", "",
                  "Spearman rank correlation between each analyzer's heatmaps of the model and "
                  "of its copy re-initialised from the top layer down, at the cascade's last "
                  "step (every layer re-initialised unless the config stops earlier; Adebayo "
                  "et al. 2018): a method that explains the model loses the similarity; at "
                  f">= {SANITY_THRESHOLD:g} it fails the check (a convention; the curves over "
                  "the layers are below).", "",
                  (f"**{', '.join(fails)}** {'fails' if len(fails) == 1 else 'fail'} the "
                   "sanity check." if fails else "Every analyzer passes the sanity check."), "",
                  "| analyzer | metric | n | Spearman, last step | 95 % interval "
                  "| sanity check |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['analyzer']} | {r['metric']} | {r['n']} | {_fmt(r['mean'])} | "
                  f"[{_fmt(r['low'])}, {_fmt(r['high'])}] | "
                  f"{'**fails**' if r['fails'] else 'passes'} |" for r in sanity]
    failed = failed_shards(folder)
    if failed:
        lines += ["", "## Failed shards", "",
                  f"{len(failed)} shard{'s' if len(failed) > 1 else ''} failed (the error of "
                  "the last attempt); their rows are missing above. Running the same command "
                  "again retries them.", "", "| shard | tries | error |", "|---|---|---|"]
        lines += [f"| {f['shard']} | {f['tries']} | "
                  f"{' '.join(str(f['error']).split()).replace('|', '/')} |" for f in failed]
    gaps = missing(folder)
    lines += ["", "## Missing values", ""]
    if gaps:
        lines += ["A metric could not be computed for some heatmaps (NULL in results.sqlite, "
                  "e.g. mu of a heatmap without positive relevance); those images are left out "
                  "of n above.", "",
                  "| analyzer | metric | images without a value | NULL rows | settings |",
                  "|---|---|---|---|---|"]
        lines += [f"| {g['analyzer']} | {g['metric']} | {g['images']} | {g['rows']} | "
                  f"{', '.join(g['settings'])} |" for g in gaps]
    else:
        lines.append("None: every metric has a value for every heatmap.")
    figures = [("AOPC against perturbation steps",
                _plot_aopc(rows, os.path.join(folder, "aopc.png"), order)),
               ("mu against box size", _plot_mu(rows, os.path.join(folder, "mu_by_size.png"),
                                                order)),
               *_plot_new_metrics(folder, manifest, rows, order),
               ("Heatmaps", _heatmap_grid(folder, manifest, os.path.join(folder, "heatmaps.png"),
                                          order))]
    notes = {"Heatmaps": f"The first images of the run, one column per analyzer in the config's "
                         f"order; red = positive, blue = negative relevance, each heatmap scaled "
                         f"to the {HEATMAP_PERCENTILE:g}th percentile of its |R| (larger values "
                         "saturate)."}
    for title, path in figures:
        if path:
            lines += ["", f"## {title}", ""] + ([notes[title], ""] if title in notes else []) + [
                f"![{title}]({os.path.basename(path)})"]
    out = os.path.join(folder, "report.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return out
