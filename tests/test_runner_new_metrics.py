"""The metrics of issue 16 as runner metrics (road, randomisation, insertion_deletion, abpc,
faithfulness_correlation, sparseness): a run's rows equal the xb.evaluate functions called
directly on the same images (the run cut in two shards: the image ids make the noise that of
one call), the report shows their scores, curves and sanity check, and failed shards are
listed in the report."""
import os

import numpy as np
import pytest

import xaibench as xb
from xaibench import report
from xaibench.runner import from_mapping, run
from xaibench.runner.engine import Shard
from xaibench.runner.metrics import DESCRIPTIONS, METRICS, SCALAR
from xaibench.runner.store import RunStore

NEW = ("road", "randomisation", "insertion_deletion", "abpc", "faithfulness_correlation",
       "sparseness")
SEED = 3
ROAD = {"fractions": [0.2, 0.6], "order": ["morf", "lerf"]}
RAND = {"similarity": ["spearman", "ssim"], "layers": ["conv3", "predictions"]}
INSDEL = {"steps": 6}
ABPC = {"region": 8, "steps": 4, "repeats": 2}
FC = {"runs": 8}
CONFIG = {"model": "demo", "data": {"name": "clutter", "n": 4},
          "analyzers": ["gradient", {"name": "lrp.epsilon", "params": {"epsilon": 0.1}}],
          "metrics": [{"name": "road", "params": ROAD},
                      {"name": "randomisation", "params": RAND},
                      {"name": "insertion_deletion", "params": INSDEL},
                      {"name": "abpc", "params": ABPC},
                      {"name": "faithfulness_correlation", "params": FC},
                      "sparseness"],
          "shard_size": 2, "seed": SEED, "save_heatmaps": True}


@pytest.fixture(scope="module")
def new_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("new_metrics") / "run"
    config = from_mapping(CONFIG)
    run(config, str(folder), progress=False).close()
    return folder, config


def _rows(folder):
    import sqlite3

    db = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    rows = db.execute("SELECT image, analyzer, metric, setting, step, value FROM results").fetchall()
    db.close()
    out = {}
    for image, analyzer, metric, setting, step, value in rows:
        out[analyzer, metric.split("(")[0], setting, step, image] = \
            np.nan if value is None else value
    return out


def _expected(name, params):
    """The rows ``{(analyzer, metric, setting, step, image): value}`` of the xb.evaluate
    functions called once on the run's 4 images (heatmaps computed shard by shard, as the
    runner does)."""
    from xaibench.runner.datasets import load

    model = xb.zoo.shipped("demo")
    data = load({"name": "clutter", "n": 4})
    x, y = data.x, data.y
    R = np.concatenate([xb.create_analyzer(name, model, **params).analyze(
        x[k:k + 2], neuron_selection=y[k:k + 2]) for k in (0, 2)])
    label = from_mapping(dict(CONFIG, analyzers=[{"name": name, "params": params}])
                         ).analyzers[0].label
    out = {}

    def put(metric, setting, curve, score):
        for i in range(len(x)):
            out[label, metric, setting, SCALAR, i] = float(score[i])
            for k in range(0 if curve is None else curve.shape[1]):
                out[label, metric, setting, k, i] = float(curve[i, k])

    for order in ROAD["order"]:
        r = xb.evaluate.road(model, x, R, y=y, fractions=ROAD["fractions"], order=order,
                             seed=SEED)
        put("road", order, r["values"], r["values"].mean(1))
        c = r["correct"].astype(float)
        put("road", f"{order}_accuracy", c, c.mean(1))
    r = xb.evaluate.randomisation(model, x, name, y=y, analyzer_params=params, seed=SEED,
                                  similarity=RAND["similarity"], layers=RAND["layers"])
    assert r["layers"] == ["predictions", "conv3"]            # top down
    for s in RAND["similarity"]:
        put("randomisation", s, r[s], r[s][:, -1])
    r = xb.evaluate.insertion_deletion(model, x, R, y=y, seed=SEED, **INSDEL)
    put("insertion_deletion", "deletion", r["deletion"], r["deletion_auc"])
    put("insertion_deletion", "insertion", r["insertion"], r["insertion_auc"])
    r = xb.evaluate.abpc(model, x, R, y=y, seed=SEED, **ABPC)
    put("abpc", "abpc", None, r["abpc"])
    for key in ("morf", "lerf"):
        curve = r[key].mean()
        for i in range(len(x)):
            for k in range(curve.shape[1]):
                out[label, "abpc", key, k, i] = float(curve[i, k])
    # the runner's default subset_size: the function's 224 (48x48 images: 224 <= 2304 / 4)
    r = xb.evaluate.faithfulness_correlation(model, x, R, y=y, seed=SEED, **FC)
    put("faithfulness_correlation", "correlation", None, r["correlation"])
    put("sparseness", "gini", None, xb.evaluate.sparseness(R))
    return out


def test_the_new_metrics_are_registered_and_listed():
    assert set(NEW) <= set(METRICS) and set(NEW) <= set(DESCRIPTIONS)
    assert all(METRICS[m].baseline is None for m in NEW)           # no analyzer-free baseline


