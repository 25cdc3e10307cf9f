"""The artefact cache of the reproductions: each kind made once, remade under another key
or when a file it depends on is newer, and never left half-written."""
import os

import numpy as np
import pytest

from xaibench.papers.cache import cached


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return value() if callable(value) else value
    return compute, calls


def test_npz_json_made_once_and_remade_under_another_key(tmp_path):
    arrays = {"a": np.arange(3.0), "b": np.eye(2)}
    compute, calls = _counting(arrays)
    for _ in range(2):
        got = cached(str(tmp_path / "x.npz"), compute, key="k1")
        np.testing.assert_array_equal(got["b"], np.eye(2))
    assert len(calls) == 1 and set(got) == {"a", "b"}
    cached(str(tmp_path / "x.npz"), compute, key="k2")
    assert len(calls) == 2
    compute, calls = _counting({"fill": [0.5, 0.25], "images": 3})
    assert cached(str(tmp_path / "f.json"), compute, key={"n": 3})["images"] == 3
    assert cached(str(tmp_path / "f.json"), compute, key={"n": 3}) == {"fill": [0.5, 0.25],
                                                                      "images": 3}
    assert len(calls) == 1
    cached(str(tmp_path / "f.json"), compute, key={"n": 4})
    assert len(calls) == 2


def test_png_redrawn_when_what_it_draws_is_newer(tmp_path):
    from matplotlib.figure import Figure

    def figure():
        fig = Figure(figsize=(2, 2))
        fig.subplots().plot([0, 1], [1, 0])
        return fig
    compute, calls = _counting(figure)
    data = tmp_path / "data.npz"
    np.savez(data, a=np.zeros(1))
    png = str(tmp_path / "fig.png")
    assert cached(png, compute, depends=[str(data)], dpi=50) == png
    assert cached(png, compute, depends=[str(data)]) == png and len(calls) == 1
    os.utime(data, (os.path.getmtime(png) + 10,) * 2)
    cached(png, compute, depends=[str(data)])
    assert len(calls) == 2 and os.path.getsize(png) > 500


def test_a_failed_compute_leaves_nothing_and_bad_kinds_are_refused(tmp_path):
    def boom():
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError):
        cached(str(tmp_path / "x.npz"), boom)
    assert os.listdir(tmp_path) == []
    with pytest.raises(ValueError, match="use a .npz, .json, .keras or .png path"):
        cached(str(tmp_path / "x.npy"), boom)


def test_keras_model_saved_once_and_loaded_for_inference(tmp_path):
    import tensorflow as tf

    def train():
        model = tf.keras.Sequential([tf.keras.Input((3,)), tf.keras.layers.Dense(2)])
        model.compile("sgd", "mse")
        return model
    compute, calls = _counting(train)
    first = cached(str(tmp_path / "m.keras"), compute)
    again = cached(str(tmp_path / "m.keras"), compute)
    x = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(np.asarray(first(x)), np.asarray(again(x)))
    assert len(calls) == 1 and getattr(again, "optimizer", None) is None
    trainable = cached(str(tmp_path / "m.keras"), compute, trainable=True)
    assert trainable.optimizer is not None and len(calls) == 1
