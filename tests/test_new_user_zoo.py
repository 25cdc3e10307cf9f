"""What a new user meets first: the shipped trained models, the README example, the
demo's lrp.epsilon, one return type for the data loaders."""
import logging
import os
import re

import numpy as np
import pytest

import xaibench as xb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _accuracy(model, x, y) -> float:
    return float((model.predict(x, verbose=0).argmax(axis=1) == y).mean())


@pytest.mark.parametrize("name, load, n, documented, doc", [
    ("digits", lambda: xb.data.digits(), 450, 0.9889, "0.989"),
    ("mnist", lambda: xb.data.mnist_sample(), 1250, 0.9616, "0.962")])
def test_shipped_digit_models_have_their_documented_accuracy(name, load, n, documented, doc):
    model = xb.zoo.shipped(name)
    data = load()
    assert len(data) == n
    assert _accuracy(model, data.x, data.y) == pytest.approx(documented, abs=0.003)
    assert doc in xb.zoo.shipped.__doc__ and xb.zoo.SHIPPED_MODELS[name][3] == documented


def test_shipped_clutter_model_has_its_documented_accuracy():
    from xaibench.runner.datasets import load

    documented = xb.zoo.SHIPPED_MODELS["clutter"][3]
    model = xb.zoo.shipped("clutter")
    data = load({"name": "clutter", "n": 500})         # the data a run's "clutter" is
    assert _accuracy(model, data.x, data.y) == pytest.approx(documented, abs=0.003)
    assert "0.80" in xb.zoo.shipped.__doc__
    assert xb.zoo.shipped("demo").count_params() == model.count_params()


def test_shipped_models_load_for_inference_without_the_optimizer_warning(caplog):
    with caplog.at_level(logging.WARNING):
        model = xb.zoo.shipped("digits")
    assert getattr(model, "optimizer", None) is None   # not compiled: no optimizer state
    assert not [r for r in caplog.records if "optimizer" in r.getMessage()]
    with pytest.raises(ValueError, match="no shipped model 'cifar'.*digits, mnist, clutter, demo"):
        xb.zoo.shipped("cifar")


@pytest.mark.parametrize("builder", ["mnist_cnn", "cifar_cnn", "caffenet", "vgg16"])
def test_untrained_builders_say_so(builder):
    doc = getattr(xb.zoo, builder).__doc__
    assert re.search(r"[Uu]ntrained|random", doc), builder
    assert "untrained" in xb.zoo.__doc__


def test_cli_warns_in_one_line_when_an_untrained_zoo_model_is_explained(tmp_path, capsys):
    from xaibench.cli import main

    assert main(["explain", "--model", "mnist_cnn", "--data", "digits", "--analyzers",
                 "gradient", "--n", "1", "--out", str(tmp_path)]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["xaibench explain: warning: model 'mnist_cnn' is the untrained mnist_cnn "
                   "architecture (random weights, explanations of chance-level predictions); "
                   "give a trained .keras file, a shipped model (digits, mnist, clutter), or e.g. "
                   "'vgg16:imagenet' for VGG-16's ImageNet weights."]


def test_readme_example_runs_on_the_trained_model():
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("\n## Example\n", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert "xb.zoo.shipped(" in code and "mnist_cnn()" not in code
    ns: dict = {}
    exec(compile(code, "README.md example", "exec"), ns)
    R, x, y, model = ns["R"], ns["x"], ns["y"], ns["model"]
    assert R.shape == x.shape and R.dtype == np.float32 and np.isfinite(R).all()
    assert np.abs(R).sum() > 0
    assert _accuracy(model, x, y) >= 7 / 8                 # a trained model, not chance


def test_readme_config_example_loads():
    import yaml

    from xaibench.runner import from_mapping

    text = open(os.path.join(ROOT, "README.md")).read()
    section = text.split("\n## Batch runs and the command line\n", 1)[1]
    config = from_mapping(yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0]))
    assert config.model == "digits" and [a.label for a in config.analyzers] == [
        "gradient", "lrp.epsilon(epsilon=0.1)"]