@pytest.mark.parametrize("name,params", [("gradient", {}), ("lrp.epsilon", {"epsilon": 0.1})])
def test_run_rows_equal_the_evaluate_functions(new_run, name, params):
    folder, _ = new_run
    got = _rows(folder)
    want = _expected(name, params)
    label = next(iter(want))[0]
    ours = {k: v for k, v in got.items() if k[0] == label}
    assert set(ours) == set(want)
    keys = sorted(want)
    np.testing.assert_allclose([ours[k] for k in keys], [want[k] for k in keys],
                               rtol=1e-5, atol=1e-5, equal_nan=True)


def test_report_has_the_scores_curves_and_sanity_check(new_run):
    folder, _ = new_run
    rows = report.summary(str(folder))
    got = {(a, m.split("(")[0], s): n for a, m, s, n, mean, lo, hi in rows}
    for setting in ("morf", "lerf", "morf_accuracy", "lerf_accuracy"):
        assert got["gradient", "road", setting] == 4
    assert got["gradient", "randomisation", "spearman"] == 4
    assert got["gradient", "sparseness", "gini"] == 4
    assert got["gradient", "abpc", "abpc"] == 4
    text = open(report.report(str(folder))).read()
    assert "## Randomisation sanity check" in text
    assert "Failed shards" not in text                          # none failed
    sanity = report.sanity_check(str(folder))
    assert [r["analyzer"] for r in sanity] == ["gradient", "lrp.epsilon(epsilon=0.1)"]
    for png in ("road_0_morf.png", "road_0_lerf_accuracy.png", "randomisation_1_spearman.png",
                "deletion_2.png", "insertion_2.png"):
        assert os.path.getsize(folder / png) > 1000, png
        assert f"({png})" in text
    line = [l for l in text.splitlines() if l.startswith("| gradient | sparseness | gini | 4 |")]
    assert line and "[" in line[0]                              # with its 95 % interval


def test_randomisation_needs_the_analyzer_and_refuses_unknown_parameters():
    from xaibench.runner.engine import Context
    from xaibench.runner.metrics import randomisation, sparseness

    ctx = Context(None, np.zeros((1, 4, 4, 1), np.float32), np.zeros(1, int), None, None, 0,
                  np.arange(1))
    with pytest.raises(ValueError, match="analyzer"):
        randomisation(ctx, None, {})
    with pytest.raises(ValueError, match="does not take colour"):
        sparseness(ctx, np.zeros((1, 4, 4, 1)), {"colour": 1})


def test_failed_shards_are_listed_in_the_report(tmp_path):
    config = from_mapping({"model": "demo", "data": {"name": "clutter", "n": 4},
                           "analyzers": ["gradient", "lime"], "metrics": ["sparseness"],
                           "shard_size": 2})
    folder = str(tmp_path / "run")
    store = RunStore(folder, config)
    store.write_shard(Shard("gradient", 0, 2), [(i, "gradient", "sparseness", "gini", -1, 0.5)
                                                for i in range(2)], seconds=0.1)
    store.write_failure(Shard("lime", 2, 4), "MemoryError: out of memory | on image 3", 3)
    assert store.failed() == {"lime[2:4]": "MemoryError: out of memory | on image 3"}
    store.close()
    assert report.failed_shards(folder) == [{"shard": "lime[2:4]", "analyzer": "lime",
                                             "error": "MemoryError: out of memory | on image 3",
                                             "tries": 3}]
    text = open(report.report(folder)).read()
    section = text.split("## Failed shards")[1].split("\n## ")[0]
    assert "1 shard failed" in section
    assert "| lime[2:4] | 3 | MemoryError: out of memory / on image 3 |" in section


def test_randomisation_evaluate_at_and_given_heatmaps_give_the_same_numbers():
    """evaluate_at only skips the comparisons of the other steps (the cascade still
    randomises every layer), and the original heatmaps passed in equal recomputing them."""
    from xaibench.runner.datasets import load

    model = xb.zoo.shipped("demo")
    data = load({"name": "clutter", "n": 3})
    x, y = data.x, data.y
    full = xb.evaluate.randomisation(model, x, "gradient", y=y, similarity="spearman")
    assert full["layers"][0] == "predictions" and full["layers"][-1] == "conv1"
    R = xb.create_analyzer("gradient", model).analyze(x, neuron_selection=y)
    some = xb.evaluate.randomisation(model, x, "gradient", y=y, similarity="spearman",
                                     evaluate_at=["conv1", "predictions", "conv2"], heatmaps=R)
    assert some["layers"] == ["predictions", "conv2", "conv1"]
    cols = [full["layers"].index(n) for n in some["layers"]]
    np.testing.assert_allclose(some["spearman"], full["spearman"][:, cols], atol=1e-6)
    with pytest.raises(ValueError, match="evaluate_at 'conv9'"):
        xb.evaluate.randomisation(model, x, "gradient", y=y, evaluate_at=["conv9"])
    with pytest.raises(ValueError, match="heatmaps have shape"):
        xb.evaluate.randomisation(model, x, "gradient", y=y, heatmaps=R[:, :4])
