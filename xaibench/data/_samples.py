"""``skimage_samples``: the natural images that ship with scikit-image, sized for VGG-like
models (embedded, no network)."""
from __future__ import annotations

import numpy as np

from xaibench.data._dataset import Dataset, apply_preprocess, resize_image

# Photographs in skimage.data that load offline (greyscale ones repeated to RGB).
SAMPLE_NAMES = ("astronaut", "chelsea", "coffee", "rocket", "camera", "coins", "clock",
                "moon", "hubble_deep_field", "immunohistochemistry")


def skimage_samples(size: int = 224, preprocess=None, names=None) -> Dataset:
    """The :data:`SAMPLE_NAMES` images (or ``names``), resized as Kohlbrenner et al. (2020) do
    for ImageNet: shortest side to ``size``, centre crop to ``size`` x ``size``.

    Returns a :class:`Dataset` without labels (``y = -1``: explain the predicted class) and
    with ``ids`` = the image names. ``preprocess``: see :func:`xaibench.data.apply_preprocess`,
    e.g. "vgg16" for ``keras.applications.vgg16``.
    """
    from PIL import Image

    from xaibench._checks import check_in_range
    from xaibench.data._clutter import skimage_image

    check_in_range("size", size, 8, 4096, integer=True)
    names = SAMPLE_NAMES if names is None else tuple(names)
    if not names:
        raise ValueError("names is empty; pass names from xb.data.SAMPLE_NAMES.")
    for name in names:
        if name not in SAMPLE_NAMES:
            raise ValueError(f"{name!r} is not a sample image; choose from "
                             f"{', '.join(SAMPLE_NAMES)}.")
    pixels = np.stack([resize_image(Image.fromarray(skimage_image(n)), size)[0]
                       for n in names]).astype(np.float32)
    x, images = apply_preprocess(pixels, preprocess)
    return Dataset(x, np.full(len(names), -1, np.int64), name="skimage_samples",
                   ids=list(names), images=images)
