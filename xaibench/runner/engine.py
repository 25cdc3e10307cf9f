"""Run a batch evaluation: images x analyzers x metrics, in resumable shards.

The work is split into independent shards: an image range and one analyzer (or the
analyzer-free ``baseline`` of the metrics). Shards run one after another here, image
range by image range, and only the current range's images are in memory (folder data
sets are decoded per range); each shard is self-contained (config + image range), so
another engine can hand them to other machines. A finished shard is committed
atomically (see :mod:`.store`); running the same command again skips the finished ones.
Ctrl-C stops a run with :class:`RunInterrupted` (a ``KeyboardInterrupt``) that says how
many shards are finished and kept.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from xaibench._progress import outer_bar, progress_bar
from xaibench.runner.config import RunConfig, UntrainedModelWarning  # noqa: F401 (re-export)
from xaibench.runner.metrics import METRICS
from xaibench.runner.store import RunStore

BASELINE = "baseline"


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during a run: ``done`` of ``total`` shards are finished and kept in the run
    folder ``out``; running the same config into the same folder resumes."""

    def __init__(self, out: str, done: int, total: int | None):
        self.out, self.done, self.total = out, done, total
        super().__init__(f"interrupted: {self.progress} finished and kept in {out}; run the "
                         "same config into the same folder to resume")

    @property
    def progress(self) -> str:
        """``"3 of 10 shards"`` (``"3 shards"`` when the run stopped before planning)."""
        return (f"{self.done} shards" if self.total is None
                else f"{self.done} of {self.total} shards")


@dataclass(frozen=True)
class Shard:
    analyzer: str          # label of the analyzer step, or BASELINE
    start: int
    stop: int

    @property
    def id(self) -> str:
        return f"{self.analyzer}[{self.start}:{self.stop}]"


@dataclass
class Context:
    model: object
    x: np.ndarray
    y: np.ndarray
    boxes: list | None
    masks: np.ndarray | None
    seed: int
    ids: np.ndarray            # global image indices: the noise of image i is the same in any shard
    analyzer: str | None = None          # the shard's analyzer name (None: the baseline shard)
    analyzer_params: dict | None = None  # and its parameters (metrics that re-run it)


def plan_shards(n_images: int, config: RunConfig) -> list:
    """All shards of a run, image range by image range."""
    needs_baseline = any(METRICS[m.name].baseline is not None for m in config.metrics)
    labels = ([BASELINE] if needs_baseline else []) + [a.label for a in config.analyzers]
    return [Shard(label, start, min(start + config.shard_size, n_images))
            for start in range(0, n_images, config.shard_size) for label in labels]


