"""Miniature ImageNet-validation and PASCAL VOC 2007 folders (two images each, known
boxes and masks) for the folder loaders and the runner; nothing is downloaded."""
import numpy as np
from PIL import Image

import xaibench as xb


def voc_xml(path, filename, width, height, objects):
    objs = "".join(
        f"<object><name>{n}</name><difficult>{int(d)}</difficult><bndbox><xmin>{b[0]}</xmin>"
        f"<ymin>{b[1]}</ymin><xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for n, b, d in objects)
    with open(path, "w") as f:
        f.write(f"<annotation><filename>{filename}</filename><size><width>{width}</width>"
                f"<height>{height}</height><depth>3</depth></size>{objs}</annotation>")


def make_imagenet(root, flat=False):
    img_dir = root if flat else root / "images"
    box_dir = root if flat else root / "boxes"
    img_dir.mkdir(parents=True, exist_ok=True)
    box_dir.mkdir(parents=True, exist_ok=True)
    # image A: 300 x 200 (w x h), a red rectangle on pixels x 100..199, y 50..149
    a = np.zeros((200, 300, 3), np.uint8)
    a[50:150, 100:200] = (255, 0, 0)
    Image.fromarray(a).save(img_dir / "ILSVRC2012_val_00000001.JPEG", quality=95)
    voc_xml(box_dir / "ILSVRC2012_val_00000001.xml", "ILSVRC2012_val_00000001", 300, 200, [
        ("n01440764", (101, 51, 200, 150), 0),    # the red rectangle (1-based, inclusive)
        ("n01440764", (1, 1, 40, 100), 0),        # inside the cropped-away left margin
        ("n01440764", (231, 11, 300, 200), 0),    # cut by the right edge of the crop
        ("n02102040", (1, 1, 300, 200), 0),       # another class: not a box of the label
    ])
    # image B: 150 x 400, a green rectangle on pixels x 30..119, y 150..249
    b = np.zeros((400, 150, 3), np.uint8)
    b[150:250, 30:120] = (0, 255, 0)
    Image.fromarray(b).save(img_dir / "ILSVRC2012_val_00000002.JPEG", quality=95)
    voc_xml(box_dir / "ILSVRC2012_val_00000002.xml", "ILSVRC2012_val_00000002", 150, 400, [
        ("n02102040", (31, 151, 120, 250), 0),
        ("n02102040", (1, 1, 150, 100), 0),       # above the centre crop
    ])
    with open(root / "LOC_synset_mapping.txt", "w") as f:
        f.write("n01440764 tench, Tinca tinca\nn02102040 English springer\n")


def make_voc(parent):
    root = parent / "VOCdevkit" / "VOC2007"
    for d in ("JPEGImages", "Annotations", "ImageSets/Main", "SegmentationClass"):
        (root / d).mkdir(parents=True)
    dog, person = xb.data.VOC_CLASSES.index("dog"), xb.data.VOC_CLASSES.index("person")
    img = np.full((100, 200, 3), 40, np.uint8)
    Image.fromarray(img).save(root / "JPEGImages" / "000001.jpg")
    voc_xml(root / "Annotations" / "000001.xml", "000001.jpg", 200, 100, [
        ("dog", (11, 21, 110, 80), 0), ("person", (151, 1, 200, 100), 1)])
    seg = np.zeros((100, 200), np.uint8)
    seg[30:70, 20:100] = dog + 1
    seg[:, 160:195] = person + 1
    seg[29, 20:100] = 255                                    # the VOC "void" border
    png = Image.fromarray(seg, mode="P")
    palette = [0, 0, 0] + [128, 0, 0] * 254 + [224, 224, 192]     # a full 256-entry palette
    png.putpalette(palette)
    png.save(root / "SegmentationClass" / "000001.png")
    Image.fromarray(np.full((80, 60, 3), 90, np.uint8)).save(root / "JPEGImages" / "000002.jpg")
    voc_xml(root / "Annotations" / "000002.xml", "000002.jpg", 60, 80,
             [("cat", (1, 1, 60, 80), 0)])
    png = Image.fromarray(np.full((80, 60), 8, np.uint8), mode="P")
    png.putpalette(palette)
    png.save(root / "SegmentationClass" / "000002.png")
    (root / "ImageSets" / "Main" / "test.txt").write_text("000001\n000002\n")
    return root, seg, dog, person
