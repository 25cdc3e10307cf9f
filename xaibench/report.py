"""Reports of a run folder: Markdown tables (mean and 95 % interval per analyzer and
metric), AOPC curves against the random baseline, mu against box size, heatmap grids."""
from __future__ import annotations

import json
import os
import sqlite3

import numpy as np

from xaibench.runner.engine import BASELINE


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


def summary(folder: str) -> list:
    """Rows ``(analyzer, metric, setting, n, mean, low, high)``: mean over images with
    its 95 % t-interval, for every scalar result of the run."""
    from scipy import stats

    _, rows = _load(folder)
    groups: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if step == -1 and np.isfinite(value):
            groups.setdefault((analyzer, metric, setting), []).append(value)
    out = []
    for key in sorted(groups):
        v = np.asarray(groups[key])
        mean = float(v.mean())
        half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))) \
            if len(v) > 1 else float("nan")
        out.append((*key, len(v), mean, mean - half, mean + half))
    return out


def _curves(rows, setting_of):
    """Mean curve per analyzer: {analyzer: (steps, mean values)}."""
    acc: dict = {}
    for image, analyzer, metric, setting, step, value in rows:
        if step >= 0 and setting == setting_of(analyzer):
            acc.setdefault(analyzer, {}).setdefault(step, []).append(value)
    return {a: (np.array(sorted(d)), np.array([np.mean(d[k]) for k in sorted(d)]))
            for a, d in acc.items()}


def _plot_aopc(rows, path):
    from xaibench.plots import line_plot

    aopc_rows = [r for r in rows if r[2].startswith("aopc")]
    if not aopc_rows:
        return None
    curves = _curves(aopc_rows, lambda a: "random" if a == BASELINE else "morf")
    return line_plot(curves, path, "perturbation steps L", "AOPC (eq. 12)",
                     baseline=(BASELINE, "random order"))


def _plot_mu(rows, path, bins=10):
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
                     baseline=(BASELINE, "uniform"), marker=".")


def _heatmap_grid(folder, manifest, path, n=8):
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
                        overlay=True)


def report(folder: str) -> str:
    """Write ``report.md`` and its PNG figures into the run folder; returns its path."""
    manifest, rows = _load(folder)
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
    figures = [("AOPC against perturbation steps", _plot_aopc(rows, os.path.join(folder, "aopc.png"))),
               ("mu against box size", _plot_mu(rows, os.path.join(folder, "mu_by_size.png"))),
               ("Heatmaps", _heatmap_grid(folder, manifest, os.path.join(folder, "heatmaps.png")))]
    for title, path in figures:
        if path:
            lines += ["", f"## {title}", "", f"![{title}]({os.path.basename(path)})"]
    out = os.path.join(folder, "report.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return out