def __getattr__(name):
    # ``load_model``: :func:`xaibench.zoo.load` itself, imported on first use so that this
    # module (and ``xaibench list``) does not import TensorFlow
    if name == "load_model":
        from xaibench.zoo import load

        return load
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def predicted_classes(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The class each image gets from ``model`` (the arg max of its output)."""
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False)).argmax(axis=1)
                           for i in range(0, len(x), batch_size)]).astype(np.int64)


def _log(out: str) -> logging.Logger:
    """The logger of the run folder ``out``, writing ``run.log``."""
    log = logging.getLogger(f"xaibench.run.{os.path.abspath(out)}")
    if not log.handlers:
        handler = logging.FileHandler(os.path.join(out, "run.log"))
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def _start_counting(bar, total: int, done: int) -> None:
    """Turn the status line ``bar`` into the run's image counter."""
    bar.total, bar.n = total, done
    if bar.disable:
        return
    bar.bar_format = None
    bar.set_description_str("xaibench run", refresh=False)
    bar.last_print_n = bar.initial = done
    bar.start_t = bar.last_print_t = bar._time()
    bar.refresh()


def run(config: RunConfig, out: str, progress: bool = True, restart: bool = False,
        client=None, retries: int = 2, resources: dict | None = None) -> RunStore:
    """Run (or resume) ``config`` into the folder ``out``; returns the open store.

    ``progress``: one bar on stderr, which says what the run does before the first shard
    (loading the model, making or reading the data) and then counts images.
    ``restart``: set an existing results store (and heatmaps) aside, see
    :class:`~xaibench.runner.store.RunStore`, and start over.
    ``client``: a ``dask.distributed.Client``; the shards then run as its tasks, each tried
    ``retries + 1`` times before it is recorded as failed, on workers that offer
    ``resources`` (e.g. ``{"GPU": 1}``), see :mod:`.distributed`. Without it the shards
    run one after another in this process and an error stops the run.
    Ctrl-C raises :class:`RunInterrupted` once the shard in progress is abandoned; every
    finished shard is kept.
    """
    from xaibench.runner.datasets import load

    os.makedirs(out, exist_ok=True)
    log = _log(out)
    store = RunStore(out, config, restart=restart, log=log)
    bar = progress_bar(total=None, unit="img", disable=not progress, dynamic_ncols=True,
                       desc=f"xaibench run: loading the model {config.model}",
                       bar_format="{desc}")
    shards = None
    try:
        log.info("loading the model %s", config.model)
        from xaibench.zoo import load as load_model     # TensorFlow: after the store's checks

        model = load_model(config.model)       # a bad model spec fails before data is read
        n = config.data.get("n")
        what = f"{config.data['name']}" + ("" if n is None else f", {n} images")
        bar.set_description_str(f"xaibench run: loading the data ({what})")
        log.info("loading the data (%s)", what)
        data = load(config.data, progress=None if progress else False)
        shards = plan_shards(len(data), config)
        done = store.done()
        todo = [s for s in shards if s.id not in done]
        log.info("run %s: %d shards, %d done, %d to do", config.digest(), len(shards),
                 len(shards) - len(todo), len(todo))
        computer = ShardComputer(config, model, data)
        computer.create_analyzers({s.analyzer for s in todo})   # bad settings: before work
        _start_counting(bar, total=sum(s.stop - s.start for s in shards),
                        done=sum(s.stop - s.start for s in shards if s.id in done))
        with outer_bar():
            if client is None:
                _run_shards(todo, store, computer, bar, log)
            else:
                from xaibench.runner.distributed import run_shards

                run_shards(client, todo, store, config, bar, log, retries, resources)
    except KeyboardInterrupt:
        kept = len(store.done())
        total = len(shards) if shards is not None else None
        log.info("interrupted: %d of %s shards finished and kept", kept,
                 "?" if total is None else total)
        store.close()
        raise RunInterrupted(out, kept, total) from None
    finally:
        bar.close()
    failed = store.failed()
    if failed:
        log.info("run ended with %d failed shards (rerun to retry them): %s", len(failed),
                 ", ".join(failed))
    else:
        log.info("run complete")
    return store


class ShardComputer:
    """Computes shards of one run in one process: the model, the data and the analyzers
    (built on first use) are kept between shards; the image range in memory is the
    current shard's (folder data sets are decoded per range)."""

    def __init__(self, config: RunConfig, model, data):
        self.config, self.model, self.data = config, model, data
        self.steps = {a.label: a for a in config.analyzers}
        self.analyzers: dict = {}
        self._range, self._part = None, None

    def _part_of(self, shard):
        if self._range != (shard.start, shard.stop):
            part = self.data.slice(shard.start, shard.stop)
            if self.config.target == "predicted":
                part.y = predicted_classes(self.model, part.x)
            self._range, self._part = (shard.start, shard.stop), part
        return self._part

    def create_analyzers(self, labels) -> None:
        """Create the analyzers of the steps ``labels`` (the baseline needs none) now, so
        that a setting the model refuses (a Grad-CAM layer it does not have, a layer no
        rule covers) stops the run before any shard."""
        from xaibench.analyzers import create_analyzer

        for label in sorted(set(labels) - {BASELINE} - set(self.analyzers)):
            step = self.steps[label]
            self.analyzers[label] = create_analyzer(step.name, self.model, **step.params)

    def compute(self, shard: Shard):
        """``(rows, heatmaps or None, seconds)`` of ``shard``; heatmaps only when the config
        saves them."""
        t0 = time.perf_counter()
        part = self._part_of(shard)
        ctx = Context(self.model, part.x, part.y, part.boxes, part.masks, self.config.seed,
                      np.arange(shard.start, shard.stop))
        if shard.analyzer == BASELINE:
            R, rows = None, _baseline_rows(shard, ctx, self.config)
        else:
            step = self.steps[shard.analyzer]
            ctx.analyzer, ctx.analyzer_params = step.name, dict(step.params)
            self.create_analyzers([step.label])
            R = self.analyzers[step.label].analyze(ctx.x, neuron_selection=ctx.y)
            rows = [(shard.start + i, step.label, metric.label, s, k, v)
                    for metric in self.config.metrics
                    for i, s, k, v in METRICS[metric.name].compute(ctx, R, metric.params)]
        seconds = time.perf_counter() - t0
        return rows, (R if self.config.save_heatmaps else None), seconds


def _run_shards(todo, store, computer, bar, log):
    """Run each shard of ``todo`` in this process and commit it."""
    for shard in todo:
        rows, R, seconds = computer.compute(shard)
        store.write_shard(shard, rows, seconds, R)
        log.info("shard %s: %d rows in %.2f s", shard.id, len(rows), seconds)
        bar.update(shard.stop - shard.start)


def _baseline_rows(shard, ctx, config):
    return [(shard.start + i, BASELINE, metric.label, s, k, v)
            for metric in config.metrics if METRICS[metric.name].baseline is not None
            for i, s, k, v in METRICS[metric.name].baseline(ctx, metric.params)]
