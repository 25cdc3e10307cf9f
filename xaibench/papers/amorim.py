"""Amorim et al., "Interpretability vs. Complexity: The Friction in Deep Neural Networks".

Reproduces the regularisation study of the paper:

* the CNN of Fig. 1 (:func:`xaibench.zoo.cifar_cnn`) trained with L2 weight decay
  (eq. 1) ``decays`` on the layer groups ``groups`` (B1, B2, B3, B, D1, D2, D, A;
  Sec. III-A) in k-fold cross-validation over the training and test images combined
  (``folds``; 10 in the paper), with early stopping on the validation loss (patience 10,
  best weights restored; Sec. II-A b);
* the accuracy of every model on its held-out fold (Fig. 3);
* the confidence drop of eq. 3 at the 5, 10, 20, 30, 40, 50 and 75 % most relevant
  pixels (replaced by uniform noise, Sec. III-C) for gradient (eq. 2), DeConvNet, guided
  backprop, deep Taylor and LRP heatmaps of the held-out images, and the same with
  random pixels as the control; the paper's "AOPC" (eq. 4) is
  ``1 / (L + 1) * sum_k Drop(k)`` over these L = 7 steps, averaged over images and folds;
* Table II (methods x decays, all layers regularised), Tables III-VII (layer group x
  decay, one table per method), the same tables for the random-pixel control, and
  Fig. 4 (how often each layer group gave the best AOPC of a method);
* the Friedman test at 5 % (Nemenyi post-hoc pairs) over the decays for each method
  (blocks: the evaluated images of all folds), for the random control, and over the
  methods; with only two decays a Wilcoxon signed-rank test replaces the Friedman test
  (the Friedman test needs three treatments).

Full protocol (``quick=False``): CIFAR-10 from the Keras cache (train + test = 60,000
images), the paper's six decays and eight layer groups, 10 folds, at most 200 epochs
with patience 10, every held-out image evaluated (``images`` limits that). A GPU is
expected: that is 10 x 43 models. ``data="digits"`` runs the same on scikit-learn's
digits upscaled to 32 x 32.

Quick mode (``quick=True``): the digits upscaled to 16 x 16, a narrow CNN (filters
4-8-8, dense 32-16), 2 folds, decays 0 and 1e-2 on the groups A and D, at most 15 epochs
with patience 3, 32 evaluated images per fold: a minute on 2 CPU cores.

The decay is Keras's ``L2(decay)`` penalty ``decay * sum w^2`` on the kernels of the
group (eq. 1 writes ``1/2 ||w||^2``; the paper's Keras/iNNvestigate code presumably used
the same Keras regulariser). LRP is ``lrp.epsilon`` (the paper does not name its
iNNvestigate LRP rule); deep Taylor is iNNvestigate's ``deep_taylor``. Every model is
cached under ``<out>/models`` and every evaluation is a resumable batch run under
``<out>/runs``.
"""
from __future__ import annotations

import json
import os
import zlib

import numpy as np

from xaibench.papers._common import cached_model, check_int, parse_data, rows_of, sub_run
from xaibench.papers.comparison import Reproduction, markdown_table, order_text, ordered, vs
from xaibench.plots import new_figure

TITLE = ("Amorim et al. (2020): Interpretability vs. Complexity -- L2 regularisation vs. "
         "confidence-drop AOPC of five saliency methods")

#: the paper's values of L2 weight decay (Sec. III-A) and layer groups
PAPER_DECAYS = (0.0, 1e-4, 1e-3, 5e-3, 1e-2, 5e-2)
PAPER_GROUPS = ("B1", "B2", "B3", "B", "D1", "D2", "D", "A")
#: fractions of most relevant pixels of eq. 3 (Sec. III-C)
FRACTIONS = (.05, .1, .2, .3, .4, .5, .75)

#: xaibench analyzer -> the paper's name of the method
METHODS = {"deconvnet": "DeConvNet", "deep_taylor": "Deep Taylor", "gradient": "Gradient",
           "guided_backprop": "Guided Backprop", "lrp.epsilon": "LRP"}

