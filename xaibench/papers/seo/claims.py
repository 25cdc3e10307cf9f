"""The claims of Seo et al. as pure functions from numbers to their comparison rows
(:func:`~xaibench.papers.comparison.claim_row`: the item, the paper's statement with the
rule that decides it, the :class:`~xaibench.papers.comparison.Verdict`). No I/O: the same
functions judge xaibench's numbers and, in the tests, the paper's own (:mod:`.paper`)."""
from __future__ import annotations

import math

import numpy as np

from xaibench.papers.comparison import Row, Verdict, claim_row, order_text, vs
from xaibench.papers.seo.paper import P_ERASED, P_INTACT, SA_FALL_THRESHOLD, SPEEDUP

#: the threshold from which SA's F-measure counts as "reduced" (ours: Fig. 5 spans 0..1)
SA_LATE_THRESHOLD = 0.5


def rmpd_passes(per_image: float, scales: int) -> Row:
    """Sec. 3.3: line 7 of Alg. 3 runs 2^1 + ... + 2^r times, plus one clean pass (line 1):
    ``per_image`` (counted model images per explained image) = 2^(r+1) - 1."""
    need = 2 ** (scales + 1) - 1
    return claim_row(
        "Sec. 3.3: RMPD needs 2 + 4 + ... + 2^r perturbed passes (+ 1 clean)",
        f"line 7 of Alg. 3 runs 2 + 4 + ... + 2^r times (decided: counted passes = "
        f"2^(r+1) - 1 = {need} per image, r = {scales})",
        Verdict(per_image == need, per_image), paper=f"{need - 1} + 1")


def two_orders_faster(speedup: float, pd_setting: str) -> Row:
    """Sec. 4: RMPD is two orders of magnitude faster than PD: ``speedup`` (PD seconds /
    RMPD seconds) >= 100; NaN (no RMPD time) is undecided."""
    return claim_row(
        f"Sec. 4: RMPD two orders of magnitude faster than PD ({pd_setting})",
        "RMPD is two orders of magnitude faster than PD (decided: PD seconds / RMPD seconds "
        ">= 100)", Verdict(None if math.isnan(speedup) else speedup >= SPEEDUP, speedup),
        paper=SPEEDUP)


def regions(p: float, p_object: float, p_background: float, images: int) -> Row:
    """Fig. 2 / Sec. 4 "Effect of regions": erasing the object's region drops the class
    probability dramatically, erasing an irrelevant region has little effect: p(object
    erased) < p(intact) / 2 and < p(background erased); undecided without an image that
    has both kinds of region."""
    holds = None if images == 0 else (p_object < p / 2 and p_object < p_background)
    return claim_row(
        "Fig. 2: erasing the object's region drops the score, erasing background barely",
        "erasing the object's region makes the score drop dramatically, erasing irrelevant "
        "regions has little effect (decided: p(object erased) < p(intact) / 2 and < "
        "p(background erased))",
        Verdict(holds, f"{vs(p, p_object, sep=' -> ')}, background {vs(p_background)}"),
        paper=vs(P_INTACT, P_ERASED, sep=" -> "))


def rmpd_highest_f(f: dict) -> Row:
    """Fig. 5: RMPD has a higher F-measure than every other method (``f``: method -> mean
    F over the thresholds)."""
    others = [m for m in f if m != "RMPD"]
    best_other = max(others, key=lambda m: f[m])
    return claim_row("Fig. 5: RMPD has the highest F-measure",
                     "RMPD > " + ", ".join(others) + " (mean F)",
                     Verdict(all(f["RMPD"] > f[m] for m in others),
                             f"{vs(f['RMPD'], f[best_other])} ({best_other})"))


def gradcam_second(f: dict) -> Row:
    """Fig. 5: "The Grad-CAM method ranks second in terms of F-measure"."""
    ranking = sorted(f, key=lambda m: -f[m])
    return claim_row("Fig. 5: Grad-CAM ranks second in F-measure",
                     "the Grad-CAM method ranks second in terms of F-measure (mean F)",
                     Verdict(len(ranking) > 1 and ranking[1] == "Grad-CAM",
                             order_text(ranking)))


def rmpd_precision_recall(precision: dict, recall: dict) -> Row:
    """Fig. 5: RMPD is superior to every other method in both precision and recall (means
    over the thresholds), shown against the best other method of each."""
    others = [m for m in precision if m != "RMPD"]
    top_p, top_r = max(precision[m] for m in others), max(recall[m] for m in others)
    return claim_row(
        "Fig. 5: RMPD superior in precision and recall",
        "RMPD is superior to the other methods in both precision and recall (mean over "
        "thresholds)",
        Verdict(all(precision["RMPD"] > precision[m] and recall["RMPD"] > recall[m]
                    for m in others),
                f"P {vs(precision['RMPD'], top_p)}; R {vs(recall['RMPD'], top_r)} (best other)"))


def edges_precision_over_recall(precision: dict, recall: dict) -> Row:
    """Fig. 5: DC and LRP "maintain high precision while demonstrating low overall
    recall": mean precision > mean recall for both."""
    return claim_row(
        "Fig. 5: DC and LRP: high precision, low recall",
        "DC and LRP have a high precision and a low recall (decided: mean precision > mean "
        "recall over the thresholds, shown as precision vs recall)",
        Verdict(all(precision[m] > recall[m] for m in ("DC", "LRP")),
                "; ".join(f"{m} {vs(precision[m], recall[m])}" for m in ("DC", "LRP"))))


def sa_falls(sa_f, thresholds) -> Row:
    """Fig. 5: SA's F-measure is high until t ~ 0.2, then falls: its mean for t <= 0.2
    exceeds its mean for t >= 0.5 (``sa_f``: SA's mean F at each of ``thresholds``)."""
    sa_f, thresholds = np.asarray(sa_f, np.float64), np.asarray(thresholds, np.float64)
    early = float(sa_f[thresholds <= SA_FALL_THRESHOLD].mean())
    late = float(sa_f[thresholds >= SA_LATE_THRESHOLD].mean())
    return claim_row("Fig. 5: SA F-measure falls after t ~ 0.2",
                     "SA's F-measure is high until the threshold is about 0.2, then falls "
                     "rapidly (decided: SA mean F for t <= 0.2 > for t >= 0.5)",
                     Verdict(early > late, vs(early, late)))


def fusion_beats_scales(fused_f: float, scale_f) -> Row:
    """Fig. 3 / abstract (our reading of "multi-scale"): the fused map s = 1/r sum_j s^j
    (Alg. 3 line 13) has a higher mean F than the map s^j of every single scale."""
    return claim_row("Fig. 3 / abstract (our reading): fusing scales beats every single scale",
                     "mean F of the fused map > of each scale's map (shown: fused vs best "
                     "scale)", Verdict(all(fused_f > v for v in scale_f),
                                       vs(fused_f, max(scale_f))))


def fig5(pr: dict, thresholds) -> list:
    """The Fig. 5 claims in the comparison's order; ``pr``: method -> ``mean_precision``,
    ``mean_recall``, ``mean_f`` and the curve ``f`` at ``thresholds``."""
    f, precision, recall = ({m: d[k] for m, d in pr.items()}
                            for k in ("mean_f", "mean_precision", "mean_recall"))
    return [rmpd_highest_f(f), gradcam_second(f), rmpd_precision_recall(precision, recall),
            edges_precision_over_recall(precision, recall), sa_falls(pr["SA"]["f"], thresholds)]
