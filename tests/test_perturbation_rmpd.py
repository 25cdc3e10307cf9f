"""rmpd (Seo Alg. 3): the 63 model images, the exact region counts, the boundary
prior, and a numpy re-derivation sharing segmentation, prior and noise."""
import numpy as np
import pytest
from skimage import data

import xaibench as xb
from xaibench.analyzers.perturbation._kernels import normal_noise
from xaibench.analyzers.perturbation.segmentation import boundary_prior, segment
from test_perturbation_common import count_of, linear_model, softmax


def _digits(n):
    """sklearn's 8x8 digits upsampled to 24x24, values in [0, 1]."""
    from sklearn.datasets import load_digits

    d = load_digits().images[:n] / 16.0
    return np.kron(d, np.ones((3, 3)))[..., None].astype(np.float32)


def test_scales_5_calls_the_model_on_63_images_per_image():
    x = _digits(3)
    model, _, _ = linear_model((24, 24, 1), 10, activation="softmax", counted=True)
    an = xb.create_analyzer("rmpd", model, scales=5, batch_size=64)
    r = an.analyze(x)
    assert count_of(model) == 3 * 63 == 3 * (2 + 4 + 8 + 16 + 32 + 1)
    assert an.num_copies == 62
    assert an.stats["model_calls"] == 1 + 3     # clean pass + ceil(186 / 64)
    assert r.shape == x.shape and np.all(r >= 0)


def test_matches_algorithm_3():
    x = _digits(2)
    model, w, b = linear_model((24, 24, 1), 10, activation="softmax", seed=3)
    an = xb.create_analyzer("rmpd", model, scales=3, seed=5, input_range=(0, 1))
    r = an.analyze(x, 4)
    for i in range(2):
        segs = an.segment_scales(x[i])
        mu, sigma = an.prior(x[i])
        assert [s.max() + 1 for s in segs] == [2, 4, 8]
        np.testing.assert_allclose(sigma, np.sqrt(10.0) / 255.0, rtol=1e-6)
        noise = normal_noise(5, np.arange(3), (24, 24, 1)).numpy()     # Z_j per scale
        p = softmax(x[i].reshape(-1) @ w + b)[4]
        s = np.zeros((24, 24))
        for j in range(3):
            sj = np.zeros((24, 24))
            for region in range(2 ** (j + 1)):
                xp = x[i].astype(np.float64).copy()
                m = segs[j] == region
                xp[m] = mu + sigma * noise[j][m]
                sj[m] = max(0.0, p - softmax(xp.reshape(-1) @ w + b)[4])
            s += sj / 3
        np.testing.assert_allclose(r[i, ..., 0], s, rtol=1e-4, atol=1e-6)


def test_segmentation_has_exactly_the_requested_regions():
    img = data.astronaut()[::4, ::4].astype(np.float32)
    noise = np.random.default_rng(0).random((20, 20, 1)).astype(np.float32)
    for im in (img, noise):
        for n in (2, 4, 8, 16, 32, 256):
            for method in ("slic", "felzenszwalb"):
                lab = segment(im, n, method)
                assert lab.shape == im.shape[:2] and lab.dtype == np.int32
                assert np.array_equal(np.unique(lab), np.arange(n))


def test_boundary_prior_is_the_largest_border_cluster():
    """Border mostly colour A, an object of colour B touching one side: mu ~ A."""
    rng = np.random.default_rng(1)
    img = np.empty((48, 48, 3), np.float32)
    img[:] = (200, 180, 40)
    img[8:, 14:34] = (20, 60, 220)        # object reaching the bottom border
    img += rng.normal(0, 2, img.shape).astype(np.float32)
    mu = boundary_prior(img)
    np.testing.assert_allclose(mu, (200, 180, 40), atol=3)
    img[:, :] = (20, 60, 220)            # now B is everywhere: mu follows it
    assert np.allclose(boundary_prior(img), (20, 60, 220), atol=1e-3)


def test_seed():
    x = _digits(1)
    model, _, _ = linear_model((24, 24, 1), 10, activation="softmax", seed=3)
    a = xb.create_analyzer("rmpd", model, scales=2, seed=1).analyze(x, 2)
    np.testing.assert_allclose(a, xb.create_analyzer("rmpd", model, scales=2, seed=1,
                                                     batch_size=3).analyze(x, 2), atol=1e-7)
    assert not np.allclose(a, xb.create_analyzer("rmpd", model, scales=2, seed=2).analyze(x, 2))


