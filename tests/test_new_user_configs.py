"""The shipped run configs in configs/: each loads through the runner's parser with
analyzer parameters the analyzers accept, and the small ones run; large data requests
say what they do."""
import glob
import os

import numpy as np
import pytest

import xaibench as xb
from xaibench.runner import load_config, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "**", "*.yaml"), recursive=True))


def _name(path):
    return os.path.relpath(path, os.path.join(ROOT, "configs"))


def _tiny_model(shape, classes):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    L = tf.keras.layers
    return tf.keras.Sequential([tf.keras.Input(shape), L.Conv2D(4, 3, strides=2, activation="relu"),
                                L.MaxPooling2D(2), L.Flatten(),
                                L.Dense(classes, activation="softmax")])


def test_the_configs_folder_has_the_documented_files():
    names = {_name(p) for p in CONFIGS}
    assert {"demo.yaml", "faithfulness_digits.yaml", "localisation_voc2007.yaml",
            "papers/kohlbrenner_table1.yaml", "papers/samek_fig4_lrp.yaml",
            "papers/samek_fig4_gradient.yaml", "papers/seo_fig5.yaml",
            "papers/anjomshoae_digits.yaml"} <= names
    for path in CONFIGS:
        assert open(path).read().startswith("# "), f"{_name(path)} starts without a comment"


@pytest.mark.parametrize("path", CONFIGS, ids=_name)
def test_each_config_loads_and_its_analyzers_accept_their_parameters(path):
    """(demo.yaml equals the demo's config, whose analyzers tests/test_runner.py runs.)"""
    config = load_config(path)
    assert config.analyzers and config.metrics
    if _name(path) == "demo.yaml":
        return
    if config.model == "digits":
        model = xb.zoo.shipped(config.model)
    else:
        assert config.model == "vgg16:imagenet"
        model = _tiny_model((224, 224, 3), 1000)   # the weights are not here: the same input
    for step in config.analyzers:
        xb.create_analyzer(step.name, model, **step.params)


def test_demo_yaml_is_the_demos_config():
    from xaibench.demo import demo_config

    assert load_config(os.path.join(ROOT, "configs", "demo.yaml")) == demo_config(64)


@pytest.mark.parametrize("name", ["faithfulness_digits.yaml", "papers/anjomshoae_digits.yaml"])
def test_the_small_configs_run_on_two_images(name, tmp_path):
    """The configs on embedded data (demo.yaml is the demo's config, which
    tests/test_runner.py runs through ``xaibench demo``)."""
    import dataclasses

    from xaibench.report import summary

    config = load_config(os.path.join(ROOT, "configs", name))
    analyzers = config.analyzers
    if name == "faithfulness_digits.yaml":    # three of its eight (each is built above)
        analyzers = tuple(a for a in analyzers if a.name in ("random", "lrp.epsilon",
                                                             "occlusion"))
        assert len(analyzers) == 3
    config = dataclasses.replace(config, data=dict(config.data, n=2), shard_size=2,
                                 analyzers=analyzers)
    run(config, str(tmp_path), progress=False).close()
    rows = summary(str(tmp_path))
    labels = {a.label for a in config.analyzers}
    assert {r[0] for r in rows} - {"baseline"} == labels
    assert all(n == 2 and np.isfinite(mean) for _, _, _, n, mean, _, _ in rows)


def test_the_folder_localisation_config_runs_on_a_voc_folder(tmp_path):
    """configs/localisation_voc2007.yaml with the VOC layout of tests/fake_folders.py and a
    small model in place of VGG-16 (whose weights are not here)."""
    import dataclasses

    from fake_folders import make_voc
    from xaibench.report import summary

    root, *_ = make_voc(tmp_path)
    config = load_config(os.path.join(ROOT, "configs", "localisation_voc2007.yaml"))
    assert config.data["segmentation"] is True and config.target == "predicted"
    model_path = str(tmp_path / "small.keras")
    _tiny_model((32, 32, 3), 1000).save(model_path)
    # the fake folder lists its images in ImageSets/Main (no Segmentation list)
    data = dict(config.data, root=str(root), size=32, segmentation=False)
    config = dataclasses.replace(config, model=model_path, data=data)
    run(config, str(tmp_path / "run"), progress=False).close()
    got = {(a, m.split("(")[0], s): n for a, m, s, n, *_ in summary(str(tmp_path / "run"))}
    for analyzer in ("gradient", "guided_backprop", "lrp.epsilon(epsilon=0.1)",
                     "lrp.cmp_alpha2_flat", "grad_cam"):
        assert got[analyzer, "pointing_game", "hit"] == 2
        assert got[analyzer, "precision_recall", "max_f"] == 2
        # mu_w is undefined for the second image, whose object fills it (box = image)
        assert got[analyzer, "relevance_ratio", "mu_w"] == 1


def test_a_large_clutter_request_shows_a_progress_bar(capsys):
    from xaibench.data._clutter import PROGRESS_FROM

    xb.data.clutter(3, size=32, digit_scale=(0.3, 0.5))
    assert capsys.readouterr().err == ""                     # small: quiet
    xb.data.clutter(3, size=32, digit_scale=(0.3, 0.5), progress=True)
    err = capsys.readouterr().err
    assert "clutter: making 3 images" in err and "0/3 [" in err
    assert PROGRESS_FROM == 2000


def test_the_runner_says_what_it_does_before_the_first_shard(tmp_path, capsys):
    from xaibench.runner import from_mapping

    config = from_mapping({"model": "digits", "data": {"name": "digits", "n": 2},
                           "analyzers": ["gradient"], "metrics": ["complexity"]})
    run(config, str(tmp_path), progress=True).close()
    err = capsys.readouterr().err
    first_bar = err.index("xaibench run:   0%|")               # the image counter
    assert err.index("xaibench run: loading the model digits") < \
        err.index("xaibench run: loading the data (digits, 2 images)") < first_bar
    assert "2/2 [" in err
    log = (tmp_path / "run.log").read_text()
    assert "loading the model digits" in log and "loading the data (digits, 2 images)" in log