#: Table II: mean AOPC over 10 folds, all layers regularised, per decay of PAPER_DECAYS
#: (the 0.05 column is printed as 9.3E-12)
TABLE_II = {
    "deconvnet": (0.314, 0.293, 0.253, 0.232, 0.134, 9.3e-12),
    "deep_taylor": (0.218, 0.230, 0.229, 0.201, 0.114, 9.3e-12),
    "gradient": (0.419, 0.413, 0.417, 0.356, 0.226, 9.3e-12),
    "guided_backprop": (0.269, 0.281, 0.263, 0.224, 0.132, 9.3e-12),
    "lrp.epsilon": (0.423, 0.421, 0.427, 0.362, 0.231, 9.3e-12),
}

#: Tables III (DeConvNet), IV (Deep Taylor), V (Gradient), VI (Guided Backprop) and
#: VII (LRP): mean AOPC per layer group (rows) and decay of PAPER_DECAYS (columns)
TABLES_III_VII = {
    "deconvnet": ("Table III", {
        "B1": (0.3142, 0.3082, 0.3004, 0.2810, 0.2772, 0.2292),
        "B2": (0.3142, 0.3368, 0.3065, 0.2882, 0.2651, 0.2328),
        "B3": (0.3142, 0.3107, 0.3135, 0.3037, 0.2710, 0.3228),
        "B": (0.3142, 0.2878, 0.2651, 0.2451, 0.2603, 0.1600),
        "D1": (0.3142, 0.3253, 0.3265, 0.3298, 0.3425, 0.3666),
        "D2": (0.3142, 0.3247, 0.3238, 0.3197, 0.3249, 0.3155),
        "D": (0.3142, 0.3262, 0.3344, 0.3298, 0.3395, 0.3503),
        "A": (0.3142, 0.2934, 0.2526, 0.2316, 0.1343, 0.0000)}),
    "deep_taylor": ("Table IV", {
        "B1": (0.2183, 0.2216, 0.2252, 0.2274, 0.2211, 0.2188),
        "B2": (0.2183, 0.2283, 0.2232, 0.2226, 0.2224, 0.1988),
        "B3": (0.2183, 0.2368, 0.2310, 0.2323, 0.2245, 0.2416),
        "B": (0.2183, 0.2269, 0.2312, 0.2326, 0.2236, 0.1453),
        "D1": (0.2183, 0.2279, 0.2465, 0.2427, 0.2499, 0.2526),
        "D2": (0.2183, 0.2267, 0.2302, 0.2405, 0.2235, 0.2354),
        "D": (0.2183, 0.2250, 0.2348, 0.2452, 0.2473, 0.2516),
        "A": (0.2183, 0.2301, 0.2292, 0.2014, 0.1138, 0.0000)}),
    "gradient": ("Table V", {
        "B1": (0.4192, 0.4212, 0.4249, 0.4167, 0.4145, 0.4153),
        "B2": (0.4192, 0.4242, 0.4244, 0.4101, 0.4153, 0.3898),
        "B3": (0.4192, 0.4301, 0.4252, 0.4295, 0.4230, 0.4279),
        "B": (0.4192, 0.4279, 0.4272, 0.4149, 0.3963, 0.2309),
        "D1": (0.4192, 0.4227, 0.4252, 0.4287, 0.4226, 0.4358),
        "D2": (0.4192, 0.4181, 0.4291, 0.4303, 0.4273, 0.4341),
        "D": (0.4192, 0.4211, 0.4248, 0.4289, 0.4266, 0.4201),
        "A": (0.4192, 0.4127, 0.4174, 0.3564, 0.2260, 0.0000)}),
    "guided_backprop": ("Table VI", {
        "B1": (0.2690, 0.2722, 0.2720, 0.2698, 0.2563, 0.2454),
        "B2": (0.2690, 0.2884, 0.2696, 0.2700, 0.2561, 0.2312),
        "B3": (0.2690, 0.2860, 0.2844, 0.2825, 0.2615, 0.2881),
        "B": (0.2690, 0.2777, 0.2723, 0.2611, 0.2678, 0.1629),
        "D1": (0.2690, 0.2867, 0.2852, 0.2912, 0.2903, 0.2993),
        "D2": (0.2690, 0.2792, 0.2716, 0.2922, 0.2878, 0.2755),
        "D": (0.2690, 0.2788, 0.2919, 0.2867, 0.2951, 0.3022),
        "A": (0.2690, 0.2813, 0.2630, 0.2243, 0.1324, 0.0000)}),
    "lrp.epsilon": ("Table VII", {
        "B1": (0.4226, 0.4274, 0.4304, 0.4202, 0.4203, 0.4196),
        "B2": (0.4226, 0.4295, 0.4289, 0.4154, 0.4184, 0.3947),
        "B3": (0.4226, 0.4340, 0.4284, 0.4344, 0.4256, 0.4302),
        "B": (0.4226, 0.4309, 0.4312, 0.4206, 0.4055, 0.2336),
        "D1": (0.4226, 0.4282, 0.4278, 0.4351, 0.4288, 0.4439),
        "D2": (0.4226, 0.4227, 0.4333, 0.4337, 0.4351, 0.4387),
        "D": (0.4226, 0.4273, 0.4301, 0.4334, 0.4317, 0.4281),
        "A": (0.4226, 0.4211, 0.4265, 0.3622, 0.2313, 0.0000)}),
}

