"""The paper's claims as pure functions: each decides the claim of :data:`~.paper.CLAIMS` of
its name on xaibench's numbers (or the paper's) and returns a ``Verdict`` (holds, numbers
shown); arrays are per-image values over the batch images."""
import numpy as np

from xaibench.papers.comparison import UNDECIDED, Verdict, vs

#: Fig. 7's claim: every altered digit is recognised with at least this score
CONFIDENT = 0.9
#: Sec. 4.3's claim: CI maps of noisy copies correlate with the clean ones above this r
ROBUST_R = 0.5


def kept_class(kept_argmax) -> Verdict:
    """Fig. 3 / Sec. 5: the high-CI regions alone keep the predicted class; ``kept_argmax``
    is 1 where the class is still the top class on the kept regions, else 0."""
    share = float(np.mean(kept_argmax))
    return Verdict(share > 0.5, share)


def kept_gain(whole, kept) -> Verdict:
    """Fig. 3 / Sec. 4: leaving out the low-CI regions raises the class score; ``whole`` /
    ``kept``: the score of the whole image / of the kept regions, per image."""
    whole, kept = np.asarray(whole, np.float64), np.asarray(kept, np.float64)
    return Verdict(float(np.mean(kept - whole)) > 0,
                   vs(float(whole.mean()), float(kept.mean()), sep=" -> "))


def lime_background(background: dict) -> Verdict:
    """Sec. 4.1: LIME marks background as relevant; ``background``: method key ("ci",
    "lime", ...) -> mean share of positive relevance on background pixels."""
    return Verdict(background["lime"] > background["ci"],
                   vs(background["lime"], background["ci"]))


def better_visual() -> Verdict:
    """Sec. 4.1 / abstract: CI is the better visual explanation, a human judgement."""
    return UNDECIDED


def ci_highest_aopc(aopc: dict) -> Verdict:
    """xaibench's proxy of Sec. 4.1: CI has a higher AOPC than masking and LIME; ``aopc``:
    method key ("ci", "occ", "lime") -> mean AOPC."""
    return Verdict(aopc["ci"] > aopc["occ"] and aopc["ci"] > aopc["lime"],
                   vs(aopc["ci"], vs(aopc["occ"], aopc["lime"], sep=", ")))


def lime_same_for_classes(r_ci, r_lime) -> Verdict:
    """Sec. 4.2: LIME gives the same map for different classes, CI does not; ``r_ci`` /
    ``r_lime``: Pearson r of each image's maps for the predicted and the runner-up class."""
    ci, lime = float(np.mean(r_ci)), float(np.mean(r_lime))
    return Verdict(lime > ci, vs(lime, ci))


def altered_recognised(scores, predicted, truth) -> Verdict:
    """Fig. 7: the altered digits are recognised with high confidence; per altered digit the
    score of the predicted class, the predicted and the true class."""
    good = [int(p) == int(t) and s >= CONFIDENT for s, p, t in zip(scores, predicted, truth)]
    return Verdict(all(good), vs(*[float(s) for s in scores], sep=", ", digits=4))


def robust_under_noise(r) -> Verdict:
    """Sec. 4.3: CI maps hardly change under noise; ``r``: Pearson r of each image's clean
    and noisy CI maps."""
    mean = float(np.mean(r))
    return Verdict(mean > ROBUST_R, mean)


def kept_beats_whole(whole: float, kept: float) -> Verdict:
    """Fig. 8: for the predicted class the kept high-CI regions score higher than the whole
    image (the paper: 51 % -> 99 %)."""
    return Verdict(kept > whole, vs(whole, kept, sep=" -> "))


def kept_predicted_beats_true(predicted: float, true: float) -> Verdict:
    """Fig. 8: the kept high-CI regions score higher for the predicted than for the true
    class (the paper: 99 % vs 26 %)."""
    return Verdict(predicted > true, vs(predicted, true))
