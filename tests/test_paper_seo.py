"""Seo et al. reproduction: the notebook in quick mode, its numbers checked against
independent references (numpy on the saved heatmaps, SQLite rows, the Keras model),
resume without work, refusal of bad input."""
import json
import os
import sqlite3

import numpy as np
import pytest

from notebooks import outputs_text, read_comparison, run_notebook
from work_counter import count_work
from xaibench import cli
from xaibench.papers import seo

N_QUICK = 12


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seo") / "run"
    nb = run_notebook("seo", str(folder))
    text = outputs_text(nb)
    assert "Fig. 5: RMPD has the highest F-measure" in text
    return str(folder)


def _row(saved, item):
    rows = [r for r in saved["rows"] if r["item"] == item]
    assert len(rows) == 1, item
    return rows[0]


def _masks():
    from xaibench.runner.datasets import load

    return load({"name": "clutter", "n": N_QUICK}).masks


def _rmpd_label(out):
    hdir = os.path.join(out, "runs", "compare", "heatmaps")
    names = [f for f in os.listdir(hdir) if f.startswith("rmpd(")]
    assert len(names) == 1
    return names[0].rsplit("[", 1)[0], os.path.join(hdir, names[0])


def test_claims_figures_and_paper_numbers(out):
    saved = read_comparison(out)
    assert saved["paper"] == "seo" and saved["quick"] is True
    claims = [r for r in saved["rows"] if r["claim"] is not None]
    assert len(claims) >= 8
    assert all(r["holds"] in (True, False, None) for r in claims)
    for item, value in seo.PAPER.items():                # each row shows the paper's number
        assert _row(saved, item)["paper"] == value
    assert len(saved["figures"]) == 4
    for path in saved["figures"].values():
        assert os.path.isfile(path)
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    md = open(os.path.join(out, "comparison.md")).read()
    assert "Fig. 5: mean over thresholds" in md
    assert "## Fig. 4: visual comparison" in md


def test_mean_f_recomputed_from_sqlite_and_heatmaps(out):
    saved = read_comparison(out)
    ours = _row(saved, "Fig. 5: mean F-measure (thresholds 0..1), RMPD")["ours"]
    label, hpath = _rmpd_label(out)
    con = sqlite3.connect(os.path.join(out, "runs", "compare", "results.sqlite"))
    per_image = con.execute("SELECT image, value FROM results WHERE analyzer = ? AND "
                            "setting = 'f' AND step = -1 ORDER BY image", (label,)).fetchall()
    curve = con.execute("SELECT step, AVG(value) FROM results WHERE analyzer = ? AND "
                        "setting = 'f' AND step >= 0 GROUP BY step ORDER BY step",
                        (label,)).fetchall()
    con.close()
    assert [i for i, _ in per_image] == list(range(N_QUICK))
    assert ours == pytest.approx(np.mean([v for _, v in per_image]), abs=1e-12)
    assert np.mean([v for _, v in curve]) == pytest.approx(ours, abs=1e-9)
    # numpy from the saved heatmaps: positive part / max, B = {h >= t}, F1 vs the digit mask
    with np.load(hpath) as f:
        assert f["R"].dtype == np.float16
        R16 = f["R"].astype(np.float64)
    R = R16.sum(-1)
    masks = _masks()
    pos = np.maximum(R, 0).reshape(N_QUICK, -1)
    top = pos.max(axis=1, keepdims=True)
    h = pos / top
    g = masks.reshape(N_QUICK, -1)
    # float16 storage: each channel value carries a rounding of at most 2^-11 of itself
    # (2^-25 absolute below 2^-14), so the channel sum moves by at most eps per pixel, the
    # maximum by at most eps_top, and h = pos / max by at most delta; a pixel can change
    # sides of a threshold t only if |h - t| <= delta. F = 2 tp / (|B| + |G|) is then
    # bounded by the fewest / most pixels that can be in B (and in B and G).
    eps = (np.abs(R16).sum(-1) * 2.0 ** -11 + R16.shape[-1] * 2.0 ** -25).reshape(N_QUICK, -1)
    eps_top = eps.max(axis=1, keepdims=True)
    assert np.all(top > 2 * eps_top)
    delta = (eps + h * eps_top) / (top - eps_top) + 1e-9
    lo, hi = [], []
    for t in np.linspace(0, 1, 101):
        sure, maybe = h >= t + delta, h >= t - delta
        tp_lo, tp_hi = (sure & g).sum(1), (maybe & g).sum(1)
        lo.append(2 * tp_lo / (maybe.sum(1) + g.sum(1)))
        hi.append(2 * tp_hi / (sure.sum(1) + g.sum(1)))
    lo, hi = np.mean(lo), np.mean(hi)
    assert lo - 1e-12 <= ours <= hi + 1e-12
    assert hi - lo < 0.01                   # the bound decides the mean F to 1e-2 or better


