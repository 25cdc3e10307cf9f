"""Super-pixel segmentation with a controlled number of regions, and the
boundary prior of Seo et al. (Alg. 3, line 2).

scikit-image's SLIC / quickshift / felzenszwalb only approximate a requested
region count; :func:`segment` turns their output into *exactly* ``n`` regions
by merging the smallest region into its most similar neighbour (mean colour)
or splitting the largest region at the median of its principal axis.
Segmentation runs on the CPU, once per image, before any model call.
"""
from __future__ import annotations

import heapq
from typing import Callable

import numpy as np

METHODS = ("slic", "quickshift", "felzenszwalb")


def _unit(image: np.ndarray) -> np.ndarray:
    lo, hi = float(image.min()), float(image.max())
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


def _raw_segments(img: np.ndarray, n: int, method: str) -> np.ndarray:
    """scikit-image's segmentation of ``img`` (float64, scaled to [0, 1]) into about
    ``n`` regions."""
    from skimage import segmentation as seg

    c = img.shape[-1]
    if method == "slic":
        return seg.slic(img, n_segments=n, slic_zero=True, start_label=0, channel_axis=-1,
                        convert2lab=(c == 3))
    if method == "quickshift":
        rgb = img if c == 3 else np.repeat(img.mean(axis=-1, keepdims=True), 3, axis=-1)
        return seg.quickshift(rgb, kernel_size=4, max_dist=200, ratio=0.2, convert2lab=(c == 3),
                              rng=0)
    if method == "felzenszwalb":
        return seg.felzenszwalb(img, scale=float(max(img.shape[:2])), sigma=0.5,
                                min_size=max(1, img.shape[0] * img.shape[1] // (4 * n)),
                                channel_axis=-1)
    raise ValueError(f"segmentation method {method!r} is not known; use one of "
                     f"{', '.join(map(repr, METHODS))}.")


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered ``0 .. n-1`` in the order of their values."""
    flat = np.asarray(labels).ravel()
    if flat.size and flat.min() == 0 and flat.max() < flat.size and np.bincount(flat).all():
        return np.asarray(labels, np.int32)                 # already 0 .. n-1
    _, inv = np.unique(labels, return_inverse=True)
    return inv.reshape(labels.shape).astype(np.int32)


def _merge_levels(labels: np.ndarray, image: np.ndarray, levels) -> dict:
    """Merge the smallest region into its closest-colour neighbour, one region at a
    time, and return the label map at each region count of ``levels`` (each <=
    the starting count): a nested hierarchy, coarse regions unions of fine ones.

    The merge loop works on Python lists: a step touches a handful of neighbours,
    where numpy's per-call overhead would dominate.
    """
    m = int(labels.max()) + 1
    levels = sorted({int(v) for v in levels if v <= m}, reverse=True)
    if levels == [m]:
        return {m: relabel(labels)}                 # nothing to merge
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=m).astype(np.float64)
    sums = np.stack([np.bincount(flat, image[..., ch].ravel(), minlength=m)
                     for ch in range(image.shape[-1])], axis=1)
    means = (sums / np.maximum(counts, 1.0)[:, None]).tolist()
    counts, sums = counts.tolist(), sums.tolist()
    pairs = np.concatenate([
        np.stack([labels[:, :-1].ravel(), labels[:, 1:].ravel()], 1),
        np.stack([labels[:-1, :].ravel(), labels[1:, :].ravel()], 1)])
    pairs = pairs[pairs[:, 0] != pairs[:, 1]].astype(np.int64)
    adj = [set() for _ in range(m)]
    codes = np.unique(pairs.min(axis=1) * m + pairs.max(axis=1))
    for a, b in zip((codes // m).tolist(), (codes % m).tolist()):
        adj[a].add(b)
        adj[b].add(a)
    parent = list(range(m))
    heap = [(counts[i], i) for i in range(m)]
    heapq.heapify(heap)
    alive = m
    out = {}

    def snapshot():
        root = np.asarray(parent)
        while True:                        # resolve merge chains
            nxt = root[root]
            if np.array_equal(nxt, root):
                break
            root = nxt
        ids = np.unique(root, return_inverse=True)[1]    # = relabel(root[labels])
        return ids.astype(np.int32)[labels]

    pop, push = heapq.heappop, heapq.heappush
    for level in levels:
        while alive > level and heap:
            cnt, i = pop(heap)
            nbs = adj[i]
            if parent[i] != i or cnt != counts[i] or not nbs:
                continue
            mean_i = means[i]
            j, best = -1, float("inf")     # closest mean colour, then lowest id
            for k in nbs:
                d = sum([(v - a) * (v - a) for v, a in zip(means[k], mean_i)])
                if d < best or (d == best and k < j):
                    j, best = k, d
            parent[i] = j
            total = counts[j] + cnt
            counts[j] = total
            sums[j] = s_j = [u + v for u, v in zip(sums[j], sums[i])]
            means[j] = [v / total for v in s_j]
            adj_j = adj[j]
            adj_j.discard(i)
            for k in nbs:
                if k != j:
                    adj_k = adj[k]
                    adj_k.discard(i)
                    adj_k.add(j)
                    adj_j.add(k)
            adj[i] = set()
            alive -= 1
            push(heap, (total, j))
        out[level] = snapshot()
    return out


def _split_to(labels: np.ndarray, n: int) -> np.ndarray:
    """Split the largest regions at the median of their principal axis until ``n`` exist.

    Each pass halves up to ``n - m`` of the largest regions at once (pixel
    moments by ``bincount``, the 2x2 covariance's major axis in closed form).
    """
    labels = labels.copy()
    height, width = labels.shape
    ys, xs = np.divmod(np.arange(height * width, dtype=np.float64), width)
    m = int(labels.max()) + 1
    while m < n:
        flat = labels.ravel()
        counts = np.bincount(flat, minlength=m).astype(np.float64)
        order = np.argsort(-counts, kind="stable")
        big = order[:n - m][counts[order[:n - m]] >= 2]
        if len(big) == 0:
            raise ValueError(f"cannot split the image into {n} regions: the regions are single "
                             "pixels already. Use fewer regions or a larger image.")
        cy = np.bincount(flat, ys, m) / counts
        cx = np.bincount(flat, xs, m) / counts
        dy, dx = ys - cy[flat], xs - cx[flat]
        syy = np.bincount(flat, dy * dy, m)
        sxx = np.bincount(flat, dx * dx, m)
        sxy = np.bincount(flat, dy * dx, m)
        theta = 0.5 * np.arctan2(2 * sxy, syy - sxx)        # major axis, (y, x) order
        proj = dy * np.cos(theta)[flat] + dx * np.sin(theta)[flat]
        chosen = np.zeros(m, bool)
        chosen[big] = True
        sel = np.nonzero(chosen[flat])[0]
        sel = sel[np.lexsort((proj[sel], flat[sel]))]       # by region, then along the axis
        lab = flat[sel]
        start = np.searchsorted(lab, lab, side="left")
        rank = np.arange(len(sel)) - start
        upper = rank >= (counts[lab] // 2)
        new_id = np.full(m, -1, np.int64)
        new_id[big] = m + np.arange(len(big))
        out = flat.copy()
        out[sel[upper]] = new_id[lab[upper]]
        labels = out.reshape(height, width)
        m += len(big)
    return labels


def _check_count(n: int, height: int, width: int) -> None:
    if n < 2:
        raise ValueError(f"a segmentation into {n} region(s) explains nothing; ask for at "
                         "least 2 regions.")
    if n > height * width:
        raise ValueError(f"cannot segment a {height}x{width} image into {n} regions (more "
                         "regions than pixels). Use fewer regions or a larger image.")


def segment_levels(image: np.ndarray, counts, method: str = "slic") -> list:
    """Nested label maps of one ``(H, W, C)`` image with exactly each of ``counts``
    regions (labels ``0..n-1``, int32): one segmentation at the largest count, made
    exact by merging or splitting, and every coarser level agglomerated from it
    (smallest region into its closest-colour neighbour), so that each coarse region
    is a union of finer ones."""
    height, width = image.shape[:2]
    counts = [int(n) for n in counts]
    for n in counts:
        _check_count(n, height, width)
    top = max(counts)
    unit = _unit(image.astype(np.float64))
    labels = relabel(_raw_segments(unit, top, method))
    if labels.max() + 1 < top:
        labels = _split_to(labels, top)
    levels = _merge_levels(labels, unit, counts)     # exact top, then the coarser levels
    return [levels[n] for n in counts]


def segment(image: np.ndarray, n: int, method: str = "slic") -> np.ndarray:
    """Exactly ``n`` super-pixels of one ``(H, W, C)`` image, labels ``0..n-1`` (int32)."""
    return segment_levels(image, [n], method)[0]


def check_label_map(labels, shape, where: str) -> np.ndarray:
    """A user label map: integer ``(H, W)`` with at least 2 regions, relabelled ``0..n-1``."""
    labels = np.asarray(labels)
    if labels.shape != tuple(shape):
        raise ValueError(f"{where} has shape {labels.shape}; a label map must be (H, W) = "
                         f"{tuple(shape)}, one integer region id per pixel.")
    if not np.issubdtype(labels.dtype, np.integer):
        if np.issubdtype(labels.dtype, np.floating) and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise TypeError(f"{where} must hold integer region ids, got dtype {labels.dtype}.")
    labels = relabel(labels)
    if labels.max() < 1:
        raise ValueError(f"{where} has a single region; perturbing it would only compare the "
                         "image with the fill. Use a segmentation with at least 2 regions "
                         "(a larger `segments` count or a finer segmentation function).")
    return labels


def segment_images(x: np.ndarray, segments, method: str = "slic") -> list:
    """One label map per image from ``segments``: an int (exact region count with
    ``method``), a callable ``image (H, W, C) -> label map``, or a label map
    ``(H, W)`` shared by all images / ``(N, H, W)`` one per image."""
    shape = x.shape[1:3]
    if callable(segments):
        return [check_label_map(segments(img), shape, f"segments({i}-th image)")
                for i, img in enumerate(x)]
    if isinstance(segments, (int, np.integer)) and not isinstance(segments, bool):
        return [segment(img, int(segments), method) for img in x]
    arr = np.asarray(segments)
    if arr.ndim == 2:
        lab = check_label_map(arr, shape, "segments")
        return [lab] * len(x)
    if arr.ndim == 3 and len(arr) == len(x):
        return [check_label_map(a, shape, f"segments[{i}]") for i, a in enumerate(arr)]
    raise ValueError(f"segments of shape {arr.shape} is not understood; pass a region count "
                     "(int), a function image -> label map, or label maps (H, W) or (N, H, W).")


def check_segments_param(segments) -> None:
    """Refuse a bad ``segments`` parameter at construction time."""
    if callable(segments):
        return
    if isinstance(segments, bool):
        raise TypeError("segments must be a region count, a function or a label map, not a bool.")
    if isinstance(segments, (int, np.integer)):
        if segments < 2:
            raise ValueError(f"segments={segments} gives a single region, which explains "
                             "nothing; use at least 2 regions.")
        return
    arr = np.asarray(segments)
    if arr.ndim not in (2, 3):
        raise ValueError("segments must be a region count (int), a function image -> label "
                         f"map, or label maps (H, W) / (N, H, W); got shape {arr.shape}.")


def region_mean_images(x: np.ndarray, segs) -> np.ndarray:
    """Each image with every region painted in its mean colour (the ``"mean"`` fill)."""
    out = np.empty_like(x)
    for i, (img, lab) in enumerate(zip(x, segs)):
        flat = lab.ravel()
        cnt = np.bincount(flat)
        for ch in range(x.shape[-1]):
            sums = np.bincount(flat, img[..., ch].ravel().astype(np.float64))
            out[i, ..., ch] = (sums / cnt)[lab]
    return out


def mean_shift_bandwidth(points: np.ndarray, quantile: float = 0.3) -> float:
    """Mean distance of each point to its ``int(n * quantile)``-th nearest point
    (itself counted first): scikit-learn's ``estimate_bandwidth`` on all points,
    computed directly for the few dozen border regions (its neighbour-index set-up
    cost more than the mean shift itself)."""
    from scipy.spatial.distance import cdist

    k = max(1, int(len(points) * quantile))
    d = cdist(points, points)
    return float(np.partition(d, k - 1, axis=1)[:, k - 1].mean())


def mean_shift(points: np.ndarray, bandwidth: float, max_iter: int = 300):
    """Flat-kernel mean shift with bin seeding: ``(centers, labels)``.

    The algorithm of scikit-learn's ``MeanShift(bandwidth, bin_seeding=True)``
    (seeds on a bandwidth grid, each moved to the mean of the points within
    ``bandwidth`` until it moves less than 1e-3 bandwidth; centres sorted by how
    many points they hold, near-duplicates dropped; each point labelled with its
    nearest centre), run for all seeds at once in numpy: on the few dozen border
    regions of an image scikit-learn's per-seed dispatch and thread-pool set-up
    cost 20-200 ms, this a fraction of a millisecond (equal results are tested).
    """
    from scipy.spatial.distance import cdist

    pts = np.asarray(points, np.float64)
    bins, first = np.unique(np.round(pts / bandwidth), axis=0, return_index=True)
    if len(bins) == len(pts):
        seeds = pts.copy()                              # no two points share a bin
    else:
        seeds = (bins[np.argsort(first)].astype(np.float32) * bandwidth).astype(np.float64)
    active = np.ones(len(seeds), bool)
    held = np.zeros(len(seeds), np.int64)
    for _ in range(max_iter + 1):
        if not active.any():
            break
        idx = np.nonzero(active)[0]
        within = cdist(seeds[idx], pts) <= bandwidth
        count = within.sum(axis=1)
        held[idx] = count
        moving = count > 0
        new = within[moving] @ pts / count[moving, None]
        shift = np.linalg.norm(new - seeds[idx[moving]], axis=1)
        seeds[idx[moving]] = new
        active[idx[~moving]] = False
        active[idx[moving][shift <= 1e-3 * bandwidth]] = False
    keep = held > 0
    centers, held = seeds[keep], held[keep]
    # strongest first (ties: larger coordinates first), then drop centres near a stronger one
    order = sorted(range(len(centers)), key=lambda i: (held[i], tuple(centers[i])), reverse=True)
    centers = centers[order]
    unique = np.ones(len(centers), bool)
    near = cdist(centers, centers) <= bandwidth
    for i in range(len(centers)):
        if unique[i]:
            unique[near[i]] = False
            unique[i] = True
    centers = centers[unique]
    return centers, np.argmin(cdist(pts, centers), axis=1)


def boundary_prior(image: np.ndarray, regions: int = 2 ** 8, method: str = "slic",
                   labels: np.ndarray | None = None):
    """Mean ``mu`` (C,) of the background: Seo et al. Alg. 3 line 2.

    The image is segmented into ``regions`` super-pixels (or ``labels`` is that
    segmentation); the mean colours of the super-pixels touching the image border
    are clustered with mean shift and the mode of the largest cluster is ``mu``.
    """
    if labels is None:
        labels = segment(image, min(regions, image.shape[0] * image.shape[1]), method)
    m = int(labels.max()) + 1
    counts = np.bincount(labels.ravel(), minlength=m)
    means = np.stack([np.bincount(labels.ravel(), image[..., ch].ravel().astype(np.float64),
                                  minlength=m) for ch in range(image.shape[-1])], 1)
    means /= counts[:, None]
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    pts = means[border]
    bandwidth = mean_shift_bandwidth(pts, quantile=0.3) if len(pts) > 1 else 0.0
    if not np.isfinite(bandwidth) or bandwidth <= 1e-12:
        return pts.mean(axis=0)  # all border colours coincide: that colour is the mode
    centers, assigned = mean_shift(pts, bandwidth)
    return centers[int(np.argmax(np.bincount(assigned)))]


SegmentationFn = Callable[[np.ndarray], np.ndarray]
