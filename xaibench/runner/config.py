"""The configuration of a batch run: model, data, analyzers, metrics, sharding.

A run is described by a JSON or YAML mapping (``configs/`` in the repository holds
commented examples; ``xaibench evaluate --help`` shows this format)::

    model: demo                      # a shipped model ("demo" = "clutter", "digits": see
                                     # xb.zoo.shipped), a .keras file, or a zoo builder with
                                     # weights such as "vgg16:imagenet" (a bare zoo name is
                                     # the untrained architecture and warns)
    data: {name: clutter, n: 64}     # a loader of xb.data and its arguments; n = images used
    analyzers: [gradient, {name: lrp.epsilon, params: {epsilon: 0.1}}]
    metrics: [aopc, {name: relevance_ratio}, complexity]
    target: label                    # the explained class: the data's "label" or the
                                     # model's "predicted" class (unsupervised evaluation)
    shard_size: 16                   # images per shard (one shard = images x one analyzer)
    seed: 0
    save_heatmaps: false

Every value is checked when the config is loaded; a bad value raises
``ConfigError`` with a one-line message.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

#: the format of a run config, as ``xaibench evaluate --help`` shows it
FORMAT = ((__doc__ or "").partition("::\n\n")[2].partition("\nEvery value")[0].rstrip()
          or "see xaibench/runner/config.py")


#: what a run explains: the data set's label, or the class the model predicts
TARGETS = ("label", "predicted")


class ConfigError(ValueError):
    """A run configuration that cannot be run, with the reason in one line."""


class UntrainedModelWarning(UserWarning):
    """A run or ``xaibench explain`` was given a zoo architecture with random weights (see
    :func:`xaibench.zoo.load`; defined here, without TensorFlow, for the runner's import)."""


@dataclass(frozen=True)
class Step:
    """An analyzer or a metric with its parameters."""

    name: str
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return self.name + "(" + ",".join(f"{k}={v}" for k, v in sorted(self.params.items())) + ")"


@dataclass(frozen=True)
class RunConfig:
    model: str = "demo"
    data: dict = field(default_factory=lambda: {"name": "clutter", "n": 64})
    analyzers: tuple = ()
    metrics: tuple = ()
    target: str = "label"
    shard_size: int = 16
    seed: int = 0
    save_heatmaps: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["analyzers"] = [asdict(a) for a in self.analyzers]
        d["metrics"] = [asdict(m) for m in self.metrics]
        if d["target"] == "label":      # the default: digests of older run folders stay valid
            del d["target"]
        return d

    def digest(self) -> str:
        """A stable hash of everything that changes the results."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _steps(items, what: str, known) -> tuple:
    if not isinstance(items, (list, tuple)) or not items:
        raise ConfigError(f"'{what}' must be a non-empty list of names or {{name, params}} maps")
    out = []
    for item in items:
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"each entry of '{what}' needs a name, got {item!r}")
        extra = set(item) - {"name", "params"}
        if extra:
            raise ConfigError(f"unknown key(s) {sorted(extra)} in '{what}' entry {item['name']!r}")
        params = item.get("params") or {}
        if not isinstance(params, dict):
            raise ConfigError(f"params of {item['name']!r} must be a mapping, got {params!r}")
        if item["name"] not in known:
            import difflib

            close = difflib.get_close_matches(str(item["name"]), list(known), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(f"unknown {what[:-1]} {item['name']!r}{hint}")
        out.append(Step(item["name"], dict(params)))
    labels = [s.label for s in out]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"'{what}' lists the same entry twice")
    return tuple(out)


def _known_analyzers(items) -> dict:
    """The analyzer names a config may use: the static catalogue when it holds every name
    given (no TensorFlow import), else the registry itself."""
    from xaibench.catalogue import ANALYZERS

    names = {item if isinstance(item, str) else item.get("name") if isinstance(item, dict)
             else None for item in (items if isinstance(items, (list, tuple)) else ())}
    if names <= set(ANALYZERS):
        return ANALYZERS
    from xaibench.analyzers import list_analyzers

    return list_analyzers()


def from_mapping(mapping: dict) -> RunConfig:
    """Build and check a :class:`RunConfig` from a parsed JSON/YAML mapping."""
    from xaibench.runner.datasets import LOADERS
    from xaibench.runner.metrics import METRICS

    if not isinstance(mapping, dict):
        raise ConfigError("the config must be a mapping of keys to values")
    allowed = {"model", "data", "analyzers", "metrics", "target", "shard_size", "seed",
               "save_heatmaps"}
    extra = set(mapping) - allowed
    if extra:
        raise ConfigError(f"unknown config key(s) {sorted(extra)}; allowed: {sorted(allowed)}")
    data = mapping.get("data", {"name": "clutter", "n": 64})
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or data.get("name") not in LOADERS:
        raise ConfigError(f"data must name one of {sorted(LOADERS)}, got {data!r}")
    n = data.get("n")
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise ConfigError(f"data.n must be a positive int, got {n!r}")
    shard_size = mapping.get("shard_size", 16)
    if not isinstance(shard_size, int) or isinstance(shard_size, bool) or shard_size < 1:
        raise ConfigError(f"shard_size must be a positive int, got {shard_size!r}")
    seed = mapping.get("seed", 0)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    save = mapping.get("save_heatmaps", False)
    if not isinstance(save, bool):
        raise ConfigError(f"save_heatmaps must be true or false, got {save!r}")
    target = mapping.get("target", "label")
    if target not in TARGETS:
        raise ConfigError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    model = mapping.get("model", "demo")
    if not isinstance(model, str):
        raise ConfigError(f"model must be 'demo', a zoo name or a file path, got {model!r}")
    analyzers = _steps(mapping.get("analyzers"), "analyzers",
                       _known_analyzers(mapping.get("analyzers")))
    metrics = _steps(mapping.get("metrics"), "metrics", METRICS)
    for step in metrics:                  # parameter names, as each MetricSpec declares them
        try:
            METRICS[step.name].check(step.params)
        except ValueError as err:
            raise ConfigError(str(err)) from None
    return RunConfig(
        model=model, data=dict(data), analyzers=analyzers, metrics=metrics, target=target,
        shard_size=shard_size, seed=seed, save_heatmaps=save,
    )


def load_config(path: str) -> RunConfig:
    """Read a run config from a ``.json`` or ``.yaml``/``.yml`` file."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path!r} does not exist")
    with open(path) as fh:
        text = fh.read()
    try:
        if path.endswith((".yaml", ".yml")):
            import yaml

            mapping = yaml.safe_load(text)
        else:
            mapping = json.loads(text)
    except Exception as err:
        raise ConfigError(f"cannot parse {path}: {str(err).splitlines()[0]}") from None
    return from_mapping(mapping)