def test_per_scale_maps_fuse_to_the_runner_heatmap(out):
    """Alg. 3 recomputed with numpy and the Keras model for two images, from the stored
    segments of each scale (line 4), the prior's mu, sigma (line 2) and the seeded noise
    fields Z_j: region i erased by mu + sigma Z_j (line 6), p(y|x_\\i) by model.predict
    (line 7), s^j = max(0, p(y|x) - p(y|x_\\i)) on region i (line 9); their mean over the
    scales (line 13) is the runner's rmpd heatmap, up to its float16 storage."""
    import tensorflow as tf

    from xaibench.demo import load_shipped_model
    from xaibench.prepare import ends_with_softmax
    from xaibench.runner.datasets import load

    sc = np.load(os.path.join(out, "scales.npz"))
    _, hpath = _rmpd_label(out)
    with np.load(hpath) as f:
        R = f["R"].astype(np.float64)[..., 0]
    assert sc["maps"].shape == (N_QUICK, 5, 48, 48)
    np.testing.assert_allclose(sc["maps"].mean(axis=1), R, atol=2e-3, rtol=2e-3)
    assert [len(np.unique(s)) for s in sc["segments"][0]] == [2, 4, 8, 16, 32]
    d = load({"name": "clutter", "n": N_QUICK})
    model = load_shipped_model("demo")

    def prob(x):                    # p(y | x) of every class, straight from the Keras model
        p = model.predict(x, verbose=0)
        return p if ends_with_softmax(model) else tf.nn.softmax(p).numpy()

    p = prob(d.x)                                   # the Fig. 2 "clean" probability
    np.testing.assert_allclose(sc["p"], p[np.arange(N_QUICK), d.y], atol=1e-4)
    for i in (0, 1):
        x, seg, mu, sigma = d.x[i], sc["segments"][i], sc["mu"][i], sc["sigma"][i]
        # Sec. 3.3: "the variance sigma^2 is fixed at 10.0", on the 0-255 scale of the image
        assert sigma == pytest.approx(np.sqrt(10.0) * (x.max() - x.min()) / 255.0, rel=1e-6)
        regions = [(j, seg[j] == k) for j in range(5) for k in range(2 ** (j + 1))]
        erased = [np.where(inside[..., None], mu + sigma * sc["noise"][j], x)
                  for j, inside in regions]
        scores = prob(np.stack([x] + erased))[:, d.y[i]].astype(np.float64)
        s = np.zeros((5, 48, 48))
        for (j, inside), q in zip(regions, scores[1:]):
            s[j][inside] = max(0.0, scores[0] - q)
        np.testing.assert_allclose(sc["maps"][i], s, rtol=0, atol=1e-6)
        fused = s.mean(axis=0)
        # float16 storage of R: at most 2^-11 of the value (2^-25 absolute below 2^-14),
        # plus 1e-6 for the model's float32 outputs computed in other batches
        assert np.all(np.abs(R[i] - fused) <= np.abs(fused) * 2.0 ** -11 + 2.0 ** -25 + 1e-6)
        assert fused.max() > 0.01                   # the image has a map to compare
    saved = read_comparison(out)
    fig2 = _row(saved, "Fig. 2: class probability, image intact")["ours"]
    assert 0.0 <= fig2 <= 1.0


