"""mu, mu_w, pointing game and precision/recall/F against hand computations, Quantus 0.6.0
run directly and scikit-learn."""
import numpy as np
import pytest
from sklearn.metrics import fbeta_score, precision_score, recall_score

import xaibench as xb


def test_mu_and_mu_w_equal_hand_computation():
    R = np.zeros((2, 4, 5, 1))
    R[0, :, :, 0] = [[1, 2, 0, 0, -5],
                     [3, 4, 0, 1, 0],
                     [0, 0, 0, 0, 0],
                     [0, -1, 0, 0, 2]]
    R[1, :, :, 0] = np.arange(20).reshape(4, 5)
    # image 0: one box over the 2x2 top-left block; image 1: two overlapping boxes
    boxes = [[(0, 0, 2, 2)], [(1, 1, 3, 3), (2, 2, 4, 4)]]
    out = xb.evaluate.relevance_ratio(R, boxes)
    # image 0: R_in = 1+2+3+4 = 10, R_tot (positive) = 10 + 1 + 2 = 13, S_in = 4, S_tot = 20
    assert out["mu"][0] == pytest.approx(10 / 13, abs=1e-12)
    assert out["mu_w"][0] == pytest.approx(10 / 13 * 20 / 4, abs=1e-12)
    # image 1: union = rows 1-3 x cols 1-3 minus (row 1, col 3) and (row 3, col 1): 7 pixels
    v = np.arange(20).reshape(4, 5)
    inside = v[1, 1] + v[1, 2] + v[2, 1] + v[2, 2] + v[2, 3] + v[3, 2] + v[3, 3]
    assert out["mu"][1] == pytest.approx(inside / v.sum(), abs=1e-12)
    assert out["mu_w"][1] == pytest.approx(inside / v.sum() * 20 / 7, abs=1e-12)
    np.testing.assert_allclose(out["size"], [4 / 20, 7 / 20])
    # the boxes given for a 8x10 image are scaled to the 4x5 heatmap
    scaled = xb.evaluate.relevance_ratio(R, [[(0, 0, 4, 4)], [(2, 2, 6, 6), (4, 4, 8, 8)]],
                                         image_shape=(8, 10))
    np.testing.assert_allclose(scaled["mu"], out["mu"])


def test_uniform_heatmap_gives_the_baseline():
    rng = np.random.default_rng(0)
    boxes = [[(int(a), int(b), int(a) + 1 + int(c), int(b) + 1 + int(d))]
             for a, b, c, d in rng.integers(0, 8, size=(20, 4))]
    out = xb.evaluate.uniform_relevance_ratio(boxes, shape=(16, 16))
    sizes = np.array([(b[0][2] - b[0][0]) * (b[0][3] - b[0][1]) for b in boxes]) / 256
    np.testing.assert_allclose(out["mu"], sizes)
    np.testing.assert_allclose(out["mu_w"], 1.0)
    table = xb.evaluate.relevance_ratio_table(out)
    assert table["mu_w"] == pytest.approx(1.0)
    assert table["mu"] == pytest.approx(sizes.mean())
    assert table["mu<=0.25"] == pytest.approx(sizes[sizes <= 0.25].mean())
    assert table["mu<=0.5"] == pytest.approx(sizes[sizes <= 0.5].mean())
    edges, mean, count = xb.evaluate.mu_by_box_size(out, bins=100)
    assert count.sum() == 20 and len(edges) == 101
    for s in np.unique(sizes):                     # each box falls in the bin (lo, hi] of its size
        b = int(np.ceil(s * 100)) - 1
        assert mean[b] == pytest.approx(sizes[(sizes > edges[b]) & (sizes <= edges[b + 1])].mean())


def test_mu_equals_quantus_attribution_localisation():
    import quantus
    rng = np.random.default_rng(1)
    R = rng.normal(size=(5, 1, 12, 12)).astype(np.float32)
    masks = np.zeros((5, 1, 12, 12), dtype=bool)
    for i, (a, b) in enumerate(rng.integers(0, 6, size=(5, 2))):
        masks[i, 0, a:a + 5, b:b + 4] = True
    x = rng.random((5, 1, 12, 12)).astype(np.float32)
    metric = quantus.AttributionLocalisation(abs=False, weighted=False, positive_attributions=True,
                                             normalise=False, disable_warnings=True)
    theirs = np.asarray(metric(model=None, x_batch=x, y_batch=np.zeros(5, int), a_batch=R,
                               s_batch=masks, channel_first=True))
    ours = xb.evaluate.relevance_ratio(R[:, 0], masks=masks[:, 0])["mu"]
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert np.ptp(ours) > 0.05


