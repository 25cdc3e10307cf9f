"""Channel pooling, rendering, compressed size / entropy and the Friedman + Nemenyi tests
against numpy formulas, scikit-image, Pillow decoding, scipy and Demsar's (2006) table."""
import io

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import stats
from skimage.measure import shannon_entropy

import xaibench as xb
from xaibench import heatmaps


def test_reduce_channels_equals_eq3_numpy_and_tf():
    R = np.random.default_rng(0).normal(size=(2, 5, 4, 3))
    ref = {"sum": R.sum(-1), "l2": np.linalg.norm(R, axis=-1),
           "linf": np.linalg.norm(R, ord=np.inf, axis=-1), "abs": np.abs(R).sum(-1)}
    for how, want in ref.items():
        np.testing.assert_allclose(heatmaps.reduce_channels(R, how), want, rtol=1e-12)
        got = heatmaps.reduce_channels(tf.constant(R, tf.float32), how).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5)
    with pytest.raises(ValueError, match="channel_reduce"):
        heatmaps.reduce_channels(R, "max")


def test_render_is_red_positive_blue_negative_white_zero():
    R = np.array([[[2.0, -2.0, 0.0]]])                  # (1, 1, 3) -> pixels +, -, 0
    img = heatmaps.render(R[..., None])[0, 0]
    assert img.dtype == np.uint8
    assert tuple(img[0]) == (255, 0, 0)                 # red
    assert tuple(img[1]) == (0, 0, 255)                 # blue
    assert np.all(img[2] >= 254)                        # white
    # symmetric scale: +1 and -1 are mirror colours
    img = heatmaps.render(np.array([[[1.0, -1.0]]]))[0, 0]
    assert img[0, 0] == img[1, 2] and img[0, 2] == img[1, 0]


def bwr_by_hand(h):
    """The images complexity() is specified to measure, made without xaibench: each map
    (N, H, W) scaled symmetrically to [-1, 1] by its max |h| (0 -> 0.5, white), coloured by
    matplotlib's 'bwr' map directly, alpha dropped."""
    import matplotlib

    m = np.abs(h).max(axis=(1, 2), keepdims=True)
    t = 0.5 + 0.5 * h / np.where(m > 0, m, 1.0)
    return matplotlib.colormaps["bwr"](t, bytes=True)[..., :3]


def encoded_by_hand(image, fmt, **options):
    """Bytes of the (H, W, 3) uint8 array encoded by Pillow from its raw bytes."""
    buf = io.BytesIO()
    Image.frombytes("RGB", image.shape[1::-1], image.tobytes()).save(buf, format=fmt, **options)
    return len(buf.getvalue())


def entropy_by_hand(image):
    """-sum p log2 p of the 256-bin histogram of all pixel values (channels pooled)."""
    counts, _ = np.histogram(image.ravel(), bins=256, range=(0, 256))
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def test_entropy_and_sizes():
    # half +1, half -1: pixel values {255, 0, 0} and {0, 0, 255} -> p(255) = 1/3, p(0) = 2/3
    R = np.ones((1, 8, 8))
    R[0, :, 4:] = -1
    out = xb.evaluate.complexity(R)
    assert out["entropy"][0] == pytest.approx(-(1 / 3) * np.log2(1 / 3) - (2 / 3) * np.log2(2 / 3),
                                              rel=1e-12)
    # the two-colour image encoded by the test: 8 rows of 4 red then 4 blue pixels
    two = np.zeros((8, 8, 3), np.uint8)
    two[:, :4, 0] = 255
    two[:, 4:, 2] = 255
    assert out["png"][0] == encoded_by_hand(two, "PNG")
    assert out["jpeg"][0] == encoded_by_hand(two, "JPEG", quality=75)
    rng = np.random.default_rng(0)
    smooth = np.tile(np.linspace(-1, 1, 32), (32, 1))[None]
    noisy = rng.normal(size=(1, 32, 32))
    both = np.concatenate([smooth, noisy])
    out = xb.evaluate.complexity(both)
    coarse = xb.evaluate.complexity(both, jpeg_quality=20, formats=("jpeg",))
    # a (N, H, W, C) heatmap pooled over channels ("sum") measures like its pooled map
    split = np.stack([0.25 * both, 0.75 * both], axis=-1)
    pooled = xb.evaluate.complexity(split)
    images = bwr_by_hand(both)
    for i in range(2):
        assert out["entropy"][i] == pytest.approx(entropy_by_hand(images[i]), rel=1e-12)
        assert out["entropy"][i] == pytest.approx(shannon_entropy(images[i], base=2), rel=1e-12)
        png = encoded_by_hand(images[i], "PNG")
        assert out["png"][i] == png
        assert out["jpeg"][i] == encoded_by_hand(images[i], "JPEG", quality=75)
        assert coarse["jpeg"][i] == encoded_by_hand(images[i], "JPEG", quality=20)
        assert set(coarse) == {"jpeg", "entropy"}
        for key in ("png", "jpeg", "entropy"):
            assert pooled[key][i] == pytest.approx(out[key][i], rel=1e-12)
    assert out["png"][1] > out["png"][0] and out["jpeg"][1] > out["jpeg"][0]
    assert out["entropy"][1] > out["entropy"][0]


def test_friedman_and_nemenyi_against_hand_formula_and_demsar_table():
    rng = np.random.default_rng(4)
    n, k = 10, 5
    table = rng.normal(size=(n, k)) + np.array([0, 0.2, 1.5, 2.5, 3.0])
    res = xb.evaluate.friedman(table)
    ranks = np.argsort(np.argsort(table, axis=1), axis=1) + 1          # no ties
    Rj = ranks.mean(0)
    chi2 = 12 * n / (k * (k + 1)) * (np.sum(Rj ** 2) - k * (k + 1) ** 2 / 4)
    assert res.statistic == pytest.approx(chi2)
    assert res.pvalue == pytest.approx(stats.chi2.sf(chi2, k - 1))
    np.testing.assert_allclose(res.mean_ranks, Rj)
    # Demsar (2006), Table 5: q_0.05 = 2.728 for k = 5
    assert res.critical_difference == pytest.approx(2.728 * np.sqrt(k * (k + 1) / (6 * n)), abs=2e-3)
    diff = np.abs(Rj[:, None] - Rj[None])
    np.testing.assert_array_equal(res.significant, (diff >= res.critical_difference) & (diff > 0))
    assert res.reject and ("0", "4") in res.pairs()
    # a pair exactly at the critical difference has p = alpha
    se = np.sqrt(k * (k + 1) / (6 * n))
    assert stats.studentized_range.sf(np.sqrt(2) * res.critical_difference / se, k, np.inf) == \
        pytest.approx(0.05, abs=1e-6)
    assert np.all((res.pairwise_p < 0.05) == res.significant)
    # Demsar's q_0.05 for k = 3 and 10
    for kk, q in ((3, 2.343), (10, 3.164)):
        r = xb.evaluate.friedman(rng.normal(size=(6, kk)))
        assert r.critical_difference == pytest.approx(q * np.sqrt(kk * (kk + 1) / 36), abs=2e-3)
    with pytest.raises(ValueError, match="at least 3 treatments"):
        xb.evaluate.friedman(table[:, :2])