def test_forward_passes_counted(out):
    from xaibench.papers.cache import KEY

    with open(os.path.join(out, "timing.json")) as fh:
        stored = json.load(fh)
    assert set(stored) == {KEY, "value"}
    tm = stored["value"]
    n = tm["images"]
    assert n == 2
    assert tm["RMPD"]["forward_passes"] == n * (1 + 2 + 4 + 8 + 16 + 32)
    assert tm["RMPD"]["forward_passes"] == tm["RMPD"]["stats_model_images"]
    # quick PD: 4 x 4 windows at stride 3 on 48 px (+ the last position), 4 samples
    per_axis = len(set(range(0, 45, 3)) | {44})
    assert tm["PD"]["forward_passes"] == n * (1 + per_axis ** 2 * 4)
    assert tm["PD"]["forward_passes"] == tm["PD"]["stats_model_images"]
    saved = read_comparison(out)
    assert _row(saved, "Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)")["ours"] == 62
    assert _row(saved, "Sec. 3.3: RMPD needs 2 + 4 + ... + 2^r perturbed passes (+ 1 clean)"
                )["holds"] is True
    speed = _row(saved, "Sec. 4: speed-up of RMPD over PD (paper: two orders of magnitude)"
                 )["ours"]
    assert speed == pytest.approx(tm["PD"]["seconds"] / tm["RMPD"]["seconds"])


def test_resume_does_no_work(out, capsys, monkeypatch):
    files = ["scales.npz", "timing.json"] + [os.path.join("figures", f) for f in
                                             os.listdir(os.path.join(out, "figures"))]
    stamps = {f: os.path.getmtime(os.path.join(out, f)) for f in files}
    counts = count_work(monkeypatch)
    code = cli.main(["reproduce", "seo", "--quick", "--out", out, "--quiet"])
    work = dict(counts)
    monkeypatch.undo()
    assert work["fit"] == work["call"] == work["analyzer"] == 0, work     # no model trained/run
    captured = capsys.readouterr()
    assert code == 0
    assert "Fig. 5: RMPD has the highest F-measure" in captured.out
    assert "xaibench" in captured.out and "on this data" in captured.out
    with open(os.path.join(out, "runs", "compare", "run.log")) as fh:
        starts = [line for line in fh if "shards," in line]
    assert len(starts) == 2 and "6 done, 0 to do" in starts[-1]
    assert stamps == {f: os.path.getmtime(os.path.join(out, f)) for f in stamps}


@pytest.mark.parametrize("argv, message", [
    (["--data", "mnist"], "choose one of clutter, voc2007, imagenet_val"),
    (["--data", "voc2007"], "needs the data folder"),
    (["--data", "voc2007:/nonexistent/voc"], "does not exist"),
    (["--folds", "3"], "seo has no option folds"),
])
def test_bad_input_refused(tmp_path, capsys, monkeypatch, argv, message):
    counts = count_work(monkeypatch)
    code = cli.main(["reproduce", "seo", "--quick", "--out", str(tmp_path / "r"), "--quiet"]
                    + argv)
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert dict(counts) == {"load": 0, "fit": 0, "call": 0, "analyzer": 0}
    assert not os.path.exists(tmp_path / "r" / "runs")


@pytest.mark.parametrize("options, message", [
    ({"images": 0}, "images must be an int in 1..100000"),
    ({"pd_inner": 4, "pd_outer": 3}, "must be larger than pd_inner"),
    ({"scales": "5"}, "scales must be an int"),
    ({"images": 4, "timing_images": 5}, "exceeds images=4"),
])
def test_bad_options_refused(tmp_path, options, message):
    import xaibench as xb

    with pytest.raises(ValueError, match=message):
        xb.reproduce("seo", quick=True, out=str(tmp_path / "r"), progress=False, **options)
    assert not os.path.exists(tmp_path / "r")