#: the layer groups the paper recommends (Sec. IV-B, Fig. 4, Sec. V)
LATE_GROUPS = ("B3", "D1", "D2", "D")

#: settings per mode; every one can be overridden by an option of :func:`run`
QUICK = dict(folds=2, decays=(0.0, 1e-2), groups=("A", "D"), images=32, epochs=15,
             patience=3, size=16, filters=(4, 8, 8), dense_units=(32, 16), batch_size=64,
             repeats=2, cifar_limit=3000)
FULL = dict(folds=10, decays=PAPER_DECAYS, groups=PAPER_GROUPS, images=None, epochs=200,
            patience=10, size=32, filters=(32, 64, 128), dense_units=(512, 256),
            batch_size=128, repeats=3, cifar_limit=None)


def _check_options(folds, decays, groups, images, epochs, patience):
    """Check the paper options before any work; returns them normalised."""
    folds = check_int("folds", folds, 2)
    if isinstance(decays, (str, bytes)) or not hasattr(decays, "__iter__"):
        raise ValueError(f"decays must be a list of L2 weight decays such as [0, 0.01], "
                         f"got {decays!r}")
    decays = list(decays)
    for d in decays:
        if isinstance(d, bool) or not isinstance(d, (int, float, np.floating, np.integer)) \
                or not np.isfinite(d) or d < 0:
            raise ValueError(f"decays must be numbers >= 0 such as [0, 0.01], got {d!r}")
    decays = tuple(sorted(float(d) for d in decays))
    if len(decays) < 2 or len(set(decays)) != len(decays):
        raise ValueError(f"decays must hold at least two different values, got {decays!r}")
    if isinstance(groups, str):
        groups = (groups,)
    if not hasattr(groups, "__iter__"):
        raise ValueError(f"groups must be a list of layer groups, got {groups!r}")
    groups = tuple(groups)
    bad = [g for g in groups if g not in PAPER_GROUPS]
    if bad or not groups or len(set(groups)) != len(groups):
        raise ValueError(f"groups must be distinct layer groups of {', '.join(PAPER_GROUPS)}, "
                         f"got {list(groups)!r}")
    return (folds, decays, groups, check_int("images", images, 1, allow_none=True),
            check_int("epochs", epochs, 1), check_int("patience", patience, 1))


def _load_images(name: str, settings: dict, seed: int):
    """All images of the data set (train and test combined, Sec. III-A) in [0, 1]."""
    import xaibench as xb

    if name == "digits":
        x_tr, y_tr, x_te, y_te = xb.data.digits(size=settings["size"], seed=seed)
        return np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    loader = getattr(xb.data, name)
    train, test = loader("train"), loader("test")
    x, y = np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y])
    limit = settings["cifar_limit"]
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return x.astype(np.float32), y.astype(np.int64)


def _fold_indices(y, folds: int, seed: int):
    """(train, test) indices of stratified k-fold cross-validation."""
    from sklearn.model_selection import StratifiedKFold

    smallest = int(np.bincount(y).min())
    if folds > smallest:
        raise ValueError(f"folds={folds} exceeds the {smallest} images of the smallest class; "
                         "use fewer folds")
    return list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _decay_text(decay: float) -> str:
    return "0" if decay == 0 else f"{decay:g}"


def _model_key(fold: int, group: str, decay: float) -> str:
    # no decay: the same model for every group (the paper's tables repeat its column)
    return f"fold{fold}_{'none' if decay == 0 else group}_wd{_decay_text(decay)}"


