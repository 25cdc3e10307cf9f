"""The run-folder reader: every row type (scalars, curves, NULLs, failures), names by
Step, mapping, label or bare metric name, and a folder read while its run is going on.
References: numpy / scipy on the rows the test wrote itself."""
import math

import numpy as np
import pytest
from scipy import stats

from xaibench.runner import from_mapping
from xaibench.runner.config import Step
from xaibench.runner.engine import Shard
from xaibench.runner.results import RunResults, label_of, t_interval
from xaibench.runner.store import RunStore

AOPC = Step("aopc", {"steps": 2})
CONFIG = {"model": "demo", "data": {"name": "clutter", "n": 4},
          "analyzers": [{"name": "lrp.epsilon", "params": {"epsilon": 0.1}}, "gradient"],
          "metrics": [{"name": "aopc", "params": {"steps": 2}}, "relevance_ratio",
                      {"name": "complexity", "params": {"channel_reduce": "l2"}}],
          "shard_size": 2}
LRP = "lrp.epsilon(epsilon=0.1)"

rng = np.random.default_rng(0)
CURVE = rng.normal(size=(3, 4, 3))           # analyzer, image, step (baseline, lrp, gradient)
MU = {"baseline": [0.3] * 4, LRP: [0.6, 0.5, 0.7, 0.6], "gradient": [0.5, None, 0.6, None]}


def _rows(label, k, start, stop):
    setting = "random" if label == "baseline" else "morf"
    rows = []
    for i in range(start, stop):
        rows.append((i, label, AOPC.label, setting, -1, float(CURVE[k, i, -1])))
        rows += [(i, label, AOPC.label, setting, s, float(CURVE[k, i, s])) for s in range(3)]
        rows.append((i, label, "relevance_ratio", "mu", -1, MU[label][i]))
        if label != "baseline":
            rows.append((i, label, "complexity(channel_reduce=l2)", "png", -1, 100.0 + i))
    return rows


def _write(store, labels, start, stop):
    for k, label in enumerate(("baseline", LRP, "gradient")):
        if label in labels:
            store.write_shard(Shard(label, start, stop), _rows(label, k, start, stop), 0.1)


@pytest.fixture
def folder(tmp_path):
    store = RunStore(str(tmp_path / "run"), from_mapping(CONFIG))
    for start in (0, 2):
        _write(store, ("baseline", LRP, "gradient"), start, start + 2)
    store.write_failure(Shard("gradient", 4, 6), "ValueError: boom", 3)
    store.close()
    return str(tmp_path / "run")


def test_names_order_and_labels(folder):
    res = RunResults(folder)
    assert res.analyzer_labels == ["baseline", LRP, "gradient"]
    assert res.metric_labels == [AOPC.label, "relevance_ratio", "complexity(channel_reduce=l2)"]
    assert res.analyzers[0] == Step("lrp.epsilon", {"epsilon": 0.1})
    # a Step, a config mapping, a (name, params) pair and a label name the same analyzer
    for name in (res.analyzers[0], {"name": "lrp.epsilon", "params": {"epsilon": 0.1}},
                 ("lrp.epsilon", {"epsilon": 0.1}), LRP):
        assert label_of(name) == LRP
        assert res.values(name, AOPC, "morf")[1] == CURVE[1, 1, -1]
    # a bare metric name stands for the run's only metric of that name
    assert res.metric_label("aopc") == AOPC.label
    assert res.metric_label("complexity") == "complexity(channel_reduce=l2)"
    assert res.metric_step("complexity") == Step("complexity", {"channel_reduce": "l2"})
    assert res.settings("baseline", "aopc") == ["random"]


