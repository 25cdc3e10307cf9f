"""CIFAR-10 and MNIST through ``keras.datasets`` (cached by Keras in ``~/.keras/datasets``).

Nothing is downloaded unless the file is missing *and* ``download=True``; the cache is checked
before Keras is called, so without the file you get an error that says what to download and
where to put it.
"""
from __future__ import annotations

import os

import numpy as np

from xaibench.data._dataset import Dataset, apply_preprocess, check_choice

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")

# name -> (file Keras looks for in its cache, where Keras downloads it from)
_FILES = {
    "mnist": ("mnist.npz",
              "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"),
    "cifar10": ("cifar-10-batches-py.tar.gz",
                "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"),
}


def keras_cache_dir() -> str:
    """The folder where Keras 2.14's ``get_file`` keeps data sets: ``~/.keras/datasets``, or
    ``/tmp/.keras/datasets`` when ``~/.keras`` is not writable (or does not exist)."""
    base = os.path.expanduser(os.path.join("~", ".keras"))
    if not os.access(base, os.W_OK):
        base = os.path.join("/tmp", ".keras")
    return os.path.join(base, "datasets")


def cached_file(name: str) -> tuple:
    """``(path, url)``: where the Keras cache keeps data set ``name`` ("mnist" or
    "cifar10") and where Keras downloads it from; ``os.path.exists(path)`` says whether
    it can be loaded without network."""
    check_choice("name", name, tuple(_FILES))
    fname, url = _FILES[name]
    return os.path.join(keras_cache_dir(), fname), url


def _load(name: str, download: bool):
    from tensorflow import keras

    path, url = cached_file(name)
    fname = _FILES[name][0]
    home = os.path.join(os.path.expanduser("~"), ".keras", "datasets", fname)
    note = "" if path == home else f" (or {home}: Keras uses it once ~/.keras exists)"
    if not os.path.exists(path) and not download:
        raise FileNotFoundError(
            f"{name} is not in the Keras cache: {path} does not exist. Download {url} and "
            f"save it as {path}{note}, or call {name}(download=True) on a machine with "
            "network access.")
    try:
        return getattr(keras.datasets, name).load_data()
    except Exception as err:
        raise RuntimeError(
            f"keras.datasets.{name}.load_data() failed ({type(err).__name__}: {err}). If "
            f"{path} is incomplete or corrupt, delete it and download {url} to that path "
            "again.") from err


def _finish(name, x, y, split, preprocess, limit, class_names):
    from xaibench._checks import check_in_range

    if limit is not None:
        check_in_range("limit", limit, 1, None, integer=True)
        x, y = x[:limit], y[:limit]
    if x.ndim == 3:
        x = x[..., None]
    xp, images = apply_preprocess(np.asarray(x, np.float32), preprocess)
    return Dataset(xp, np.asarray(y).reshape(-1).astype(np.int64), class_names=class_names,
                   name=f"{name}-{split}", images=images)


def _check(split, preprocess, limit):
    check_choice("split", split, ("train", "test"))
    if limit is not None:
        from xaibench._checks import check_in_range

        check_in_range("limit", limit, 1, None, integer=True)


def mnist(split: str = "test", preprocess=None, limit: int | None = None,
          download: bool = False) -> Dataset:
    """MNIST (``keras.datasets.mnist``): float32 ``(N, 28, 28, 1)`` in [0, 1] by default,
    ``split`` "train" (60,000) or "test" (10,000), the first ``limit`` images.
    Needs ``mnist.npz`` in :func:`keras_cache_dir` unless ``download``."""
    _check(split, preprocess, limit)
    (xtr, ytr), (xte, yte) = _load("mnist", download)
    x, y = (xtr, ytr) if split == "train" else (xte, yte)
    return _finish("mnist", x, y, split, preprocess, limit, [str(i) for i in range(10)])


def cifar10(split: str = "test", preprocess=None, limit: int | None = None,
            download: bool = False) -> Dataset:
    """CIFAR-10 (``keras.datasets.cifar10``): float32 ``(N, 32, 32, 3)`` in [0, 1] by
    default, ``split`` "train" (50,000) or "test" (10,000), the first ``limit`` images.
    Needs ``cifar-10-batches-py.tar.gz`` in :func:`keras_cache_dir` unless ``download``."""
    _check(split, preprocess, limit)
    (xtr, ytr), (xte, yte) = _load("cifar10", download)
    x, y = (xtr, ytr) if split == "train" else (xte, yte)
    return _finish("cifar10", x, y, split, preprocess, limit, list(CIFAR10_CLASSES))
