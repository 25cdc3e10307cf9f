"""Batch runs: resumable after SIGKILL, config changes refused, the CLI's happy paths
and one-line errors, the report's statistics."""
import json
import re
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import stats
from raw_results import rows as raw_rows

from xaibench.cli import main as cli
from xaibench.report import report, summary
from xaibench.runner import ConfigError, RunFolderError, from_mapping, plan_shards, run

CONFIG = {
    "model": "digits",
    "data": {"name": "digits", "n": 48},
    "analyzers": ["gradient", {"name": "lrp.epsilon", "params": {"epsilon": 0.01}}],
    "metrics": [{"name": "aopc", "params": {"region": 7, "steps": 8, "repeats": 2}},
                "complexity"],
    "shard_size": 2,
    "seed": 3,
}


def table(folder):
    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    rows = db.execute("SELECT image, analyzer, metric, setting, step, value FROM results").fetchall()
    db.close()
    return rows


def shards_done(folder):
    path = os.path.join(folder, "results.sqlite")
    if not os.path.exists(path):
        return 0
    try:
        db = sqlite3.connect(path, timeout=1)
        n = db.execute("SELECT count(*) FROM shards").fetchone()[0]
        db.close()
        return n
    except sqlite3.OperationalError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "full"
    run(from_mapping(CONFIG), str(folder), progress=False).close()
    return folder


def test_sigkill_then_resume_gives_the_rows_of_an_uninterrupted_run(tmp_path, uninterrupted,
                                                                   capsys):
    """The run is killed while it holds its fourth shard (``shard_hooks.hold``, called by
    the hooked CLI before each shard), so exactly the three before are finished."""
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps(CONFIG))
    out = tmp_path / "killed"
    shards = plan_shards(48, from_mapping(CONFIG))
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "hold").write_text(shards[3].id)
    tests = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", XAIBENCH_SHARD_HOOK="shard_hooks:hold",
               XAIBENCH_TEST_HOOK_DIR=str(hooks),
               PYTHONPATH=os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p))
    cmd = [sys.executable, "-c", "import shard_hooks; shard_hooks.cli()", "evaluate",
           "--config", str(cfg), "--out", str(out), "--quiet"]
    err = open(tmp_path / "stderr.txt", "w+")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 600      # the synchronisation's limit, not a timing check
    while not (hooks / "held").exists() or not (hooks / "held").read_text():
        assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()[-2000:]
        assert time.time() < deadline, f"the run never reached {shards[3].id}"
        time.sleep(0.05)
    assert int((hooks / "held").read_text()) == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    err.close()
    assert proc.returncode == -signal.SIGKILL
    assert shards_done(out) == 3, "the three shards before the held one are kept"
    # resumed in this process, without the hook
    assert cli(["evaluate", "--config", str(cfg), "--out", str(out), "--quiet"]) == 0, \
        capsys.readouterr().err[-2000:]
    rows = table(out)
    assert len(rows) == len(set(r[:5] for r in rows))          # none twice
    assert sorted(rows) == sorted(table(uninterrupted))         # exactly the same rows
    assert shards_done(out) == len(shards)


def test_changed_config_in_the_same_folder_is_refused(uninterrupted):
    changed = dict(CONFIG, seed=4)
    with pytest.raises(RunFolderError, match="different config"):
        run(from_mapping(changed), str(uninterrupted), progress=False)


def test_an_analyzer_setting_the_model_refuses_stops_the_run_before_any_shard(tmp_path):
    """The gradient shards come first in the plan; a Grad-CAM layer the model does not have
    is still refused before them, with the layers it does have."""
    config = dict(CONFIG, analyzers=["gradient", {"name": "grad_cam",
                                                  "params": {"layer": "conv_9"}}])
    with pytest.raises(ValueError, match=r"layer 'conv_9' is not a layer of model"):
        run(from_mapping(config), str(tmp_path / "run"), progress=False)
    assert shards_done(tmp_path / "run") == 0


