"""Amorim et al. reproduction: the notebook in quick mode, its numbers recomputed
independently, resuming without work, refusals of bad input, and the claims of
:mod:`xaibench.papers.amorim.claims` on the paper's own numbers and on counterfactuals."""
import json
import os
import re
import sqlite3

import numpy as np
import pytest
from scipy import stats

from notebooks import executed_reproduction, outputs_text, read_comparison
from work_counter import count_work
from xaibench import cli
from xaibench.papers import reproduce
from xaibench.papers.amorim import claims, paper

NAMES = {v: k for k, v in paper.METHODS.items()}        # paper name -> analyzer
N_FRACTIONS = 7


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    return executed_reproduction("amorim", tmp_path_factory.mktemp("amorim") / "out")


def _drops(folder):
    """{(analyzer, kind): {image: [values]}} straight from the run's SQLite file."""
    con = sqlite3.connect(os.path.join(folder, "results.sqlite"))
    try:
        rows = con.execute("SELECT image, analyzer, setting, value FROM results "
                           "WHERE metric LIKE 'confidence_drop%'").fetchall()
    finally:
        con.close()
    out = {}
    for image, analyzer, setting, value in rows:
        kind = setting.split("@")[0]
        out.setdefault((analyzer, kind), {}).setdefault(image, []).append(value)
    return out


def _aopc(folder, analyzer, kind="drop"):
    """eq. 4 per image: sum of the 7 drops / (7 + 1)."""
    per = _drops(folder)[analyzer, kind]
    assert all(len(v) == N_FRACTIONS for v in per.values())
    return np.array([np.sum(per[i]) / (N_FRACTIONS + 1) for i in sorted(per)])


def _run_folder(out, fold, group, decay):
    key = f"fold{fold}_{'none' if decay == 0 else group}_wd{'0' if decay == 0 else f'{decay:g}'}"
    return os.path.join(out, "runs", key)


def test_notebook_shows_table_and_figures(done):
    text = outputs_text(done["nb"])
    assert "Table II" in text and "on this data" in text
    images = [o for c in done["nb"].cells for o in c.get("outputs", [])
              if "image/png" in o.get("data", {})]
    assert len(images) == len(done["json"]["figures"]) == 3
    assert done["json"]["quick"] is True and done["json"]["data"] == "digits"


