"""The reproduction framework: side-by-side table, claims, data choice, CLI refusals."""
import json
import os

import numpy as np
import pytest

from xaibench import cli
from xaibench.papers import Reproduction, order_text, ordered, paper_module, reproduce
from xaibench.papers._common import npz_once, parse_data
from xaibench.papers.cache import cached
from xaibench.papers.comparison import markdown_table, vs
from xaibench.runner.datasets import load, save_npz


def test_table_markdown_and_json(tmp_path):
    r = Reproduction("p", "A paper", str(tmp_path), True, "digits")
    r.add("AOPC, LRP", paper=0.5, ours=0.41234)
    r.add("order", claim="LRP > random", holds=np.bool_(True))
    r.add("order 2", claim="random > LRP", holds=False)
    r.add("undecided", claim="needs ImageNet")
    text = r.table().splitlines()
    assert text[0].split() == ["item", "paper", "xaibench", "on", "this", "data"]
    assert text[2].split() == ["AOPC,", "LRP", "0.5", "0.4123"]
    assert text[3].endswith("holds") and text[4] == "    claim: LRP > random"
    assert text[5].endswith("does not hold") and text[7].endswith("undecided")
    assert text[8] == "    claim: needs ImageNet"
    path = r.write()
    md = open(path).read()
    assert "| AOPC, LRP | 0.5 | 0.41234 |  |  |" in md
    saved = json.load(open(tmp_path / "comparison.json"))
    assert [row["holds"] for row in saved["rows"]] == [None, True, False, None]
    assert saved["rows"][0]["ours"] == pytest.approx(0.41234)


def test_terminal_table_fits_100_columns_and_keeps_every_value(tmp_path):
    r = Reproduction("p", "A paper with a rather long title: " + "words " * 20, str(tmp_path),
                     True, "digits")
    long_item = "Fig. 8, probability of the predicted class (image 54, true 4, predicted 8; " \
                "first misclassified test image)"
    r.add(long_item, paper=0.51, ours=0.5593312)
    r.add("Fig. 8, kept high-CI regions: predicted vs true class", paper=vs(0.99, 0.26),
          ours=vs(0.98422, 0.89691), claim="the kept high-CI regions score higher for the "
          "predicted than for the true class", holds=True)
    order = "LRP eps=0.01 > LRP eps=1 > LRP eps=100 > sensitivity (l-inf) > sensitivity (l2)"
    r.add("Fig. 4, ordering on this data", ours=order)
    r.add("Table 1", claim="the composite strategy matters more than its parameters: mean mu_w "
          "of LRP_CMP minus that of uniform LRP (alpha2, alpha1, z) exceeds the spread among "
          "LRP_CMP variants", holds=False)
    printed = str(r)
    lines = printed.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert max(len(line) for line in r.table(width=80).splitlines()) <= 80
    flat = " ".join(printed.split())
    for text in ("0.99 vs 0.26", "0.984 vs 0.897", order,
                 "exceeds the spread among LRP_CMP variants", "does not hold"):
        assert text in flat, text
    head = [k for k, line in enumerate(lines) if line.startswith("item ")][0]
    item_w = lines[head].index("paper")
    first = [k for k, line in enumerate(lines) if line.startswith("Fig. 8, probability")][0]
    assert lines[first][item_w:].split() == ["0.51", "0.5593"]          # values on row 1
    item = " ".join(line[:item_w].strip() for line in lines[first:first + 2])
    assert item == long_item                                           # wrapped in its column
    row = [line for line in lines if line.startswith("Fig. 8, kept high-CI")][0]
    assert "0.99 vs 0.26" in row and "0.984 vs 0.897" in row and row.endswith("holds")
    md = r.markdown()           # the full table keeps one line per row
    assert f"| {long_item} | 0.51 | 0.55933 |  |  |" in md
    assert max(len(line) for line in md.splitlines()) > 100


def test_vs_formats_the_compared_numbers():
    assert vs(0.98422, 0.89691) == "0.984 vs 0.897"
    assert vs(np.float32(0.5), 2, sep=" -> ") == "0.5 -> 2"
    assert vs(1.0, "LRP", sep=", ", digits=2) == "1, LRP"


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


def test_cached_npz_computed_once_per_key_and_never_left_half_written(tmp_path):
    path = str(tmp_path / "c" / "a.npz")
    calls = []

    def compute(v):
        calls.append(v)
        return {"a": np.arange(3) * v}

    first = cached(path, lambda: compute(2), key="k1")
    again = cached(path, lambda: compute(5), key="k1")     # same key: loaded
    np.testing.assert_array_equal(again["a"], [0, 2, 4])
    assert calls == [2] and set(again) == {"a"} and set(first) == {"a"}
    other = cached(path, lambda: compute(3), key="k2")     # new key: recomputed
    np.testing.assert_array_equal(other["a"], [0, 3, 6])
    assert calls == [2, 3] and os.listdir(tmp_path / "c") == ["a.npz"]


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


def test_verdict_is_a_bool_or_none_and_claim_adds_its_row(tmp_path):
    from xaibench.papers.comparison import UNDECIDED, Verdict

    v = Verdict(np.float64(0.3) > 0.1, "0.3 vs 0.1")
    assert v.holds is True and v.shown == "0.3 vs 0.1"
    assert Verdict(np.bool_(False)).holds is False and Verdict(0).holds is False
    assert UNDECIDED.holds is None and UNDECIDED.shown is None
    result = Reproduction("x", "T", str(tmp_path), True, "d")
    row = result.claim("item", "the claim", v, paper="0.5 vs 0.1")
    assert result.rows == [row] and result.claims() == [row]
    assert (row.item, row.paper, row.ours, row.claim, row.holds) == (
        "item", "0.5 vs 0.1", "0.3 vs 0.1", "the claim", True)
    result.write()
    with open(tmp_path / "comparison.json") as fh:
        assert json.load(fh)["rows"][0]["holds"] is True


