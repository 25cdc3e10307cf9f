"""``make demo`` / ``xaibench demo``: explain test digits with several analyzers.

Loads the CNN shipped in ``models/digits_cnn.keras`` (made by
``models/train_digits_cnn.py``; trained here in ~10 s when the file is absent),
explains 8 test digits for their true class and writes a heatmap grid.
"""
from __future__ import annotations

import os
import time

import numpy as np

DEMO_ANALYZERS = ("gradient", "deconvnet", "guided_backprop", "deep_taylor", "lrp.z",
                  "lrp.epsilon", "lrp.alpha_2_beta_1", "lrp.cmp_alpha1_flat", "lrp.cam")
MODEL_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "models", "digits_cnn.keras")


def load_demo_model(path: str = MODEL_FILE):
    """The shipped digits CNN, or a freshly trained one when the file is missing."""
    import tensorflow as tf

    if os.path.isfile(path):
        return tf.keras.models.load_model(path)
    import importlib.util

    script = os.path.join(os.path.dirname(path), "train_digits_cnn.py")
    if not os.path.isfile(script):
        from xaibench import data, zoo

        tf.keras.utils.set_random_seed(0)
        x_train, y_train, _, _ = data.digits()
        model = zoo.mnist_cnn()
        model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
        model.fit(x_train, y_train, epochs=30, batch_size=64, verbose=0)
        return model
    spec = importlib.util.spec_from_file_location("train_digits_cnn", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.train(path)[0]


def run(out: str = "out/demo", n_images: int = 8, analyzers=DEMO_ANALYZERS) -> str:
    import xaibench as xb
    from xaibench.plots import heatmap_grid

    start = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    model = load_demo_model()
    _, _, x_test, y_test = xb.data.digits()
    x, y = x_test[:n_images], y_test[:n_images]
    pred = model.predict(x, verbose=0).argmax(1)
    heatmaps = {}
    for name in analyzers:
        t = time.perf_counter()
        heatmaps[name] = xb.create_analyzer(name, model).analyze(x, neuron_selection=y)
        print(f"  {name:<22} {time.perf_counter() - t:6.2f} s")
    titles = [f"y={a} pred={b}" for a, b in zip(y, pred)]
    path = heatmap_grid(x, heatmaps, os.path.join(out, "heatmaps.png"), titles=titles)
    np.savez_compressed(os.path.join(out, "heatmaps.npz"), x=x, y=y, **heatmaps)
    print(f"explained {len(x)} test digits with {len(heatmaps)} analyzers in "
          f"{time.perf_counter() - start:.1f} s (accuracy on them: {np.mean(pred == y):.2f})")
    print(f"heatmap grid: {os.path.abspath(path)}")
    return path
