"""Pieces every reproduction uses: option checks, data choice, sub-runs, npz data sets."""
from __future__ import annotations

import os

#: data sets read from a folder given as NAME:PATH
FOLDER_DATA = ("imagenet_val", "voc2007")
#: the runner's model of the 224 px folder data sets: VGG-16, Keras's ImageNet weights
VGG16 = "vgg16:imagenet"


def check_int(name: str, value, low: int, high: int | None = None, allow_none: bool = False):
    """A paper option that must be an int in ``[low, high]`` (or ``None`` when allowed),
    refused with a one-line ``ValueError`` before any work."""
    if allow_none and value is None:
        return None
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low or (
            high is not None and value > high):
        span = f">= {low}" if high is None else f"in {low}..{high}"
        raise ValueError(f"{name} must be an int {span}{' or None' if allow_none else ''}, "
                         f"got {value!r}")
    return int(value)


def check_ints(given: dict, limits: dict, defaults: dict | None = None,
               optional=()) -> dict:
    """The int options ``given`` (name -> value), checked with :func:`check_int` in the
    order of ``limits`` (name -> the least value, or ``(least, greatest)``); returns name
    -> the checked int. A value of None takes ``defaults[name]`` when there is one (a
    function of the options checked before it, or a value), stays None for the names in
    ``optional`` and is refused otherwise."""
    defaults, out = defaults or {}, {}
    for name, limit in limits.items():
        low, high = limit if isinstance(limit, tuple) else (limit, None)
        value = given.get(name)
        if value is None and name in defaults:
            value = defaults[name](out) if callable(defaults[name]) else defaults[name]
        out[name] = check_int(name, value, low, high, allow_none=name in optional)
    return out


def parse_data(spec: str | None, default: str, allowed) -> dict:
    """``"digits"`` / ``"imagenet_val:/path"`` -> a runner data mapping, checked
    against the data sets this paper can use before any work is done."""
    spec = spec or default
    name, _, path = spec.partition(":")
    if name not in allowed:
        raise ValueError(f"data {name!r} is not used by this paper; choose one of "
                         f"{', '.join(allowed)}" + (" (as NAME:PATH)" if
                                                    set(allowed) & set(FOLDER_DATA) else ""))
    if name in FOLDER_DATA:
        if not path:
            raise ValueError(f"--data {name} needs the data folder: --data {name}:/path/to/it")
        if not os.path.isdir(path):
            raise ValueError(f"data folder {path!r} for {name} does not exist")
        return {"name": name, "root": path}
    if path:
        raise ValueError(f"data {name!r} takes no path (got {spec!r}); Keras-cached and "
                         "embedded data sets are found by name")
    return {"name": name}


def check_folder_data(source: dict, **read) -> None:
    """Refuse a folder data set of :func:`parse_data` in one line before any work: its folder
    must read as that data set (its first image, ``read``: the loader's options) and VGG-16's
    ImageNet weights (:data:`VGG16`) must be in the Keras cache. Other data: nothing to do."""
    if source["name"] in FOLDER_DATA:
        import xaibench as xb

        getattr(xb.data, source["name"])(source["root"], limit=1, **read)
        xb.zoo.vgg16_weights_file()


def model_data(source: dict, n: int) -> tuple:
    """``(model, data)`` of the batch runner for the first ``n`` images of the data choice
    ``source`` (:func:`parse_data`): ``clutter`` with the shipped demo CNN (trained on
    it), a folder data set with :data:`VGG16` and its ``vgg16`` preprocessing."""
    if source["name"] == "clutter":
        return "demo", {"name": "clutter", "n": n}
    return VGG16, dict(source, n=n, preprocess="vgg16")


def sub_run(result, key: str, config, progress: bool = True):
    """Run (or resume) the batch-runner ``config`` (a :class:`~xaibench.runner.RunConfig`
    built from ``Step`` objects, or its mapping) into ``<out>/runs/<key>``, write its
    report and record the folder on ``result``; returns the run's
    :class:`~xaibench.runner.results.RunResults`."""
    from xaibench.report import report
    from xaibench.runner import RunConfig, from_mapping, run
    from xaibench.runner.results import RunResults

    mapping = config.to_dict() if isinstance(config, RunConfig) else config
    folder = os.path.join(result.out, "runs", key)
    run(from_mapping(mapping), folder, progress=progress).close()     # checked either way
    results, written = (os.path.join(folder, f) for f in ("results.sqlite", "report.md"))
    if not os.path.isfile(written) or os.path.getmtime(written) < os.path.getmtime(results):
        report(folder)              # only when the run wrote rows since the last report
    result.runs[key] = folder
    return RunResults(folder)


def compiled(model):
    """``model`` compiled as every reproduction trains: Adam (learning rate 1e-3), sparse
    categorical cross-entropy, accuracy."""
    import tensorflow as tf

    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def accuracy(model, x, y) -> float:
    """The share of images ``x`` whose top class under ``model`` (Keras ``predict``, 256 at
    a time) is ``y``."""
    import numpy as np

    return float(np.mean(np.argmax(model.predict(x, batch_size=256, verbose=0), axis=1) == y))


def npz_once(path: str, x, y) -> str:
    """Save images ``x`` with labels ``y`` (an array, or a function returning it, called
    only when needed) as a runner npz data set at ``path`` unless it exists; ``path``."""
    from xaibench.runner.datasets import save_npz

    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        save_npz(path, x, y() if callable(y) else y)
    return path
