"""The paper's claims as pure functions of numbers, judging xaibench's AOPCs (eq. 4) and
the paper's own (Tables II-VII) alike: each returns a ``Verdict`` (holds: True, False, None
= undecided; and the numbers compared). A "group" is a layer group of Sec. III-A."""
from collections import namedtuple

import numpy as np

from xaibench.papers.amorim.paper import (ALPHA, HIGHEST_FIDELITY, LATE_GROUPS, METHODS,
                                          TABLE_II_ORDER, decay_text)
from xaibench.papers.comparison import UNDECIDED, Verdict, ordered, vs

#: a test over the decays (Sec. IV-A): whether it rejects at ALPHA, the mean rank of each
#: decay (higher AOPC = higher rank) and the significant pairs (better decay, worse decay)
DecayTest = namedtuple("DecayTest", "name statistic p reject ranks pairs")


def table2_order(aopc: dict, order=TABLE_II_ORDER) -> Verdict:
    """Table II at no decay: ``aopc`` (method -> AOPC) ranks as ``order`` (LRP > Gradient >
    DeConvNet > Guided Backprop > Deep Taylor); shows the AOPCs in that order."""
    return Verdict(ordered(aopc, order), vs(*[aopc[m] for m in order], sep=", "))


def highest_fidelity(aopc_over_decays: dict, best=HIGHEST_FIDELITY) -> Verdict:
    """Sec. IV-A / V: the two highest means over the decays of ``aopc_over_decays``
    (method -> AOPCs) are ``best`` (LRP and Gradient)."""
    means = {m: np.mean(v) for m, v in aopc_over_decays.items()}
    top2 = sorted(means, key=lambda m: -means[m])[:2]
    return Verdict(set(top2) == set(best), " and ".join(METHODS.get(m, m) for m in top2))


def falls_with_decay(low: float, high: float) -> Verdict:
    """Sec. IV-A / V: less regularisation, better saliency: AOPC(lowest decay) > AOPC(highest)."""
    return Verdict(low > high, vs(low, high))


def decay_test(per_image: dict, decays, alpha: float = ALPHA) -> DecayTest:
    """Sec. IV-A: Friedman test with Nemenyi pairs over ``decays`` (blocks: the images of
    ``per_image[decay]``); Wilcoxon signed-rank with two decays (Friedman needs three)."""
    from scipy import stats

    from xaibench.evaluate import friedman

    table = np.stack([per_image[d] for d in decays], axis=1)
    if len(decays) >= 3:
        res = friedman(table, alpha=alpha, names=[decay_text(d) for d in decays])
        r, k = res.mean_ranks, range(len(decays))
        pairs = [(decays[i], decays[j]) for i in k for j in k
                 if res.significant[i, j] and r[i] > r[j]]
        return DecayTest("Friedman", res.statistic, res.pvalue, res.reject, r, pairs)
    if np.all(table[:, 0] == table[:, 1]):
        stat, p = 0.0, 1.0
    else:
        w = stats.wilcoxon(table[:, 0], table[:, 1])
        stat, p = float(w.statistic), float(w.pvalue)
    ranks = stats.rankdata(table, axis=1).mean(axis=0)
    better = 0 if ranks[0] > ranks[1] else 1
    pairs = [(decays[better], decays[1 - better])] if p < alpha else []
    return DecayTest("Wilcoxon", stat, p, p < alpha, ranks, pairs)


def decays_matter(test: DecayTest) -> Verdict:
    """Sec. IV-A, per method: significant, and a lower decay beats a higher one in a pair;
    shows the test's p."""
    return Verdict(test.reject and any(a < b for a, b in test.pairs), test.p)


def control_flat(test: DecayTest) -> Verdict:
    """Sec. IV-A, random pixels: no significant difference between the decays; shows p."""
    return Verdict(not test.reject, test.p)


def methods_differ(per_image: dict, alpha: float = ALPHA):
    """Sec. IV-A: ``(FriedmanResult, methods best first)`` over the methods (blocks: the
    images of ``per_image[method]``); the claim holds when it rejects."""
    from xaibench.evaluate import friedman

    methods = list(per_image)
    res = friedman(np.stack([per_image[m] for m in methods], axis=1), alpha=alpha,
                   names=[METHODS.get(m, m) for m in methods])
    return res, sorted(methods, key=lambda m: -res.mean_ranks[methods.index(m)])


def all_layers_least_accurate(accuracy: dict) -> Verdict:
    """Fig. 3: all layers regularised (A) is less accurate than any other group
    (``accuracy``: group -> accuracy at a high decay); undecided without A or others."""
    others = [g for g in accuracy if g != "A"]
    if "A" not in accuracy or not others:
        return UNDECIDED
    return Verdict(all(accuracy["A"] < accuracy[g] for g in others),
                   vs(accuracy["A"], *[accuracy[g] for g in others]))


def all_below_dense(a_vs_d: dict) -> Verdict:
    """Sec. V: AOPC with A < with D (dense layers) for every method (``a_vs_d``: method ->
    (A, D)); shows the method of the smallest margin."""
    if not a_vs_d:
        return UNDECIDED
    m = max(a_vs_d, key=lambda k: a_vs_d[k][0] - a_vs_d[k][1])
    return Verdict(all(a < d for a, d in a_vs_d.values()),
                   f"{METHODS.get(m, m)} {vs(*a_vs_d[m])}")


def best_group_wins(aopc: dict, methods, groups, decays) -> dict:
    """Fig. 4: per group, for how many (method, decay) it gave the highest of
    ``aopc[method, group, decay]`` (the first of ``groups`` on a tie)."""
    wins = dict.fromkeys(groups, 0)
    for m in methods:
        for d in decays:
            wins[max(groups, key=lambda g: aopc[m, g, d])] += 1
    return wins


def late_groups_win(wins: dict, late=LATE_GROUPS) -> Verdict:
    """Fig. 4 / Sec. V: the groups with the most wins are late conv or dense groups
    (undecided with fewer than two groups or no wins)."""
    if len(wins) < 2 or not any(wins.values()):
        return UNDECIDED
    top = max(wins.values())
    leaders = [g for g in wins if wins[g] == top]
    return Verdict(all(g in late for g in leaders), ", ".join(leaders))