def test_scalars_curves_and_nulls(folder):
    res = RunResults(folder)
    np.testing.assert_array_equal(res.per_image(LRP, "aopc", "morf"), CURVE[1, :, -1])
    steps, curves = res.curves("gradient", "aopc", "morf")
    np.testing.assert_array_equal(steps, [0, 1, 2])
    np.testing.assert_array_equal(curves, CURVE[2])
    steps, mean = res.mean_curve("baseline", AOPC, "random")
    np.testing.assert_allclose(mean, CURVE[0].mean(axis=0), rtol=0, atol=1e-15)
    assert res.mean(LRP, AOPC, "morf") == math.fsum(CURVE[1, :, -1]) / 4
    # NULL -> NaN once; the mean leaves it out
    mu = res.per_image("gradient", "relevance_ratio", "mu")
    assert np.isnan(mu[[1, 3]]).all() and list(mu[[0, 2]]) == [0.5, 0.6]
    assert res.mean("gradient", "relevance_ratio", "mu") == pytest.approx(0.55, abs=1e-15)
    assert res.per_image(LRP, "complexity", "png", images=[3, 7])[0] == 103.0
    assert np.isnan(res.per_image(LRP, "complexity", "png", images=[3, 7])[1])


def test_summary_counts_missing_values_and_matches_scipy(folder):
    res = RunResults(folder)
    by_key = {(s.analyzer, s.metric, s.setting): s for s in res.summary()}
    mu = by_key[("gradient", "relevance_ratio", "mu")]
    assert (mu.n, mu.missing) == (2, 2)
    a = by_key[(LRP, AOPC.label, "morf")]
    v = CURVE[1, :, -1]
    low, high = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
    assert (a.n, a.missing) == (4, 0)
    assert a.mean == pytest.approx(v.mean(), abs=1e-15)
    assert (a.low, a.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
    # config order: analyzers (baseline first), then metrics, settings alphabetically
    keys = [(s.analyzer, s.metric) for s in res.summary()]
    assert keys == sorted(keys, key=lambda k: (res.analyzer_labels.index(k[0]),
                                               res.metric_labels.index(k[1])))
    assert res.missing() == [{"analyzer": "gradient", "metric": "relevance_ratio",
                              "images": 2, "rows": 2, "settings": ["mu"]}]
    assert t_interval([2.0])[0] == 2.0 and math.isnan(t_interval([2.0])[1])


def test_failures_and_shards(folder):
    res = RunResults(folder)
    assert res.failures == [{"shard": "gradient[4:6]", "analyzer": "gradient",
                             "error": "ValueError: boom", "tries": 3}]
    assert len(res.shards) == 6 and res.shards["baseline[2:4]"] == ("baseline", 2, 4)


def test_a_run_in_progress_is_read_as_far_as_it_went(tmp_path):
    """The reader sees the finished shards of a store that is still open for writing, and
    a new reader sees the shards written since."""
    store = RunStore(str(tmp_path / "run"), from_mapping(CONFIG))
    _write(store, ("baseline", LRP), 0, 2)
    early = RunResults(store.folder)
    assert early.images(LRP, "aopc", "morf") == [0, 1]
    assert early.per_image("gradient", "aopc", "morf").size == 0
    assert early.summary()[0].n == 2
    _write(store, ("gradient",), 0, 2)
    _write(store, ("baseline", LRP, "gradient"), 2, 4)
    late = RunResults(store.folder)
    store.close()
    assert late.images("gradient", "aopc", "morf") == [0, 1, 2, 3]
    assert early.images("gradient", "aopc", "morf") == []       # a reader is a snapshot


def test_not_a_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a run folder .*xaibench evaluate"):
        RunResults(str(tmp_path))


def test_ambiguous_bare_metric_name(tmp_path):
    config = dict(CONFIG, metrics=[{"name": "aopc", "params": {"steps": 2}},
                                   {"name": "aopc", "params": {"steps": 3}}])
    RunStore(str(tmp_path / "run"), from_mapping(config)).close()
    with pytest.raises(ValueError, match="2 'aopc' metrics"):
        RunResults(str(tmp_path / "run")).values("gradient", "aopc", "morf")