def _train(x, y, x_val, y_val, decay, group, settings, epochs, patience, seed):
    """The Fig. 1 CNN trained with Adam; early stopping keeps the weights of the lowest
    validation loss and stops after ``patience`` epochs without improvement (Sec. II-A b)."""
    import tensorflow as tf

    from xaibench import zoo

    tf.keras.utils.set_random_seed(seed)
    model = zoo.cifar_cnn(weight_decay=decay, regularize=group, input_shape=x.shape[1:],
                          num_classes=10, filters=settings["filters"],
                          dense_units=settings["dense_units"])
    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])

    class KeepBest(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.weights, self.wait, self.epochs = np.inf, None, 0, 0

        def on_epoch_end(self, epoch, logs=None):
            self.epochs = epoch + 1
            loss = float(logs["val_loss"])
            if loss < self.best:
                self.best, self.weights, self.wait = loss, self.model.get_weights(), 0
            else:
                self.wait += 1
                if self.wait >= patience:
                    self.model.stop_training = True

        def on_train_end(self, logs=None):
            if self.weights is not None:
                self.model.set_weights(self.weights)

    keep = KeepBest()
    model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs,
              batch_size=settings["batch_size"], shuffle=True, verbose=0, callbacks=[keep])
    model.epochs_trained, model.best_val_loss = keep.epochs, keep.best
    return model


def _trained(out, key, fold_data, decay, group, settings, epochs, patience, seed):
    """The model of ``key`` (trained once, cached) and its facts: held-out accuracy
    (Fig. 3), epochs, best validation loss -- kept in ``<key>.json`` next to the model."""
    path = os.path.join(out, "models", key + ".keras")
    facts_path = os.path.join(out, "models", key + ".json")
    if os.path.isfile(path) and os.path.isfile(facts_path):
        with open(facts_path) as fh:
            return path, json.load(fh)
    x_tr, y_tr, x_val, y_val, x_te, y_te = fold_data
    model = cached_model(path, lambda: _train(x_tr, y_tr, x_val, y_val, decay, group, settings,
                                              epochs, patience, seed))
    p = model.predict(x_te, batch_size=256, verbose=0)
    facts = {"accuracy": float(np.mean(p.argmax(axis=1) == y_te)), "n_test": int(len(y_te)),
             "epochs": getattr(model, "epochs_trained", None),
             "best_val_loss": getattr(model, "best_val_loss", None)}
    tmp = facts_path + ".part"
    with open(tmp, "w") as fh:
        json.dump(facts, fh)
    os.replace(tmp, facts_path)
    return path, facts


def aopc_per_image(folder: str):
    """Per image and analyzer of a run folder: the paper's AOPC (eq. 4 over the drops of
    eq. 3 at the L = 7 fractions: ``sum_k Drop(k) / (L + 1)``) of the most relevant pixels
    (``"drop"``) and, under the analyzer-free ``baseline``, of random pixels (``"control"``).
    Returns ``{(analyzer, kind): array over images}``."""
    acc: dict = {}
    for image, analyzer, metric, setting, step, value in rows_of(folder):
        if not metric.startswith("confidence_drop"):
            continue
        kind, _, _ = setting.partition("@")
        acc.setdefault((analyzer, kind), {}).setdefault(image, []).append(value)
    out = {}
    for key, per_image in acc.items():
        images = sorted(per_image)
        if any(len(per_image[i]) != len(FRACTIONS) for i in images):
            raise ValueError(f"{folder}: expected {len(FRACTIONS)} fractions per image")
        out[key] = np.array([sum(per_image[i]) / (len(FRACTIONS) + 1) for i in images])
    return out


def _paper_value(method, group, decay):
    """The paper's AOPC for (method, group, decay) and where it comes from, or (None, None)."""
    if decay not in PAPER_DECAYS:
        return None, None
    j = PAPER_DECAYS.index(decay)
    if group == "A":
        return TABLE_II[method][j], "Table II"
    table, rows = TABLES_III_VII[method]
    return rows[group][j], table




def _cell(ours, paper=None):
    text = "-" if ours is None or not np.isfinite(ours) else f"{ours:.4f}"
    return text if paper is None else f"{text} ({paper:.4g})"