def test_rerun_of_a_finished_run_adds_nothing(uninterrupted):
    before = table(uninterrupted)
    run(from_mapping(CONFIG), str(uninterrupted), progress=False).close()
    assert table(uninterrupted) == before


def test_manifest_records_config_seed_and_versions(uninterrupted):
    manifest = json.loads((uninterrupted / "manifest.json").read_text())
    assert manifest["config"]["seed"] == 3 and manifest["seed"] == 3
    import tensorflow as tf

    assert manifest["versions"]["tensorflow"] == tf.__version__
    assert manifest["versions"]["numpy"] == np.__version__
    assert (uninterrupted / "run.log").read_text().count("shard ") == len(
        plan_shards(48, from_mapping(CONFIG)))


def test_report_statistics_and_files(uninterrupted):
    rows = table(uninterrupted)
    png = np.array([v for i, a, m, s, k, v in rows
                    if a == "gradient" and m == "complexity" and s == "png"])
    got = {(a, m, s): (n, mean, lo, hi) for a, m, s, n, mean, lo, hi in summary(uninterrupted)}
    n, mean, lo, hi = got["gradient", "complexity", "png"]
    half = stats.t.ppf(0.975, len(png) - 1) * png.std(ddof=1) / np.sqrt(len(png))
    assert n == 48 and mean == pytest.approx(png.mean()) and hi - mean == pytest.approx(half)
    assert ("baseline", "aopc(region=7,repeats=2,steps=8)", "random") in got
    path = report(str(uninterrupted))
    text = open(path).read()
    assert "| gradient | complexity | png | 48 |" in text and "aopc.png" in text
    assert (uninterrupted / "aopc.png").stat().st_size > 1000


@pytest.mark.parametrize("change,match", [
    ({"analyzers": ["lrp.epsilom"]}, "unknown analyzer 'lrp.epsilom'.*lrp.epsilon"),
    ({"metrics": ["aopcc"]}, "unknown metric"),
    ({"shard_size": 0}, "shard_size must be a positive int"),
    ({"target": "true"}, "target must be one of label, predicted"),
    ({"data": {"name": "nowhere"}}, "data must name one of"),
    ({"colour": "red"}, "unknown config key"),
    ({"analyzers": []}, "non-empty list"),
    ({"save_heatmaps": "yes"}, "true or false"),
])
def test_bad_config_values(change, match):
    with pytest.raises(ConfigError, match=match):
        from_mapping(dict(CONFIG, **change))


