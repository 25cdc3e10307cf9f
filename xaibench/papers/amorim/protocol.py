"""What is run: the Fig. 1 CNN trained with L2 weight decay on each layer group in k-fold
cross-validation, the confidence-drop runs of the five methods, the numbers read back, and
:func:`run`. The decay is Keras's ``L2(decay)``, ``decay * sum w^2`` on the group's kernels
(eq. 1 writes ``1/2 ||w||^2``; the paper's Keras code presumably used the same); LRP is
``lrp.epsilon`` (the paper names no rule)."""
import os
import zlib
from collections import namedtuple
from itertools import product

import numpy as np

from xaibench.papers._common import accuracy, check_ints, compiled, npz_once, parse_data, sub_run
from xaibench.papers.amorim import claims, figures
from xaibench.papers.amorim.paper import (FRACTIONS, LATE_GROUPS, METHODS, PAPER_AOPC,
                                          PAPER_DECAYS, PAPER_FOLDS, PAPER_GROUPS,
                                          PAPER_PATIENCE, TABLE_II_ORDER, TABLES_III_VII, TITLE,
                                          decay_text)
from xaibench.papers.cache import cached
from xaibench.papers.comparison import UNDECIDED, Reproduction, Verdict, order_text
from xaibench.runner.config import RunConfig, Step

#: a mode's protocol (:func:`run`'s options replace folds ... patience, seed, data). images:
#: evaluated per fold (None: all); size: of the digits; filters, dense_units: of the Fig. 1
#: CNN; repeats: noise draws per drop (eq. 3); cifar_limit: CIFAR-10 / MNIST images used
Settings = namedtuple("Settings", "folds decays groups images epochs patience size filters "
                      "dense_units batch_size repeats cifar_limit seed data",
                      defaults=(0, "cifar10"))
#: a minute on 2 CPU cores: digits at 16 x 16, a narrow CNN, two folds and decays
QUICK = Settings(folds=2, decays=(0.0, 1e-2), groups=("A", "D"), images=32, epochs=15,
                 patience=3, size=16, filters=(4, 8, 8), dense_units=(32, 16), batch_size=64,
                 repeats=2, cifar_limit=3000, data="digits")
#: the paper's protocol on CIFAR-10 (10 x 43 models: a GPU is expected)
FULL = Settings(folds=PAPER_FOLDS, decays=PAPER_DECAYS, groups=PAPER_GROUPS, images=None,
                epochs=200, patience=PAPER_PATIENCE, size=32, filters=(32, 64, 128),
                dense_units=(512, 256), batch_size=128, repeats=3, cifar_limit=None)
#: a fold: train / validation (90 / 10 %) / held-out images; data: the first n_eval held-out
Fold = namedtuple("Fold", "index train val test data n_eval")
#: what the runs measured. lead: Table II's group (A if run, else the last); aopc: (method,
#: group, decay) -> mean over folds of the fold's mean AOPC; control, accuracy: (group,
#: decay) -> random pixels' mean AOPC, held-out accuracy; lead_images: (method or "control",
#: decay) -> AOPC per image of the lead group; model_images: method -> that of every model
Numbers = namedtuple("Numbers", "decays groups folds lead aopc control accuracy lead_images "
                     "model_images")


def settings(quick: bool, data, seed: int = 0, **options) -> Settings:
    """The mode's settings with ``options`` (None: the mode's value) and ``data`` (None:
    digits in quick mode, else CIFAR-10), refused in one line before any work."""
    base = QUICK if quick else FULL
    o = {k: getattr(base, k) if v is None else v for k, v in options.items()}
    ints = check_ints({**o, "seed": seed}, {"seed": 0, "folds": 2, "images": 1, "epochs": 1,
                                            "patience": 1}, optional=("images",))
    decays = o["decays"]
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
    groups = (o["groups"],) if isinstance(o["groups"], str) else o["groups"]
    if not hasattr(groups, "__iter__"):
        raise ValueError(f"groups must be a list of layer groups, got {groups!r}")
    groups = tuple(groups)
    if any(g not in PAPER_GROUPS for g in groups) or not groups or len(set(groups)) < len(groups):
        raise ValueError(f"groups must be distinct layer groups of {', '.join(PAPER_GROUPS)}, "
                         f"got {list(groups)!r}")
    data = parse_data(data, "digits" if quick else "cifar10", ("cifar10", "digits", "mnist"))
    return base._replace(**ints, decays=decays, groups=groups, data=data["name"])


