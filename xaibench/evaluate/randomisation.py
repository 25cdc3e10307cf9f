"""Sanity checks by randomisation (evaluator arrow of DESIGN.md):

* :func:`randomisation` -- the model parameter randomisation test (MPRT) of Adebayo, Gilmer,
  Muelly, Goodfellow, Hardt, Kim: "Sanity Checks for Saliency Maps", NeurIPS 2018, Sec. 3.1:
  "cascading" randomisation re-initialises the layers from the top (logits) down, one more
  per step; "independent" randomises one layer at a time, the others keeping their trained
  weights. The heatmaps of each randomised model are compared with the original ones by
  Spearman rank correlation, SSIM (scikit-image ``structural_similarity``) and the Pearson
  correlation of their histograms of oriented gradients (scikit-image ``hog``), their
  Sec. 3.1 "Similarity metrics". A method that passes the check has similarities that fall
  as layers are randomised.
* :func:`efficient_randomisation` -- eMPRT of Hedstroem, Weber, Lapuschkin, Hoehne: "Sanity
  Checks Revisited: An Exploration to Repair the Model Parameter Randomisation Test", XAI in
  Action workshop, NeurIPS 2023, Sec. 4: the relative rise of the explanation's complexity
  (discrete entropy of the histogram of its values, ``n_bins`` equal bins) from the original
  to the fully randomised model, (H(e_rand) - H(e)) / H(e) -- what Quantus 0.6.0
  ``EfficientMPRT`` returns; larger is better.
* :func:`random_logit` -- Sixt, Granz, Landgraf: "When Explanations Lie: Why Many Modified BP
  Attributions Fail", ICML 2020, Sec. 5.1 (as Quantus's ``RandomLogit``): similarity between
  the heatmap of the explained class and that of a random other class; lower is better.

Randomisation works on copies (``tf.keras.models.clone_model`` + the user's weights): the
user's model is never changed. ``randomise``: "reinit" (default; each variable re-drawn
from its layer's own initializer, seeded per layer -- Adebayo et al.'s re-initialisation),
"permute" (each weight array permuted along its first axis, as Quantus 0.6.0 does), or a
callable ``fn(weights, layer, seed) -> new weights`` (lists of numpy arrays).
Heatmaps come from ``xb.create_analyzer(analyzer, model_copy, **analyzer_params)`` -- any
analyzer name, either backend.

Execution: one copy per user model is kept (weakly keyed by the model, so it goes with it),
with the analyzers built on it. Each call first assigns the user's current weights into the
copy's variables, explains the original model on it, then assigns each step's randomised
weights into the same variables: the native engine's analyzers (and Grad-CAM) read the
variables inside their traced ``tf.function``, so one trace serves every step and every later
call -- no clone and no retracing per step (Quantus clones and re-creates the explainer per
layer). Where they run on the canonized model (``xb.prepare``), its batch-norm-folded
layers are re-derived from the copy's variables inside the same traced call (``sync`` in
``xaibench/prepare.py``). Other analyzers (the iNNvestigate backend, PatternNet, the
perturbation methods) are created afresh on each randomised copy.
``tests/test_evaluate_randomisation.py`` checks the reuse against a fresh analyzer per step.
"""
from __future__ import annotations

import weakref

import numpy as np
import tensorflow as tf

from xaibench import heatmaps
from xaibench.evaluate.faithfulness import predicted_classes
from xaibench.evaluate.statistics import pearson_rows
from xaibench._checks import (check_images, check_in_range, check_parameters, close_matches,
                              model_num_classes, resolve_neuron_selection)

SIMILARITIES = ("spearman", "ssim", "hog")
ORDERS = ("cascading", "independent")
RANDOMISE = ("reinit", "permute")


# --------------------------------------------------------------------------------------------
# validation and model copies

def _check_analyzer(analyzer, params):
    from xaibench.analyzers.registry import get_spec

    if not isinstance(analyzer, str):
        raise TypeError(f"analyzer must be an analyzer name (xb.list_analyzers()), got "
                        f"{type(analyzer).__name__}.")
    spec = get_spec(analyzer)
    params = dict(params or {})
    if spec.accepts is not None:
        check_parameters(analyzer, params, spec.accepts)
    return params


