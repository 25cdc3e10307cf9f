"""sklearn's handwritten digits, upsampled (embedded, no network)."""
from __future__ import annotations

import numpy as np


def digits(size: int = 28, test_fraction: float = 0.25, seed: int = 0):
    """``(x_train, y_train, x_test, y_test)``: scikit-learn's 8x8 handwritten digits (1,797
    images) upsampled to ``size`` x ``size`` (bilinear), float32 ``(N, size, size, 1)`` in
    [0, 1], split stratified with ``seed``."""
    from skimage.transform import resize
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from xaibench._checks import check_in_range

    check_in_range("size", size, 8, 512, integer=True)
    check_in_range("test_fraction", test_fraction, 0.0, 1.0, low_inclusive=False,
                   high_inclusive=False)
    bunch = load_digits()
    images = bunch.images.astype(np.float32) / 16.0
    if size != 8:
        images = np.stack([resize(im, (size, size), order=1, mode="edge", anti_aliasing=False)
                           for im in images])
    x = images[..., None].astype(np.float32)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y)
    return x_train, y_train, x_test, y_test


def digits_dataset(split: str = "test", size: int = 28, test_fraction: float = 0.25,
                   seed: int = 0):
    """:func:`digits` as a :class:`~xaibench.data.Dataset` (``split``: "train" or "test")."""
    from xaibench.data._dataset import Dataset, check_choice

    check_choice("split", split, ("train", "test"))
    x_train, y_train, x_test, y_test = digits(size, test_fraction, seed)
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    return Dataset(x, y, class_names=[str(i) for i in range(10)], name=f"digits-{split}")