def folds_of(s: Settings, out: str) -> list:
    """The stratified k folds (Sec. III-A) of all images, train and test combined, in
    [0, 1]; the evaluated images of each saved once as ``<out>/data/fold<k>.npz``."""
    from sklearn.model_selection import StratifiedKFold, train_test_split

    import xaibench as xb

    if s.data == "digits":
        x_tr, y_tr, x_te, y_te = xb.data.digits(size=s.size, seed=s.seed)
        x, y = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    else:                               # CIFAR-10 / MNIST: a missing Keras cache fails here
        train, test = (getattr(xb.data, s.data)(part) for part in ("train", "test"))
        x = np.concatenate([train.x, test.x])[:s.cifar_limit].astype(np.float32)
        y = np.concatenate([train.y, test.y])[:s.cifar_limit].astype(np.int64)
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


def trained(out: str, key: str, fold: Fold, group: str, decay: float, s: Settings) -> tuple:
    """``(model path, facts)``: the Fig. 1 CNN with ``L2(decay)`` on ``group`` trained once
    (Adam; Sec. III-A's early stopping, best weights kept) and its held-out accuracy (Fig.
    3), epochs and best validation loss, kept in ``<out>/models/<key>.json``."""
    path = os.path.join(out, "models", key + ".keras")

    def train():
        import tensorflow as tf

        from xaibench import zoo

        class KeepBest(tf.keras.callbacks.EarlyStopping):    # Keras 2 restores only on a stop
            def on_train_end(self, logs=None):
                if self.best_weights is not None:
                    self.model.set_weights(self.best_weights)

        tf.keras.utils.set_random_seed(s.seed + zlib.crc32(key.encode()) % 100003)
        (x, y), keep = fold.train, KeepBest(patience=s.patience, restore_best_weights=True)
        model = compiled(zoo.cifar_cnn(weight_decay=decay, regularize=group,
                                       input_shape=x.shape[1:], num_classes=10,
                                       filters=s.filters, dense_units=s.dense_units))
        history = model.fit(x, y, validation_data=fold.val, epochs=s.epochs,
                            batch_size=s.batch_size, shuffle=True, verbose=0, callbacks=[keep])
        model.epochs_trained, model.best_val_loss = len(history.epoch), float(keep.best)
        return model

    def facts():
        model = cached(path, train)
        return {"accuracy": accuracy(model, *fold.test), "n_test": int(len(fold.test[1])),
                "epochs": getattr(model, "epochs_trained", None),
                "best_val_loss": getattr(model, "best_val_loss", None)}

    return path, cached(os.path.join(out, "models", key + ".json"), facts, depends=(path,))


def aopc_per_image(results) -> dict:
    """eq. 4, ``AOPC = sum_k Drop(k) / (L + 1)`` over the L = 7 fractions of eq. 3, of each
    image of a run (its ``RunResults``): ``{method: array}``, and ``{"control": array}`` for
    random pixels."""
    metric = results.metric_label("confidence_drop")
    out = {}
    for analyzer, kind in sorted({(a, s.partition("@")[0]) for a, m, s in results.present()
                                  if m == metric}):
        at = [f"{kind}@{f:g}" for f in FRACTIONS]            # the settings of the run
        images = sorted(set().union(*(results.images(analyzer, metric, k) for k in at)))
        drops = [results.per_image(analyzer, metric, k, images=images) for k in at]
        if np.isnan(drops).any():
            raise ValueError(f"{results.folder}: expected {len(FRACTIONS)} fractions per image")
        out["control" if kind == "control" else analyzer] = sum(drops) / (len(FRACTIONS) + 1)
    return out


