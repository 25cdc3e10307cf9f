"""Data sets a run can name, as numpy arrays (x, y, boxes, masks) per image range.

In-memory sets are loaded whole; the folder sets (``imagenet_val``, ``voc2007``) are
catalogued up front and decoded one image range at a time (:class:`LazyRunData`), so
a run over a whole validation set holds one shard of images in memory.
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import numpy as np

#: names a run config may use for ``data.name``; each is a function of ``xb.data``
LOADERS = ("digits", "mnist_sample", "clutter", "skimage_samples", "cifar10", "mnist",
           "imagenet_val", "voc2007", "npz")


#: arguments used unless a config gives others: ``clutter`` as the demo model was trained
DEFAULTS = {"clutter": {"split": "test", "size": 48, "seed": 0, "digit_scale": (0.45, 0.8)}}


@dataclass
class RunData:
    x: np.ndarray
    y: np.ndarray
    boxes: list | None = None
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.x)

    def slice(self, start: int, stop: int) -> "RunData":
        """The images ``start:stop``."""
        sl = slice(start, stop)
        return RunData(self.x[sl], self.y[sl], None if self.boxes is None else list(self.boxes[sl]),
                       None if self.masks is None else self.masks[sl])


class LazyRunData:
    """A folder data set (:class:`xaibench.data.LazyDataset`) decoded per image range:
    ``len``, :meth:`slice` as :class:`RunData`; ``x`` / ``y`` / ``boxes`` / ``masks``
    decode every image once (for small sets and figures)."""

    def __init__(self, source, n: int | None = None):
        self.source = source
        self._n = len(source) if n is None else int(n)
        self._all = None

    def __len__(self) -> int:
        return self._n

    def slice(self, start: int, stop: int) -> RunData:
        ds = self.source.subset(slice(start, min(stop, self._n)))
        return RunData(ds.x, ds.y, ds.boxes, ds.masks)

    def _whole(self) -> RunData:
        if self._all is None:
            self._all = self.slice(0, self._n)
        return self._all

    x = property(lambda self: self._whole().x)
    y = property(lambda self: self._whole().y)
    boxes = property(lambda self: self._whole().boxes)
    masks = property(lambda self: self._whole().masks)


def save_npz(path: str, x, y, boxes=None, masks=None) -> str:
    """Save images for a run's ``{name: npz, path: ...}`` data: ``x``, ``y`` and optional
    ``masks``; boxes as rows ``(image, x_min, y_min, x_max, y_max)`` (no pickles)."""
    arrays = {"x": np.asarray(x, np.float32), "y": np.asarray(y, np.int64)}
    if boxes is not None:
        arrays["boxes"] = np.array([(i, *b) for i, bs in enumerate(boxes) for b in bs],
                                   np.int64).reshape(-1, 5)
    if masks is not None:
        arrays["masks"] = np.asarray(masks, bool)
    tmp = path + ".part.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_npz(path: str) -> RunData:
    """Images saved by :func:`save_npz` (or any ``.npz`` with ``x`` and ``y``)."""
    if not os.path.isfile(str(path)):
        raise ValueError(f"data file {path!r} does not exist; save one with "
                         "xaibench.runner.datasets.save_npz(path, x, y)")
    with np.load(path, allow_pickle=False) as f:
        missing = {"x", "y"} - set(f.files)
        if missing:
            raise ValueError(f"{path} lacks array(s) {sorted(missing)}; it needs x and y")
        x, y = f["x"], f["y"]
        boxes = None
        if "boxes" in f.files:
            rows = f["boxes"]
            boxes = [[tuple(int(v) for v in r[1:]) for r in rows if r[0] == i]
                     for i in range(len(x))]
        masks = f["masks"] if "masks" in f.files else None
    return RunData(x, y, boxes, masks)


def load(spec: dict, progress: bool | None = None) -> RunData | LazyRunData:
    """Call ``xb.data.<name>(**params)`` and keep the first ``n`` images of its test split
    (``npz``: the arrays of ``spec["path"]``, see :func:`save_npz`); a folder set comes
    back as :class:`LazyRunData`. ``progress`` goes to loaders that take it (``clutter``:
    None shows a bar for large requests)."""
    n = spec.get("n")
    npz = spec["name"] == "npz"
    out = load_npz(spec.get("path")) if npz else _call_loader(spec, progress)
    if n is not None:
        if n > len(out):
            source = spec.get("path") if npz else repr(spec["name"])
            raise ValueError(f"data.n={n} but {source} has only {len(out)} images")
        out = LazyRunData(out.source, n) if isinstance(out, LazyRunData) else out.slice(0, n)
    return out


def _call_loader(spec: dict, progress: bool | None = None) -> RunData | LazyRunData:
    """``xb.data.<name>(**params)`` as RunData of its test split (fewer images made or
    read when the loader takes ``n`` or ``limit``; a loader taking ``lazy`` is catalogued
    and decoded per image range)."""
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
    if "lazy" in accepted:
        params.setdefault("lazy", True)
    if "progress" in accepted:
        params.setdefault("progress", progress)
    result = loader(**params)
    if isinstance(result, data.LazyDataset):
        return LazyRunData(result)
    if isinstance(result, tuple) and len(result) == 4:       # (x_train, y_train, x_test, y_test)
        out = RunData(result[2], result[3])
    elif isinstance(result, tuple) and len(result) == 2:     # (train, test) data sets
        ds = result[1]
        out = RunData(ds.x, ds.y, getattr(ds, "boxes", None), getattr(ds, "masks", None))
    else:
        out = RunData(result.x, result.y, getattr(result, "boxes", None),
                      getattr(result, "masks", None))
    return out
