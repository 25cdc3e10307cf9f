"""Reports of a run folder: Markdown tables (mean and 95 % interval per analyzer and
metric), the analyzers that fall below the analyzer-free baseline, the values that are
missing (NULL rows of ``results.sqlite``), AOPC curves against the random baseline, mu
against box size and a heatmap grid. Analyzers appear in the run config's order
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