def measure(result: Reproduction, folds: list, s: Settings, progress: bool) -> Numbers:
    """Train (cached) and evaluate (resumable runs in ``<out>/runs``) every model of every
    fold; their :data:`Numbers`."""
    keys, facts, aopc = {}, {}, {}
    drop = Step("confidence_drop", {"fractions": list(FRACTIONS), "repeats": s.repeats})
    for fold, decay, group in product(folds, s.decays, s.groups):
        # no decay: one model serves every group (the paper's tables repeat its column)
        key = f"fold{fold.index}_{'none' if decay == 0 else group}_wd{decay_text(decay)}"
        keys[fold.index, group, decay] = key
        if key not in facts:
            path, facts[key] = trained(result.out, key, fold, group, decay, s)
            config = RunConfig(model=path, data=fold.data, metrics=(drop,),
                               analyzers=tuple(Step(m) for m in METHODS),
                               shard_size=max(1, min(fold.n_eval, 500)), seed=s.seed)
            aopc[key] = aopc_per_image(sub_run(result, key, config, progress=progress))
    lead = "A" if "A" in s.groups else s.groups[-1]
    cells = [(g, d) for g in s.groups for d in s.decays]

    def per_fold(g, d, m):
        return [aopc[keys[f, g, d]][m] for f in range(s.folds)]

    return Numbers(
        s.decays, s.groups, s.folds, lead,
        aopc={(m, g, d): float(np.mean([a.mean() for a in per_fold(g, d, m)]))
              for m in METHODS for g, d in cells},
        control={(g, d): float(np.concatenate(per_fold(g, d, "control")).mean())
                 for g, d in cells},
        accuracy={(g, d): float(np.mean([facts[keys[f, g, d]]["accuracy"]
                                         for f in range(s.folds)])) for g, d in cells},
        lead_images={(m, d): np.concatenate(per_fold(lead, d, m))
                     for m in (*METHODS, "control") for d in s.decays},
        model_images={m: np.concatenate([aopc[k][m] for k in sorted(set(keys.values()))])
                      for m in METHODS})


