"""``imagenet_val``: ILSVRC 2012 validation images with their bounding boxes, resized as in
Kohlbrenner et al. (2020), Sec. 3: "the shortest side is rescaled to fit the model input and the
longest side is center-cropped to obtain a quadratic input shape. Bounding box information is
adjusted correspondingly."

Expected layout of ``root`` (any of these):

    root/images/ILSVRC2012_val_00000001.JPEG   + root/boxes/ILSVRC2012_val_00000001.xml
    root/ILSVRC2012_img_val/*.JPEG             + root/val/*.xml   (the official archives)
    root/*.JPEG and root/*.xml side by side

plus a synset list for the labels (unless ``label_map`` is given): ``root/LOC_synset_mapping.txt``
(lines "n01440764 tench, Tinca tinca", line number = class index, as in Kaggle's ImageNet
localisation challenge; a file with one wnid per line works too) or ``imagenet_class_index.json``
of keras.applications. Box files are PASCAL VOC XML (1-based, inclusive pixel coordinates).
"""
from __future__ import annotations

import functools
import glob
import json
import os
import warnings
import xml.etree.ElementTree as ET
from typing import NamedTuple

import numpy as np

from xaibench.data._dataset import (Dataset, LazyDataset, apply_preprocess, data_home,
                                    load_rgb, resize_image, transform_boxes)

IMAGE_EXTENSIONS = (".jpeg", ".jpg", ".png")
SYNSET_FILES = ("LOC_synset_mapping.txt", "synsets.txt", "synset_words.txt",
                "imagenet_class_index.json")

_IMAGENET_HELP = (
    "Download the ILSVRC 2012 validation images (ILSVRC2012_img_val.tar) and their boxes "
    "(ILSVRC2012_bbox_val_v3.tgz) from https://image-net.org/download-images (free account), "
    "extract the JPEGs into {root}/images and the XML files into {root}/boxes (or both side by "
    "side in {root}), and put LOC_synset_mapping.txt (one 'wnid name' line per class, in class "
    "index order) into {root}, or pass label_map={{wnid: index}}.")


