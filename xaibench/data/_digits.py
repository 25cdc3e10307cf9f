"""sklearn's handwritten digits, upsampled (embedded, no network)."""
from __future__ import annotations

import numpy as np


def digits(size: int = 28, test_fraction: float = 0.25, seed: int = 0):
    """scikit-learn's 8x8 handwritten digits (1,797 images) upsampled to ``size`` x
    ``size`` (bilinear), float32 ``(N, size, size, 1)`` in [0, 1], split stratified with
    ``seed``: a :class:`~xaibench.data.Dataset` of the test split (450 images at the
    default ``test_fraction``) whose ``train`` is the training split (1,347).

    It unpacks as the 4-tuple this function returned before it returned a Dataset::

        ds = xb.data.digits()                     # ds.x, ds.y: the test split
        x_train, y_train, x_test, y_test = ds     # = ds.split()
    """
    from skimage.transform import resize
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from xaibench._checks import check_in_range
    from xaibench.data._dataset import Dataset

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
    names = [str(i) for i in range(10)]
    train = Dataset(x_train, y_train, class_names=names, name="digits-train")
    return Dataset(x_test, y_test, class_names=names, name="digits-test", train=train)


def digits_dataset(split: str = "test", size: int = 28, test_fraction: float = 0.25,
                   seed: int = 0):
    """One split of :func:`digits` as a :class:`~xaibench.data.Dataset` (``split``:
    "train" or "test")."""
    from xaibench.data._dataset import check_choice

    check_choice("split", split, ("train", "test"))
    test = digits(size, test_fraction, seed)
    return test.train if split == "train" else test