def _test_over_decays(per_image: dict, decays, alpha=0.05):
    """Friedman test (+ Nemenyi) over the decays, blocks = the evaluated images of all folds;
    with two decays a Wilcoxon signed-rank test. ``per_image[decay]`` is aligned over blocks.
    Returns (name, statistic, p, reject, mean_ranks, significant pairs [(better, worse)])."""
    from scipy import stats

    from xaibench.evaluate import friedman

    table = np.stack([per_image[d] for d in decays], axis=1)
    if len(decays) >= 3:
        res = friedman(table, alpha=alpha, names=[_decay_text(d) for d in decays])
        ranks = res.mean_ranks
        pairs = [(decays[i], decays[j]) for i in range(len(decays)) for j in range(len(decays))
                 if res.significant[i, j] and ranks[i] > ranks[j]]
        return "Friedman", res.statistic, res.pvalue, res.reject, ranks, pairs
    diff = table[:, 0] - table[:, 1]
    if np.all(diff == 0):
        stat, p = 0.0, 1.0
    else:
        w = stats.wilcoxon(table[:, 0], table[:, 1])
        stat, p = float(w.statistic), float(w.pvalue)
    ranks = stats.rankdata(table, axis=1).mean(axis=0)
    pairs = []
    if p < alpha:
        better = 0 if ranks[0] > ranks[1] else 1
        pairs = [(decays[better], decays[1 - better])]
    return "Wilcoxon", stat, p, p < alpha, ranks, pairs


def run(out, quick=False, data=None, progress=True, seed=0, folds=None, decays=None,
        groups=None, images=None, epochs=None, patience=None) -> Reproduction:
    """Reproduce Amorim et al.'s Tables II-VII, Fig. 3 and Fig. 4 and their Friedman tests.

    ``folds`` (paper: 10), ``decays`` (L2 weight decays, paper: 0 ... 0.05), ``groups``
    (layer groups, paper: B1 ... A), ``images`` (held-out images evaluated per fold;
    None: all), ``epochs`` (at most), ``patience`` (early stopping, paper: 10) default to
    the quick or the full settings (:data:`QUICK`, :data:`FULL`).
    """
    settings = dict(QUICK if quick else FULL)
    folds, decays, groups, images, epochs, patience = _check_options(
        settings["folds"] if folds is None else folds,
        settings["decays"] if decays is None else decays,
        settings["groups"] if groups is None else groups,
        settings["images"] if images is None and quick else images,
        settings["epochs"] if epochs is None else epochs,
        settings["patience"] if patience is None else patience)
    seed = check_int("seed", seed, 0)
    spec = parse_data(data, "digits" if quick else "cifar10", ("cifar10", "digits", "mnist"))
    name = spec["name"]
    if name == "digits" and not quick:
        settings["size"] = 32
    out = os.path.abspath(out)
    result = Reproduction("amorim", TITLE, out, bool(quick), name)

    from sklearn.model_selection import train_test_split

    from xaibench.runner.datasets import save_npz

    x, y = _load_images(name, settings, seed)        # a missing Keras cache fails here
    splits = _fold_indices(y, folds, seed)

    # ---- train (cached) and evaluate (resumable) every model of every fold -------------
    settings_of = [(g, d) for d in decays for g in groups]
    keys = {}                                         # (fold, group, decay) -> model key
    facts, aopc = {}, {}
    os.makedirs(os.path.join(out, "data"), exist_ok=True)
    for f, (train_idx, test_idx) in enumerate(splits):
        tr, val = train_test_split(train_idx, test_size=0.1, random_state=seed + f,
                                   stratify=y[train_idx])
        fold_data = (x[tr], y[tr], x[val], y[val], x[test_idx], y[test_idx])
        n_eval = len(test_idx) if images is None else min(images, len(test_idx))
        npz = os.path.join(out, "data", f"fold{f}.npz")
        if not os.path.isfile(npz):
            save_npz(npz, x[test_idx[:n_eval]], y[test_idx[:n_eval]])
        for group, decay in settings_of:
            key = _model_key(f, group, decay)
            keys[f, group, decay] = key
            if key in facts:
                continue
            path, facts[key] = _trained(out, key, fold_data, decay, group, settings, epochs,
                                        patience, seed + zlib.crc32(key.encode()) % 100003)
            folder = sub_run(result, key, {
                "model": path, "data": {"name": "npz", "path": npz},
                "analyzers": list(METHODS),
                "metrics": [{"name": "confidence_drop",
                             "params": {"fractions": list(FRACTIONS),
                                        "repeats": settings["repeats"]}}],
                "shard_size": max(1, min(n_eval, 500)), "seed": seed}, progress=progress)
            aopc[key] = aopc_per_image(folder)

    _report(result, folds, decays, groups, keys, facts, aopc)
    return result