def test_claims_and_figures(done):
    claims = [r for r in done["json"]["rows"] if r["claim"] is not None]
    assert len(claims) >= 10
    assert all(r["holds"] in (True, False, None) for r in claims)
    for path in done["json"]["figures"].values():
        with open(path, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    md = open(done["out"] / "comparison.md").read()
    assert "does not hold" in md or "holds" in md


def test_paper_numbers_are_the_transcribed_tables(done):
    checked = 0
    for r in done["json"]["rows"]:
        m = re.match(r"(Table [IVX]+), AOPC, (.+), (\w+), L2 (\S+)$", r["item"])
        if not m:
            continue
        table, method, group, decay = m.group(1), NAMES[m.group(2)], m.group(3), float(m.group(4))
        j = paper.PAPER_DECAYS.index(decay)
        if table == "Table II":
            assert group == "A" and r["paper"] == paper.TABLE_II[method][j]
        else:
            assert paper.TABLES_III_VII[method][0] == table
            assert r["paper"] == paper.TABLES_III_VII[method][1][group][j]
        checked += 1
    assert checked == 15                  # 5 methods x (A at 0, A at 0.01, D at 0.01)
    # the transcription is consistent: Table II is row A of Tables III-VII
    for method, values in paper.TABLE_II.items():
        row_a = paper.TABLES_III_VII[method][1]["A"]
        assert np.allclose(values[:5], row_a[:5], atol=6e-4)
        assert values[5] < 1e-10 and row_a[5] == 0
        # and the no-decay column is the same for every layer group
        assert len({v[0] for v in paper.TABLES_III_VII[method][1].values()}) == 1


def test_aopc_recomputed_from_sqlite(done):
    out, rows = done["out"], done["rows"]
    for method, label in paper.METHODS.items():
        for group, decay, table in (("A", 0.0, "Table II"), ("A", 0.01, "Table II"),
                                    ("D", 0.01, paper.TABLES_III_VII[method][0])):
            ours = np.mean([_aopc(_run_folder(out, f, group, decay), method).mean()
                            for f in range(2)])
            item = f"{table}, AOPC, {label}, {group}, L2 {'0' if decay == 0 else '0.01'}"
            assert rows[item]["ours"] == pytest.approx(ours, rel=1e-9)
            assert 0 <= rows[item]["ours"] <= 1
    # the ordering claim agrees with those numbers
    at0 = {m: rows[f"Table II, AOPC, {lbl}, A, L2 0"]["ours"] for m, lbl in paper.METHODS.items()}
    order = ["lrp.epsilon", "gradient", "deconvnet", "guided_backprop", "deep_taylor"]
    expect = all(at0[a] > at0[b] for a, b in zip(order, order[1:]))
    assert rows["Table II ordering, L2 0"]["holds"] is expect


def test_friedman_over_methods_vs_scipy(done):
    out, rows = done["out"], done["rows"]
    keys = sorted(os.listdir(out / "runs"))
    assert len(keys) == 6                 # 2 folds x (no decay, A 0.01, D 0.01)
    table = np.stack([np.concatenate([_aopc(out / "runs" / k, m) for k in keys])
                      for m in paper.METHODS], axis=1)
    assert table.shape == (6 * 32, 5)
    ref = stats.friedmanchisquare(*table.T)
    assert rows["Friedman over the 5 methods, chi2"]["ours"] == pytest.approx(ref.statistic)
    assert rows["Friedman over the 5 methods, p"]["ours"] == pytest.approx(ref.pvalue, rel=1e-6,
                                                                          abs=1e-300)
    # and by hand, with the tie correction of Friedman's statistic
    n, k = table.shape
    r = stats.rankdata(table, axis=1)
    chi2 = 12 * n / (k * (k + 1)) * np.sum((r.mean(axis=0) - (k + 1) / 2) ** 2)
    ties = sum(np.sum(c ** 3 - c) for c in (np.unique(row, return_counts=True)[1] for row in table))
    chi2 /= 1 - ties / (n * k * (k * k - 1))
    assert ref.statistic == pytest.approx(chi2)


def test_wilcoxon_over_decays_vs_scipy(done):
    out, rows = done["out"], done["rows"]
    low = np.concatenate([_aopc(_run_folder(out, f, "A", 0.0), "gradient") for f in range(2)])
    high = np.concatenate([_aopc(_run_folder(out, f, "A", 0.01), "gradient") for f in range(2)])
    ref = stats.wilcoxon(low, high)
    row = rows["Sec. IV-A, Wilcoxon over decays, Gradient, p"]
    assert row["ours"] == pytest.approx(ref.pvalue)
    assert row["holds"] is bool(ref.pvalue < 0.05 and np.mean(stats.rankdata(
        np.stack([low, high], 1), axis=1)[:, 0]) > 1.5)
    # the random control ignores the heatmap: the run's baseline computes it, once
    folder = _run_folder(out, 0, "A", 0.01)
    kinds = set(_drops(folder))
    assert kinds == {(m, "drop") for m in paper.METHODS} | {("baseline", "control")}
    low, high = (np.concatenate([_aopc(_run_folder(out, f, "A", d), "baseline", "control")
                                 for f in range(2)]) for d in (0.0, 0.01))
    row = rows["Sec. IV-A, Wilcoxon over decays, random-pixel control, p"]
    assert row["ours"] == pytest.approx(stats.wilcoxon(low, high).pvalue)


def test_accuracy_by_prediction(done):
    import tensorflow as tf
    from sklearn.model_selection import StratifiedKFold

    import xaibench as xb

    out, rows = done["out"], done["rows"]
    x_tr, y_tr, x_te, y_te = xb.data.digits(size=16, seed=0)
    x, y = np.concatenate([x_tr, x_te]), np.concatenate([y_tr, y_te])
    accs = []
    for f, (_, test) in enumerate(StratifiedKFold(2, shuffle=True, random_state=0).split(x, y)):
        with np.load(out / "data" / f"fold{f}.npz") as saved:   # the images evaluated
            assert np.array_equal(saved["x"], x[test[:32]])
            assert np.array_equal(saved["y"], y[test[:32]])
        model = tf.keras.models.load_model(out / "models" / f"fold{f}_D_wd0.01.keras")
        pred = model.predict(x[test], verbose=0).argmax(axis=1)
        accs.append(np.mean(pred == y[test]))
        facts = json.load(open(out / "models" / f"fold{f}_D_wd0.01.json"))
        assert facts["n_test"] == len(test) and 1 <= facts["epochs"] <= 15
        # the L2 penalty sits on the dense layers only (group D)
        regs = {layer.name: layer.kernel_regularizer for layer in model.layers
                if getattr(layer, "kernel_regularizer", None) is not None}
        assert sorted(regs) == ["dense1", "dense2"]
        assert float(regs["dense1"].l2) == pytest.approx(0.01)
    assert rows["Fig. 3, accuracy, D, L2 0.01"]["ours"] == pytest.approx(np.mean(accs), abs=1e-6)


def test_resume_does_no_work(done, capsys, monkeypatch):
    out = done["out"]
    models = {p: os.path.getmtime(out / "models" / p) for p in os.listdir(out / "models")}
    counts = count_work(monkeypatch)
    assert cli.main(["reproduce", "amorim", "--quick", "--out", str(out), "--quiet"]) == 0
    work = dict(counts)
    monkeypatch.undo()
    assert work["fit"] == work["call"] == work["analyzer"] == 0, work     # no model trained/run
    printed = capsys.readouterr().out
    assert "Table II ordering" in printed and "on this data" in printed
    assert models == {p: os.path.getmtime(out / "models" / p) for p in os.listdir(out / "models")}
    for key in os.listdir(out / "runs"):
        log = open(out / "runs" / key / "run.log").read().splitlines()
        assert [line for line in log if "shards" in line][-1].endswith("0 to do")
    again = read_comparison(out)
    assert again["rows"] == done["json"]["rows"]          # same seed, same numbers


@pytest.mark.parametrize("argv, message", [
    (["--data", "clutter"], "data 'clutter' is not used by this paper"),
    (["--data", "digits:/tmp"], "takes no path"),
    (["--folds", "1"], "--folds must be at least 2"),
    (["--folds", "5000"], "exceeds"),
])
def test_bad_cli_input(tmp_path, capsys, monkeypatch, argv, message):
    counts = count_work(monkeypatch)
    code = cli.main(["reproduce", "amorim", "--quick", "--out", str(tmp_path / "o"), "--quiet"]
                    + argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert dict(counts) == {"load": 0, "fit": 0, "call": 0, "analyzer": 0}
    assert not os.path.exists(tmp_path / "o" / "models")


@pytest.mark.parametrize("options, message", [
    (dict(decays=[0.01]), "at least two"),
    (dict(decays=[0, -1e-3]), "numbers >= 0"),
    (dict(decays="0.01"), "list of L2 weight decays"),
    (dict(groups=["A", "E"]), "layer groups"),
    (dict(images=0), "images must be an int >= 1"),
    (dict(epochs=1.5), "epochs must be an int >= 1"),
    (dict(patience=0), "patience must be an int >= 1"),
    (dict(seed=-1), "seed must be"),
    (dict(lr=0.1), "has no option lr"),
])
def test_bad_options(tmp_path, options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        reproduce("amorim", quick=True, out=str(tmp_path / "o"), progress=False, **options)
    assert not os.path.exists(tmp_path / "o")


def test_missing_cifar10_is_a_clear_error(tmp_path, capsys, monkeypatch):
    """An empty Keras cache (whatever this machine has cached): refused in one line."""
    import xaibench.data._keras_sets as keras_sets

    monkeypatch.setattr(keras_sets, "keras_cache_dir", lambda: str(tmp_path / "cache"))
    code = cli.main(["reproduce", "amorim", "--out", str(tmp_path / "o"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "cifar10 is not in the Keras cache" in err
    assert not os.path.exists(tmp_path / "o" / "models")


def test_decay_test_three_decays_is_friedman():
    """The full protocol's path (>= 3 decays): Friedman + Nemenyi over decays, checked
    against scipy on synthetic AOPCs where the lowest decay is clearly best."""
    rng = np.random.default_rng(0)
    base = rng.uniform(0.2, 0.4, 40)
    per = {0.0: base + 0.1, 1e-3: base + rng.normal(0, .01, 40), 5e-2: base - 0.1}
    name, stat, p, reject, ranks, pairs = claims.decay_test(per, (0.0, 1e-3, 5e-2))
    ref = stats.friedmanchisquare(per[0.0], per[1e-3], per[5e-2])
    assert name == "Friedman" and stat == pytest.approx(ref.statistic)
    assert p == pytest.approx(ref.pvalue) and reject
    assert np.allclose(ranks, [3, 2, 1])
    assert (0.0, 5e-2) in pairs and all(a < b for a, b in pairs)
    # two decays: Wilcoxon; identical values give p = 1 and no pair
    name, stat, p, reject, ranks, pairs = claims.decay_test({0.0: base, 1e-2: base},
                                                            (0.0, 1e-2))
    assert name == "Wilcoxon" and p == 1.0 and not reject and pairs == []


def test_decay_test_two_decays_vs_scipy():
    rng = np.random.default_rng(1)
    low = rng.uniform(0.2, 0.4, 30)
    high = low - rng.uniform(0.01, 0.05, 30)             # every image worse at 0.01
    t = claims.decay_test({0.0: low, 1e-2: high}, (0.0, 1e-2))
    ref = stats.wilcoxon(low, high)
    assert t.name == "Wilcoxon" and t.statistic == pytest.approx(ref.statistic)
    assert t.p == pytest.approx(ref.pvalue) and t.reject
    assert np.allclose(t.ranks, [2, 1]) and t.pairs == [(0.0, 1e-2)]
    # the other way round: the higher decay is the better one
    t = claims.decay_test({0.0: high, 1e-2: low}, (0.0, 1e-2))
    assert t.reject and t.pairs == [(1e-2, 0.0)]


def _decay_result(reject, pairs):
    return claims.DecayTest("Friedman", 1.0, 0.01 if reject else 0.5, reject,
                            np.array([2.0, 1.0]), pairs)


def test_decays_matter_and_control_flat():
    assert claims.decays_matter(_decay_result(True, [(0.0, 0.01)])).holds is True
    assert claims.decays_matter(_decay_result(True, [(0.01, 0.0)])).holds is False   # high better
    assert claims.decays_matter(_decay_result(True, [])).holds is False
    assert claims.decays_matter(_decay_result(False, [])).holds is False
    assert claims.control_flat(_decay_result(False, [])).holds is True
    assert claims.control_flat(_decay_result(True, [(0.0, 0.01)])).holds is False
    assert claims.decays_matter(_decay_result(True, [])).shown == 0.01       # the test's p


def _paper_column(j):
    return {m: values[j] for m, values in paper.TABLE_II.items()}


def test_table2_order_on_the_paper():
    at0 = _paper_column(0)                              # Table II, decay 0
    assert sorted(at0, key=lambda m: -at0[m]) == list(paper.TABLE_II_ORDER)
    holds, shown = claims.table2_order(at0)
    assert holds is True
    assert shown == ", ".join(f"{at0[m]:.3g}" for m in paper.TABLE_II_ORDER)
    # at 0.001 the paper's own numbers break it: Guided Backprop 0.263 > DeConvNet 0.253
    at2 = _paper_column(2)
    assert at2["guided_backprop"] > at2["deconvnet"]
    assert claims.table2_order(at2).holds is False
    # two methods swapped, or tied, break it
    assert claims.table2_order(dict(at0, gradient=at0["lrp.epsilon"] + 0.01)).holds is False
    assert claims.table2_order(dict(at0, deep_taylor=at0["guided_backprop"])).holds is False


def test_highest_fidelity_on_the_paper():
    means = {m: np.mean(v) for m, v in paper.TABLE_II.items()}
    top2 = sorted(means, key=means.get)[-2:]
    assert set(top2) == {"lrp.epsilon", "gradient"}
    holds, shown = claims.highest_fidelity(paper.TABLE_II)
    assert holds is True and shown == "LRP and Gradient"
    flipped = dict(paper.TABLE_II, deep_taylor=tuple(v + 0.2 for v in paper.TABLE_II[
        "deep_taylor"]))
    holds, shown = claims.highest_fidelity(flipped)
    assert holds is False and shown == "Deep Taylor and LRP"


def test_falls_with_decay_on_the_paper():
    for m, values in paper.TABLE_II.items():          # 0 vs 0.05, all layers regularised
        holds, shown = claims.falls_with_decay(values[0], values[-1])
        assert holds is True and shown == f"{values[0]:.3g} vs {values[-1]:.3g}"
    # Deep Taylor rises from 0 to 0.0001 in Table II
    dt = paper.TABLE_II["deep_taylor"]
    assert claims.falls_with_decay(dt[0], dt[1]).holds is False
    assert claims.falls_with_decay(0.3, 0.3).holds is False


def test_methods_differ_vs_scipy():
    rng = np.random.default_rng(2)
    per = {m: rng.uniform(0, 1, 50) + 0.1 * k for k, m in enumerate(paper.METHODS)}
    res, ranked = claims.methods_differ(per)
    ref = stats.friedmanchisquare(*per.values())
    assert res.statistic == pytest.approx(ref.statistic) and res.pvalue == pytest.approx(
        ref.pvalue) and res.reject
    ranks = stats.rankdata(np.stack(list(per.values()), 1), axis=1).mean(axis=0)
    assert ranked == [list(per)[i] for i in np.argsort(-ranks)]
    # a Latin square: every method takes every rank once, the mean ranks are equal
    square = np.array([np.roll(np.arange(5.0), k) for k in range(5)])
    res, _ = claims.methods_differ(dict(zip(paper.METHODS, square.T)))
    assert res.statistic == pytest.approx(0) and not res.reject


def test_all_layers_least_accurate():
    holds, shown = claims.all_layers_least_accurate({"A": 0.5, "D": 0.8, "B3": 0.7})
    assert holds is True and shown == "0.5 vs 0.8 vs 0.7"
    assert claims.all_layers_least_accurate({"A": 0.75, "D": 0.8, "B3": 0.7}).holds is False
    assert claims.all_layers_least_accurate({"D": 0.8, "B3": 0.7}) == (None, None)
    assert claims.all_layers_least_accurate({"A": 0.5}) == (None, None)


def _paper_a_vs_d():
    """Per method: mean AOPC over the decays > 0 with A (Table II) and with D (Tables
    III-VII)."""
    js = [j for j, d in enumerate(paper.PAPER_DECAYS) if d > 0]
    return {m: (np.mean([paper.TABLE_II[m][j] for j in js]),
                np.mean([paper.TABLES_III_VII[m][1]["D"][j] for j in js]))
            for m in paper.METHODS}


def test_all_below_dense_on_the_paper():
    pairs = _paper_a_vs_d()
    holds, shown = claims.all_below_dense(pairs)
    closest = max(pairs, key=lambda m: pairs[m][0] - pairs[m][1])
    a, d = pairs[closest]
    assert holds is True and a < d
    assert shown == f"{paper.METHODS[closest]} {a:.3g} vs {d:.3g}"
    pairs["gradient"] = (0.5, 0.4)                     # one method better with A
    holds, shown = claims.all_below_dense(pairs)
    assert holds is False and shown == "Gradient 0.5 vs 0.4"
    assert claims.all_below_dense({}) == (None, None)


def test_best_group_wins_on_the_paper():
    """Fig. 4 counted from Tables III-VII: per method and decay > 0, the group of the
    highest AOPC (the first one on a tie, as numpy's argmax)."""
    groups = paper.PAPER_GROUPS
    positive = [d for d in paper.PAPER_DECAYS if d > 0]
    aopc = {(m, g, d): paper.TABLES_III_VII[m][1][g][j] for m in paper.METHODS
            for g in groups for j, d in enumerate(paper.PAPER_DECAYS)}
    by_hand = dict.fromkeys(groups, 0)
    for m in paper.METHODS:
        table = np.array([paper.TABLES_III_VII[m][1][g] for g in groups])   # groups x decays
        for j in range(1, table.shape[1]):
            by_hand[groups[int(np.argmax(table[:, j]))]] += 1
    wins = claims.best_group_wins(aopc, paper.METHODS, groups, positive)
    assert wins == by_hand and sum(wins.values()) == 5 * 5
    holds, shown = claims.late_groups_win(wins)
    top = max(by_hand.values())
    assert holds is True and shown == ", ".join(g for g in groups if by_hand[g] == top)
    assert all(g in paper.LATE_GROUPS for g in shown.split(", "))


def test_late_groups_win():
    assert claims.late_groups_win({"D": 2, "B3": 2, "A": 1}) == (True, "D, B3")
    assert claims.late_groups_win({"D": 2, "A": 2}) == (False, "D, A")
    assert claims.late_groups_win({"A": 3, "D": 1}) == (False, "A")
    assert claims.late_groups_win({"A": 0, "D": 0}) == (None, None)   # no decay > 0
    assert claims.late_groups_win({"D": 3}) == (None, None)           # one group
