"""Run a batch evaluation: images x analyzers x metrics, in resumable shards.

The work is split into independent shards: an image range and one analyzer (or the
analyzer-free ``baseline`` of the metrics). Shards run one after another here, image
range by image range, and only the current range's images are in memory (folder data
sets are decoded per range); each shard is self-contained (config + image range), so
another engine can hand them to other machines. A finished shard is committed
atomically (see :mod:`.store`); running the same command again skips the finished ones.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np

from xaibench._progress import outer_bar
from xaibench.analyzers import create_analyzer
from xaibench.runner.config import RunConfig
from xaibench.runner.metrics import METRICS
from xaibench.runner.store import RunStore

BASELINE = "baseline"


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


def plan_shards(n_images: int, config: RunConfig) -> list:
    """All shards of a run, image range by image range."""
    needs_baseline = any(METRICS[m.name][1] is not None for m in config.metrics)
    labels = ([BASELINE] if needs_baseline else []) + [a.label for a in config.analyzers]
    return [Shard(label, start, min(start + config.shard_size, n_images))
            for start in range(0, n_images, config.shard_size) for label in labels]


def load_model(spec: str):
    """A shipped model (``demo``: the clutter CNN, ``digits``: the digits CNN), a saved
    Keras model file, or a zoo builder: ``vgg16:imagenet`` (or ``vgg16:/path/weights.h5``)
    with weights; a bare zoo name is the untrained architecture and says so in a warning."""
    import inspect
    import warnings

    import tensorflow as tf

    from xaibench import zoo
    from xaibench.demo import SHIPPED, load_shipped_model

    if spec in SHIPPED:
        return load_shipped_model(spec)
    if os.path.exists(spec):
        return tf.keras.models.load_model(spec)
    name, _, weights = spec.partition(":")
    builder = getattr(zoo, name, None)
    if builder is None or name.startswith("_") or not inspect.isfunction(builder):
        raise ValueError(f"model {spec!r} is neither {' / '.join(SHIPPED)}, an existing file, "
                         "nor a zoo builder (mnist_cnn, cifar_cnn, caffenet, vgg16, "
                         "vgg16:imagenet)")
    if weights:
        if "weights" not in inspect.signature(builder).parameters:
            raise ValueError(f"model {spec!r}: the zoo builder {name} takes no weights; train "
                             "it and give the saved .keras file as the model.")
        return builder(weights=weights)
    warnings.warn(f"model {spec!r} is the untrained {name} architecture (random weights); "
                  "give a trained .keras file, or e.g. 'vgg16:imagenet' for VGG-16's ImageNet "
                  "weights.", UserWarning, stacklevel=2)
    return builder()


def predicted_classes(model, x: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The class each image gets from ``model`` (the arg max of its output)."""
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False)).argmax(axis=1)
                           for i in range(0, len(x), batch_size)]).astype(np.int64)


def run(config: RunConfig, out: str, progress: bool = True) -> RunStore:
    """Run (or resume) ``config`` into the folder ``out``; returns the open store."""
    from tqdm.auto import tqdm

    from xaibench.runner.datasets import load

    store = RunStore(out, config)
    log = logging.getLogger(f"xaibench.run.{os.path.abspath(out)}")
    if not log.handlers:
        handler = logging.FileHandler(os.path.join(out, "run.log"))
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    model = load_model(config.model)       # a bad model spec fails before data is read
    data = load(config.data)
    shards = plan_shards(len(data), config)
    done = store.done()
    todo = [s for s in shards if s.id not in done]
    log.info("run %s: %d shards, %d done, %d to do", config.digest(), len(shards),
             len(shards) - len(todo), len(todo))
    bar = tqdm(total=sum(s.stop - s.start for s in shards), unit="img", disable=not progress,
               initial=sum(s.stop - s.start for s in shards if s.id in done),
               desc="xaibench run", dynamic_ncols=True)
    try:
        with outer_bar():
            _run_shards(todo, store, config, data, model, bar, log)
    finally:
        bar.close()
    log.info("run complete")
    return store


def _run_shards(todo, store, config, data, model, bar, log):
    """Run each shard of ``todo`` and commit it; analyzers are built once and reused."""
    steps = {a.label: a for a in config.analyzers}
    analyzers = {}
    part, part_range = None, None
    for shard in todo:
        t0 = time.perf_counter()
        if part_range != (shard.start, shard.stop):    # shards come image range by range
            part_range = (shard.start, shard.stop)
            part = data.slice(shard.start, shard.stop)  # folder sets: decoded here
            if config.target == "predicted":
                part.y = predicted_classes(model, part.x)
        ctx = Context(model, part.x, part.y, part.boxes, part.masks, config.seed,
                      np.arange(shard.start, shard.stop))
        if shard.analyzer == BASELINE:
            R, rows = None, _baseline_rows(shard, ctx, config)
        else:
            step = steps[shard.analyzer]
            if step.label not in analyzers:
                analyzers[step.label] = create_analyzer(step.name, model, **step.params)
            R = analyzers[step.label].analyze(ctx.x, neuron_selection=ctx.y)
            rows = [(shard.start + i, step.label, metric.label, s, k, v)
                    for metric in config.metrics
                    for i, s, k, v in METRICS[metric.name][0](ctx, R, metric.params)]
        seconds = time.perf_counter() - t0
        store.write_shard(shard, rows, seconds, R if config.save_heatmaps else None)
        log.info("shard %s: %d rows in %.2f s", shard.id, len(rows), seconds)
        bar.update(shard.stop - shard.start)


def _baseline_rows(shard, ctx, config):
    return [(shard.start + i, BASELINE, metric.label, s, k, v)
            for metric in config.metrics if METRICS[metric.name][1] is not None
            for i, s, k, v in METRICS[metric.name][1](ctx, metric.params)]
