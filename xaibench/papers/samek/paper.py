"""What Samek et al. (2017) print: the protocol of Sec. IV-A and the appendix, the methods of
Sec. II / Fig. 4, and the qualitative claims of Figs. 4, 5, 7 and 8.

Figs. 4, 5, 7 and 8 are plots without printed values, so the numbers here are the protocol;
the results are compared through the claims (:data:`CLAIMS`).
"""
from __future__ import annotations

from typing import NamedTuple

from xaibench.runner.config import Step

TITLE = ("Samek et al. (2017): Evaluating the visualization of what a deep neural network "
         "has learned -- AOPC of sensitivity, deconvolution and LRP heatmaps")

#: the numbers the paper prints (Sec. IV-A and the appendix): its protocol. Figs. 4, 5, 7
#: and 8 are plots without printed values.
PAPER = {
    "Sec. IV-A, region size (px)": 9,
    "Sec. IV-A, region share of the image (%)": 0.157,
    "Sec. IV-A, perturbation steps L": 100,
    "Sec. IV-A, image share perturbed after L steps (%)": 15.7,
    "Sec. IV-A, repeats of the random perturbation": 10,
    "Sec. IV-A, images per data set": 5040,
    "Sec. IV-A, input side of the network (px)": 227,
}
#: the region sizes of Fig. 8 (appendix), on 227 px inputs
PAPER_REGIONS = (1, 3, 5, 9, 19)
#: the appendix: deconvolution beats sensitivity "only for large region sizes (9x9 in
#: Figure 4 and 19x19 in Figure 8)"
PAPER_LARGE_REGIONS = (9, 19)

#: the paper's qualitative claims checked here (figure -> statement)
CLAIMS = {
    "Fig. 4, LRP best": "every LRP variant > deconvolution, sensitivity (AOPC - random at L)",
    "Fig. 4, deconvolution second": "deconvolution > sensitivity l2, sensitivity l-inf",
    "Fig. 4, deconvolution beats random": "deconvolution > random baseline",
    "Fig. 4, epsilon-LRP beats alpha-beta": "best epsilon-LRP (0.01 / 100) > LRP alpha2-beta1",
    "Fig. 4, epsilon 100 beats 0.01": "LRP eps=100 > LRP eps=0.01",
    "Fig. 8, epsilon-LRP best": "best epsilon-LRP (1 / 100) > every other method, at {r}",
    "Fig. 8, epsilon 1 beats 100": "LRP eps=1 > LRP eps=100 at every region size",
    "Fig. 8, deconvolution only at large regions": (
        "deconvolution > sensitivity l2 only at the large regions (paper 9, 19)"),
    "Fig. 5, PNG": "LRP PNG smaller than {other} for almost all (>= 90 %) images",
    "Fig. 5, JPEG": "LRP JPEG smaller than {other} for almost all (>= 90 %) images",
    "Fig. 5, entropy": "median entropy LRP < {other}",
    "Fig. 7, AOPC follows accuracy": "AOPC and test accuracy correlate over training (r > 0)",
}


class Method(NamedTuple):
    """A heatmap method of Fig. 4: the xaibench analyzer, how its map is pooled over the
    colour channels (Sec. II: sensitivity and deconvolution by a norm, LRP summed) and its
    label in the figures."""

    analyzer: Step
    pooling: str
    label: str


#: the methods of Fig. 4 (Sec. II-A sensitivity, eq. 3; II-B deconvolution; II-C LRP,
#: eq. 7 with epsilon = 0.01 / 100 and eq. 8 with alpha = 2, beta = -1, the paper's "LRP";
#: epsilon = 1 from the appendix)
METHODS = {
    "sens_l2": Method(Step("gradient"), "l2", "sensitivity (l2)"),
    "sens_linf": Method(Step("gradient"), "linf", "sensitivity (l-inf)"),
    "deconv": Method(Step("deconvnet"), "l2", "deconvolution (l2)"),
    "lrp_eps0.01": Method(Step("lrp.epsilon", {"epsilon": 0.01}), "sum", "LRP eps=0.01"),
    "lrp_eps1": Method(Step("lrp.epsilon", {"epsilon": 1}), "sum", "LRP eps=1"),
    "lrp_eps100": Method(Step("lrp.epsilon", {"epsilon": 100}), "sum", "LRP eps=100"),
    "lrp_a2b1": Method(Step("lrp.alpha_2_beta_1"), "sum", "LRP alpha2-beta1"),
}
LABELS = {k: m.label for k, m in METHODS.items()}
LRP = ("lrp_eps0.01", "lrp_eps1", "lrp_eps100", "lrp_a2b1")
#: Fig. 4's methods that are not LRP
OTHERS = ("deconv", "sens_l2", "sens_linf")
#: Fig. 8's methods (the appendix leaves out l-inf and eps=0.01); sensitivity l2 first: the
#: reference the others are shown relative to
FIG8 = ("sens_l2", "deconv", "lrp_a2b1", "lrp_eps1", "lrp_eps100")
#: Fig. 5: LRP (alpha2-beta1, the paper's "LRP") against these
FIG5_LRP = "lrp_a2b1"
FIG5_OTHERS = ("deconv", "sens_l2")
