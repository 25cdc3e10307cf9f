"""What is run: the data, the cross-validation folds, the Fig. 1 CNN trained with L2
weight decay (eq. 1) on each layer group, the confidence-drop runs of the five methods,
the numbers read back from them, and :func:`run`, which puts these together with the
claims and figures into the comparison with the paper.

The decay is Keras's ``L2(decay)`` penalty ``decay * sum w^2`` on the kernels of the
group (eq. 1 writes ``1/2 ||w||^2``; the paper's Keras/iNNvestigate code presumably used
the same Keras regulariser). LRP is ``lrp.epsilon`` (the paper does not name its
iNNvestigate LRP rule); deep Taylor is iNNvestigate's ``deep_taylor``.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass, replace

import numpy as np

from xaibench.papers._common import check_int, npz_once, parse_data, sub_run
from xaibench.papers.amorim import claims, figures
from xaibench.papers.amorim.paper import (FRACTIONS, LATE_GROUPS, METHODS, PAPER_DECAYS,
                                          PAPER_FOLDS, PAPER_GROUPS, PAPER_PATIENCE, TITLE,
                                          TABLE_II_ORDER, decay_text, paper_aopc)
from xaibench.papers.cache import cached
from xaibench.papers.comparison import UNDECIDED, Reproduction, Verdict, order_text
from xaibench.runner.config import RunConfig, Step
from xaibench.runner.engine import BASELINE
from xaibench.runner.results import RunResults


@dataclass(frozen=True)
class Settings:
    """The protocol of one mode (:data:`QUICK`, :data:`FULL`); the options of :func:`run`
    replace ``folds`` ... ``patience``, ``seed`` and ``data``."""

    folds: int                # k of the cross-validation
    decays: tuple             # L2 weight decays
    groups: tuple             # layer groups regularised
    images: int | None        # held-out images evaluated per fold (None: all)
    epochs: int               # at most
    patience: int             # early stopping: epochs without a lower validation loss
    size: int                 # side of the digits images
    filters: tuple            # filters of the three conv blocks of the Fig. 1 CNN
    dense_units: tuple        # units of its two dense layers
    batch_size: int
    repeats: int              # noise draws averaged per confidence drop (eq. 3)
    cifar_limit: int | None   # the first images of CIFAR-10 / MNIST used (None: all)
    seed: int = 0
    data: str = "cifar10"


#: a minute on 2 CPU cores: digits at 16 x 16, a narrow CNN, two folds and decays
QUICK = Settings(folds=2, decays=(0.0, 1e-2), groups=("A", "D"), images=32, epochs=15,
                 patience=3, size=16, filters=(4, 8, 8), dense_units=(32, 16), batch_size=64,
                 repeats=2, cifar_limit=3000, data="digits")
#: the paper's protocol on CIFAR-10 (10 x 43 models: a GPU is expected)
FULL = Settings(folds=PAPER_FOLDS, decays=PAPER_DECAYS, groups=PAPER_GROUPS, images=None,
                epochs=200, patience=PAPER_PATIENCE, size=32, filters=(32, 64, 128),
                dense_units=(512, 256), batch_size=128, repeats=3, cifar_limit=None)

#: the five saliency methods (Sec. III-B) as runner analyzers
ANALYZERS = tuple(Step(m) for m in METHODS)


def _check_options(folds, decays, groups, images, epochs, patience) -> dict:
    """The paper options checked before any work, normalised (decays sorted)."""
    folds = check_int("folds", folds, 2)
    if isinstance(decays, (str, bytes)) or not hasattr(decays, "__iter__"):
        raise ValueError(f"decays must be a list of L2 weight decays such as [0, 0.01], "
                         f"got {decays!r}")
    for d in decays:
        if isinstance(d, bool) or not isinstance(d, (int, float, np.floating, np.integer)) \
                or not np.isfinite(d) or d < 0:
            raise ValueError(f"decays must be numbers >= 0 such as [0, 0.01], got {d!r}")
    decays = tuple(sorted(float(d) for d in decays))
    if len(decays) < 2 or len(set(decays)) != len(decays):
        raise ValueError(f"decays must hold at least two different values, got {decays!r}")
    groups = (groups,) if isinstance(groups, str) else groups
    if not hasattr(groups, "__iter__"):
        raise ValueError(f"groups must be a list of layer groups, got {groups!r}")
    groups = tuple(groups)
    if (not groups or len(set(groups)) != len(groups)
            or any(g not in PAPER_GROUPS for g in groups)):
        raise ValueError(f"groups must be distinct layer groups of {', '.join(PAPER_GROUPS)}, "
                         f"got {list(groups)!r}")
    return dict(folds=folds, decays=decays, groups=groups,
                images=check_int("images", images, 1, allow_none=True),
                epochs=check_int("epochs", epochs, 1), patience=check_int("patience", patience, 1))


def settings(quick: bool, data, seed: int = 0, **options) -> Settings:
    """The settings of the mode with ``options`` (``None``: the mode's value) and the data
    set ``data`` (None: digits in quick mode, else CIFAR-10), refused before any work."""
    base = QUICK if quick else FULL
    checked = _check_options(**{k: getattr(base, k) if v is None else v
                                for k, v in options.items()})
    seed = check_int("seed", seed, 0)
    name = parse_data(data, "digits" if quick else "cifar10", ("cifar10", "digits", "mnist"))
    return replace(base, **checked, seed=seed, data=name["name"])


def load_images(s: Settings):
    """All images of the data set, train and test combined (Sec. III-A), in [0, 1]."""
    import xaibench as xb

    if s.data == "digits":
        x_tr, y_tr, x_te, y_te = xb.data.digits(size=s.size, seed=s.seed)
        return np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    loader = getattr(xb.data, s.data)
    train, test = loader("train"), loader("test")      # a missing Keras cache fails here
    x, y = np.concatenate([train.x, test.x]), np.concatenate([train.y, test.y])
    if s.cifar_limit is not None:
        x, y = x[:s.cifar_limit], y[:s.cifar_limit]
    return x.astype(np.float32), y.astype(np.int64)


@dataclass(frozen=True)
class Fold:
    """One fold: training and validation images (90 / 10 % of the training part, for early
    stopping), the held-out images (accuracy, Fig. 3) and the runner data set of the first
    ``n_eval`` of them (the images explained)."""

    index: int
    train: tuple
    val: tuple
    test: tuple
    data: dict
    n_eval: int


def folds_of(x, y, s: Settings, out: str) -> list:
    """The stratified k folds of ``x, y`` (Sec. III-A); the evaluated images of each are
    saved once as ``<out>/data/fold<k>.npz``."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    smallest = int(np.bincount(y).min())
    if s.folds > smallest:
        raise ValueError(f"folds={s.folds} exceeds the {smallest} images of the smallest "
                         "class; use fewer folds")
    splits = StratifiedKFold(s.folds, shuffle=True, random_state=s.seed).split(np.zeros(len(y)), y)
    folds = []
    for f, (train_idx, test_idx) in enumerate(splits):
        tr, val = train_test_split(train_idx, test_size=0.1, random_state=s.seed + f,
                                   stratify=y[train_idx])
        n_eval = len(test_idx) if s.images is None else min(s.images, len(test_idx))
        path = npz_once(os.path.join(out, "data", f"fold{f}.npz"), x[test_idx[:n_eval]],
                        y[test_idx[:n_eval]])
        folds.append(Fold(f, (x[tr], y[tr]), (x[val], y[val]), (x[test_idx], y[test_idx]),
                          {"name": "npz", "path": path}, n_eval))
    return folds


def model_key(fold: int, group: str, decay: float) -> str:
    """The name of a model; without decay one model serves every group (the paper's tables
    repeat its column)."""
    return f"fold{fold}_{'none' if decay == 0 else group}_wd{decay_text(decay)}"


def _keep_best(patience: int):
    """Early stopping (Sec. III-A): stop after ``patience`` epochs without a lower
    validation loss and keep the weights of the lowest."""
    import tensorflow as tf

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

    return KeepBest()


def _train(fold: Fold, group: str, decay: float, s: Settings, seed: int):
    """The Fig. 1 CNN with ``L2(decay)`` on ``group``, trained with Adam and early stopping."""
    import tensorflow as tf

    from xaibench import zoo

    tf.keras.utils.set_random_seed(seed)
    (x, y), val = fold.train, fold.val
    model = zoo.cifar_cnn(weight_decay=decay, regularize=group, input_shape=x.shape[1:],
                          num_classes=10, filters=s.filters, dense_units=s.dense_units)
    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    keep = _keep_best(s.patience)
    model.fit(x, y, validation_data=val, epochs=s.epochs, batch_size=s.batch_size,
              shuffle=True, verbose=0, callbacks=[keep])
    model.epochs_trained, model.best_val_loss = keep.epochs, keep.best
    return model


def trained(out: str, key: str, fold: Fold, group: str, decay: float, s: Settings) -> tuple:
    """``(model path, facts)``: the model ``key``, trained once, and its facts -- held-out
    accuracy (Fig. 3), epochs, best validation loss -- in ``<out>/models/<key>.json``."""
    path = os.path.join(out, "models", key + ".keras")
    seed = s.seed + zlib.crc32(key.encode()) % 100003

    def facts():
        model = cached(path, lambda: _train(fold, group, decay, s, seed))
        x_te, y_te = fold.test
        p = model.predict(x_te, batch_size=256, verbose=0)
        return {"accuracy": float(np.mean(p.argmax(axis=1) == y_te)), "n_test": int(len(y_te)),
                "epochs": getattr(model, "epochs_trained", None),
                "best_val_loss": getattr(model, "best_val_loss", None)}

    return path, cached(os.path.join(out, "models", key + ".json"), facts, depends=(path,))


def run_config(model: str, fold: Fold, s: Settings) -> RunConfig:
    """The run of a model: eq. 3 at the :data:`FRACTIONS` for the five methods on the
    fold's evaluated images (the runner's baseline adds the random-pixel control)."""
    drop = Step("confidence_drop", {"fractions": list(FRACTIONS), "repeats": s.repeats})
    return RunConfig(model=model, data=fold.data, analyzers=ANALYZERS, metrics=(drop,),
                     shard_size=max(1, min(fold.n_eval, 500)), seed=s.seed)


def aopc_per_image(folder: str) -> dict:
    """The paper's AOPC (eq. 4: ``sum_k Drop(k) / (L + 1)`` over the L = 7 fractions of
    eq. 3) of every image of a run: ``{(analyzer, "drop"): array}`` for the most relevant
    pixels, ``{(BASELINE, "control"): array}`` for random ones (images in order)."""
    results = RunResults(folder)
    metric = results.metric_label("confidence_drop")
    kinds = sorted({(a, s.partition("@")[0]) for a, m, s in results.present() if m == metric})
    out = {}
    for analyzer, kind in kinds:
        at = [f"{kind}@{f:g}" for f in FRACTIONS]            # the settings of the run
        images = sorted(set().union(*(results.images(analyzer, metric, k) for k in at)))
        drops = [results.per_image(analyzer, metric, k, images=images) for k in at]
        if np.isnan(drops).any():
            raise ValueError(f"{folder}: expected {len(FRACTIONS)} fractions per image")
        out[analyzer, kind] = sum(drops) / (len(FRACTIONS) + 1)
    return out


@dataclass(frozen=True)
class Numbers:
    """What the runs measured, in the paper's terms: the input of the claims, tables and
    figures. ``lead`` is the group of Table II: A (all layers) when run, else the last."""

    decays: tuple
    groups: tuple
    folds: int
    lead: str
    aopc: dict            # (method, group, decay) -> mean over folds of the fold's mean AOPC
    paper: dict           # (method, group, decay) -> the paper's AOPC (None: not in it)
    control: dict         # (group, decay) -> mean AOPC of random pixels over all images
    accuracy: dict        # (group, decay) -> mean held-out accuracy over folds (Fig. 3)
    lead_images: dict     # (method or "control", decay) -> AOPC per image, all folds, lead
    model_images: dict    # method -> AOPC per image of every model (models by key)

    @property
    def positive(self) -> tuple:
        """The decays > 0."""
        return tuple(d for d in self.decays if d > 0)

    def models(self) -> list:
        """``(group, decay)`` of each distinct model of a fold (no decay: once, as lead)."""
        return [(g, d) for g in self.groups for d in self.decays if d > 0 or g == self.lead]

    @staticmethod
    def in_paper(decays) -> bool:
        """Whether the paper reports every one of ``decays``."""
        return all(d in PAPER_DECAYS for d in decays)


def read_numbers(s: Settings, keys: dict, facts: dict, aopc: dict) -> Numbers:
    """:class:`Numbers` from the model key of each (fold, group, decay), the facts and the
    per-image AOPCs (:func:`aopc_per_image`) of each model."""
    lead = "A" if "A" in s.groups else s.groups[-1]
    cells = [(g, d) for g in s.groups for d in s.decays]

    def per_fold(g, d, analyzer, kind="drop"):
        return [aopc[keys[f, g, d]][analyzer, kind] for f in range(s.folds)]

    lead_images = {(m, d): np.concatenate(per_fold(lead, d, m)) for m in METHODS
                   for d in s.decays}
    lead_images.update({("control", d): np.concatenate(per_fold(lead, d, BASELINE, "control"))
                        for d in s.decays})
    models = sorted(set(keys.values()))
    return Numbers(
        s.decays, s.groups, s.folds, lead,
        aopc={(m, g, d): float(np.mean([a.mean() for a in per_fold(g, d, m)]))
              for m in METHODS for g, d in cells},
        paper={(m, g, d): paper_aopc(m, g, d)[0] for m in METHODS for g, d in cells},
        control={(g, d): float(np.concatenate(per_fold(g, d, BASELINE, "control")).mean())
                 for g, d in cells},
        accuracy={(g, d): float(np.mean([facts[keys[f, g, d]]["accuracy"]
                                         for f in range(s.folds)])) for g, d in cells},
        lead_images=lead_images,
        model_images={m: np.concatenate([aopc[k][m, "drop"] for k in models]) for m in METHODS})


def measure(result: Reproduction, folds: list, s: Settings, progress: bool) -> Numbers:
    """Train (cached) and evaluate (resumable runs under ``<out>/runs``) every model of
    every fold, and read their numbers."""
    keys, facts, aopc = {}, {}, {}
    for fold in folds:
        for decay in s.decays:
            for group in s.groups:
                key = keys[fold.index, group, decay] = model_key(fold.index, group, decay)
                if key in facts:
                    continue
                path, facts[key] = trained(result.out, key, fold, group, decay, s)
                folder = sub_run(result, key, run_config(path, fold, s), progress=progress)
                aopc[key] = aopc_per_image(folder)
    return read_numbers(s, keys, facts, aopc)


def _number_rows(result: Reproduction, n: Numbers):
    """The AOPC of every model next to the paper's (Tables II-VII), and its accuracy."""
    for g, d in n.models():
        for m in METHODS:
            where = paper_aopc(m, g, d)[1] or "(not in the paper)"
            result.add(f"{where}, AOPC, {METHODS[m]}, {g}, L2 {decay_text(d)}",
                       paper=n.paper[m, g, d], ours=n.aopc[m, g, d])
    for g, d in n.models():
        result.add(f"Fig. 3, accuracy, {g}, L2 {decay_text(d)}", ours=n.accuracy[g, d])


def _judged(result: Reproduction, n: Numbers, item: str, claim: str, decays, judge):
    """A claim row: ``judge(table)`` (-> :class:`~.claims.Verdict`) on our AOPCs, with the
    numbers it compared on the paper's own when the paper reports every one of ``decays``.
    ``table``: (method, group, decay) -> AOPC."""
    paper = judge(n.paper).shown if n.in_paper(decays) else None
    result.claim(item, claim, judge(n.aopc), paper=paper)


def _fidelity_rows(result: Reproduction, n: Numbers):
    """Table II's claims: the order of the methods, the two best, and AOPC falling from
    the lowest decay to the highest."""
    lead, low, high = n.lead, n.decays[0], n.decays[-1]
    _judged(result, n, f"Table II ordering, L2 {decay_text(low)}",
            order_text(TABLE_II_ORDER, METHODS) + " (AOPC shown in this order)", [low],
            lambda t: claims.table2_order({m: t[m, lead, low] for m in METHODS}))
    _judged(result, n, "Sec. V: highest-fidelity methods (mean over decays)",
            "LRP and Gradient give the highest AOPC", n.decays,
            lambda t: claims.highest_fidelity({m: [t[m, lead, d] for d in n.decays]
                                               for m in METHODS}))
    for m in METHODS:
        _judged(result, n, f"Table II, {METHODS[m]}: L2 {decay_text(low)} vs {decay_text(high)}",
                f"AOPC lower regularisation > higher ({lead})", [low, high],
                lambda t, m=m: claims.falls_with_decay(t[m, lead, low], t[m, lead, high]))


def _test_rows(result: Reproduction, tests: dict, over_methods):
    """Sec. IV-A: the tests over the decays per method and for random pixels, and the
    Friedman test over the methods."""
    for m, t in tests.items():
        if m == "control":
            result.claim(f"Sec. IV-A, {t.name} over decays, random-pixel control, p",
                         "no significant difference between decays (5 %)",
                         Verdict(claims.control_flat(t), t.p))
        else:
            result.claim(f"Sec. IV-A, {t.name} over decays, {METHODS[m]}, p",
                         "significant at 5 %, low decays better than high ones",
                         Verdict(claims.decays_matter(t), t.p))
    res, _ = over_methods
    result.add("Friedman over the 5 methods, chi2", ours=res.statistic)
    result.claim("Friedman over the 5 methods, p", "the methods differ significantly (5 %)",
                 Verdict(res.reject, res.pvalue))


def _layer_rows(result: Reproduction, n: Numbers, wins: dict):
    """Sec. IV-B / V: accuracy with all layers regularised (Fig. 3), A against D, and the
    groups that most often gave the best AOPC (Fig. 4)."""
    high, positive = n.decays[-1], n.positive
    v = claims.all_layers_least_accurate({g: n.accuracy[g, high] for g in n.groups}
                                         if high > 0 else {})
    others = ", ".join(g for g in n.groups if g != "A")
    result.claim(f"Fig. 3, accuracy at L2 {decay_text(high)}: A vs {others}"
                 if v.holds is not None else "Fig. 3, accuracy: A vs other groups",
                 "all layers regularised (A) gives the lowest accuracy", v)

    def a_vs_d(table):
        return {m: tuple(np.mean([table[m, g, d] for d in positive]) for g in ("A", "D"))
                for m in METHODS}

    claim = "all layers regularised < dense layers regularised"
    if {"A", "D"} <= set(n.groups) and positive:
        _judged(result, n, "Sec. V: AOPC of A vs D (every method, mean over decays > 0)",
                claim + " (shown: the method with the smallest margin, A vs D)", positive,
                lambda t: claims.all_below_dense(a_vs_d(t)))
    else:
        result.claim("Sec. V: AOPC of A vs D", claim, UNDECIDED)
    result.claim("Fig. 4: group with the most best-AOPC wins",
                 f"a late conv or dense group ({', '.join(LATE_GROUPS)})",
                 claims.late_groups_win(wins))


def run(out, quick=False, data=None, progress=True, seed=0, folds=None, decays=None,
        groups=None, images=None, epochs=None, patience=None) -> Reproduction:
    """Reproduce Amorim et al.'s Tables II-VII, Fig. 3 and Fig. 4 and their Friedman tests.

    ``folds`` (paper: 10), ``decays`` (L2 weight decays, paper: 0 ... 0.05), ``groups``
    (layer groups, paper: B1 ... A), ``images`` (held-out images evaluated per fold;
    None: all), ``epochs`` (at most), ``patience`` (early stopping, paper: 10) default to
    the quick or the full settings (:data:`QUICK`, :data:`FULL`).
    """
    s = settings(quick, data, seed, folds=folds, decays=decays, groups=groups, images=images,
                 epochs=epochs, patience=patience)
    result = Reproduction("amorim", TITLE, os.path.abspath(out), bool(quick), s.data)
    x, y = load_images(s)
    n = measure(result, folds_of(x, y, s, result.out), s, progress)

    tests = {m: claims.decay_test({d: n.lead_images[m, d] for d in n.decays}, n.decays)
             for m in (*METHODS, "control")}
    over_methods = claims.methods_differ(n.model_images)
    wins = claims.best_group_wins(n.aopc, METHODS, n.groups, n.positive)

    result.tables.update(figures.aopc_tables(n))
    result.tables.update(figures.statistics_tables(n, tests, over_methods))
    _number_rows(result, n)
    _fidelity_rows(result, n)
    _test_rows(result, tests, over_methods)
    _layer_rows(result, n, wins)
    result.figures.update(figures.draw(os.path.join(result.out, "figures"), n, wins))
    return result