def test_figure_is_drawn_once_under_figures(tmp_path):
    from matplotlib.figure import Figure

    drawn = []

    def make():
        drawn.append(1)
        fig = Figure(figsize=(1, 1))
        fig.subplots().plot([0, 1])
        return fig
    result = Reproduction("x", "T", str(tmp_path), True, "d")
    for _ in range(2):
        path = result.figure("Fig. 1", "f.png", make, dpi=50)
    assert path == str(tmp_path / "figures" / "f.png") and os.path.isfile(path)
    assert result.figures == {"Fig. 1": path} and drawn == [1]


def test_check_ints_defaults_optional_and_one_line_messages():
    from xaibench.papers._common import check_ints

    limits = {"images": (1, 100), "outer": 2, "seed": 0}
    got = check_ints({"images": None, "outer": None, "seed": 3}, limits,
                     {"images": 12, "outer": lambda done: done["images"] + 4})
    assert got == {"images": 12, "outer": 16, "seed": 3}
    assert check_ints({"images": None}, {"images": 1}, optional=("images",)) == {"images": None}
    with pytest.raises(ValueError, match=r"^images must be an int in 1\.\.100, got 0$"):
        check_ints({"images": 0}, limits)
    with pytest.raises(ValueError, match=r"^seed must be an int >= 0, got None$"):
        check_ints({"images": 5, "outer": 3}, limits)
    with pytest.raises(ValueError, match=r"^bins must be an int >= 2 or None, got 1\.5$"):
        check_ints({"bins": 1.5}, {"bins": 2}, optional=("bins",))


def test_model_data():
    from xaibench.papers._common import model_data

    assert model_data({"name": "clutter"}, 8) == ("demo", {"name": "clutter", "n": 8})
    assert model_data({"name": "imagenet_val", "root": "/d"}, 4) == (
        "vgg16:imagenet", {"name": "imagenet_val", "root": "/d", "n": 4, "preprocess": "vgg16"})


def test_figure_takes_the_reproductions_savefig_defaults(tmp_path):
    from matplotlib.figure import Figure
    from PIL import Image

    def make():
        fig = Figure(figsize=(1, 1))
        fig.subplots().plot([0, 1])
        return fig
    result = Reproduction("x", "T", str(tmp_path), True, "d", savefig={"dpi": 30})
    assert Image.open(result.figure("a", "a.png", make)).size == (30, 30)
    assert Image.open(result.figure("b", "b.png", make, dpi=20)).size == (20, 20)


def test_judged_decides_on_ours_and_shows_the_papers_numbers(tmp_path):
    from xaibench.papers.comparison import Verdict, judged

    def higher(scores, a, b):
        return Verdict(scores[a] > scores[b], vs(scores[a], scores[b]))

    row = judged("LRP vs Gradient", "LRP > Gradient", higher, ({"lrp": 0.41, "grad": 0.43},
                 "lrp", "grad"), paper=({"lrp": 0.423, "grad": 0.419}, "lrp", "grad"))
    assert (row.item, row.claim, row.holds) == ("LRP vs Gradient", "LRP > Gradient", False)
    assert (row.ours, row.paper) == ("0.41 vs 0.43", "0.423 vs 0.419")
    assert judged("i", "c", higher, ({"a": 2, "b": 1}, "a", "b")).paper is None
    result = Reproduction("x", "T", str(tmp_path), True, "d")
    added = result.judge("i", "c", higher, ({"a": 2, "b": 1}, "a", "b"),
                         ({"a": 1, "b": 2}, "a", "b"))
    assert result.rows == [added] and (added.holds, added.ours, added.paper) == (
        True, "2 vs 1", "1 vs 2")


def test_check_folder_data_reads_the_first_image_then_wants_vgg16(tmp_path, monkeypatch):
    import xaibench as xb
    from xaibench.papers._common import check_folder_data

    check_folder_data({"name": "clutter"})                  # nothing to check
    with pytest.raises(FileNotFoundError, match="no JPEG images"):
        check_folder_data({"name": "imagenet_val", "root": str(tmp_path)})
    read = []
    monkeypatch.setattr(xb.data, "voc2007", lambda root, **kw: read.append((root, kw)))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))      # no Keras cache
    with pytest.raises(FileNotFoundError, match="^VGG-16 ImageNet weights are not in the"):
        check_folder_data({"name": "voc2007", "root": "/voc"}, segmentation=True)
    assert read == [("/voc", {"limit": 1, "segmentation": True})]


def test_compiled_and_accuracy():
    import tensorflow as tf

    from xaibench.papers._common import accuracy, compiled

    tf.keras.utils.set_random_seed(0)
    model = compiled(tf.keras.Sequential([tf.keras.layers.Input((2,)),
                                          tf.keras.layers.Dense(2, activation="softmax")]))
    assert model.loss == "sparse_categorical_crossentropy"
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3)
    model.layers[-1].set_weights([np.array([[1.0, -1.0], [-1.0, 1.0]], np.float32),
                                  np.zeros(2, np.float32)])
    x = np.array([[2, 0], [0, 2], [3, 1], [1, 3]], np.float32)    # classes 0, 1, 0, 1
    assert accuracy(model, x, np.array([0, 1, 0, 0])) == 0.75
