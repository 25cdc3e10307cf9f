"""The reader of a run folder: the one place that reads ``results.sqlite``.

:class:`RunResults` reads a run folder once (its manifest, every result row, the
finished and failed shards) and answers in the terms that configured the run: an
analyzer or metric is named by its :class:`~xaibench.runner.config.Step`, by the
mapping of the config (``{"name": ..., "params": ...}``), by its label, or, for a metric,
by its bare name when the run has only one metric of that name. A value SQLite stores
as NULL (a metric a heatmap gave no value for, e.g. mu without positive relevance) is
NaN here, and counted: every summary says how many images lack a value.

Rows are ``(image, analyzer, metric, setting, step, value)``; ``step`` is
:data:`SCALAR` (-1) for a scalar, else the index on the metric's curve. Means are
``math.fsum`` over the count (exactly rounded: independent of the order SQLite returns
rows in). The store (:mod:`xaibench.runner.store`) writes the folder; this module only
reads it, read-only, so it can read a run that is still in progress.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
from dataclasses import dataclass

import numpy as np

from xaibench.runner.config import Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.metrics import SCALAR
from xaibench.runner.store import RESULTS, load_heatmaps


@dataclass(frozen=True)
class Summary:
    """Mean over images of one scalar result with its 95 % t-interval; ``n`` images have
    a value and ``missing`` images of the run have a NULL instead."""

    analyzer: str
    metric: str
    setting: str
    n: int
    mean: float
    low: float
    high: float
    missing: int = 0


def t_interval(values) -> tuple:
    """``(mean, low, high)``: the fsum mean of ``values`` and its 95 % Student-t interval
    (NaN bounds for fewer than two values)."""
    from scipy import stats

    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    mean = math.fsum(v) / len(v)
    if len(v) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v)))
    return mean, mean - half, mean + half


def label_of(step) -> str:
    """The runner's label of a :class:`Step`, a config mapping ``{"name", "params"}``,
    a ``(name, params)`` pair or a label (returned as is)."""
    if isinstance(step, Step):
        return step.label
    if isinstance(step, str):
        return step
    if isinstance(step, dict):
        return Step(step["name"], dict(step.get("params") or {})).label
    name, params = step
    return Step(name, dict(params or {})).label


def step_of(item) -> Step:
    """The :class:`Step` of a config entry: a bare name or ``{"name", "params"}``."""
    if isinstance(item, str):
        return Step(item, {})
    return Step(item["name"], dict(item.get("params") or {}))


def _rank(order, key):
    return (order.index(key), "") if key in order else (len(order), key)


class RunResults:
    """Everything a run folder holds, read once.

    ``analyzers`` / ``metrics``: the config's :class:`Step` objects in its order (the
    report's order); ``analyzer_labels`` puts :data:`BASELINE` first. A folder without
    ``results.sqlite`` raises ``FileNotFoundError`` with the command that makes one.
    """

    def __init__(self, folder: str):
        path = os.path.join(folder, RESULTS)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{folder} is not a run folder (no {RESULTS}); run "
                                    "`xaibench evaluate --config ... --out DIR` first")
        self.folder = folder
        #: the results file (what a figure drawn from these numbers depends on)
        self.path = path
        with open(os.path.join(folder, "manifest.json")) as fh:
            self.manifest = json.load(fh)
        config = self.manifest.get("config", {})
        self.analyzers = tuple(step_of(a) for a in config.get("analyzers", []))
        self.metrics = tuple(step_of(m) for m in config.get("metrics", []))
        db = sqlite3.connect(f"file:{os.path.abspath(path)}?mode=ro", uri=True, timeout=60)
        try:
            rows = db.execute("SELECT image, analyzer, metric, setting, step, value "
                              "FROM results").fetchall()
            self.shards = {s: (a, start, stop) for s, a, start, stop in db.execute(
                "SELECT shard, analyzer, start, stop FROM shards")}
            try:
                failed = db.execute("SELECT shard, analyzer, error, tries FROM failures "
                                    "ORDER BY start, shard").fetchall()
            except sqlite3.OperationalError:      # a store written before failures were kept
                failed = []
        finally:
            db.close()
        #: every row, NULL -> NaN
        self.rows = [r[:5] + (math.nan if r[5] is None else float(r[5]),) for r in rows]
        #: the shards whose last attempt failed, in image-range order
        self.failures = [{"shard": s, "analyzer": a, "error": e, "tries": t}
                         for s, a, e, t in failed]
        self._index: dict = {}
        for image, analyzer, metric, setting, step, value in self.rows:
            self._index.setdefault((analyzer, metric, setting, step), {})[image] = value

    # ------------------------------------------------------------------ names

    @property
    def analyzer_labels(self) -> list:
        """Analyzer labels in the config's order, the baseline first."""
        labels = [a.label for a in self.analyzers]
        return [BASELINE] + [a for a in labels if a != BASELINE]

    @property
    def metric_labels(self) -> list:
        return [m.label for m in self.metrics]

    def metric_label(self, metric) -> str:
        """The label of ``metric``; a bare name stands for the run's only metric of that
        name (``ValueError`` when the run has several or none)."""
        label = label_of(metric)
        if label in self.metric_labels or "(" in label:
            return label
        named = [m.label for m in self.metrics if m.name == label]
        if len(named) == 1:
            return named[0]
        if len(named) > 1:
            raise ValueError(f"the run has {len(named)} {label!r} metrics ({', '.join(named)}); "
                             "name one by its Step or label")
        return label

    def metric_step(self, metric) -> Step:
        """The configured :class:`Step` of ``metric`` (its name and parameters)."""
        label = self.metric_label(metric)
        for m in self.metrics:
            if m.label == label:
                return m
        name, _, _ = label.partition("(")
        return Step(name, {})

    def _key(self, analyzer, metric, setting, step):
        return label_of(analyzer), self.metric_label(metric), setting, step

    # ------------------------------------------------------------------ values

    def settings(self, analyzer, metric) -> list:
        """The settings (sorted) that ``analyzer`` has rows of under ``metric``."""
        a, m = label_of(analyzer), self.metric_label(metric)
        return sorted({k[2] for k in self._index if k[:2] == (a, m)})

    def values(self, analyzer, metric, setting: str, step: int = SCALAR) -> dict:
        """``{image: value}`` of one result (NaN where the store has NULL)."""
        return dict(self._index.get(self._key(analyzer, metric, setting, step), {}))

    def per_image(self, analyzer, metric, setting: str, step: int = SCALAR,
                  images=None) -> np.ndarray:
        """One result's values in image order (or for ``images``, NaN where absent)."""
        d = self._index.get(self._key(analyzer, metric, setting, step), {})
        images = sorted(d) if images is None else images
        return np.array([d.get(i, math.nan) for i in images], dtype=np.float64)

    def images(self, analyzer, metric, setting: str, step: int = SCALAR) -> list:
        """The images (sorted) that have a row of this result."""
        return sorted(self._index.get(self._key(analyzer, metric, setting, step), {}))

    def steps(self, analyzer, metric, setting: str) -> list:
        """The curve steps (sorted, scalar excluded) of one result."""
        key = label_of(analyzer), self.metric_label(metric), setting
        return sorted(k[3] for k in self._index if k[:3] == key and k[3] != SCALAR)

    def curves(self, analyzer, metric, setting: str) -> tuple:
        """``(steps, values)``: the curve of every image, ``values[i, j]`` at
        ``steps[j]`` for the i-th image (in image order; NaN where absent)."""
        steps = self.steps(analyzer, metric, setting)
        per = [self._index[self._key(analyzer, metric, setting, s)] for s in steps]
        images = sorted(set().union(*per)) if per else []
        return (np.array(steps, dtype=np.int64),
                np.array([[d.get(i, math.nan) for d in per] for i in images], dtype=np.float64)
                .reshape(len(images), len(steps)))

    def mean(self, analyzer, metric, setting: str, step: int = SCALAR) -> float:
        """The fsum mean over the images with a value (NaN when none has one)."""
        v = [x for x in self.values(analyzer, metric, setting, step).values() if
             not math.isnan(x)]
        return math.fsum(v) / len(v) if v else math.nan

    def mean_curve(self, analyzer, metric, setting: str) -> tuple:
        """``(steps, mean over images at each step)``, NaNs left out of each mean."""
        steps = self.steps(analyzer, metric, setting)
        return (np.array(steps, dtype=np.int64),
                np.array([self.mean(analyzer, metric, setting, s) for s in steps]))

    def present(self) -> set:
        """``{(analyzer, metric label, setting)}`` that have rows."""
        return {k[:3] for k in self._index}

    # ------------------------------------------------------------------ summaries

    def summary(self) -> list:
        """A :class:`Summary` per scalar (analyzer, metric, setting), in the config's
        order of analyzers (the baseline first) and metrics, settings alphabetically."""
        analyzers, metrics = self.analyzer_labels, self.metric_labels
        keys = sorted({k[:3] for k in self._index if k[3] == SCALAR},
                      key=lambda k: (_rank(analyzers, k[0]), _rank(metrics, k[1]), k[2]))
        out = []
        for key in keys:
            values = list(self._index[key + (SCALAR,)].values())
            finite = [v for v in values if not math.isnan(v)]
            if not finite:
                continue
            out.append(Summary(*key, len(finite), *t_interval(finite),
                               missing=len(values) - len(finite)))
        return out

    def missing(self) -> list:
        """The values a metric could not compute (NULL rows), per analyzer and metric:
        dicts with ``analyzer``, ``metric``, ``images`` (how many images lack a value),
        ``rows`` (NULL rows) and ``settings`` (which), in the config's order."""
        acc: dict = {}
        for image, analyzer, metric, setting, step, value in self.rows:
            if math.isnan(value):
                d = acc.setdefault((analyzer, metric), {"images": set(), "rows": 0,
                                                        "settings": set()})
                d["images"].add(image)
                d["rows"] += 1
                d["settings"].add(setting)
        analyzers, metrics = self.analyzer_labels, self.metric_labels
        return [{"analyzer": a, "metric": m, "images": len(d["images"]), "rows": d["rows"],
                 "settings": sorted(d["settings"])}
                for (a, m), d in sorted(acc.items(), key=lambda kv: (
                    _rank(analyzers, kv[0][0]), _rank(metrics, kv[0][1])))]

    def heatmaps(self, labels=None, limit: int | None = None) -> dict:
        """``{analyzer label: (N, H, W, C) float32}`` saved by the run (``save_heatmaps``);
        ``labels`` may be Steps or labels; only shards starting before image ``limit``."""
        wanted = None if labels is None else [label_of(a) for a in labels]
        return load_heatmaps(self.folder, wanted, limit)

    def __repr__(self) -> str:
        return (f"RunResults({self.folder!r}: {len(self.rows)} rows, {len(self.shards)} "
                f"shards done, {len(self.failures)} failed)")