@pytest.mark.parametrize("params,msg", [
    ({"scales": 0}, "scales"), ({"scales": 10}, "scales <= 9"),
    ({"segmentation": "watershed"}, "segmentation"), ({"input_range": (1, 0)}, "high > low"),
])
def test_bad_parameters_are_refused_before_any_model_call(params, msg):
    model, _, _ = linear_model((24, 24, 1), 3, counted=True)
    with pytest.raises((ValueError, TypeError), match=msg):
        xb.create_analyzer("rmpd", model, **params).analyze(_digits(1))
    assert count_of(model) == 0


def test_mean_shift_bandwidth_equals_scikit_learn():
    from sklearn.cluster import estimate_bandwidth

    from xaibench.analyzers.perturbation.segmentation import mean_shift_bandwidth

    rng = np.random.default_rng(3)
    for n, c in [(2, 1), (7, 3), (60, 3), (61, 1)]:
        pts = rng.normal(size=(n, c))
        assert mean_shift_bandwidth(pts, 0.3) == pytest.approx(estimate_bandwidth(pts, quantile=0.3),
                                                               rel=1e-12)


@pytest.mark.parametrize("nested", [True, False])
def test_scales_have_exact_counts_and_nesting(nested):
    img = data.astronaut()[::8, ::8].astype(np.float32)          # 64x64 RGB
    model, _, _ = linear_model(img.shape, 3, activation="softmax")
    an = xb.create_analyzer("rmpd", model, scales=5, nested=nested, input_range=(0, 255))
    segs = an.segment_scales(img)
    assert segs.shape == (5,) + img.shape[:2]
    for j, s in enumerate(segs, start=1):          # labels 0 .. 2^j - 1, each one used
        np.testing.assert_array_equal(np.unique(s), np.arange(2 ** j))
    # per pair of scales: the fine regions that overlap more than one coarse region
    crossing = [sum(len(np.unique(coarse[fine == k])) > 1 for k in range(int(fine.max()) + 1))
                for coarse, fine in zip(segs[:-1], segs[1:])]
    if nested:
        # each fine region lies in exactly one coarse region, at every scale; the finest
        # scale is the image's own 32-region segmentation, the coarser ones merged from it
        assert crossing == [0, 0, 0, 0]
        np.testing.assert_array_equal(segs[-1], segment(img, 32))
        for coarse in segs[:-1]:
            assert all(len(np.unique(coarse[segs[-1] == k])) == 1 for k in range(32))
    else:
        # an independent segmentation per scale: exactly segment(img, 2^j), and these do
        # not nest (SLIC's regions at one count cut across those at the next)
        for j, s in enumerate(segs, start=1):
            np.testing.assert_array_equal(s, segment(img, 2 ** j))
        assert max(crossing) > 0
    with pytest.raises(TypeError, match="nested"):
        xb.create_analyzer("rmpd", model, nested="yes")


def test_mean_shift_equals_scikit_learn():
    from sklearn.cluster import MeanShift

    from xaibench.analyzers.perturbation.segmentation import mean_shift

    rng = np.random.default_rng(7)
    for trial in range(12):
        c = 1 + trial % 3
        k = 1 + trial % 4
        pts = np.concatenate([rng.normal(rng.uniform(0, 1, c), 0.05, (rng.integers(3, 40), c))
                              for _ in range(k)])
        bw = float(rng.uniform(0.05, 0.4))
        ref = MeanShift(bandwidth=bw, bin_seeding=True).fit(pts)
        centers, labels = mean_shift(pts, bw)
        np.testing.assert_allclose(centers, ref.cluster_centers_, rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(labels, ref.labels_)


def test_relabel_and_merge_levels_against_a_hand_example():
    from xaibench.analyzers.perturbation.segmentation import _merge_levels, relabel

    np.testing.assert_array_equal(relabel(np.array([[5, 3], [3, 9]])), [[1, 0], [0, 2]])
    # ids far beyond the pixel count: renumbered without a table as long as the largest id
    np.testing.assert_array_equal(relabel(np.array([[0, 10 ** 15], [7, 0]])), [[0, 2], [1, 0]])
    same = np.array([[0, 1], [2, 1]])
    out = relabel(same)
    assert out.dtype == np.int32 and np.array_equal(out, same)
    # 1x4 strip: regions a(1 px, 0.0) b(1 px, 0.9) c(2 px, 1.0). The smallest, a (id 0),
    # joins its only neighbour b; then b+a (2 px, mean 0.45) ties with c in size and,
    # as the lower id, joins c.
    labels = np.array([[0, 1, 2, 2]])
    image = np.array([[[0.0], [0.9], [1.0], [1.0]]])
    levels = _merge_levels(labels, image, [3, 2, 1])
    np.testing.assert_array_equal(levels[3], [[0, 1, 2, 2]])
    np.testing.assert_array_equal(levels[2], [[0, 0, 1, 1]])
    np.testing.assert_array_equal(levels[1], [[0, 0, 0, 0]])