def test_cli_happy_paths(tmp_path, capsys):
    assert cli(["list"]) == 0
    listing = capsys.readouterr().out
    assert "lrp.cmp_alpha2_flat" in listing and "relevance_ratio" in listing
    assert "kohlbrenner" in listing and "Towards best practice" in listing
    assert cli(["explain", "--analyzers", "gradient,lrp.z", "--n", "3",
                "--out", str(tmp_path / "ex")]) == 0
    with np.load(tmp_path / "ex" / "heatmaps.npz") as f:
        assert f["lrp.z"].shape == (3, 48, 48, 3)          # the demo model on clutter
    assert cli(["explain", "--model", "digits", "--data", "digits", "--analyzers", "lrp.z",
                "--n", "2", "--out", str(tmp_path / "ex2")]) == 0
    with np.load(tmp_path / "ex2" / "heatmaps.npz") as f:
        assert f["lrp.z"].shape == (2, 28, 28, 1)
    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: demo\ndata: {name: clutter, n: 4}\nanalyzers: [gradient, occlusion]\n"
                   "metrics: [complexity, relevance_ratio, pointing_game]\nsave_heatmaps: true\n"
                   "shard_size: 2\n")
    assert cli(["evaluate", "--config", str(cfg), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert cli(["report", str(tmp_path / "run")]) == 0
    assert (tmp_path / "run" / "heatmaps.png").exists()
    assert (tmp_path / "run" / "mu_by_size.png").exists()
    assert (tmp_path / "run" / "heatmaps" / "gradient[0:2].npz").exists()


def test_cli_demo_on_a_few_images(tmp_path, capsys):
    """The demo's whole config (every analyzer and metric) on two images."""
    assert cli(["demo", "--images", "2", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "lrp.cmp_alpha1_flat" in out and "report:" in out
    assert (tmp_path / "demo" / "report.md").exists()
    rows = table(tmp_path / "demo")
    assert {r[1] for r in rows} >= {"baseline", "occlusion", "rmpd", "lime", "lrp.cam"}


@pytest.mark.parametrize("argv,match", [
    (["explain", "--analyzers", "nope", "--out", "x"], "unknown analyzer 'nope'"),
    (["explain", "--analyzers", "gradient", "--data", "nope", "--out", "x"], "unknown data set"),
    (["evaluate", "--config", "/no/such.yaml", "--out", "x"], "does not exist"),
    (["report", "/no/such/run"], "not a run folder"),
    (["demo", "--images", "0"], "--images must be at least 1"),
])
def test_cli_errors_are_one_line(argv, match, capsys):
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert re.search(match, err)


def test_cli_bad_flag_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "xaibench", "evaluate", "--nope"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unrecognized arguments: --nope" in proc.stderr.splitlines()[-1] or \
        "required" in proc.stderr.splitlines()[-1]


def test_cli_bad_config_value_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps(dict(CONFIG, shard_size=-1)))
    assert cli(["evaluate", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == ["xaibench evaluate: error: shard_size must be a positive int, "
                                "got -1"]


def test_cli_refuses_a_keras2_model_file_on_keras3_in_one_line(tmp_path, capsys):
    import zipfile

    from xaibench._keras import is_keras3

    if not is_keras3():
        pytest.skip("Keras 2 reads its own .keras files; the refusal is Keras 3's")
    model = tmp_path / "old.keras"
    with zipfile.ZipFile(model, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "2.14.0"}))
        z.writestr("config.json", "{}")
    cfg = tmp_path / "old.json"
    cfg.write_text(json.dumps(dict(CONFIG, model=str(model))))
    assert cli(["evaluate", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith(
        f"xaibench evaluate: error: {model} was saved by Keras 2.14.0")
    assert "Traceback" not in "".join(err)


def test_heatmap_file_names_hold_any_analyzer_label():
    from xaibench.runner.engine import Shard
    from xaibench.runner.store import heatmap_file

    assert heatmap_file(Shard("lrp.epsilon(epsilon=0.01)", 0, 16)) == \
        "lrp.epsilon(epsilon=0.01)[0:16].npz"
    a = heatmap_file(Shard("pattern.attribution(patterns=/tmp/a/p.npz)", 0, 4))
    b = heatmap_file(Shard("pattern.attribution(patterns=/tmp/b/p.npz)", 0, 4))
    assert "/" not in a and a != b and a.endswith("[0:4].npz")


def test_target_predicted_explains_the_models_class(tmp_path):
    """kept_score's "whole" is the probability of the explained class: with target
    predicted it is each image's largest probability, computed here by the model (an
    untrained CNN, so predictions and labels differ)."""
    import tensorflow as tf

    import xaibench as xb
    from xaibench.runner import from_mapping, run
    from xaibench.runner.datasets import load

    tf.keras.utils.set_random_seed(1)
    path = str(tmp_path / "untrained.keras")
    xb.zoo.mnist_cnn().save(path)
    mapping = {"model": path, "data": {"name": "digits", "n": 12}, "analyzers": ["gradient"],
               "metrics": ["kept_score"], "shard_size": 12}
    label = from_mapping(mapping)
    predicted = from_mapping(dict(mapping, target="predicted"))
    assert "target" not in label.to_dict() and predicted.digest() != label.digest()
    data = load({"name": "digits", "n": 12})
    p = tf.keras.models.load_model(path).predict(data.x, verbose=0)
    assert (p.argmax(axis=1) != data.y).any()
    for name, config, expected in [("l", label, p[np.arange(12), data.y]),
                                   ("p", predicted, p.max(axis=1))]:
        run(config, str(tmp_path / name), progress=False).close()
        whole = {i: v for i, _, m, s, _, v in raw_rows(str(tmp_path / name)) if s == "whole"}
        np.testing.assert_allclose([whole[i] for i in range(12)], expected, rtol=1e-4)


def test_model_specs_with_weights_and_untrained_warning(tmp_path):
    from xaibench.runner.engine import load_model

    with pytest.warns(UserWarning, match="untrained mnist_cnn architecture"):
        m = load_model("mnist_cnn")
    assert m.output_shape == (None, 10)
    with pytest.raises(ValueError, match="takes no weights"):
        load_model("mnist_cnn:imagenet")
    missing = str(tmp_path / "vgg.h5")
    with pytest.raises(FileNotFoundError, match="vgg.h5"):
        load_model(f"vgg16:{missing}")
    with pytest.raises(ValueError, match="neither digits / mnist / clutter / demo"):
        load_model("resnet9")
    with pytest.raises(ValueError, match="neither"):
        load_model("tf")                 # a module attribute of zoo, not a builder
    with pytest.raises(ValueError, match="neither"):
        load_model("load_file")          # a zoo function, not a builder


def test_folder_data_is_decoded_one_shard_at_a_time(tmp_path, monkeypatch):
    """A run over an ImageNet-layout folder decodes each image once, one image range at a
    time, and gives the rows of the same run over the eagerly loaded images (npz)."""
    import tensorflow as tf

    import xaibench as xb
    import xaibench.data._imagenet as imagenet
    from fake_folders import make_imagenet
    from xaibench.runner.datasets import save_npz

    root = tmp_path / "imagenet"
    make_imagenet(root)
    eager = xb.data.imagenet_val(root, size=32)
    npz = save_npz(str(tmp_path / "eager.npz"), eager.x, eager.y, boxes=eager.boxes)
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.Input((32, 32, 3)),
                                 tf.keras.layers.Conv2D(4, 3, activation="relu"),
                                 tf.keras.layers.GlobalAveragePooling2D(),
                                 tf.keras.layers.Dense(2)])
    model_path = str(tmp_path / "tiny.keras")
    model.save(model_path)
    mapping = {"model": model_path, "analyzers": [
        {"name": "occlusion", "params": {"patch": 8}},
        {"name": "occlusion", "params": {"patch": 16}}],
        "metrics": ["relevance_ratio", "pointing_game"], "shard_size": 1}

    selections = []
    real_read = imagenet._read_rows

    def counting(rows, index, **kwargs):
        selections.append(list(index))
        return real_read(rows, index, **kwargs)

    monkeypatch.setattr(imagenet, "_read_rows", counting)
    lazy = dict(mapping, data={"name": "imagenet_val", "root": str(root), "size": 32})
    run(from_mapping(lazy), str(tmp_path / "lazy"), progress=False).close()
    assert selections == [[0], [1]]      # baseline + 2 analyzers per range, one decode each
    run(from_mapping(dict(mapping, data={"name": "npz", "path": npz})), str(tmp_path / "npz"),
        progress=False).close()
    lazy_rows, npz_rows = (sorted(raw_rows(str(tmp_path / name)), key=lambda r: r[:5])
                           for name in ("lazy", "npz"))
    assert [r[:5] for r in lazy_rows] == [r[:5] for r in npz_rows] and len(lazy_rows) > 10
    values = np.array([[np.nan if r[5] is None else r[5] for r in rows]
                       for rows in (lazy_rows, npz_rows)], float)
    assert np.isfinite(values).sum() > 10
    np.testing.assert_allclose(values[0], values[1], rtol=1e-6)