def test_voc_without_its_segmentation_split_refused(tmp_path, capsys, monkeypatch):
    """The VOC folder is read (its first segmentation test image) before any work, then
    VGG-16's weights are looked for (test_papers_common): refused in one line."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    voc = tmp_path / "VOC2007"
    (voc / "Annotations").mkdir(parents=True)
    code = cli.main(["reproduce", "seo", "--data", f"voc2007:{voc}", "--out",
                     str(tmp_path / "r"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "Segmentation/test.txt does not exist" in err
    assert len(err.strip().splitlines()) == 1 and not os.path.exists(tmp_path / "r")


def test_protocol_settings():
    """Quick vs the paper's protocol (Alg. 2: stride 1, r = 10; k = 10, l = 14 at 224 px)."""
    quick = seo.settings(True, {"name": "clutter"})
    full = seo.settings(False, {"name": "clutter"})
    voc = seo.settings(False, {"name": "voc2007", "root": "/x"})
    assert (quick.images, quick.pd_stride, quick.pd_samples) == (N_QUICK, 3, 4)
    assert (full.images, full.pd_stride, full.pd_samples, full.scales) == (
        paper.FIG5_IMAGES, paper.PD_STRIDE, paper.PD_SAMPLES, paper.SCALES)
    assert (voc.pd_inner, voc.pd_outer) == (paper.PD_INNER, paper.PD_OUTER)
    assert (quick.pd_inner, quick.pd_outer) == (4, 8)              # l - k as the paper's
    # quick PD on 48 px: 4 x 4 windows at stride 3 plus the last position, 4 samples
    assert seo.pd_passes_formula(48, 48, 4, 4, 3) == 1 + len(set(range(0, 45, 3)) | {44}) ** 2 * 4
    with pytest.raises(ValueError, match="pd_inner=60 does not fit the 48 px images"):
        seo.settings(True, {"name": "clutter"}, pd_inner=60)


# --------------------------------------------------------------------------- paper.py

from xaibench.papers.seo import claims, paper  # noqa: E402


def test_paper_numbers_cross_checked():
    """Each number of paper.py against what the paper states elsewhere or what follows
    from it (never a second copy of the number)."""
    r, n = paper.SCALES, paper.PD_IMAGE_SIDE
    # Sec. 3.3: line 7 runs "2^1 + 2^2 + ... + 2^r" times, "62 executions for r = 5"; Sec. 4
    # sets r = 5; Fig. 3 / Sec. 4: "saliency maps resulting from 2- to 32-level segmentations"
    assert paper.RMPD_PASSES == sum(2 ** j for j in range(1, r + 1)) == 2 ** (r + 1) - 2
    assert 2 ** r == 32
    # Fig. 2 (a) "16-level segmentation", Sec. 4 "the scale of 16-level segmentation": one
    # of Alg. 3's scales 2^1 .. 2^r
    assert paper.FIG2_REGIONS in [2 ** j for j in range(1, r + 1)]
    # Alg. 2 input "patch sizes k and l (l > k)"; Sec. 3.2: line 8 "is executed r n^2 times
    # for an n x n image": a window at every pixel i (line 3), i.e. stride 1 (k = 1 here:
    # n^2 positions), plus our one clean pass
    assert paper.PD_OUTER > paper.PD_INNER
    assert seo.pd_passes_formula(n, n, 1, paper.PD_SAMPLES, paper.PD_STRIDE) == \
        1 + paper.PD_PASSES
    # abstract / Sec. 1 / Sec. 4: "two orders of magnitude faster than Algorithm 2": the
    # paper's own times (70 min for Alg. 2 in Sec. 3.2, 5 s for Alg. 3 in Sec. 4) give a
    # ratio in [10^2, 10^3), the threshold the claim uses
    assert paper.SPEEDUP == 10 ** 2 <= paper.PD_SECONDS / paper.RMPD_SECONDS < 10 ** 3
    # Sec. 4 "Effect of regions": the score "dramatically drops from 70.63% to 0.01%":
    # probabilities (transcribed from percent), the erased one far below the intact one
    assert 0 < paper.P_ERASED < paper.P_INTACT / 2 < paper.P_INTACT < 1
    # Fig. 5: "curves drawn by differing the threshold from 0 to 1", SA "high until the
    # threshold becomes approximately 0.2" and falling after it: inside that range
    assert 0 < paper.SA_FALL_THRESHOLD < claims.SA_LATE_THRESHOLD < 1
    # Sec. 4: "five state-of-the-arts methods and the proposed method", the five the Fig. 4
    # caption names (DC, SA, LRP, PD, Grad-CAM)
    assert len(paper.METHODS) == 6 and list(paper.METHODS)[-1] == "RMPD"


