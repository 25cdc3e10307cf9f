"""What a run config costs, before it runs (``xaibench evaluate --plan``).

The counts follow from the config and the data set's size: shards (image ranges x
(analyzers + the baseline)), images, analyzer calls (one per image and analyzer). The
model forward passes of the metrics and the time are measured on a sample: every
shard label on the first ``sample`` images, computed in this process (nothing is
written), with the model's ``call`` counting the images it is given; both are scaled
to the whole run. Analyzers' own passes (one forward and backward walk per image for
the gradient and LRP families, many for the perturbation analyzers) are in the time,
not in the count.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass


@dataclass
class Plan:
    shards: int
    images: int
    shard_size: int
    labels: tuple                  # analyzer labels, with the baseline when a metric has one
    analyzer_calls: int            # images x analyzers
    forward_passes: int            # metric model inputs, scaled from the sample
    sample_images: int
    sample_seconds: dict           # label -> seconds on the sample
    estimate_seconds: float        # the whole run in one process on this machine

    def lines(self, workers: int = 1) -> list:
        per_image = {k: v / self.sample_images for k, v in self.sample_seconds.items()}
        out = [f"shards:          {self.shards} ({math.ceil(self.images / self.shard_size)} image "
               f"ranges of {self.shard_size} x {len(self.labels)} labels)",
               f"images:          {self.images}",
               f"analyzer calls:  {self.analyzer_calls}",
               f"forward passes:  {self.forward_passes} by the metrics (measured on "
               f"{self.sample_images} images, scaled)",
               f"estimated time:  {_duration(self.estimate_seconds)} in one process here"
               + (f", ~{_duration(self.estimate_seconds / workers)} on {workers} workers"
                  if workers > 1 else ""),
               "per image:       " + ", ".join(f"{k} {v * 1e3:.0f} ms"
                                               for k, v in per_image.items())]
        return out


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _count_inputs(model):
    """Make ``model.call`` add the batch size of each input to a counter (a variable, so
    calls inside ``tf.function`` count too); returns the counter."""
    import tensorflow as tf

    counter = tf.Variable(0, dtype=tf.int64, trainable=False)
    call = model.call

    @functools.wraps(call)
    def counting(inputs, *args, **kwargs):
        first = tf.nest.flatten(inputs)[0]
        counter.assign_add(tf.cast(tf.shape(first)[0], tf.int64))
        return call(inputs, *args, **kwargs)

    model.call = counting
    return counter


def plan(config, sample: int = 2) -> Plan:
    """The plan of ``config``: counts, and the time measured on ``sample`` images."""
    from xaibench.runner.datasets import load
    from xaibench.runner.engine import BASELINE, ShardComputer, Shard, load_model, plan_shards

    if sample < 1:
        raise ValueError(f"sample must be at least 1 image, got {sample}")
    model = load_model(config.model)
    data = load(config.data, progress=False)
    shards = plan_shards(len(data), config)
    labels = tuple(dict.fromkeys(s.analyzer for s in shards))
    k = min(sample, len(data))
    counter = _count_inputs(model)
    computer = ShardComputer(config, model, data)
    seconds, passes = {}, 0
    for label in labels:
        computer.compute(Shard(label, 0, k))            # builds and traces, not timed
        counter.assign(0)
        t0 = time.perf_counter()
        computer.compute(Shard(label, 0, k))
        seconds[label] = time.perf_counter() - t0
        passes += int(counter.numpy())
    scale = len(data) / k
    n_analyzers = len([label for label in labels if label != BASELINE])
    return Plan(shards=len(shards), images=len(data), shard_size=config.shard_size,
                labels=labels, analyzer_calls=len(data) * n_analyzers,
                forward_passes=int(round(passes * scale)), sample_images=k,
                sample_seconds=seconds, estimate_seconds=sum(seconds.values()) * scale)