def _check_similarity(similarity):
    sims = (similarity,) if isinstance(similarity, str) else tuple(similarity)
    bad = [s for s in sims if s not in SIMILARITIES]
    if bad or not sims:
        raise ValueError(f"similarity {bad or similarity!r} is not supported; use any of "
                         f"{', '.join(SIMILARITIES)}.")
    return sims


def _check_randomise(randomise):
    if callable(randomise):
        return randomise
    if randomise not in RANDOMISE:
        raise ValueError(f"randomise={randomise!r} is not supported; use 'reinit', 'permute' or "
                         "a callable fn(weights, layer, seed) -> new weights.")
    return randomise


def weighted_layers(model) -> list:
    """Names of the layers of ``model`` that hold weights, input to output."""
    return [layer.name for layer in model.layers if layer.weights]


def _check_layers(model, layers):
    names = weighted_layers(model)
    if layers is None:
        return names
    layers = [layers] if isinstance(layers, str) else list(layers)
    unknown = [l for l in layers if l not in names]
    if unknown or not layers:
        close = close_matches(unknown, names)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise ValueError(f"layer(s) {', '.join(map(repr, unknown)) or '(none)'} cannot be "
                         f"randomised: model {model.name!r} has no such layer with weights; its "
                         f"layers with weights are {', '.join(names)}.{hint}")
    return [n for n in names if n in layers]            # in model order


def _check_copyable(model):
    """Refuse, before any work, a model that ``clone_model`` cannot copy (a subclassed one)."""
    from xaibench._keras import check_keras_model, is_graph_model

    check_keras_model(model)
    if not is_graph_model(model):
        raise TypeError(f"model {model.name!r} is subclassed; randomisation works on a copy "
                        "made by tf.keras.models.clone_model, which needs a functional or "
                        "Sequential model: build the same layers functionally (keras.Input "
                        "-> layers -> keras.Model), copy the weights over with "
                        "set_weights(model.get_weights()) and pass that model.")


def _copy(model):
    """A copy of ``model`` with its weights (checked copyable by :func:`_check_copyable`)."""
    copy = tf.keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _layer_seed(seed, index):
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0] % (2 ** 31 - 1))


def _reinit(layer, seed):
    out = []
    for j, v in enumerate(layer.weights):
        name = getattr(v, "path", None) or v.name
        name = name.split("/")[-1].split(":")[0]
        init = getattr(layer, f"{name}_initializer", None)
        shape = tuple(int(s) for s in v.shape)
        if init is not None:
            cfg = dict(init.get_config())
            if "seed" in cfg:
                cfg["seed"] = seed + j
            out.append(np.asarray(type(init).from_config(cfg)(shape, dtype="float32")))
        else:                                           # no initializer: a scaled normal draw
            rng = np.random.default_rng([seed, j])
            w = np.asarray(v.numpy())
            out.append((rng.normal(size=shape) * (w.std() or 0.05)).astype(w.dtype))
    return out


def _randomised_weights(layer, randomise, seed):
    if randomise == "reinit":
        return _reinit(layer, seed)
    if randomise == "permute":
        rng = np.random.default_rng(seed)
        return [rng.permutation(w) for w in layer.get_weights()]
    return [np.asarray(w) for w in randomise(layer.get_weights(), layer, seed)]


# --------------------------------------------------------------------------------------------
# similarities

def _prepare(R, channel_reduce, abs_, normalise):
    h = heatmaps.reduce_channels(np.asarray(R, np.float64), channel_reduce)
    if abs_:
        h = np.abs(h)
    if normalise:
        m = np.abs(h).reshape(len(h), -1).max(axis=1)
        h = h / np.where(m > 0, m, 1.0)[:, None, None]
    return h


