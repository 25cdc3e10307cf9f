"""``voc2007``: PASCAL VOC 2007 with boxes and, where segmentations exist, masks.

Layout (as extracted from VOCtrainval_06-Nov-2007.tar / VOCtest_06-Nov-2007.tar)::

    root/JPEGImages/000001.jpg
    root/Annotations/000001.xml
    root/ImageSets/Main/{train,val,trainval,test}.txt
    root/ImageSets/Segmentation/{split}.txt   (optional)
    root/SegmentationClass/000032.png         (optional, palette PNG: 0 background,
                                               1..20 the classes, 255 border)

``root`` may also be the folder that contains ``VOCdevkit/VOC2007``.
Kohlbrenner et al. (2020), Sec. 3, rescale PASCAL VOC images to the input shape without
cropping "to avoid (partially) cropping objects" (``crop=False``, the default here) and evaluate
once per unique (class, image) pair (``per_class=True``).
"""
from __future__ import annotations

import functools
import os
from typing import NamedTuple

import numpy as np

from xaibench.data._dataset import (Dataset, LazyDataset, apply_preprocess, check_choice,
                                    data_home, load_rgb, resize_image, transform_boxes)
from xaibench.data._imagenet import read_voc_xml

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
               "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant",
               "sheep", "sofa", "train", "tvmonitor")

_VOC_HELP = (
    "Download VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar from "
    "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/ and extract them in {parent}, so that "
    "{root}/JPEGImages, {root}/Annotations and {root}/ImageSets/Main exist (or pass "
    "root=.../VOCdevkit/VOC2007).")


def _resolve_root(root):
    for cand in (root, os.path.join(root, "VOC2007"), os.path.join(root, "VOCdevkit", "VOC2007")):
        if os.path.isdir(os.path.join(cand, "Annotations")):
            return cand
    return None


