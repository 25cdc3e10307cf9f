"""The result type of every loader, model preprocessing, and the resize/crop with box adjustment.

Conventions (DESIGN.md): images channels last, float32 ``(N, H, W, C)``; boxes are
``(x_min, y_min, x_max, y_max)`` pixel boxes with exclusive maxima (as in
:func:`xaibench.evaluate.relevance_ratio`), one list per image; masks are bool ``(N, H, W)``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

# keras.applications modules that have a ``preprocess_input``, plus the three raw modes of
# ``keras.applications.imagenet_utils.preprocess_input``.
KERAS_PREPROCESS = (
    "vgg16", "vgg19", "resnet", "resnet50", "resnet_v2", "resnet_rs", "mobilenet",
    "mobilenet_v2", "mobilenet_v3", "inception_v3", "inception_resnet_v2", "xception",
    "densenet", "nasnet", "efficientnet", "efficientnet_v2", "regnet", "convnext",
)
PREPROCESS_MODES = ("caffe", "tf", "torch")


def check_choice(name: str, value, choices):
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not supported; choose one of "
                         f"{', '.join(repr(c) for c in choices)}.")
    return value


def data_home() -> str:
    """Where the real data sets are looked for by default: ``$XAIBENCH_DATA`` or
    ``~/.xaibench/data``."""
    return os.path.expanduser(os.environ.get("XAIBENCH_DATA", "~/.xaibench/data"))


@dataclass
class Dataset:
    """Images, labels and, where they exist, ground truth for localisation.

    x: float32 ``(N, H, W, C)``, channels last, already preprocessed for the model.
    y: int64 ``(N,)`` class indices (-1 where no label is known).
    boxes: ``None`` or one list of ``(x_min, y_min, x_max, y_max)`` int boxes per image, pixels
        of ``x``, exclusive maxima (the convention of :func:`xaibench.evaluate.relevance_ratio`).
    masks: ``None`` or bool ``(N, H, W)`` object masks.
    class_names: names of the class indices, when known.
    ids: one identifier per image (file stem, sample name, ...).
    images: the displayable images, float32 in [0, 1], when ``x`` was preprocessed (else None:
        ``x`` itself is displayable); see :attr:`display`.
    meta: anything else a loader knows (documented per loader).
    train: the training split, when the loader made one alongside this (test) split
        (:func:`xaibench.data.digits`); then :meth:`split` and unpacking give the 4-tuple
        ``x_train, y_train, x_test, y_test = ds``.
    """

    x: np.ndarray
    y: np.ndarray
    boxes: list | None = None
    masks: np.ndarray | None = None
    class_names: list | None = None
    name: str = "dataset"
    ids: list | None = None
    images: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    train: "Dataset | None" = field(default=None, repr=False)

    def __post_init__(self):
        self.x = np.asarray(self.x, dtype=np.float32)
        self.y = np.asarray(self.y, dtype=np.int64).reshape(-1)
        n = len(self.x)
        if self.x.ndim != 4:
            raise ValueError(f"Dataset x must be (N, H, W, C), got shape {self.x.shape}.")
        if len(self.y) != n:
            raise ValueError(f"Dataset has {n} images but {len(self.y)} labels.")
        if self.boxes is not None:
            self.boxes = [[tuple(int(v) for v in b) for b in bs] for bs in self.boxes]
            if len(self.boxes) != n:
                raise ValueError(f"Dataset has {n} images but {len(self.boxes)} box lists.")
        if self.masks is not None:
            self.masks = np.asarray(self.masks, dtype=bool)
            if self.masks.shape != self.x.shape[:3]:
                raise ValueError(f"Dataset masks have shape {self.masks.shape}; expected "
                                 f"{self.x.shape[:3]} (N, H, W).")
        if self.ids is not None:
            self.ids = list(self.ids)
            if len(self.ids) != n:
                raise ValueError(f"Dataset has {n} images but {len(self.ids)} ids.")
        if self.images is not None:
            self.images = np.asarray(self.images, dtype=np.float32)
            if self.images.shape[:3] != self.x.shape[:3]:
                raise ValueError(f"Dataset images have shape {self.images.shape}; expected "
                                 f"{self.x.shape[:3]} + (C,).")

    def __len__(self) -> int:
        return len(self.x)

    def __repr__(self) -> str:
        gt = [k for k in ("boxes", "masks") if getattr(self, k) is not None]
        return (f"Dataset({self.name!r}, x={self.x.shape}, classes="
                f"{self.num_classes}, ground truth={'+'.join(gt) or 'none'})")

    def split(self) -> tuple:
        """``(x_train, y_train, x_test, y_test)``: the arrays of :attr:`train` and of this
        data set (the tuple :func:`xaibench.data.digits` returned before it returned a
        Dataset)."""
        if self.train is None:
            raise ValueError(f"{self.name} has no training split; split() needs a Dataset "
                             "made with one (xb.data.digits()), e.g. clutter_train_test() "
                             "gives (train, test) Datasets")
        return self.train.x, self.train.y, self.x, self.y

    def __iter__(self):
        """With a :attr:`train` split: the 4-tuple of :meth:`split` (so
        ``x_train, y_train, x_test, y_test = xb.data.digits()`` works as it always did);
        without: one single-image Dataset after another."""
        if self.train is not None:
            return iter(self.split())
        return (self.subset(i) for i in range(len(self)))

    @property
    def num_classes(self):
        if self.class_names is not None:
            return len(self.class_names)
        return int(self.y.max()) + 1 if len(self.y) else 0

    @property
    def display(self) -> np.ndarray:
        """Images to show (heatmap overlays): ``images`` if set, else ``x`` clipped to [0, 1]."""
        return self.images if self.images is not None else np.clip(self.x, 0.0, 1.0)

    def subset(self, index) -> "Dataset":
        """The images selected by a slice, an int array or a bool mask (meta arrays with one
        entry per image are selected too)."""
        idx = np.arange(len(self))[index]
        idx = np.atleast_1d(idx)
        n = len(self)

        def pick(v):
            if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == n:
                return v[idx]
            if isinstance(v, list) and len(v) == n:
                return [v[i] for i in idx]
            return v

        return Dataset(
            self.x[idx], self.y[idx],
            boxes=None if self.boxes is None else [self.boxes[i] for i in idx],
            masks=None if self.masks is None else self.masks[idx],
            class_names=self.class_names, name=self.name,
            ids=None if self.ids is None else [self.ids[i] for i in idx],
            images=None if self.images is None else self.images[idx],
            meta={k: pick(v) for k, v in self.meta.items()})

    __getitem__ = subset


class LazyDataset:
    """A folder-backed data set whose images are decoded only when selected.

    The catalogue (file names, labels, boxes in the files' own pixels) is read when
    the data set is made, so a missing file or unknown class fails at once; pixels
    are decoded, resized and preprocessed per selection. A batch evaluation of a
    whole validation set holds one shard of images at a time (ImageNet's 50,000
    validation images at 224 x 224 are 30 GB as float32).

    ``read(indices) -> Dataset``: the images at those positions of the catalogue.
    """

    def __init__(self, name: str, n: int, read):
        self.name = name
        self._n = int(n)
        self._read = read

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"LazyDataset({self.name!r}, {self._n} images, decoded on selection)"

    def subset(self, index) -> Dataset:
        """The decoded :class:`Dataset` of the images selected by a slice, an int array
        or a bool mask."""
        return self._read(np.atleast_1d(np.arange(self._n)[index]))

    __getitem__ = subset

    def load(self) -> Dataset:
        """Every image, decoded (as the loader returns without ``lazy=True``)."""
        return self._read(np.arange(self._n))


def _resolve_preprocess(preprocess):
    if preprocess is None or callable(preprocess):
        return preprocess
    if not isinstance(preprocess, str):
        raise TypeError(f"preprocess must be None, a callable or a name, got {preprocess!r}.")
    if preprocess in ("unit", "raw"):
        return preprocess
    from tensorflow import keras

    if preprocess in PREPROCESS_MODES:
        from tensorflow.keras.applications import imagenet_utils

        return lambda a: imagenet_utils.preprocess_input(a, mode=preprocess)
    module = getattr(keras.applications, preprocess, None)
    fn = getattr(module, "preprocess_input", None)
    if fn is None:
        raise ValueError(
            f"preprocess={preprocess!r} is not known; pass None/'unit' (pixels / 255), 'raw' "
            f"(0..255), a mode of {', '.join(PREPROCESS_MODES)}, a keras.applications module "
            f"name ({', '.join(KERAS_PREPROCESS)}) or a callable taking float32 RGB in 0..255.")
    return fn


def apply_preprocess(pixels: np.ndarray, preprocess):
    """``(x, images)`` from float32 pixels in 0..255: ``x`` for the model and the displayable
    ``images`` in [0, 1] (None when ``x`` already is that).

    ``preprocess``: None or "unit" -> pixels / 255; "raw" -> 0..255; "caffe" / "tf" / "torch"
    -> ``keras.applications.imagenet_utils.preprocess_input(mode=...)``; a keras.applications
    module name such as "vgg16" -> its ``preprocess_input``; or a callable on 0..255 pixels.
    """
    fn = _resolve_preprocess(preprocess)
    pixels = np.asarray(pixels, dtype=np.float32)
    unit = pixels / np.float32(255.0)
    if fn is None or fn == "unit":
        return unit, None
    if fn == "raw":
        return pixels, unit
    out = np.asarray(fn(pixels.copy()), dtype=np.float32)
    if out.shape[:3] != pixels.shape[:3]:
        raise ValueError(f"preprocess returned shape {out.shape} for images {pixels.shape}; it "
                         "must keep (N, H, W).")
    return out, unit


# --------------------------------------------------------------------------- resize and crop

def resize_geometry(width: int, height: int, size: int, crop: bool = True):
    """Scale and offset of the resize used by the real-image loaders.

    ``crop=True`` (Kohlbrenner et al., Sec. 3, ImageNet): the shortest side is scaled to
    ``size`` and the longer side centre-cropped to ``size``. ``crop=False`` (their PASCAL VOC
    protocol): the whole image is rescaled to ``size`` x ``size``.
    Returns ``(sx, sy, left, top)``: a point ``(x, y)`` of the original image lands at
    ``(x * sx - left, y * sy - top)`` in the output.
    """
    if not crop:
        return size / width, size / height, 0, 0
    s = size / min(width, height)
    new_w, new_h = max(size, round(width * s)), max(size, round(height * s))
    return s, s, (new_w - size) // 2, (new_h - size) // 2


def resize_image(img, size: int, crop: bool = True, resample=None):
    """Resize a PIL image as :func:`resize_geometry` says; returns ``(array, geometry)``."""
    from PIL import Image

    resample = Image.BILINEAR if resample is None else resample
    sx, sy, left, top = geometry = resize_geometry(img.width, img.height, size, crop)
    # The output window in original pixel coordinates (PIL maps it exactly onto the output).
    src = (left / sx, top / sy, (left + size) / sx, (top + size) / sy)
    out = img.resize((size, size), resample=resample, box=src)
    return np.asarray(out), geometry


def transform_boxes(boxes, geometry, size: int):
    """Scale, shift and clip boxes (float, exclusive maxima, original pixels) to the output of
    :func:`resize_image`; min edges are floored and max edges ceiled (every pixel the object
    touches is inside), boxes with nothing left inside the crop are dropped.
    Returns ``(int boxes list, kept indices)``."""
    sx, sy, left, top = geometry
    out, kept = [], []
    eps = 1e-6
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        a = min(max(np.floor(x0 * sx - left + eps), 0), size)
        b = min(max(np.floor(y0 * sy - top + eps), 0), size)
        c = min(max(np.ceil(x1 * sx - left - eps), 0), size)
        d = min(max(np.ceil(y1 * sy - top - eps), 0), size)
        if c > a and d > b:
            out.append((int(a), int(b), int(c), int(d)))
            kept.append(i)
    return out, kept


def load_rgb(path):
    """A PIL RGB image (greyscale, CMYK and palette images converted)."""
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")
