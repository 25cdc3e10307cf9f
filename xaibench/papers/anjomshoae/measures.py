"""The paper's over-segmentation, Fig. 7's alterations and the numbers taken from maps:
probabilities, the score of what a map keeps, map correlation and background share."""
from __future__ import annotations

import numpy as np

#: SLIC compactness of the over-segmentation (low: regions follow the pen strokes)
COMPACTNESS = 0.1
#: pixels darker than this are background (Fig. 4's background share)
BACKGROUND = 0.05


class StrokeSegments:
    """The over-segmentation of Sec. 3.2 / Fig. 3 (second row): SLIC with ``n`` super-pixels
    and a low compactness on the grey image, so regions follow the pen strokes (the
    paper's MATLAB ``superpixels``). Passed as ``segments`` to the CI and LIME analyzers.

    xaibench's default integer ``segments`` (SLIC-zero) cuts a 28x28 digit into an almost
    regular 4x4 grid, which would make CI the same as 4x4 occlusion. The string form is
    stable, so batch-run digests (and resuming) do not depend on the object's address.
    """

    def __init__(self, n: int, compactness: float = COMPACTNESS):
        self.n, self.compactness = int(n), float(compactness)

    def __call__(self, image):
        from skimage.segmentation import slic

        img = np.asarray(image, np.float64)
        if img.ndim == 3 and img.shape[-1] == 1:
            img = img[..., 0]
        return slic(img, n_segments=self.n, compactness=self.compactness, start_label=0,
                    channel_axis=-1 if img.ndim == 3 else None)

    def __repr__(self):
        return f"slic(compactness={self.compactness:g},n={self.n})"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, StrokeSegments) and repr(self) == repr(other)

    def __hash__(self):
        return hash(repr(self))


def probabilities(model, x) -> np.ndarray:
    """Class probabilities (N, classes), float64: the model's output, through a softmax
    when it is not one already."""
    p = np.asarray(model.predict(x, batch_size=256, verbose=0), np.float64)
    if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        p = np.exp(p - p.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
    return p


def kept_probability(model, x, keep, cls) -> float:
    """Probability of ``cls`` on image ``x`` (H, W, 1) with only the ``keep`` pixels, the
    rest 0 (Fig. 8's "(by 99 %)")."""
    img = np.where(keep[..., None], x, 0.0).astype(np.float32)
    return float(probabilities(model, img[None])[0][cls])


def lime_keep(lime, seg, k: int = 5) -> np.ndarray:
    """LIME's shown explanation of its last image: the ``k`` super-pixels of ``seg`` with
    the largest positive weights (the ``lime`` package's ``positive_only=True,
    num_features=5``)."""
    coef = np.asarray(lime.coefficients[0], np.float64)
    top = [i for i in np.argsort(-coef, kind="stable")[:k] if coef[i] > 0]
    return np.isin(seg, top)


def distort(x, seed, noise) -> dict:
    """Fig. 7's three alterations of one (28, 28, 1) image in [0, 1]: ``underline`` (a stray
    stroke under the digit), ``noise`` (Gaussian, std ``noise``, clipped), ``elastic`` (a
    15 degree rotation and an elastic deformation, scipy.ndimage)."""
    from scipy import ndimage

    img = x[..., 0].astype(np.float64)
    h, w = img.shape
    under = img.copy()
    rows = np.nonzero(img.max(axis=1) > 0.2)[0]
    r = min(h - 2, int(rows.max()) + 1 if len(rows) else h - 3)
    under[r:r + 2, w // 6: w - w // 6] = 1.0
    rng = np.random.default_rng(seed)
    noisy = np.clip(img + rng.normal(0.0, noise, img.shape), 0.0, 1.0)
    rot = ndimage.rotate(img, 15, reshape=False, order=1)
    dx = ndimage.gaussian_filter(rng.uniform(-1, 1, img.shape), 3) * 30
    dy = ndimage.gaussian_filter(rng.uniform(-1, 1, img.shape), 3) * 30
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    elastic = np.clip(ndimage.map_coordinates(rot, [yy + dy, xx + dx], order=1), 0.0, 1.0)
    return {k: v[..., None].astype(np.float32) for k, v in
            (("underline", under), ("noise", noisy), ("elastic", elastic))}


def correlation(a, b) -> float:
    """Pearson r of two maps (0 when one is constant)."""
    a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def correlations(maps_a, maps_b) -> np.ndarray:
    """Pearson r of each pair of maps (image by image)."""
    return np.array([correlation(a, b) for a, b in zip(maps_a, maps_b)])


def background_share(R, x, background: float = BACKGROUND) -> np.ndarray:
    """Share of each map's positive relevance that lies on background pixels
    (x < ``background``); 0 for a map without positive relevance."""
    pos = np.clip(R, 0, None)
    bg = x.reshape(pos.shape) < background
    total = pos.reshape(len(pos), -1).sum(axis=1)
    on_bg = (pos * bg).reshape(len(pos), -1).sum(axis=1)
    return np.where(total > 0, on_bg / np.where(total > 0, total, 1), 0.0)