# --------------------------------------------------------------------------- claims.py

#: Fig. 5 mean F / precision / recall of a made-up run where every claim of the paper holds
F = {"DC": 0.10, "SA": 0.20, "LRP": 0.12, "PD": 0.18, "Grad-CAM": 0.30, "RMPD": 0.50}
P = {"DC": 0.60, "SA": 0.40, "LRP": 0.55, "PD": 0.35, "Grad-CAM": 0.50, "RMPD": 0.70}
R = {"DC": 0.10, "SA": 0.30, "LRP": 0.15, "PD": 0.40, "Grad-CAM": 0.45, "RMPD": 0.80}


def test_claim_rmpd_passes_on_the_papers_count():
    """Sec. 3.3: 62 perturbed passes for r = 5, plus the clean one."""
    perturbed = paper.PAPER["Sec. 3.3: forward passes per image, RMPD (r = 5, line 7)"]
    assert perturbed == 2 + 4 + 8 + 16 + 32
    v = claims.rmpd_passes(perturbed + 1.0, paper.SCALES)
    assert v.holds is True and v.paper == f"{perturbed} + 1" and v.ours == perturbed + 1
    assert claims.rmpd_passes(62.0, 5).holds is False              # the clean pass missing
    assert claims.rmpd_passes(63.0, 4).holds is False              # r = 4 needs 31
    assert claims.rmpd_passes(31.0, 4).holds is True


def test_claim_two_orders_faster_on_the_papers_times():
    """Sec. 3.2 / 4: 70 min (Alg. 2, VGG) against 5 s (Alg. 3, GoogLeNet): 840."""
    speed = (paper.PAPER["Sec. 3.2: seconds per image, PD (paper: VGG on a GPU, 256 px)"]
             / paper.PAPER["Sec. 4: seconds per image, RMPD (paper: GoogLeNet on a GPU)"])
    v = claims.two_orders_faster(speed, "k=10")
    assert v.holds is True and v.ours == speed and v.paper == paper.SPEEDUP
    assert v.item.endswith("(k=10)")
    assert claims.two_orders_faster(100.0, "").holds is True
    assert claims.two_orders_faster(99.9, "").holds is False
    assert claims.two_orders_faster(float("nan"), "").holds is None


def test_claim_regions_on_the_papers_probabilities():
    """Fig. 2: 70.63 % -> 0.01 % when the Samoyed is erased; the grass (background):
    "little effect", taken here as an unchanged score."""
    p = paper.PAPER["Fig. 2: class probability, image intact"]
    p_obj = paper.PAPER["Fig. 2: class probability, object region erased"]
    v = claims.regions(p, p_obj, p, 1)
    assert v.holds is True
    assert v.paper == f"{p:.3g} -> {p_obj:.3g}" and v.ours == v.paper + f", background {p:.3g}"
    assert claims.regions(p, 0.36, p, 1).holds is False           # not below p / 2 = 0.353
    assert claims.regions(0.7, 0.2, 0.1, 3).holds is False        # background costs more
    assert claims.regions(float("nan"), float("nan"), float("nan"), 0).holds is None


def test_claims_of_fig5_mean_f():
    v = claims.rmpd_highest_f(F)
    assert v.holds is True and v.claim == "RMPD > DC, SA, LRP, PD, Grad-CAM (mean F)"
    assert v.ours == "0.5 vs 0.3 (Grad-CAM)"
    assert claims.rmpd_highest_f({**F, "RMPD": 0.30}).holds is False      # a tie is no win
    assert claims.rmpd_highest_f({**F, "SA": 0.60}).holds is False
    v = claims.gradcam_second(F)
    assert v.holds is True and v.ours == "RMPD > Grad-CAM > SA > PD > LRP > DC"
    assert claims.gradcam_second({**F, "PD": 0.35}).holds is False
    assert claims.gradcam_second({**F, "Grad-CAM": 0.60}).holds is False  # first, not second
    assert claims.gradcam_second({"Grad-CAM": 1.0}).holds is False