def read_voc_xml(path, one_based: bool = True) -> dict:
    """A PASCAL-VOC-format annotation file: ``{"filename", "width", "height", "objects":
    [{"name", "box": (x_min, y_min, x_max, y_max) float, 0-based with exclusive maxima,
    "difficult": bool}]}``. ``one_based``: the file's coordinates are 1-based and inclusive
    (PASCAL VOC and ILSVRC), so x_min - 1 and x_max give the 0-based exclusive box."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path} is not a valid XML annotation file: {err}") from err
    size = root.find("size")

    def num(node, tag, default=None):
        el = None if node is None else node.find(tag)
        if el is None or el.text is None or not el.text.strip():
            if default is not None:
                return default
            raise ValueError(f"{path}: <{tag}> is missing.")
        return float(el.text)

    objects = []
    for obj in root.iter("object"):
        bb = obj.find("bndbox")
        name = obj.findtext("name", "").strip()
        if bb is None or not name:
            continue
        x0, y0, x1, y1 = (num(bb, t) for t in ("xmin", "ymin", "xmax", "ymax"))
        if one_based:
            x0, y0 = x0 - 1, y0 - 1
        objects.append({"name": name, "box": (x0, y0, x1, y1),
                        "difficult": obj.findtext("difficult", "0").strip() == "1"})
    return {"filename": root.findtext("filename", "").strip(),
            "width": int(num(size, "width", 0)), "height": int(num(size, "height", 0)),
            "objects": objects}


def read_synsets(path) -> tuple[dict, list]:
    """``(label_map wnid -> index, class names)`` from a synset file (see module docstring)."""
    if str(path).endswith(".json"):
        with open(path) as f:
            index = json.load(f)
        pairs = sorted((int(k), v) for k, v in index.items())
        return {v[0]: k for k, v in pairs}, [v[1] for _, v in pairs]
    label_map, names = {}, []
    with open(path) as f:
        for line in f:
            parts = line.strip().split(maxsplit=1)
            if not parts:
                continue
            label_map[parts[0]] = len(names)
            names.append(parts[1] if len(parts) > 1 else parts[0])
    return label_map, names


def _find_dirs(root):
    img_dirs = [os.path.join(root, d) for d in ("images", "ILSVRC2012_img_val")] + [root]
    box_dirs = [os.path.join(root, d) for d in ("boxes", "val", "Annotations")] + [root]

    def images_in(d):
        return sorted(p for p in glob.glob(os.path.join(d, "*"))
                      if p.lower().endswith(IMAGE_EXTENSIONS))

    images = next((images_in(d) for d in img_dirs if os.path.isdir(d) and images_in(d)), [])
    box_dir = next((d for d in box_dirs
                    if os.path.isdir(d) and glob.glob(os.path.join(d, "*.xml"))), None)
    return images, box_dir


def imagenet_val(root=None, size: int = 224, preprocess=None, limit: int | None = None,
                 label_map: dict | None = None, crop: bool = True, synsets=None,
                 lazy: bool = False):
    """ILSVRC validation images with boxes from ``root`` (layout: module docstring; default
    ``data_home()/imagenet_val``), sorted by file name, the first ``limit`` with a box file.

    Resizing (Kohlbrenner et al., Sec. 3): shortest side to ``size``, centre crop (``crop=False``:
    rescale the whole image to ``size`` x ``size``); boxes are scaled, shifted and clipped to
    the crop (:func:`xaibench.data.transform_boxes`), boxes entirely outside are dropped.
    Label: the class of the first object in the XML file, through ``label_map`` (wnid -> index)
    or the synset file ``synsets`` (default: the first of :data:`SYNSET_FILES` in ``root``);
    boxes: those of the objects of that class.
    ``meta``: "wnid", "original_size" (width, height) per image.
    ``lazy=True``: a :class:`~xaibench.data.LazyDataset` (the box files are read now, the
    images decoded when selected) for sets larger than memory.
    """
    from xaibench._checks import check_in_range

    check_in_range("size", size, 8, 4096, integer=True)
    if limit is not None:
        check_in_range("limit", limit, 1, None, integer=True)
    root = os.path.join(data_home(), "imagenet_val") if root is None else os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"ImageNet validation folder {root} does not exist. "
                                + _IMAGENET_HELP.format(root=root))
    images, box_dir = _find_dirs(root)
    if not images or box_dir is None:
        what = "no JPEG images" if not images else "no XML box files"
        raise FileNotFoundError(f"{root} has {what}. " + _IMAGENET_HELP.format(root=root))

    class_names = None
    if label_map is None:
        if synsets is not None and not os.path.isfile(synsets):
            raise FileNotFoundError(f"synset file {synsets} does not exist.")
        syn = synsets if synsets is not None else next(
            (os.path.join(root, f) for f in SYNSET_FILES if os.path.isfile(os.path.join(root, f))),
            None)
        if syn is None:
            raise FileNotFoundError(
                f"no synset list in {root} (looked for {', '.join(SYNSET_FILES)}) to turn wnids "
                "into class indices. Put LOC_synset_mapping.txt (Kaggle ImageNet Object "
                "Localization Challenge; one 'wnid name' line per class in class-index order) "
                "there, or pass label_map={wnid: index}.")
        label_map, class_names = read_synsets(syn)
    elif not isinstance(label_map, dict) or not label_map:
        raise TypeError("label_map must be a non-empty dict {wnid: class index}.")

    rows, skipped = [], 0            # the catalogue: no pixel is decoded here
    for path in images:
        if limit is not None and len(rows) >= limit:
            break
        stem = os.path.splitext(os.path.basename(path))[0]
        xml = os.path.join(box_dir, stem + ".xml")
        if not os.path.isfile(xml):
            skipped += 1
            continue
        ann = read_voc_xml(xml)
        if not ann["objects"]:
            skipped += 1
            continue
        wnid = ann["objects"][0]["name"]
        if wnid not in label_map:
            raise ValueError(f"{xml}: class {wnid!r} is not in the label map / synset list.")
        own = [o["box"] for o in ann["objects"] if o["name"] == wnid]
        rows.append(_Row(path, stem, wnid, int(label_map[wnid]), own))
    if skipped:
        warnings.warn(f"imagenet_val: skipped {skipped} image(s) without a box file or object.",
                      stacklevel=2)
    if not rows:
        raise FileNotFoundError(f"no image in {root} has a matching XML box file in {box_dir}. "
                                + _IMAGENET_HELP.format(root=root))
    read = functools.partial(_read_rows, rows, size=size, crop=crop, preprocess=preprocess,
                             class_names=class_names)
    return LazyDataset("imagenet_val", len(rows), read) if lazy else read(np.arange(len(rows)))


class _Row(NamedTuple):
    path: str
    stem: str
    wnid: str
    label: int
    boxes: list          # the label's boxes, original pixels (float, exclusive maxima)


def _read_rows(rows, index, size, crop, preprocess, class_names) -> Dataset:
    """Decode, resize and preprocess the catalogue rows at ``index``."""
    pixels, boxes, sizes = [], [], []
    for i in index:
        img = load_rgb(rows[i].path)
        arr, geom = resize_image(img, size, crop)
        pixels.append(arr)
        boxes.append(transform_boxes(rows[i].boxes, geom, size)[0])
        sizes.append((img.width, img.height))
    picked = [rows[i] for i in index]
    x, disp = apply_preprocess(np.stack(pixels).astype(np.float32), preprocess)
    return Dataset(x, np.asarray([r.label for r in picked], np.int64), boxes=boxes,
                   class_names=class_names, name="imagenet_val", ids=[r.stem for r in picked],
                   images=disp, meta={"wnid": [r.wnid for r in picked],
                                      "original_size": np.asarray(sizes, np.int64)})
