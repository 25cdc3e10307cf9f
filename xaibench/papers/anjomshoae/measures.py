"""What the runner does not compute: the stroke-following over-segmentation, Fig. 7's
alterations, and numbers taken from a model or from maps (probabilities, map correlation,
background share)."""
import numpy as np

COMPACTNESS = 0.1    # SLIC compactness of the over-segmentation (low: regions follow strokes)
BACKGROUND = 0.05    # pixels darker than this are background (Fig. 4's background share)


class StrokeSegments:
    """The over-segmentation of Sec. 3.2 / Fig. 3 (second row), ``segments`` of the CI and LIME
    analyzers: SLIC with ``n`` super-pixels and a low compactness, so regions follow the pen
    strokes (the paper's MATLAB ``superpixels``; xaibench's default SLIC-zero cuts a digit into
    an almost regular 4x4 grid). Its stable string form keeps run digests (and resuming)."""

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


def probabilities(model, x) -> np.ndarray:
    """Class probabilities (N, classes), float64: the output of the model (``mnist_cnn``
    and the shipped ``digits`` model end in a softmax)."""
    return np.asarray(model.predict(x, batch_size=256, verbose=0), np.float64)


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
    dx, dy = (ndimage.gaussian_filter(rng.uniform(-1, 1, img.shape), 3) * 30 for _ in "xy")
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    elastic = np.clip(ndimage.map_coordinates(rot, [yy + dy, xx + dx], order=1), 0.0, 1.0)
    return {k: v[..., None].astype(np.float32) for k, v in
            (("underline", under), ("noise", noisy), ("elastic", elastic))}


def correlations(maps_a, maps_b) -> np.ndarray:
    """Pearson r of each pair of maps, image by image (0 where a map is constant)."""
    out = []
    for a, b in zip(maps_a, maps_b):
        a, b = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
        out.append(0.0 if a.std() == 0 or b.std() == 0 else float(np.corrcoef(a, b)[0, 1]))
    return np.array(out)


def background_share(R, x, background: float = BACKGROUND) -> np.ndarray:
    """Share of each map's positive relevance that lies on background pixels
    (x < ``background``); 0 for a map without positive relevance."""
    pos = np.clip(R, 0, None).reshape(len(R), -1)
    on_bg = (pos * (x.reshape(pos.shape) < background)).sum(axis=1)
    total = pos.sum(axis=1)
    return np.where(total > 0, on_bg / np.where(total > 0, total, 1), 0.0)