def test_pointing_game_matches_quantus_and_keeps_weights_and_nans():
    import quantus
    rng = np.random.default_rng(2)
    R = rng.normal(size=(8, 10, 10))
    masks = np.zeros((8, 10, 10), dtype=bool)
    masks[:, 2:7, 3:8] = True
    for i in range(4):                             # put the maximum inside for half of them
        R[i, 4, 5] = 10
    metric = quantus.PointingGame(normalise=False, abs=False, disable_warnings=True)
    theirs = np.asarray(metric(model=None, x_batch=R[:, None], y_batch=np.zeros(8, int),
                               a_batch=R[:, None], s_batch=masks[:, None], channel_first=True),
                        dtype=float)
    ours = xb.evaluate.pointing_game(R, masks=masks)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(ours[:4], 1.0)
    # weighted: a hit scores 1 - S_in/S_tot = 0.75 (Quantus 0.6.0 casts it to True)
    np.testing.assert_allclose(xb.evaluate.pointing_game(R, masks=masks, weighted=True)[:4], 0.75)
    # no box: NaN; boxes instead of masks give the same
    boxes = [[(3, 2, 8, 7)]] * 7 + [[]]
    got = xb.evaluate.pointing_game(R, boxes)
    np.testing.assert_array_equal(got[:7], ours[:7])
    assert np.isnan(got[7])
    # a constant heatmap points nowhere: a miss, not a hit
    assert xb.evaluate.pointing_game(np.zeros((1, 10, 10)), masks=masks[:1])[0] == 0.0


def test_precision_recall_f_equal_scikit_learn():
    rng = np.random.default_rng(3)
    R = rng.normal(size=(3, 8, 9, 3))
    masks = rng.random((3, 8, 9)) > 0.6
    t = np.array([0.0, 0.2, 0.5, 0.8, 1.0])
    for norm in ("minmax", "max"):
        out = xb.evaluate.precision_recall_curves(R, masks, thresholds=t, normalise=norm, beta=0.5)
        for i in range(3):
            h = R[i].sum(-1)
            s = (h - h.min()) / (h.max() - h.min()) if norm == "minmax" else np.maximum(h, 0) / h.max()
            for j, tj in enumerate(t):
                pred, true = (s >= tj).ravel(), masks[i].ravel()
                kw = dict(zero_division=0)
                assert out["precision"][i, j] == pytest.approx(precision_score(true, pred, **kw))
                assert out["recall"][i, j] == pytest.approx(recall_score(true, pred, **kw))
                assert out["f"][i, j] == pytest.approx(fbeta_score(true, pred, beta=0.5, **kw))
    out = xb.evaluate.precision_recall_curves(R, masks)
    assert out["f"].shape == (3, 101)
    np.testing.assert_allclose(out["recall"][:, 0], 1.0)    # threshold 0 selects every pixel


def test_bad_boxes_and_heatmaps_are_refused():
    R = np.ones((2, 6, 6))
    with pytest.raises(ValueError, match="outside the 6x6 image"):
        xb.evaluate.relevance_ratio(R, [[(0, 0, 7, 3)], [(0, 0, 2, 2)]])
    with pytest.raises(ValueError, match="outside"):
        xb.evaluate.relevance_ratio(R, [[(-1, 0, 3, 3)], [(0, 0, 2, 2)]])
    with pytest.raises(ValueError, match="empty"):
        xb.evaluate.relevance_ratio(R, [[(3, 0, 3, 3)], [(0, 0, 2, 2)]])
    with pytest.raises(ValueError, match="one per image"):
        xb.evaluate.relevance_ratio(R, [[(0, 0, 2, 2)]])
    bad = R.copy()
    bad[0, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        xb.evaluate.pointing_game(bad, [[(0, 0, 2, 2)], [(0, 0, 2, 2)]])
    with pytest.raises(ValueError, match="exactly one of boxes"):
        xb.evaluate.relevance_ratio(R)
    with pytest.raises(ValueError, match="empty"):
        xb.evaluate.precision_recall_curves(R, np.zeros((2, 6, 6), bool))