def test_claims_of_fig5_precision_and_recall():
    v = claims.rmpd_precision_recall(P, R)
    assert v.holds is True and v.ours == "P 0.7 vs 0.6; R 0.8 vs 0.45 (best other)"
    assert claims.rmpd_precision_recall({**P, "DC": 0.75}, R).holds is False
    assert claims.rmpd_precision_recall(P, {**R, "PD": 0.85}).holds is False
    v = claims.edges_precision_over_recall(P, R)
    assert v.holds is True and v.ours == "DC 0.6 vs 0.1; LRP 0.55 vs 0.15"
    assert claims.edges_precision_over_recall(P, {**R, "LRP": 0.56}).holds is False
    assert claims.edges_precision_over_recall({**P, "DC": 0.05}, R).holds is False


def test_claim_sa_falls_after_02():
    t = np.linspace(0, 1, 101)
    falling = np.where(t <= 0.2, 0.5, 0.5 * np.exp(-10 * (t - 0.2)))
    early, late = falling[:21].mean(), falling[50:].mean()      # t <= 0.2, t >= 0.5
    assert early == 0.5 and late == pytest.approx(0.5 / 51 * sum(
        np.exp(-10 * (k / 100 - 0.2)) for k in range(50, 101)))
    v = claims.sa_falls(falling, t)
    assert v.holds is True and v.ours == f"0.5 vs {late:.3g}"
    assert claims.sa_falls(falling[::-1], t).holds is False      # rising instead
    assert claims.sa_falls(np.full(101, 0.3), t).holds is False  # flat


def test_claim_fusion_beats_every_scale():
    v = claims.fusion_beats_scales(0.6, [0.5, 0.55, 0.4])
    assert v.holds is True and v.ours == "0.6 vs 0.55"
    assert claims.fusion_beats_scales(0.6, [0.5, 0.6]).holds is False
    assert claims.fusion_beats_scales(0.6, [0.7]).holds is False


def test_fig5_claims_in_the_comparisons_order():
    t = np.linspace(0, 1, 5)
    pr = {m: {"mean_f": F[m], "mean_precision": P[m], "mean_recall": R[m],
              "f": np.array([0.5, 0.4, 0.3, 0.2, 0.1])} for m in F}
    out = claims.fig5(pr, t)
    assert [v.item for v in out] == [
        "Fig. 5: RMPD has the highest F-measure", "Fig. 5: Grad-CAM ranks second in F-measure",
        "Fig. 5: RMPD superior in precision and recall",
        "Fig. 5: DC and LRP: high precision, low recall",
        "Fig. 5: SA F-measure falls after t ~ 0.2"]
    assert [v.holds for v in out] == [True] * 5
    assert out[4].ours == "0.5 vs 0.2"              # t = 0 vs mean(0.3, 0.2, 0.1) at t >= 0.5


def test_region_effect_by_hand():
    """Fig. 2's choice on a 4 x 4 image at 4 regions: the object region holds most mask
    pixels, the background region is the largest without any."""
    seg = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [2, 2, 3, 3], [2, 3, 3, 3]])
    seg2 = (seg >= 2).astype(int)
    mask = np.zeros((4, 4), bool)
    mask[2, 0:2] = True                                   # region 2 (2 pixels)
    mask[1, 2] = True                                     # region 1 (1 pixel)
    sc = {"maps": np.zeros((2, 2, 4, 4)),
          "segments": np.stack([np.stack([seg2, seg])] * 2),
          "p": np.array([0.9, 0.8]),
          "p_without": np.array([[0.5, 0.5, 0.8, 0.7, 0.1, 0.85],
                                 [0.5, 0.5, 0.1, 0.1, 0.1, 0.1]])}
    everywhere = np.zeros((4, 4), bool)
    everywhere[[0, 0, 2, 3], [0, 2, 0, 3]] = True          # a mask pixel in each region
    e = seo.region_effect(sc, np.stack([mask, everywhere]), 16)  # r = 2: the finest, 4 regions
    # image 1 has no region without object pixels: no background region, left out
    assert (e.images, e.scale, e.pick) == (1, 1, (0, 2, 3))     # region 3 (5 px) > region 0 (4)
    assert (e.p, e.p_object, e.p_background) == (0.9, 0.1, 0.85)
