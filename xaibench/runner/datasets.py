"""Data sets a run can name, loaded as numpy arrays (x, y, boxes, masks)."""
from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

#: names a run config may use for ``data.name``; each is a function of ``xb.data``
LOADERS = ("digits", "clutter", "skimage_samples", "cifar10", "mnist", "imagenet_val",
           "voc2007")


#: arguments used unless a config gives others: ``clutter`` as the demo model was trained
DEFAULTS = {"clutter": {"split": "test", "size": 48, "seed": 0, "digit_scale": (0.45, 0.8)}}


@dataclass
class RunData:
    x: np.ndarray
    y: np.ndarray
    boxes: list | None = None
    masks: np.ndarray | None = None


def load(spec: dict) -> RunData:
    """Call ``xb.data.<name>(**params)`` and keep the first ``n`` images of its test split."""
    import xaibench.data as data

    params = dict(DEFAULTS.get(spec["name"], {}))
    params.update({k: v for k, v in spec.items() if k not in ("name", "n")})
    loader = getattr(data, spec["name"], None)
    if loader is None:
        raise ValueError(f"data set {spec['name']!r} is not available in this version of xaibench")
    accepted = inspect.signature(loader).parameters
    n = spec.get("n")
    if n is not None:          # let loaders that can make or read fewer images do so
        if "n" in accepted:
            params["n"] = n
        elif "limit" in accepted:
            params["limit"] = n
    result = loader(**params)
    if isinstance(result, tuple) and len(result) == 4:       # (x_train, y_train, x_test, y_test)
        out = RunData(result[2], result[3])
    elif isinstance(result, tuple) and len(result) == 2:     # (train, test) data sets
        ds = result[1]
        out = RunData(ds.x, ds.y, getattr(ds, "boxes", None), getattr(ds, "masks", None))
    else:
        out = RunData(result.x, result.y, getattr(result, "boxes", None),
                      getattr(result, "masks", None))
    if n is not None:
        if n > len(out.x):
            raise ValueError(f"data.n={n} but {spec['name']!r} has only {len(out.x)} images")
        out = RunData(out.x[:n], out.y[:n], None if out.boxes is None else list(out.boxes[:n]),
                      None if out.masks is None else out.masks[:n])
    return out
