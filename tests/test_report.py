"""The run report: table order, analyzers below the analyzer-free baseline, missing values
(NULL rows of results.sqlite) and the figures, on a tiny run folder written by the store."""
import json
import os
import sqlite3

import numpy as np
import pytest

from xaibench import report
from xaibench.runner import from_mapping
from xaibench.runner.engine import Shard
from xaibench.runner.store import RunStore

AOPC = "aopc(steps=2)"


@pytest.fixture
def run_folder(tmp_path):
    """4 images; config order occlusion, lime, gradient; lime's AOPC is below random order
    on average (0.20 vs 0.25), gradient has no mu for images 1 and 3 (NULL)."""
    config = from_mapping({"model": "demo", "data": {"name": "clutter", "n": 4},
                           "analyzers": ["occlusion", "lime", "gradient"],
                           "metrics": [{"name": "aopc", "params": {"steps": 2}},
                                       "relevance_ratio"], "shard_size": 4})
    folder = str(tmp_path / "run")
    store = RunStore(folder, config)
    aopc = {"baseline": [0.2, 0.3, 0.2, 0.3], "occlusion": [0.5, 0.6, 0.4, 0.5],
            "lime": [0.1, 0.3, 0.1, 0.3], "gradient": [0.3, 0.2, 0.4, 0.3]}
    mu = {"baseline": [0.3] * 4, "occlusion": [0.6, 0.5, 0.7, 0.6], "lime": [0.4] * 4,
          "gradient": [0.5, None, 0.6, None]}
    for label in ("baseline", "occlusion", "lime", "gradient"):
        setting = "random" if label == "baseline" else "morf"
        rows = []
        for i in range(4):
            rows.append((i, label, AOPC, setting, -1, aopc[label][i]))
            rows += [(i, label, AOPC, setting, k, aopc[label][i] * k / 2) for k in range(3)]
            for key in ("mu", "mu_w"):
                v = mu[label][i]
                rows.append((i, label, "relevance_ratio", key, -1,
                             None if v is None else (v if key == "mu" else v / 0.3)))
            rows.append((i, label, "relevance_ratio", "size", -1, 0.3))
        store.write_shard(Shard(label, 0, 4), rows, seconds=0.1)
    store.close()
    return folder


def test_summary_follows_the_config_order(run_folder):
    rows = report.summary(run_folder)
    analyzers = list(dict.fromkeys(r[0] for r in rows))
    assert analyzers == ["baseline", "occlusion", "lime", "gradient"]
    assert [r[1] for r in rows if r[0] == "lime"] == [AOPC] + ["relevance_ratio"] * 3
    mu = [r for r in rows if r[0] == "gradient" and r[2] == "mu"][0]
    assert mu[3] == 2 and mu[4] == pytest.approx(0.55)          # n drops to the 2 values


def test_below_baseline_and_missing_values(run_folder):
    below = report.below_baseline(run_folder)
    assert [(r["analyzer"], r["setting"], r["baseline_setting"]) for r in below] == \
        [("lime", "morf", "random")]
    lime = below[0]
    assert lime["n"] == 4 and lime["mean"] == pytest.approx(0.2)
    assert lime["baseline"] == pytest.approx(0.25) and lime["difference"] == pytest.approx(-0.05)
    d = np.array([-0.1, 0.0, -0.1, 0.0])
    half = 3.182446305284263 * d.std(ddof=1) / 2                # t(0.975, 3) * s / sqrt(4)
    assert lime["low"] == pytest.approx(-0.05 - half)
    assert lime["high"] == pytest.approx(-0.05 + half)
    # gradient's AOPC mean 0.3 > 0.25 and every mu above uniform: not flagged
    assert report.missing(run_folder) == [{"analyzer": "gradient", "metric": "relevance_ratio",
                                           "images": 2, "rows": 4, "settings": ["mu", "mu_w"]}]
    con = sqlite3.connect(os.path.join(run_folder, "results.sqlite"))
    assert con.execute("SELECT COUNT(*) FROM results WHERE value IS NULL").fetchone() == (4,)
    con.close()


def test_report_names_them_and_draws_the_curves_in_config_order(run_folder):
    text = open(report.report(run_folder)).read()
    section = text.split("## Below the baseline")[1].split("## Missing values")[0]
    assert "**lime** falls below the analyzer-free baseline" in section
    assert f"| lime | {AOPC} | morf vs random | 4 | 0.2 | 0.25 | -0.05 |" in section
    assert "occlusion" not in section and "gradient" not in section
    assert "| gradient | relevance_ratio | mu | 2 | 2 | 0.55 |" in text    # n and missing
    missing = text.split("## Missing values")[1].split("##")[0]
    assert "| gradient | relevance_ratio | 2 | 4 | mu, mu_w |" in missing
    table = [line.split(" | ")[0][2:] for line in text.splitlines()
             if line.startswith("| ") and "aopc" in line and "random" not in line.split("|")[3]]
    assert table[:3] == ["occlusion", "lime", "gradient"]
    assert os.path.getsize(os.path.join(run_folder, "aopc.png")) > 1000
    assert "![AOPC against perturbation steps](aopc.png)" in text
    manifest = json.load(open(os.path.join(run_folder, "manifest.json")))
    assert report.config_order(manifest) == (["baseline", "occlusion", "lime", "gradient"],
                                             [AOPC, "relevance_ratio"])