def _ranks(h) -> np.ndarray:
    """Average ranks (ties share their mean rank) of each heatmap's values: (N, M)."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(h, np.float64).reshape(len(h), -1), axis=1)


def spearman(a, b) -> np.ndarray:
    """Spearman rank correlation of each pair of heatmaps (N, ...) (average ranks for ties,
    as ``scipy.stats.spearmanr``)."""
    return pearson_rows(_ranks(a), _ranks(b))


def _float_type(dtype) -> np.dtype:
    """scikit-image's working float type for an image dtype: float32 for float16 / float32,
    float64 otherwise."""
    return np.dtype(np.float32 if np.dtype(dtype) in (np.float16, np.float32) else np.float64)


def ssim(a, b) -> np.ndarray:
    """SSIM (scikit-image) of each pair of 2-D heatmaps (N, H, W); data range: the range of
    the pair's values (as Quantus); window: 7, or the largest odd size that fits.

    Computed over the whole stack at once with scikit-image's formula (uniform window, sample
    covariance, K1 = 0.01, K2 = 0.03, the mean over the map less a window radius at the
    border): equal to ``skimage.metrics.structural_similarity`` per pair (tested)."""
    from scipy.ndimage import uniform_filter

    a, b = np.asarray(a), np.asarray(b)
    side = min(a.shape[1:])
    win = min(7, side - (1 - side % 2))
    if win < 3 or not len(a):
        return np.full(len(a), np.nan)
    hi = np.maximum(a.max(axis=(1, 2)), b.max(axis=(1, 2)))
    lo = np.minimum(a.min(axis=(1, 2)), b.min(axis=(1, 2)))
    rng = np.asarray(hi - lo, np.float64)
    ft = _float_type(a.dtype)
    x, y = a.astype(ft, copy=False), b.astype(ft, copy=False)
    R = np.where(rng != 0, rng, 1.0)[:, None, None]
    C1, C2 = ((0.01 * R) ** 2).astype(ft), ((0.03 * R) ** 2).astype(ft)

    def mean(v):
        return uniform_filter(v, size=(1, win, win))

    ux, uy = mean(x), mean(y)
    uxx, uyy, uxy = mean(x * x), mean(y * y), mean(x * y)
    cov_norm = win ** 2 / (win ** 2 - 1)                # sample covariance
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    S = ((2 * ux * uy + C1) * (2 * vxy + C2)) / ((ux ** 2 + uy ** 2 + C1) * (vx + vy + C2))
    pad = (win - 1) // 2
    return S[:, pad:S.shape[1] - pad, pad:S.shape[2] - pad].mean(axis=(1, 2),
                                                                 dtype=np.float64)


def _hog_gradients(im):
    """Central differences of a stack (N, H, W) along rows and columns, zero on the border
    rows / columns (scikit-image's ``_hog_channel_gradient``), as float64."""
    g_row = np.zeros_like(im)
    g_row[:, 1:-1, :] = im[:, 2:, :] - im[:, :-2, :]
    g_col = np.zeros_like(im)
    g_col[:, :, 1:-1] = im[:, :, 2:] - im[:, :, :-2]
    return g_row.astype(np.float64, copy=False), g_col.astype(np.float64, copy=False)


def _orientation_bins(ori, orientations):
    """Orientation bin of each pixel: the i with edges[i] <= o < edges[i + 1] (edges
    180 / orientations * i), ``orientations`` for none (o rounded up to 180), 0 for NaN
    (its blocks come out NaN, as in scikit-image, which counts it in every bin)."""
    edges = 180.0 / orientations * np.arange(1, orientations + 1)
    bins = np.zeros(ori.shape, np.intp)
    for e in edges:
        bins += ori >= e
    return bins


def _hog_histograms(g_row, g_col, ppc, orientations):
    """Orientation histograms (N, cells_row, cells_col, orientations) of the cells of
    ``ppc`` x ``ppc`` pixels (size // ppc cells per side), as scikit-image's
    ``hog_histograms``: each cell's magnitudes summed per bin over its pixels row by row
    in float32 (each float64 sum rounded to float32), then divided by the cell area."""
    n, h, w = g_row.shape
    nr, nc = h // ppc, w // ppc

    def by_offset(v):                                   # (ppc, ppc, N, nr, nc)
        v = v[:, :nr * ppc, :nc * ppc].reshape(n, nr, ppc, nc, ppc)
        return np.ascontiguousarray(v.transpose(2, 4, 0, 1, 3))

    mag = by_offset(np.hypot(g_col, g_row))
    bins = by_offset(_orientation_bins(np.rad2deg(np.arctan2(g_row, g_col)) % 180,
                                       orientations))
    total = np.zeros((n, nr, nc, orientations + 1), np.float32)
    for dr in range(ppc):
        votes = np.zeros((ppc, n, nr, nc, orientations + 1))
        np.put_along_axis(votes, bins[dr, ..., None], mag[dr, ..., None], axis=-1)
        for v in votes:
            np.add(total, v, out=total, casting="unsafe")
    return (total[..., :orientations] / np.float32(ppc * ppc)).astype(np.float64)


def _hog_blocks(hist, cpb, eps=1e-5):
    """L2-Hys normalisation (clip at 0.2, renormalise) of each block of ``cpb`` x ``cpb``
    cells of the histograms (N, cells_row, cells_col, orientations), flattened (N, F) in
    scikit-image's order (block row, block column, cell row, cell column, orientation)."""
    from numpy.lib.stride_tricks import sliding_window_view

    blocks = sliding_window_view(hist, (cpb, cpb), axis=(1, 2)).transpose(0, 1, 2, 4, 5, 3)
    axes = (3, 4, 5)
    out = blocks / np.sqrt(np.sum(blocks ** 2, axis=axes, keepdims=True) + eps ** 2)
    out = np.minimum(out, 0.2)
    out = out / np.sqrt(np.sum(out ** 2, axis=axes, keepdims=True) + eps ** 2)
    return out.reshape(len(hist), -1)


def hog_features(images, orientations: int, pixels_per_cell: int,
                 cells_per_block: int) -> np.ndarray:
    """HOG features (N, F) of a stack of 2-D images (N, H, W): equal, image by image, to
    ``skimage.feature.hog(image, orientations, (ppc, ppc), (cpb, cpb))`` (L2-Hys blocks, no
    sqrt transform, feature vector; tested), computed over the whole stack at once."""
    images = np.asarray(images)
    ft = _float_type(images.dtype)
    ppc, cpb = pixels_per_cell, cells_per_block
    h, w = images.shape[1:]
    if h // ppc < cpb or w // ppc < cpb:
        raise ValueError(f"The input image is too small given the values of pixels_per_cell "
                         f"and cells_per_block. It should have at least: {cpb * ppc} rows and "
                         f"{cpb * ppc} cols.")
    g_row, g_col = _hog_gradients(images.astype(ft, copy=False))
    hist = _hog_histograms(g_row, g_col, ppc, orientations)
    return _hog_blocks(hist, cpb).astype(ft, copy=False)


def _hog_of(h, pixels_per_cell=None) -> np.ndarray:
    """The HOG features :func:`hog_similarity` compares, of a stack of 2-D heatmaps."""
    ppc = pixels_per_cell or max(2, int(round(min(h.shape[1:]) / 8)))
    cpb = 2 if min(h.shape[1:]) >= 2 * ppc else 1
    return hog_features(h, 9, ppc, cpb)


def hog_similarity(a, b, pixels_per_cell: int | None = None) -> np.ndarray:
    """Pearson correlation of the HOG features (scikit-image ``hog``: 9 orientations,
    ``pixels_per_cell`` (default about 1/8 of the side, at least 2), 2x2 cells per block) of
    each pair of 2-D heatmaps, Adebayo et al. (2018), Sec. 3.1. The features come from
    :func:`hog_features`, equal to scikit-image's ``hog`` per heatmap (tested)."""
    return pearson_rows(_hog_of(a, pixels_per_cell), _hog_of(b, pixels_per_cell))


def _against(h0, sims) -> dict:
    """One function h1 -> similarity of h1 to the original heatmaps ``h0`` per measure of
    ``sims``; what depends on ``h0`` alone (its ranks, its HOG features) is computed once,
    not at every randomisation step."""
    r0 = _ranks(h0) if "spearman" in sims else None
    f0 = _hog_of(h0) if "hog" in sims else None
    fns = {"spearman": lambda h1: pearson_rows(r0, _ranks(h1)),
           "ssim": lambda h1: ssim(h0, h1),
           "hog": lambda h1: pearson_rows(f0, _hog_of(h1))}
    return {s: fns[s] for s in sims}


# --------------------------------------------------------------------------------------------
# public API

def _explain(analyzer, model, params, x, y):
    from xaibench.analyzers.registry import create_analyzer

    return create_analyzer(analyzer, model, **params).analyze(x, neuron_selection=y)


_COPIES: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_MAX_ANALYZERS = 8


def _freeze(v):
    """A hashable stand-in for an analyzer parameter (arrays by content)."""
    if isinstance(v, np.ndarray):
        return ("ndarray", v.shape, v.dtype.str, v.tobytes())
    if isinstance(v, (list, tuple)):
        return (type(v).__name__,) + tuple(_freeze(e) for e in v)
    if isinstance(v, dict):
        return ("dict",) + tuple(sorted((k, _freeze(e)) for k, e in v.items()))
    hash(v)
    return v


def _params_key(analyzer, params):
    try:
        key = (analyzer, tuple(sorted((k, _freeze(v)) for k, v in params.items())))
        hash(key)
        return key
    except TypeError:                                     # unhashable: not cached
        return None


def _reads_variables(an) -> bool:
    """Analyzers whose traced functions read the model's variables at call time, so new
    weights assigned into them need no new analyzer (module docstring)."""
    from xaibench.analyzers.gradcam import GradCAM
    from xaibench.analyzers.native.analyzers import NativeAnalyzer

    return isinstance(an, (NativeAnalyzer, GradCAM))


class _Reused:
    """One analyzer on the kept copy, built once: its traced functions read the copy's
    variables (and re-derive the canonized model's folded weights from them) at every call."""

    def __init__(self, an):
        self.an = an

    def analyze(self, x, y):
        return self.an.analyze(x, neuron_selection=y)


class _Fresh:
    """An analyzer created afresh on the copy at every step (analyzers that may hold their
    own copy of the weights, e.g. the iNNvestigate backend's worker)."""

    def __init__(self, analyzer, params, copy):
        self.analyzer, self.params, self.copy = analyzer, params, copy

    def analyze(self, x, y):
        return _explain(self.analyzer, self.copy, self.params, x, y)


def _kept_copy(model, analyzer, params):
    """The copy of ``model`` kept for randomisation, holding the user's current weights, and
    the analyzer ``analyzer`` on it (built once, module docstring)."""
    from xaibench.analyzers.registry import create_analyzer

    entry = _COPIES.get(model)
    if entry is None:
        entry = {"copy": _copy(model), "analyzers": {}}
        _COPIES[model] = entry
    copy = entry["copy"]
    copy.set_weights(model.get_weights())
    key = _params_key(analyzer, params)
    store = entry["analyzers"]
    if key is not None and key in store:
        return copy, store[key]
    an = create_analyzer(analyzer, copy, **params)
    runner = _Reused(an) if _reads_variables(an) else _Fresh(analyzer, params, copy)
    if key is not None:
        if len(store) >= _MAX_ANALYZERS:
            del store[next(iter(store))]
        store[key] = runner
    return copy, runner


def clear_cache(model=None) -> None:
    """Drop the model copies (and their analyzers) kept for randomisation: of ``model``, or
    all of them."""
    if model is None:
        _COPIES.clear()
    else:
        _COPIES.pop(model, None)


def _common(model, x, analyzer, analyzer_params, y, seed, channel_reduce, kept=False):
    from xaibench._keras import check_keras_model

    check_keras_model(model)
    x = check_images(x, model)
    params = _check_analyzer(analyzer, analyzer_params)
    y = resolve_neuron_selection(y, len(x), model_num_classes(model))
    check_in_range("seed", seed, 0, 2 ** 31 - 1, integer=True)
    heatmaps._check_how(channel_reduce)
    from xaibench.analyzers.registry import create_analyzer

    # created before any model call: the analyzer refuses its own bad parameters (cheap: an
    # analyzer traces nothing until its first call); ``kept``: not when the kept copy has
    # this analyzer already (it was accepted on the same model)
    entry = _COPIES.get(model) if kept else None
    key = _params_key(analyzer, params) if entry is not None else None
    if key is not None and key in entry["analyzers"]:
        return x, params, y, None
    return x, params, y, create_analyzer(analyzer, model, **params)


def randomisation(model, x, analyzer: str = "gradient", y=None, order: str = "cascading",
                  layers=None, similarity=SIMILARITIES, randomise="reinit",
                  analyzer_params: dict | None = None, abs: bool = True,
                  normalise: bool = True, channel_reduce: str = "sum",
                  seed: int = 0, evaluate_at=None, heatmaps=None) -> dict:
    """Model parameter randomisation test of Adebayo et al. (2018) (module docstring).

    ``order``: "cascading" (top layer first, then one more layer per step, down to the
    input) or "independent" (each layer alone, top to bottom). ``layers``: names of the
    layers to randomise (default: every layer with weights; :func:`weighted_layers`).
    ``y``: explained class, fixed from the original model (None: its predicted class).
    Heatmaps are channel-pooled (``channel_reduce``), made absolute (``abs``, Adebayo et
    al.'s main setting) and divided by their max |value| (``normalise``) before the
    ``similarity`` measures ("spearman", "ssim", "hog"). ``seed``: the randomisation of
    layer i uses the seed derived from (seed, i): the same seed, the same numbers.
    ``evaluate_at``: names of the steps' layers after which the heatmaps are compared
    (default: every step); the other steps only randomise their layer, without an analyzer
    call -- e.g. ``["predictions", "conv1"]`` compares after the top layer and after every
    layer down to conv1 for the cost of two explanations. ``heatmaps``: the original
    model's heatmaps of ``analyzer`` (same parameters, same ``y``) when the caller has them
    already; not recomputed then.

    Returns a dict: "layers" (the layer randomised at each evaluated step, in step order),
    "order", one (N, steps) array per similarity, and "y" (N,).
    """
    _check_copyable(model)
    if order not in ORDERS:
        raise ValueError(f"order={order!r} is not supported; use 'cascading' or 'independent'.")
    names = _check_layers(model, layers)
    sims = _check_similarity(similarity)
    randomise = _check_randomise(randomise)
    if evaluate_at is not None:
        evaluate_at = [evaluate_at] if isinstance(evaluate_at, str) else list(evaluate_at)
        unknown = [n for n in evaluate_at if n not in names]
        if unknown or not evaluate_at:
            raise ValueError(f"evaluate_at {', '.join(map(repr, unknown)) or '(none)'}: not "
                             f"among the layers randomised ({', '.join(names)}).")
    x, params, y, _ = _common(model, x, analyzer, analyzer_params, y, seed, channel_reduce,
                              kept=True)
    if heatmaps is not None:
        R0 = np.asarray(heatmaps)
        if R0.ndim < 3 or R0.shape[:3] != x.shape[:3]:
            raise ValueError(f"heatmaps have shape {R0.shape}; the images are {x.shape}.")
    index = {n: i for i, n in enumerate(weighted_layers(model))}

    if y is None:
        y = predicted_classes(model, x)
    copy, explainer = _kept_copy(model, analyzer, params)   # holds the user's weights now
    if heatmaps is None:
        R0 = explainer.analyze(x, y)
    h0 = _prepare(R0, channel_reduce, abs, normalise)
    steps = names[::-1]                                   # top down
    compare = _against(h0, sims)
    scores = {s: [] for s in sims}
    previous = None
    for name in steps:
        layer = copy.get_layer(name)
        if order == "independent" and previous is not None:
            copy.get_layer(previous).set_weights(model.get_layer(previous).get_weights())
        layer.set_weights(_randomised_weights(layer, randomise, _layer_seed(seed, index[name])))
        previous = name
        if evaluate_at is not None and name not in evaluate_at:
            continue
        h1 = _prepare(explainer.analyze(x, y), channel_reduce, abs, normalise)
        for s, fn in compare.items():
            scores[s].append(fn(h1))
    if evaluate_at is not None:
        steps = [n for n in steps if n in evaluate_at]
    out = {"layers": steps, "order": order}
    out.update({s: np.stack(v, axis=1) for s, v in scores.items()})
    out["y"] = np.asarray(y, np.int64)
    return out


def discrete_entropy(R, n_bins: int = 100, channel_reduce: str = "sum") -> np.ndarray:
    """Entropy (nats) of the ``n_bins``-bin histogram of each channel-pooled heatmap's values
    (``np.histogram`` over its [min, max]): the complexity of eMPRT (Hedstroem et al. 2023)."""
    from scipy.stats import entropy

    h = heatmaps.reduce_channels(np.asarray(R, np.float64), channel_reduce)
    return np.array([entropy(np.histogram(v.ravel(), bins=n_bins)[0]) for v in h])


def efficient_randomisation(model, x, analyzer: str = "gradient", y=None, layers=None,
                            randomise="reinit", analyzer_params: dict | None = None,
                            n_bins: int = 100, abs: bool = False,
                            channel_reduce: str = "sum", seed: int = 0) -> dict:
    """eMPRT of Hedstroem et al. (2023) (module docstring): the relative rise of the discrete
    entropy of the heatmaps from the original model to the model with all ``layers``
    (default: every layer with weights) randomised. Returns a dict: "complexity" and
    "complexity_randomised" (N,), "rise" (N,) = (randomised - original) / original,
    "y" (N,)."""
    _check_copyable(model)
    names = _check_layers(model, layers)
    randomise = _check_randomise(randomise)
    check_in_range("n_bins", n_bins, 2, integer=True)
    x, params, y, _ = _common(model, x, analyzer, analyzer_params, y, seed, channel_reduce,
                              kept=True)
    index = {n: i for i, n in enumerate(weighted_layers(model))}
    if y is None:
        y = predicted_classes(model, x)
    copy, explainer = _kept_copy(model, analyzer, params)   # holds the user's weights now
    R0 = explainer.analyze(x, y)
    for name in names:
        layer = copy.get_layer(name)
        layer.set_weights(_randomised_weights(layer, randomise, _layer_seed(seed, index[name])))
    R1 = explainer.analyze(x, y)
    if abs:
        R0, R1 = np.abs(R0), np.abs(R1)
    c0 = discrete_entropy(R0, n_bins, channel_reduce)
    c1 = discrete_entropy(R1, n_bins, channel_reduce)
    with np.errstate(invalid="ignore", divide="ignore"):
        rise = (c1 - c0) / c0
    return {"complexity": c0, "complexity_randomised": c1, "rise": rise,
            "y": np.asarray(y, np.int64)}


def random_logit(model, x, analyzer: str = "gradient", y=None, random_classes=None,
                 similarity=SIMILARITIES, analyzer_params: dict | None = None,
                 abs: bool = False, normalise: bool = False, channel_reduce: str = "sum",
                 seed: int = 0) -> dict:
    """Random-logit test (Sixt et al. 2020; module docstring): similarity between the
    heatmap of ``y`` (None: the predicted class) and that of a class drawn uniformly from
    the others with ``seed`` (or ``random_classes``, one per image). Returns a dict: one
    (N,) array per ``similarity``, "y" and "random_classes" (N,)."""
    sims = _check_similarity(similarity)
    x, params, y, an0 = _common(model, x, analyzer, analyzer_params, y, seed, channel_reduce)
    k = model_num_classes(model)
    if k < 2:
        raise ValueError("the random-logit test needs a model with at least 2 classes.")
    if random_classes is not None:
        random_classes = resolve_neuron_selection(random_classes, len(x), k)
    if y is None:
        y = predicted_classes(model, x)
    if random_classes is None:
        off = np.random.default_rng(seed).integers(0, k - 1, len(x))
        random_classes = off + (off >= y)
    elif np.any(random_classes == y):
        raise ValueError("random_classes must differ from the explained classes y.")
    h0 = _prepare(an0.analyze(x, neuron_selection=y), channel_reduce, abs, normalise)
    h1 = _prepare(an0.analyze(x, neuron_selection=random_classes), channel_reduce, abs,
                  normalise)
    out = {s: fn(h1) for s, fn in _against(h0, sims).items()}
    out.update(y=np.asarray(y, np.int64), random_classes=np.asarray(random_classes, np.int64))
    return out