def _report(result, folds, decays, groups, keys, facts, aopc):
    """Tables II-VII, Fig. 3, Fig. 4, the Friedman tests and the comparison rows."""
    from xaibench.runner.engine import BASELINE

    fold_ids = range(folds)

    def per_image(method, group, decay, kind="drop"):
        return np.concatenate([aopc[keys[f, group, decay]][method, kind] for f in fold_ids])

    def mean_aopc(method, group, decay, kind="drop"):
        # the paper's value: the mean over folds of the fold's mean AOPC
        return float(np.mean([aopc[keys[f, group, decay]][method, kind].mean()
                              for f in fold_ids]))

    def control(group, decay):
        # the random-pixel control ignores the heatmap: the run's baseline computes it once
        return per_image(BASELINE, group, decay, "control")

    accuracy = {(g, d): float(np.mean([facts[keys[f, g, d]]["accuracy"] for f in fold_ids]))
                for g in groups for d in decays}
    table = {(m, g, d): mean_aopc(m, g, d) for m in METHODS for g in groups for d in decays}
    ctrl = {(g, d): float(control(g, d).mean()) for g in groups for d in decays}
    head = [_decay_text(d) for d in decays]

    # ---- Table II and Tables III-VII, with the paper's value in brackets ----------------
    lead = "A" if "A" in groups else groups[-1]
    title = f"Table II: mean AOPC (eq. 4), layers {lead} regularised (paper)"
    result.tables[title] = markdown_table(
        ["method"] + head,
        [[METHODS[m]] + [_cell(table[m, lead, d], _paper_value(m, lead, d)[0]) for d in decays]
         for m in METHODS])
    for m in METHODS:
        label, _ = TABLES_III_VII[m]
        title = f"{label}: {METHODS[m]}, mean AOPC per layer group (paper)"
        result.tables[title] = markdown_table(
            ["layer"] + head,
            [[g] + [_cell(table[m, g, d], _paper_value(m, g, d)[0]) for d in decays]
             for g in groups])
    result.tables["Random-pixel control: mean AOPC per layer group"] = markdown_table(
        ["layer"] + head, [[g] + [_cell(ctrl[g, d]) for d in decays] for g in groups])
    result.tables["Fig. 3: held-out accuracy per layer group"] = markdown_table(
        ["layer"] + head, [[g] + [_cell(accuracy[g, d]) for d in decays] for g in groups])

    # ---- numbers next to the paper's ---------------------------------------------------
    for g in groups:
        for d in decays:
            if d == 0 and g != lead:
                continue                               # the same model as the lead row
            for m in METHODS:
                paper, where = _paper_value(m, g, d)
                where = where or "(not in the paper)"
                result.add(f"{where}, AOPC, {METHODS[m]}, {g}, L2 {_decay_text(d)}",
                           paper=paper, ours=table[m, g, d])
    for g in groups:
        for d in decays:
            if d == 0 and g != lead:
                continue
            result.add(f"Fig. 3, accuracy, {g}, L2 {_decay_text(d)}", ours=accuracy[g, d])

    # ---- claims ------------------------------------------------------------------------
    low, high = decays[0], decays[-1]
    d0 = decays[0]
    scores0 = {m: table[m, lead, d0] for m in METHODS}
    paper_order = ["lrp.epsilon", "gradient", "deconvnet", "guided_backprop", "deep_taylor"]

    def paper_aopc(m, g, d):
        return _paper_value(m, g, d)[0]

    in_order = [paper_aopc(m, lead, d0) for m in paper_order]
    result.add(f"Table II ordering, L2 {_decay_text(d0)}",
               paper=vs(*in_order, sep=", ") if None not in in_order else None,
               ours=vs(*[scores0[m] for m in paper_order], sep=", "),
               claim=order_text(paper_order, METHODS) + " (AOPC shown in this order)",
               holds=ordered(scores0, paper_order))
    mean_over = {m: np.mean([table[m, lead, d] for d in decays]) for m in METHODS}
    top2 = sorted(METHODS, key=lambda m: -mean_over[m])[:2]
    paper_mean = {m: [paper_aopc(m, lead, d) for d in decays] for m in METHODS}
    paper_top2 = (sorted(METHODS, key=lambda m: -np.mean(paper_mean[m]))[:2]
                  if all(None not in v for v in paper_mean.values()) else None)
    result.add("Sec. V: highest-fidelity methods (mean over decays)",
               paper=" and ".join(METHODS[m] for m in paper_top2) if paper_top2 else None,
               ours=" and ".join(METHODS[m] for m in top2),
               claim="LRP and Gradient give the highest AOPC",
               holds=set(top2) == {"lrp.epsilon", "gradient"})
    for m in METHODS:
        ref = (paper_aopc(m, lead, low), paper_aopc(m, lead, high))
        result.add(f"Table II, {METHODS[m]}: L2 {_decay_text(low)} vs {_decay_text(high)}",
                   paper=vs(*ref) if None not in ref else None,
                   ours=vs(table[m, lead, low], table[m, lead, high]),
                   claim=f"AOPC lower regularisation > higher ({lead})",
                   holds=table[m, lead, low] > table[m, lead, high])

    # Friedman over decays per method (Sec. IV-A), and on the random control
    tests = []
    blocks = len(per_image(next(iter(METHODS)), lead, low))
    for m in list(METHODS) + ["control"]:
        per = {d: (control(lead, d) if m == "control" else per_image(m, lead, d))
               for d in decays}
        name, stat, p, reject, ranks, pairs = _test_over_decays(per, decays)
        label = "random-pixel control" if m == "control" else METHODS[m]
        tests.append([label, name, f"{stat:.4g}", f"{p:.3g}", "yes" if reject else "no",
                      ", ".join(f"{_decay_text(d)}: {r:.2f}" for d, r in zip(decays, ranks)),
                      "; ".join(f"{_decay_text(a)} > {_decay_text(b)}" for a, b in pairs)
                      or "none"])
        if m == "control":
            result.add(f"Sec. IV-A, {name} over decays, random-pixel control, p",
                       ours=p, claim="no significant difference between decays (5 %)",
                       holds=not reject)
        else:
            low_better = any(a < b for a, b in pairs)
            result.add(f"Sec. IV-A, {name} over decays, {METHODS[m]}, p", ours=p,
                       claim="significant at 5 %, low decays better than high ones",
                       holds=bool(reject and low_better))
    result.tables[f"Tests over the decays ({lead}; blocks: {blocks} images of {folds} folds; "
                  "pairs: Nemenyi at 5 %)"] = markdown_table(
        ["method", "test", "statistic", "p", "reject at 5 %", "mean ranks (higher AOPC = "
         "higher rank)", "significant pairs"], tests)

    # Friedman over the methods (blocks: every image of every model)
    from xaibench.evaluate import friedman

    models = sorted({keys[k] for k in keys})
    over = np.stack([np.concatenate([aopc[k][m, "drop"] for k in models]) for m in METHODS],
                    axis=1)
    res = friedman(over, names=[METHODS[m] for m in METHODS])
    result.add("Friedman over the 5 methods, chi2", ours=res.statistic)
    ranked = sorted(METHODS, key=lambda m: -res.mean_ranks[list(METHODS).index(m)])
    result.add("Friedman over the 5 methods, p", ours=res.pvalue,
               claim="the methods differ significantly (5 %)", holds=res.reject)
    n = len(METHODS)
    result.tables[f"Friedman over the methods (blocks: {over.shape[0]} images x models)"] = \
        markdown_table(["method", "mean rank"] + [METHODS[m] for m in METHODS],
                  [[METHODS[m], f"{res.mean_ranks[i]:.2f}"]
                   + [("*" if res.significant[i, j] else "") + f"{res.pairwise_p[i, j]:.2g}"
                      for j in range(n)] for i, m in enumerate(METHODS)]) + \
        f"\n\nchi2 = {res.statistic:.4g}, p = {res.pvalue:.3g}; order by mean rank: " \
        f"{order_text(ranked, METHODS)} (* = Nemenyi pair significant at 5 %)"

    # Fig. 3: regularising all layers costs accuracy
    others = [g for g in groups if g != "A"]
    if "A" in groups and others and high > 0:
        result.add(f"Fig. 3, accuracy at L2 {_decay_text(high)}: A vs {', '.join(others)}",
                   ours=vs(accuracy["A", high], *[accuracy[g, high] for g in others]),
                   claim="all layers regularised (A) gives the lowest accuracy",
                   holds=all(accuracy["A", high] < accuracy[g, high] for g in others))
    else:
        result.add("Fig. 3, accuracy: A vs other groups",
                   claim="all layers regularised (A) gives the lowest accuracy")
    # Sec. V: A less interpretable than D
    positive = [d for d in decays if d > 0]
    if "A" in groups and "D" in groups and positive:
        def a_vs_d(value):
            return {m: tuple(np.mean([value(m, g, d) for d in positive]) for g in ("A", "D"))
                    for m in METHODS}

        ours_ad = a_vs_d(lambda m, g, d: table[m, g, d])
        holds = all(a < d for a, d in ours_ad.values())
        paper_ad = (a_vs_d(paper_aopc) if all(paper_aopc(m, g, d) is not None for m in METHODS
                                               for g in ("A", "D") for d in positive) else None)

        def worst(pairs):          # the method closest to breaking "A < D"
            m = max(pairs, key=lambda k: pairs[k][0] - pairs[k][1])
            return f"{METHODS[m]} {vs(*pairs[m])}"

        result.add("Sec. V: AOPC of A vs D (every method, mean over decays > 0)",
                   paper=worst(paper_ad) if paper_ad else None, ours=worst(ours_ad),
                   claim="all layers regularised < dense layers regularised (shown: the "
                   "method with the smallest margin, A vs D)", holds=holds)
    else:
        result.add("Sec. V: AOPC of A vs D", claim="all layers regularised < dense layers "
                   "regularised")
    # Fig. 4: which group gives the best AOPC most often
    wins = {g: 0 for g in groups}
    for m in METHODS:
        for d in positive:
            best = max(groups, key=lambda g: table[m, g, d])
            wins[best] += 1
    if len(groups) >= 2 and positive:
        top = max(wins.values())
        leaders = [g for g in groups if wins[g] == top]
        result.add("Fig. 4: group with the most best-AOPC wins", ours=", ".join(leaders),
                   claim=f"a late conv or dense group ({', '.join(LATE_GROUPS)})",
                   holds=all(g in LATE_GROUPS for g in leaders))
    else:
        result.add("Fig. 4: group with the most best-AOPC wins",
                   claim=f"a late conv or dense group ({', '.join(LATE_GROUPS)})")

    _figures(result, decays, groups, lead, table, ctrl, accuracy, wins)