def test_demo_runs_lrp_epsilon_with_an_epsilon_that_changes_the_map():
    """iNNvestigate's default epsilon (1e-7) gives lrp.z's map on the demo model; the
    demo's 0.1 does not (relative difference about 0.5 on these images)."""
    from xaibench.demo import DEMO_PARAMS, demo_config
    from xaibench.runner.datasets import load

    steps = {a.name: a for a in demo_config(4).analyzers}
    assert steps["lrp.epsilon"].params == {"epsilon": 0.1} == DEMO_PARAMS["lrp.epsilon"]
    model = xb.zoo.shipped("demo")
    data = load({"name": "clutter", "n": 4})

    def maps(name, **params):
        return xb.create_analyzer(name, model, **params).analyze(data.x, neuron_selection=data.y)

    z = maps("lrp.z").reshape(4, -1)

    def rel(R):
        return np.linalg.norm(R.reshape(4, -1) - z, axis=1) / np.linalg.norm(z, axis=1)

    assert rel(maps("lrp.epsilon")).max() < 1e-3               # the default: lrp.z
    assert rel(maps("lrp.epsilon", epsilon=0.1)).min() > 0.3    # the demo's: another map


def test_digits_returns_a_dataset_that_unpacks_as_the_old_tuple():
    ds = xb.data.digits()
    assert isinstance(ds, xb.data.Dataset) and ds.name == "digits-test"
    x_train, y_train, x_test, y_test = ds                     # the old 4-tuple
    assert x_train.shape == (1347, 28, 28, 1) and x_test.shape == (450, 28, 28, 1)
    assert np.array_equal(x_test, ds.x) and np.array_equal(y_test, ds.y)
    assert all(np.array_equal(a, b) for a, b in zip(ds.split(), (x_train, y_train, ds.x, ds.y)))
    assert np.array_equal(ds.train.x, x_train) and len(ds.train) == 1347
    small = xb.data.digits(size=16, seed=1)
    _, _, x16, _ = small
    assert x16.shape == (450, 16, 16, 1)
    assert np.array_equal(xb.data.load("digits", split="train").y, y_train)
    with pytest.raises(ValueError, match="has no training split"):
        xb.data.clutter(2).split()
    assert [len(d) for d in xb.data.clutter(2)] == [1, 1]     # other sets iterate per image


def test_a_saved_model_of_grey_images_without_a_channel_axis_runs_on_the_data_sets(tmp_path):
    """Keras' MNIST examples build ``Input((28, 28))``; the data sets have (N, 28, 28, 1):
    the loaded file takes those (its own layers: the same outputs as on x[..., 0]), and
    ``xaibench explain`` runs LRP and occlusion on it."""
    import tensorflow as tf

    from xaibench.cli import main

    L = tf.keras.layers
    tf.keras.utils.set_random_seed(4)
    model = tf.keras.Sequential([L.Input((28, 28)), L.Flatten(), L.Dense(8, activation="relu"),
                                 L.Dense(10, activation="softmax")])
    path = str(tmp_path / "mlp.keras")
    model.save(path)
    loaded = xb.zoo.load(path)
    assert tuple(loaded.input_shape) == (None, 28, 28, 1)
    x = xb.data.digits().x[:4]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x[..., 0], verbose=0),
                               rtol=1e-6, atol=1e-7)
    out = tmp_path / "explained"
    assert main(["explain", "--model", path, "--data", "digits", "--analyzers",
                 "lrp.epsilon,occlusion", "--n", "2", "--out", str(out)]) == 0
    with np.load(out / "heatmaps.npz") as f:
        assert f["lrp.epsilon"].shape == (2, 28, 28, 1) and np.abs(f["lrp.epsilon"]).max() > 0
