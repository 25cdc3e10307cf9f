"""The paper's claims as pure functions of numbers: each returns its verdict (True,
False, or None when these numbers cannot decide it) and the numbers it compared, so the
same function judges xaibench's AOPCs and the paper's own (Tables II-VII).

AOPC here is the paper's eq. 4 over the confidence drops of eq. 3; "group" is a layer
group of Sec. III-A (B1 ... A) and "decay" an L2 weight decay.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from xaibench.papers.amorim.paper import (ALPHA, HIGHEST_FIDELITY, LATE_GROUPS, METHODS,
                                          TABLE_II_ORDER, decay_text)
from xaibench.papers.comparison import UNDECIDED, Verdict, ordered, vs


def table2_order(aopc: dict, order=TABLE_II_ORDER) -> Verdict:
    """Table II at no decay: the methods rank ``order`` (LRP > Gradient > DeConvNet > Guided
    Backprop > Deep Taylor). ``aopc``: method -> AOPC; shows the AOPCs in that order."""
    return Verdict(ordered(aopc, order), vs(*[aopc[m] for m in order], sep=", "))


def highest_fidelity(aopc_over_decays: dict, best=HIGHEST_FIDELITY) -> Verdict:
    """Sec. IV-A / V: LRP and Gradient have the highest AOPC. ``aopc_over_decays``: method
    -> its AOPCs at every decay; the two highest means must be ``best``."""
    means = {m: np.mean(v) for m, v in aopc_over_decays.items()}
    top2 = sorted(means, key=lambda m: -means[m])[:2]
    return Verdict(set(top2) == set(best), " and ".join(METHODS.get(m, m) for m in top2))


def falls_with_decay(low: float, high: float) -> Verdict:
    """Sec. IV-A / V: saliency maps are better (higher AOPC) with less regularisation:
    the AOPC at the lowest decay exceeds that at the highest."""
    return Verdict(low > high, vs(low, high))


class DecayTest(NamedTuple):
    """A test over the decays (Sec. IV-A): its name, statistic, p-value, whether it
    rejects at ``alpha``, the mean rank of each decay (higher AOPC = higher rank) and the
    significant pairs ``(better decay, worse decay)``."""

    name: str
    statistic: float
    p: float
    reject: bool
    ranks: np.ndarray
    pairs: list


def decay_test(per_image: dict, decays, alpha: float = ALPHA) -> DecayTest:
    """Friedman test with Nemenyi pairs over the ``decays`` (Sec. IV-A), blocks = the
    evaluated images; with two decays a Wilcoxon signed-rank test (Friedman needs three
    treatments). ``per_image[decay]``: the AOPC of each image, aligned over decays."""
    from scipy import stats

    from xaibench.evaluate import friedman

    table = np.stack([per_image[d] for d in decays], axis=1)
    if len(decays) >= 3:
        res = friedman(table, alpha=alpha, names=[decay_text(d) for d in decays])
        ranks = res.mean_ranks
        pairs = [(decays[i], decays[j]) for i in range(len(decays)) for j in range(len(decays))
                 if res.significant[i, j] and ranks[i] > ranks[j]]
        return DecayTest("Friedman", res.statistic, res.pvalue, res.reject, ranks, pairs)
    if np.all(table[:, 0] == table[:, 1]):
        stat, p = 0.0, 1.0
    else:
        w = stats.wilcoxon(table[:, 0], table[:, 1])
        stat, p = float(w.statistic), float(w.pvalue)
    ranks = stats.rankdata(table, axis=1).mean(axis=0)
    pairs = []
    if p < alpha:
        better = 0 if ranks[0] > ranks[1] else 1
        pairs = [(decays[better], decays[1 - better])]
    return DecayTest("Wilcoxon", stat, p, p < alpha, ranks, pairs)


def decays_matter(test: DecayTest) -> bool:
    """Sec. IV-A, per method: the decay changes the AOPC significantly, a lower decay
    being better than a higher one in some significant pair."""
    return bool(test.reject and any(a < b for a, b in test.pairs))


def control_flat(test: DecayTest) -> bool:
    """Sec. IV-A, random pixels: no significant difference between the decays."""
    return not test.reject


def methods_differ(per_image: dict, alpha: float = ALPHA):
    """Sec. IV-A: Friedman test over the methods (blocks: images). ``per_image``: method ->
    AOPC of each image, aligned; returns ``(FriedmanResult, methods by mean rank, best
    first)``; the claim holds when the result rejects."""
    from xaibench.evaluate import friedman

    methods = list(per_image)
    res = friedman(np.stack([per_image[m] for m in methods], axis=1), alpha=alpha,
                   names=[METHODS.get(m, m) for m in methods])
    return res, sorted(methods, key=lambda m: -res.mean_ranks[methods.index(m)])


def all_layers_least_accurate(accuracy: dict) -> Verdict:
    """Fig. 3: regularising all layers (A) gives a lower accuracy than any other group.
    ``accuracy``: group -> accuracy at one (high) decay; undecided without A or others."""
    others = [g for g in accuracy if g != "A"]
    if "A" not in accuracy or not others:
        return UNDECIDED
    return Verdict(all(accuracy["A"] < accuracy[g] for g in others),
                   vs(accuracy["A"], *[accuracy[g] for g in others]))


def all_below_dense(a_vs_d: dict) -> Verdict:
    """Sec. V: models with all layers regularised (A) are less interpretable than those
    with only the dense layers regularised (D), for every method. ``a_vs_d``: method ->
    (AOPC with A, AOPC with D); shows the method with the smallest margin."""
    if not a_vs_d:
        return UNDECIDED
    m = max(a_vs_d, key=lambda k: a_vs_d[k][0] - a_vs_d[k][1])
    return Verdict(all(a < d for a, d in a_vs_d.values()),
                   f"{METHODS.get(m, m)} {vs(*a_vs_d[m])}")


def best_group_wins(aopc: dict, methods, groups, decays) -> dict:
    """Fig. 4: for each group, how many (method, decay) pairs it gave the highest AOPC
    (the first group in ``groups`` on a tie). ``aopc``: (method, group, decay) -> AOPC."""
    wins = {g: 0 for g in groups}
    for m in methods:
        for d in decays:
            wins[max(groups, key=lambda g: aopc[m, g, d])] += 1
    return wins


def late_groups_win(wins: dict, late=LATE_GROUPS) -> Verdict:
    """Fig. 4 / Sec. V: the groups with the most wins are late conv or dense groups;
    undecided with fewer than two groups or no wins counted."""
    if len(wins) < 2 or not any(wins.values()):
        return UNDECIDED
    top = max(wins.values())
    leaders = [g for g in wins if wins[g] == top]
    return Verdict(all(g in late for g in leaders), ", ".join(leaders))