def voc2007(root=None, split: str = "test", size: int = 224, preprocess=None,
            limit: int | None = None, crop: bool = False, per_class: bool = False,
            segmentation: bool = False, include_difficult: bool = True, lazy: bool = False):
    """PASCAL VOC 2007 images of ``split`` (ImageSets/Main/{split}.txt; with
    ``segmentation=True`` ImageSets/Segmentation/{split}.txt), the first ``limit``.

    Images are rescaled to ``size`` x ``size`` (``crop=True``: shortest side + centre crop as
    for ImageNet); boxes are adjusted and clipped. One row per image (``per_class=False``):
    y = the class of the largest object, boxes = that class's boxes; or one row per unique
    (image, class) pair (``per_class=True``, Kohlbrenner et al.). Masks (the row's class in
    SegmentationClass, resized with nearest neighbour) when every selected image has a
    segmentation PNG. ``meta["labels"]``: the multi-hot (N, 20) image labels.
    Default ``root``: ``data_home()/VOCdevkit/VOC2007``.
    ``lazy=True``: a :class:`~xaibench.data.LazyDataset` (annotations read now, images
    decoded when selected) for sets larger than memory.
    """
    from xaibench._checks import check_in_range

    check_choice("split", split, ("train", "val", "trainval", "test"))
    check_in_range("size", size, 8, 4096, integer=True)
    if limit is not None:
        check_in_range("limit", limit, 1, None, integer=True)
    given = os.path.join(data_home(), "VOCdevkit", "VOC2007") if root is None else os.fspath(root)
    root = _resolve_root(given)
    if root is None:
        parent = os.path.dirname(os.path.dirname(os.path.abspath(given)))
        raise FileNotFoundError(f"PASCAL VOC 2007 not found at {given}. "
                                + _VOC_HELP.format(parent=parent, root=given))
    list_file = os.path.join(root, "ImageSets", "Segmentation" if segmentation else "Main",
                             f"{split}.txt")
    if not os.path.isfile(list_file):
        raise FileNotFoundError(f"{list_file} does not exist: the '{split}' split is missing. "
                                + _VOC_HELP.format(parent=os.path.dirname(root), root=root))
    with open(list_file) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    if limit is not None:
        ids = ids[:limit]
    if not ids:
        raise ValueError(f"{list_file} lists no images.")
    seg_paths = [os.path.join(root, "SegmentationClass", i + ".png") for i in ids]
    with_masks = all(os.path.isfile(p) for p in seg_paths)
    if segmentation and not with_masks:
        missing = next(p for p in seg_paths if not os.path.isfile(p))
        raise FileNotFoundError(f"{missing} does not exist; segmentation=True needs the "
                                "SegmentationClass PNGs of VOCtrainval_06-Nov-2007.tar.")

    rows = []                        # the catalogue: no pixel is decoded here
    for image_id, seg_path in zip(ids, seg_paths):
        xml = os.path.join(root, "Annotations", image_id + ".xml")
        jpg = os.path.join(root, "JPEGImages", image_id + ".jpg")
        for p in (xml, jpg):
            if not os.path.isfile(p):
                raise FileNotFoundError(f"{p} is missing (listed in {list_file}). "
                                        + _VOC_HELP.format(parent=os.path.dirname(root),
                                                           root=root))
        ann = read_voc_xml(xml)
        objs = [o for o in ann["objects"] if include_difficult or not o["difficult"]]
        for o in objs:
            if o["name"] not in VOC_CLASSES:
                raise ValueError(f"{xml}: unknown class {o['name']!r}; VOC 2007 has "
                                 f"{', '.join(VOC_CLASSES)}.")
        if not objs:
            continue
        multi = np.zeros(len(VOC_CLASSES), bool)
        for o in objs:
            multi[VOC_CLASSES.index(o["name"])] = True
        if per_class:
            classes = [c for c in range(len(VOC_CLASSES)) if multi[c]]
        else:
            def area(o):
                b = o["box"]
                return (b[2] - b[0]) * (b[3] - b[1])
            classes = [VOC_CLASSES.index(max(objs, key=area)["name"])]
        for c in classes:
            own = [o["box"] for o in objs if o["name"] == VOC_CLASSES[c]]
            rows.append(_Row(jpg, seg_path if with_masks else None, image_id, c, own, multi))
    if not rows:
        raise ValueError(f"no image of {list_file} has an object "
                         f"{'' if include_difficult else '(difficult ones excluded)'}.")
    read = functools.partial(_read_rows, rows, size=size, crop=crop, preprocess=preprocess,
                             name=f"voc2007-{split}")
    return LazyDataset(f"voc2007-{split}", len(rows), read) if lazy \
        else read(np.arange(len(rows)))


class _Row(NamedTuple):
    jpg: str
    seg: str | None      # SegmentationClass PNG, when every selected image has one
    image_id: str
    label: int
    boxes: list          # the label's boxes, original pixels (float, exclusive maxima)
    multi: np.ndarray    # multi-hot image labels (20,)


def _read_rows(rows, index, size, crop, preprocess, name) -> Dataset:
    """Decode, resize and preprocess the catalogue rows at ``index`` (an image with
    several rows, ``per_class=True``, is decoded once)."""
    from PIL import Image

    decoded = {}
    pixels, boxes, masks = [], [], []
    for i in index:
        r = rows[i]
        if r.jpg not in decoded:
            arr, geom = resize_image(load_rgb(r.jpg), size, crop)
            seg = None
            if r.seg is not None:
                with Image.open(r.seg) as s:
                    seg_img = s.convert("P") if s.mode not in ("P", "L") else s.copy()
                seg = resize_image(seg_img, size, crop, resample=Image.NEAREST)[0]
            decoded[r.jpg] = arr, geom, seg
        arr, geom, seg = decoded[r.jpg]
        pixels.append(arr)
        boxes.append(transform_boxes(r.boxes, geom, size)[0])
        if seg is not None:
            masks.append(seg == r.label + 1)
    picked = [rows[i] for i in index]
    x, disp = apply_preprocess(np.stack(pixels).astype(np.float32), preprocess)
    return Dataset(x, np.asarray([r.label for r in picked], np.int64), boxes=boxes,
                   masks=np.stack(masks) if masks else None, class_names=list(VOC_CLASSES),
                   name=name, ids=[r.image_id for r in picked], images=disp,
                   meta={"labels": np.stack([r.multi for r in picked])})