def _claim_rows(result: Reproduction, n: Numbers, tests: dict, res, wins: dict):
    """The claims of Table II, Sec. IV-A, Fig. 3, Sec. V, Fig. 4 on our numbers and the paper's
    (where it has every decay compared). ``res``: the test over methods; decays: high > 0."""
    lead, low, high, positive = n.lead, n.decays[0], n.decays[-1], [d for d in n.decays if d > 0]

    def judged(item, claim, decays, judge):     # judge: {(method, group, decay): AOPC} -> Verdict
        result.judge(item, claim, judge, (n.aopc,),
                     (PAPER_AOPC,) if all(d in PAPER_DECAYS for d in decays) else None)

    judged(f"Table II ordering, L2 {decay_text(low)}",
           order_text(TABLE_II_ORDER, METHODS) + " (AOPC shown in this order)", [low],
           lambda t: claims.table2_order({m: t[m, lead, low] for m in METHODS}))
    judged("Sec. V: highest-fidelity methods (mean over decays)",
           "LRP and Gradient give the highest AOPC", n.decays,
           lambda t: claims.highest_fidelity({m: [t[m, lead, d] for d in n.decays]
                                              for m in METHODS}))
    for m in METHODS:
        judged(f"Table II, {METHODS[m]}: L2 {decay_text(low)} vs {decay_text(high)}",
               f"AOPC lower regularisation > higher ({lead})", [low, high],
               lambda t, m=m: claims.falls_with_decay(t[m, lead, low], t[m, lead, high]))
    for m, t in tests.items():          # per method, and for random pixels ("control")
        if m == "control":
            result.claim(f"Sec. IV-A, {t.name} over decays, random-pixel control, p",
                         "no significant difference between decays (5 %)",
                         claims.control_flat(t))
        else:
            result.claim(f"Sec. IV-A, {t.name} over decays, {METHODS[m]}, p",
                         "significant at 5 %, low decays better than high ones",
                         claims.decays_matter(t))
    result.add("Friedman over the 5 methods, chi2", ours=res.statistic)
    result.claim("Friedman over the 5 methods, p", "the methods differ significantly (5 %)",
                 Verdict(res.reject, res.pvalue))
    v = claims.all_layers_least_accurate({g: n.accuracy[g, high] for g in n.groups})
    others = ", ".join(g for g in n.groups if g != "A")
    result.claim(f"Fig. 3, accuracy at L2 {decay_text(high)}: A vs {others}"
                 if v.holds is not None else "Fig. 3, accuracy: A vs other groups",
                 "all layers regularised (A) gives the lowest accuracy", v)
    claim = "all layers regularised < dense layers regularised"
    if {"A", "D"} <= set(n.groups):
        judged("Sec. V: AOPC of A vs D (every method, mean over decays > 0)",
               claim + " (shown: the method with the smallest margin, A vs D)", positive,
               lambda t: claims.all_below_dense({m: tuple(np.mean([t[m, g, d] for d in positive])
                                                          for g in ("A", "D")) for m in METHODS}))
    else:
        result.claim("Sec. V: AOPC of A vs D", claim, UNDECIDED)
    result.claim("Fig. 4: group with the most best-AOPC wins",
                 f"a late conv or dense group ({', '.join(LATE_GROUPS)})",
                 claims.late_groups_win(wins))


def run(out, quick=False, data=None, progress=True, seed=0, folds=None, decays=None,
        groups=None, images=None, epochs=None, patience=None) -> Reproduction:
    """Reproduce Tables II-VII, Fig. 3, Fig. 4 and the tests of Sec. IV-A. ``folds`` (paper:
    10), ``decays`` (L2, paper: 0 ... 0.05), ``groups`` (paper: B1 ... A), ``images``
    (evaluated per fold; None: all), ``epochs`` (at most) and ``patience`` (early stopping,
    paper: 10) default to the mode's settings (:data:`QUICK`, :data:`FULL`)."""
    s = settings(quick, data, seed, folds=folds, decays=decays, groups=groups, images=images,
                 epochs=epochs, patience=patience)
    result = Reproduction("amorim", TITLE, os.path.abspath(out), bool(quick), s.data)
    n = measure(result, folds_of(s, result.out), s, progress)
    tests = {m: claims.decay_test({d: n.lead_images[m, d] for d in n.decays}, n.decays)
             for m in (*METHODS, "control")}
    over_methods = claims.methods_differ(n.model_images)
    wins = claims.best_group_wins(n.aopc, METHODS, n.groups, [d for d in n.decays if d > 0])
    result.tables.update(figures.aopc_tables(n))
    result.tables.update(figures.statistics_tables(n, tests, over_methods))
    models = [(g, d) for g in n.groups for d in n.decays if d > 0 or g == n.lead]
    for g, d in models:                 # the AOPC of every model next to Tables II-VII
        for m in METHODS:
            where = ("(not in the paper)" if d not in PAPER_DECAYS else "Table II" if g == "A"
                     else TABLES_III_VII[m][0])
            result.add(f"{where}, AOPC, {METHODS[m]}, {g}, L2 {decay_text(d)}",
                       paper=PAPER_AOPC.get((m, g, d)), ours=n.aopc[m, g, d])
    for g, d in models:
        result.add(f"Fig. 3, accuracy, {g}, L2 {decay_text(d)}", ours=n.accuracy[g, d])
    _claim_rows(result, n, tests, over_methods[0], wins)
    figures.draw(result, n, wins)
    return result
