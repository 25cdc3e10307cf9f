"""The paper models: layer stacks, regularisation groups, weight loading errors."""
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
    assert model.get_layer("pool5").output_shape == (None, 6, 6, 256)


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
    path = tmp_path / "w.h5"
    ref.save_weights(path)
    loaded = xb.zoo.vgg16(weights=str(path))
    for a, b in zip(ref.get_weights()[-2:], loaded.get_weights()[-2:]):
        np.testing.assert_array_equal(a, b)
