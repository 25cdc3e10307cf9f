"""Peak memory of reading a folder data set for a batch run: all images at once (the
loader's default) against one shard range at a time (``lazy=True``, what the runner does).

A folder in the ImageNet-validation layout is generated (copies of one 300 x 200 JPEG
with its box file; nothing is downloaded), read at 224 x 224 with VGG-16 preprocessing
through ``xaibench.runner.datasets.load`` and walked shard by shard. Reported: the
tracemalloc peak of Python / numpy allocations, in total and per image. Eager memory
grows with the number of images (x, the display images and the decoded pixels); lazy
memory with the shard size only.

    .venv/bin/python benchmarks/folder_data_memory.py                 # 200 and 400 images
    .venv/bin/python benchmarks/folder_data_memory.py --images 1000 --shard 16
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import tracemalloc

import numpy as np
from PIL import Image

ANNOTATION = ("<annotation><size><width>300</width><height>200</height><depth>3</depth></size>"
              "<object><name>n01440764</name><bndbox><xmin>101</xmin><ymin>51</ymin>"
              "<xmax>200</xmax><ymax>150</ymax></bndbox></object></annotation>")


def make_folder(root: str, n: int) -> None:
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "boxes"))
    rng = np.random.default_rng(0)
    first = os.path.join(root, "images", "ILSVRC2012_val_00000001.JPEG")
    Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8)).save(first, quality=90)
    for i in range(1, n + 1):
        stem = f"ILSVRC2012_val_{i:08d}"
        if i > 1:
            shutil.copy(first, os.path.join(root, "images", stem + ".JPEG"))
        with open(os.path.join(root, "boxes", stem + ".xml"), "w") as f:
            f.write(ANNOTATION)
    with open(os.path.join(root, "LOC_synset_mapping.txt"), "w") as f:
        f.write("n01440764 tench, Tinca tinca\n")


def peak_mib(root: str, lazy: bool, shard: int) -> float:
    from xaibench.runner.datasets import load

    tracemalloc.start()
    data = load({"name": "imagenet_val", "root": root, "preprocess": "vgg16", "lazy": lazy})
    for start in range(0, len(data), shard):
        part = data.slice(start, start + shard)
        del part
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, nargs="+", default=[200, 400])
    ap.add_argument("--shard", type=int, default=16, help="images per shard (the runner's default)")
    args = ap.parse_args()
    print(f"{'images':>7} {'reading':<22} {'peak MiB':>9} {'MiB/image':>10}")
    for n in args.images:
        root = tempfile.mkdtemp(prefix="xaibench_folder_")
        try:
            make_folder(root, n)
            for lazy in (False, True):
                peak = peak_mib(root, lazy, args.shard)
                what = f"per shard of {args.shard}" if lazy else "all at once"
                print(f"{n:>7} {what:<22} {peak:9.0f} {peak / n:10.2f}")
        finally:
            shutil.rmtree(root)


if __name__ == "__main__":
    main()
