"""``clutter``: a generated, seeded localisation set that runs anywhere (no network).

Each image is a random crop of a natural image or texture from ``skimage.data``, resized to
``size`` x ``size`` RGB, with one of scikit-learn's handwritten digits pasted at a random
position and scale. The label is the digit class; the ground truth is the digit's pixel mask
and its tight bounding box: the stand-in for the ImageNet / PASCAL VOC boxes of Kohlbrenner et
al. (2020) and for the localisation experiments of the other papers.

Recipe of one image (all random draws from ``numpy.random.default_rng([seed, split_code])``):

1. background: image ``B`` from :data:`BACKGROUNDS` (uniform), a square crop of side
   ``uniform(*crop_scale) * min(height, width)`` at a uniform position, resized to ``size`` x
   ``size`` (Pillow bilinear ``resize``, crop as ``box``, ``reducing_gap=3``), in [0, 1];
2. digit: sklearn digit ``k`` (uniform over the split's pool), intensities ``/ 16``, upsampled
   bilinearly (``skimage.transform.resize(order=1, mode="constant")``) to ``d`` x ``d`` with
   ``d = round(uniform(*digit_scale) * size)``, pasted with its top-left corner at a uniform
   position inside the image;
3. mask: the pixels where the upsampled intensity exceeds ``threshold``; only those are
   painted, ``x = (1 - a) * background + a * colour`` with the opacity
   ``a = min(1, 2 * intensity)``; outside the mask ``x = background``. ``colour`` is a uniform
   random RGB ``c`` made dark on bright backgrounds (mean of the background's pasted square
   > 0.5: ``0.25 * c``) and bright on dark ones (``0.75 + 0.25 * c``);
4. box: the tight bounding box of the mask, ``(x_min, y_min, x_max, y_max)``, exclusive maxima.
"""
from __future__ import annotations

import functools

import numpy as np

from xaibench.data._dataset import Dataset, apply_preprocess, check_choice

# Natural images and textures of skimage.data that ship with scikit-image (no pooch/network;
# checked by tests/test_data.py). Greyscale ones are repeated to RGB.
BACKGROUNDS = (
    "astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "camera", "coins", "moon", "clock", "brick", "grass", "gravel",
)


#: ``clutter(progress=None)`` shows a progress bar from this many images on (about 4 s)
PROGRESS_FROM = 2000


@functools.lru_cache(maxsize=None)
def skimage_image(name: str) -> np.ndarray:
    """An image of ``skimage.data`` as uint8 RGB ``(H, W, 3)`` (cached, read-only)."""
    import skimage.data

    fn = getattr(skimage.data, name, None)
    if fn is None:
        raise ValueError(f"skimage.data has no image {name!r}.")
    img = np.asarray(fn())
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    elif img.dtype != np.uint8:
        img = np.clip(np.asarray(img, np.float64) * (255 if img.max() <= 1 else 1), 0, 255)
        img = img.astype(np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    img = np.ascontiguousarray(img[..., :3])
    img.setflags(write=False)
    return img


@functools.lru_cache(maxsize=None)
def _pil_image(name: str):
    from PIL import Image

    return Image.fromarray(skimage_image(name))


@functools.lru_cache(maxsize=4)
def _digit_pool(split: str, test_fraction: float, seed: int):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    idx = np.arange(len(bunch.target))
    if split != "all":
        train, test = train_test_split(idx, test_size=test_fraction, random_state=seed,
                                       stratify=bunch.target)
        idx = np.sort(train if split == "train" else test)
    return idx, bunch.images.astype(np.float64) / 16.0, bunch.target.astype(np.int64)


def _check_pair(name, value, low, high):
    from xaibench._checks import check_in_range

    try:
        lo, hi = value
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}.") from None
    check_in_range(f"{name}[0]", lo, low, high)
    check_in_range(f"{name}[1]", hi, low, high)
    if lo > hi:
        raise ValueError(f"{name}={value!r}: low must not exceed high.")
    return float(lo), float(hi)


def upsample_digit(digit: np.ndarray, d: int) -> np.ndarray:
    """An 8x8 digit (intensities in [0, 1]) upsampled bilinearly to ``d`` x ``d``."""
    from skimage.transform import resize

    return np.clip(resize(digit, (d, d), order=1, mode="constant", cval=0.0,
                          anti_aliasing=False), 0.0, 1.0)