def _figures(result, decays, groups, lead, table, ctrl, accuracy, wins):
    fig_dir = os.path.join(result.out, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    ticks = range(len(decays))
    labels = [_decay_text(d) for d in decays]

    def save(fig, name, title):
        path = os.path.join(fig_dir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        result.figures[title] = path

    from xaibench.plots import line_styles

    fig, ax = new_figure(figsize=(6, 4))
    for m, style in zip(METHODS, line_styles(len(METHODS))):
        ax.plot(ticks, [table[m, lead, d] for d in decays], label=METHODS[m], **style)
        paper = [_paper_value(m, lead, d)[0] for d in decays]
        if all(p is not None for p in paper):
            ax.plot(ticks, paper, "x:", color=style["color"], alpha=.6)
    ax.plot(ticks, [ctrl[lead, d] for d in decays], "k--", label="random pixels")
    ax.set_xticks(list(ticks), labels)
    ax.set_xlabel("L2 weight decay")
    ax.set_ylabel("AOPC (eq. 4)")
    ax.set_title(f"Table II: layers {lead} regularised (x: paper)")
    ax.legend(fontsize=7)
    save(fig, "table2_aopc.png", "Table II as a plot: AOPC per decay")

    fig, ax = new_figure(figsize=(6, 4))
    for g, style in zip(groups, line_styles(len(groups))):
        ax.plot(ticks, [accuracy[g, d] for d in decays], label=g, **style)
    ax.set_xticks(list(ticks), labels)
    ax.set_xlabel("L2 weight decay")
    ax.set_ylabel("held-out accuracy")
    ax.set_title("Fig. 3: accuracy per regularised layer group")
    ax.legend(fontsize=7)
    save(fig, "fig3_accuracy.png", "Fig. 3: accuracy")

    fig, ax = new_figure(figsize=(6, 3.5))
    ax.bar(list(groups), [wins[g] for g in groups], color="tab:blue")
    ax.set_xlabel("regularised layer group")
    ax.set_ylabel("best AOPC (methods x decays > 0)")
    ax.set_title("Fig. 4: how often a group gave the best AOPC")
    save(fig, "fig4_best_group.png", "Fig. 4: best layer group counts")
