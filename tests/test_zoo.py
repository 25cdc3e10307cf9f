"""The paper models: layer stacks, regularisation groups, weight loading errors."""
import os

import numpy as np
import pytest
import tensorflow as tf

import xaibench as xb

L = tf.keras.layers


def regularised(model):
    return {layer.name for layer in model.layers
            if getattr(layer, "kernel_regularizer", None) is not None}


@pytest.mark.parametrize("group,expected", [
    ("B1", {"block1_conv1", "block1_conv2"}),
    ("B3", {"block3_conv1", "block3_conv2"}),
    ("B", {f"block{b}_conv{c}" for b in (1, 2, 3) for c in (1, 2)}),
    ("D1", {"dense1"}),
    ("D", {"dense1", "dense2"}),
    ("A", {f"block{b}_conv{c}" for b in (1, 2, 3) for c in (1, 2)} | {"dense1", "dense2",
                                                                      "predictions"}),
])
def test_cifar_cnn_regularises_one_group(group, expected):
    model = xb.zoo.cifar_cnn(weight_decay=1e-3, regularize=group)
    assert regularised(model) == expected
    for name in expected:
        assert model.get_layer(name).kernel_regularizer.l2 == pytest.approx(1e-3)
    assert regularised(xb.zoo.cifar_cnn(weight_decay=0.0, regularize=group)) == set()


def test_cifar_cnn_layer_stack():
    model = xb.zoo.cifar_cnn()
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == (["Conv2D", "Conv2D", "MaxPooling2D"] * 3 + ["Flatten", "Dense", "Dense",
                                                                 "Dense"])
    assert model.output_shape == (None, 10) and model.input_shape == (None, 32, 32, 3)
    # Keras's L2 penalty is l2 * sum(w^2)
    m = xb.zoo.cifar_cnn(weight_decay=1e-2, regularize="D2")
    w = m.get_layer("dense2").kernel.numpy()
    assert float(sum(m.losses)) == pytest.approx(1e-2 * float(np.sum(w ** 2)), rel=1e-5)


def test_mnist_cnn_layer_stack():
    model = xb.zoo.mnist_cnn()
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Conv2D", "BatchNormalization", "ReLU", "MaxPooling2D"] * 3 + [
        "Flatten", "Dense"]
    assert model.layers[-1].get_config()["activation"] == "softmax"


def test_caffenet_layer_stack():
    model = xb.zoo.caffenet(num_classes=20)
    assert model.input_shape == (None, 227, 227, 3) and model.output_shape == (None, 20)
    assert model.get_layer("conv1").strides == (4, 4)
    assert tuple(model.get_layer("pool5").output.shape) == (None, 6, 6, 256)


@pytest.mark.parametrize("call,error,match", [
    (lambda: xb.zoo.cifar_cnn(regularize="C"), ValueError, "layer group"),
    (lambda: xb.zoo.cifar_cnn(weight_decay=-1.0), ValueError, "weight_decay"),
    (lambda: xb.zoo.vgg16(weights="/no/such/file.h5"), FileNotFoundError, "weights='imagenet'"),
])
def test_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_vgg16_imagenet_without_cache_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(tf.keras.applications, "VGG16", offline)
    with pytest.raises(FileNotFoundError, match="vgg16_weights_tf_dim_ordering_tf_kernels.h5"):
        xb.zoo.vgg16(weights="imagenet")


def test_vgg16_local_weights_file(tmp_path):
    ref = xb.zoo.vgg16(weights=None)
    path = tmp_path / "w.weights.h5"           # the name Keras 3 requires; Keras 2 reads it too
    ref.save_weights(path)
    loaded = xb.zoo.vgg16(weights=str(path))
    for a, b in zip(ref.get_weights()[-2:], loaded.get_weights()[-2:]):
        np.testing.assert_array_equal(a, b)


def test_weights_npz_round_trip_and_refusals(tmp_path):
    model = xb.zoo.mnist_cnn()
    path = xb.zoo.save_weights_npz(model, str(tmp_path / "m.weights.npz"))
    with np.load(path) as f:
        assert sorted(f.files)[:2] == ["bn1/0", "bn1/1"]
        np.testing.assert_array_equal(f["conv1/0"], model.get_layer("conv1").kernel.numpy())
    other = xb.zoo.load_weights_npz(xb.zoo.mnist_cnn(), path)
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).random((2, 28, 28, 1), np.float32)
    np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())
    with pytest.raises(ValueError, match="weight conv1/0 of layer 'conv1' is shape"):
        xb.zoo.load_weights_npz(xb.zoo.mnist_cnn(filters=(4, 16, 32)), path)
    with pytest.raises(ValueError, match="another architecture"):
        xb.zoo.load_weights_npz(xb.zoo.mnist_cnn(input_shape=(32, 32, 1)), path)


def test_shipped_models_are_zoo_layers_with_npz_weights():
    for name, spec in xb.zoo.SHIPPED_MODELS.items():
        assert spec.file.endswith(".weights.npz") and os.path.isfile(
            os.path.join(xb.zoo.MODELS, spec.file)) and os.path.isfile(
            os.path.join(xb.zoo.MODELS, spec.script))
        model = xb.zoo.shipped(name)
        built = xb.zoo.shipped_architecture(name)
        assert [type(a).__name__ for a in model.layers] == [type(b).__name__
                                                            for b in built.layers]
    assert xb.zoo.shipped("demo").name == "clutter_cnn"


def test_load_file_reads_a_model_saved_by_this_keras(tmp_path):
    model = xb.zoo.mnist_cnn(input_shape=(8, 8, 1), filters=(2, 2, 2))
    path = str(tmp_path / "small.keras")
    model.save(path)
    loaded = xb.zoo.load_file(path)
    x = np.random.default_rng(1).random((3, 8, 8, 1), np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert getattr(loaded, "optimizer", None) is None


def test_load_file_refuses_a_keras2_file_on_keras3(tmp_path):
    import json
    import zipfile

    from xaibench._keras import is_keras3

    if not is_keras3():
        pytest.skip("Keras 2 reads its own .keras files; the refusal is Keras 3's")
    path = str(tmp_path / "old.keras")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "2.14.0"}))
        z.writestr("config.json", "{}")
    with pytest.raises(ValueError, match=r"saved by Keras 2\.14\.0.*save_weights_npz"):
        xb.zoo.load_file(path)