def clutter(n: int = 1000, size: int = 64, seed: int = 0, digit_scale=(0.3, 0.6),
            crop_scale=(0.2, 1.0), threshold: float = 0.25, backgrounds=None,
            split: str = "all", test_fraction: float = 0.25, preprocess=None,
            return_background: bool = False, progress: bool | None = None) -> Dataset:
    """``n`` generated RGB images with one pasted digit each (see the module docstring).

    digit_scale: range of the digit's side as a fraction of ``size`` (the drawn square; the
    digit's box is tighter). crop_scale: range of the background crop's side as a fraction of
    the source image's short side. threshold: intensity above which a digit pixel belongs to
    the mask. backgrounds: names from :data:`BACKGROUNDS` (default all). split: "all" uses every
    sklearn digit; "train"/"test" use disjoint stratified pools (``test_fraction``, ``seed``),
    so a model trained on one is tested on unseen digits (see :func:`clutter_train_test`).
    preprocess: see :func:`xaibench.data.apply_preprocess` (default: x in [0, 1]).
    progress: a progress bar on stderr while the images are made (about 2 ms each); None
    (default) shows it from :data:`PROGRESS_FROM` images on.

    Returns a :class:`Dataset` with boxes and masks; ``meta`` holds per image "digit_index"
    (into ``sklearn.datasets.load_digits()``), "paste" (top, left, d), "colour", "background"
    (source name) and, with ``return_background``, "background_pixels" (N, size, size, 3).
    Deterministic per ``(seed, split)``.
    """
    from PIL import Image

    from xaibench._checks import check_in_range

    check_in_range("n", n, 1, 10_000_000, integer=True)
    check_in_range("size", size, 16, 1024, integer=True)
    check_in_range("seed", seed, 0, None, integer=True)
    lo, hi = _check_pair("digit_scale", digit_scale, 0.0, 1.0)
    if round(lo * size) < 8:
        raise ValueError(f"digit_scale={digit_scale!r} makes digits smaller than 8 pixels at "
                         f"size={size}; raise digit_scale[0] to at least {8 / size:.3f}.")
    c_lo, c_hi = _check_pair("crop_scale", crop_scale, 0.0, 1.0)
    if c_lo <= 0:
        raise ValueError(f"crop_scale={crop_scale!r}: the crop must have a positive side.")
    check_in_range("threshold", threshold, 0.0, 1.0, high_inclusive=False)
    check_in_range("test_fraction", test_fraction, 0.0, 1.0, low_inclusive=False,
                   high_inclusive=False)
    check_choice("split", split, ("all", "train", "test"))
    names = BACKGROUNDS if backgrounds is None else tuple(backgrounds)
    if not names:
        raise ValueError("backgrounds is empty; pass names from xb.data.BACKGROUNDS.")
    for name in names:
        check_choice("background", name, BACKGROUNDS)
    pool, digit_images, digit_targets = _digit_pool(split, float(test_fraction), int(seed))

    rng = np.random.default_rng([int(seed), {"all": 0, "train": 1, "test": 2}[split]])
    x = np.empty((n, size, size, 3), np.float32)
    bgs = np.empty((n, size, size, 3), np.float32) if return_background else None
    masks = np.zeros((n, size, size), bool)
    y = np.empty(n, np.int64)
    boxes, meta_idx, meta_paste, meta_col, meta_bg = [], [], [], [], []
    show = n >= PROGRESS_FROM if progress is None else bool(progress)
    bar = None
    if show:
        from xaibench._progress import progress_bar

        bar = progress_bar(total=n, unit="img", desc=f"clutter: making {n} images",
                           leave=False, dynamic_ncols=True, mininterval=0.5)
    try:
        for i in range(n):
            b = int(rng.integers(len(names)))
            src = skimage_image(names[b])
            short = min(src.shape[:2])
            side = max(8, int(round(rng.uniform(c_lo, c_hi) * short)))
            r0 = int(rng.integers(src.shape[0] - side + 1))
            c0 = int(rng.integers(src.shape[1] - side + 1))
            crop = _pil_image(names[b]).resize((size, size), Image.BILINEAR, reducing_gap=3.0,
                                               box=(c0, r0, c0 + side, r0 + side))
            bg = np.asarray(crop, np.float32) / 255.0

            k = int(pool[rng.integers(len(pool))])
            d = int(round(rng.uniform(lo, hi) * size))
            top = int(rng.integers(size - d + 1))
            left = int(rng.integers(size - d + 1))
            colour = rng.uniform(0.0, 1.0, 3)
            a = upsample_digit(digit_images[k], d)
            m = a > threshold
            a = np.where(m, np.minimum(1.0, 2.0 * a), 0.0)[..., None]
            patch = bg[top:top + d, left:left + d]
            lum = float(patch.mean())
            colour = 0.25 * colour if lum > 0.5 else 0.75 + 0.25 * colour
            img = bg.copy()
            img[top:top + d, left:left + d] = ((1.0 - a) * patch + a * colour).astype(np.float32)
            masks[i, top:top + d, left:left + d] = m
            rows, cols = np.nonzero(masks[i])
            boxes.append([(int(cols.min()), int(rows.min()), int(cols.max()) + 1,
                           int(rows.max()) + 1)])
            x[i] = img
            if bgs is not None:
                bgs[i] = bg
            y[i] = digit_targets[k]
            meta_idx.append(k)
            meta_paste.append((top, left, d))
            meta_col.append(colour.astype(np.float32))
            meta_bg.append(names[b])
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    xp, images = apply_preprocess(x * np.float32(255.0), preprocess)
    if images is None:
        xp = x                       # exact [0, 1] values, no round trip through 255
    meta = {"digit_index": np.asarray(meta_idx, np.int64),
            "paste": np.asarray(meta_paste, np.int64),
            "colour": np.stack(meta_col), "background": meta_bg,
            "threshold": float(threshold)}
    if bgs is not None:
        meta["background_pixels"] = bgs
    return Dataset(xp, y, boxes=boxes, masks=masks, class_names=[str(c) for c in range(10)],
                   name=f"clutter-{split}" if split != "all" else "clutter",
                   ids=[f"clutter-{split}-{seed}-{i}" for i in range(n)],
                   images=None if images is None else x, meta=meta)


def clutter_train_test(n_train: int = 2000, n_test: int = 500, size: int = 64, seed: int = 0,
                       test_fraction: float = 0.25, **kwargs):
    """``(train, test)`` :class:`Dataset` s of :func:`clutter` for training a CNN: the test
    images use sklearn digits that never occur in the training images, and other random
    backgrounds crops. ``kwargs`` go to :func:`clutter`."""
    train = clutter(n_train, size, seed, split="train", test_fraction=test_fraction, **kwargs)
    test = clutter(n_test, size, seed, split="test", test_fraction=test_fraction, **kwargs)
    return train, test
