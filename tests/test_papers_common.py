"""The reproduction framework: side-by-side table, claims, data choice, CLI refusals."""
import json
import os

import numpy as np
import pytest

from xaibench import cli
from xaibench.papers import Reproduction, order_text, ordered, paper_module, reproduce
from xaibench.papers._common import cached_arrays, npz_once, parse_data
from xaibench.papers.comparison import markdown_table
from xaibench.runner.datasets import load, save_npz


def test_table_markdown_and_json(tmp_path):
    r = Reproduction("p", "A paper", str(tmp_path), True, "digits")
    r.add("AOPC, LRP", paper=0.5, ours=0.41234)
    r.add("order", claim="LRP > random", holds=np.bool_(True))
    r.add("order 2", claim="random > LRP", holds=False)
    r.add("undecided", claim="needs ImageNet")
    text = r.table().splitlines()
    assert text[0].split() == ["item", "paper", "xaibench", "claim", "on", "this", "data"]
    assert "0.41234" in text[2] and "0.5" in text[2]
    assert text[3].endswith("holds") and text[4].endswith("does not hold")
    assert text[5].endswith("undecided")
    path = r.write()
    md = open(path).read()
    assert "| AOPC, LRP | 0.5 | 0.41234 |  |  |" in md
    saved = json.load(open(tmp_path / "comparison.json"))
    assert [row["holds"] for row in saved["rows"]] == [None, True, False, None]
    assert saved["rows"][0]["ours"] == pytest.approx(0.41234)


def test_ordered_claims():
    scores = {"lrp": 0.3, "deconvnet": 0.2, "random": 0.1}
    assert ordered(scores, ["lrp", "deconvnet", "random"])
    assert not ordered(scores, ["deconvnet", "lrp", "random"])
    assert not ordered({"a": 1, "b": 1}, ["a", "b"]) and ordered({"a": 1, "b": 1}, ["a", "b"],
                                                                  strict=False)
    assert order_text(["lrp", "random"], {"lrp": "LRP"}) == "LRP > random"


def test_parse_data(tmp_path):
    assert parse_data(None, "digits", ("digits", "cifar10")) == {"name": "digits"}
    assert parse_data(f"imagenet_val:{tmp_path}", "clutter", ("clutter", "imagenet_val")) == \
        {"name": "imagenet_val", "root": str(tmp_path)}
    with pytest.raises(ValueError, match="choose one of digits, cifar10"):
        parse_data("clutter", "digits", ("digits", "cifar10"))
    with pytest.raises(ValueError, match="needs the data folder"):
        parse_data("imagenet_val", "clutter", ("clutter", "imagenet_val"))
    with pytest.raises(ValueError, match="does not exist"):
        parse_data("imagenet_val:/no/such/dir", "clutter", ("clutter", "imagenet_val"))
    with pytest.raises(ValueError, match="takes no path"):
        parse_data("digits:/x", "digits", ("digits",))


def test_npz_data_round_trip(tmp_path):
    x = np.random.default_rng(0).random((3, 5, 5, 1), np.float32)
    boxes = [[(0, 0, 2, 2)], [], [(1, 1, 4, 5), (0, 0, 1, 1)]]
    path = save_npz(str(tmp_path / "d.npz"), x, [1, 2, 3], boxes=boxes)
    data = load({"name": "npz", "path": path})
    np.testing.assert_array_equal(data.x, x)
    assert data.y.tolist() == [1, 2, 3] and data.boxes == boxes and data.masks is None
    two = load({"name": "npz", "path": path, "n": 2})
    assert len(two.x) == 2 and two.boxes == boxes[:2]
    with pytest.raises(ValueError, match="does not exist"):
        load({"name": "npz", "path": str(tmp_path / "missing.npz")})


def test_unknown_paper_and_option():
    with pytest.raises(ValueError, match="did you mean samek"):
        paper_module("samk")
    with pytest.raises(ValueError, match="has no option"):
        reproduce("seo", quick=True, out="/nonexistent/never", frobnicate=1)


@pytest.mark.parametrize("argv, message", [
    (["reproduce", "nobody"], "unknown paper 'nobody'"),
    (["reproduce", "amorim", "--folds", "1"], "--folds must be at least 2"),
    (["reproduce", "seo", "--folds", "3"], "seo has no option folds"),
    (["reproduce", "kohlbrenner", "--data", "imagenet_val"], "needs the data folder"),
    (["reproduce", "seo", "--set", "nonsense"], "--set expects KEY=VALUE"),
    (["reproduce", "seo", "--set", "frobnicate=3"], "seo has no option frobnicate"),
])
def test_cli_refuses_before_work(argv, message, capsys, tmp_path):
    assert cli.main(argv + ["--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not os.path.exists(tmp_path / "r")


def test_cached_arrays_compute_once_per_key(tmp_path):
    path = str(tmp_path / "c" / "a.npz")
    calls = []

    def compute(v):
        calls.append(v)
        return {"a": np.arange(3) * v}

    first = cached_arrays(path, lambda: compute(2), key="k1")
    again = cached_arrays(path, lambda: compute(5), key="k1")     # same key: loaded
    np.testing.assert_array_equal(again["a"], [0, 2, 4])
    assert calls == [2] and set(again) == {"a"} and set(first) == {"a"}
    other = cached_arrays(path, lambda: compute(3), key="k2")     # new key: recomputed
    np.testing.assert_array_equal(other["a"], [0, 3, 6])
    assert calls == [2, 3] and not os.path.exists(path + ".part.npz")


def test_npz_once_calls_the_label_function_only_when_writing(tmp_path):
    path = str(tmp_path / "d.npz")
    x = np.zeros((2, 4, 4, 1), np.float32)
    assert npz_once(path, x, lambda: np.array([1, 0])) == path
    npz_once(path, x, lambda: pytest.fail("labels recomputed for an existing file"))
    assert load({"name": "npz", "path": path}).y.tolist() == [1, 0]


def test_markdown_table():
    text = markdown_table(["a", "b"], [["x", 0.123456], [None, float("nan")], [True, 12]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| x | 0.1235 |", "| - | nan |",
                                 "| yes | 12 |"]
