"""What Samek et al. (2017) print: the protocol of Sec. IV-A and the appendix, the methods of
Sec. II-C and the claims of Sec. IV-B, IV-D and the appendix. Figs. 4, 5, 7 and 8 are plots
without printed values: the results are compared through the claims."""
from typing import NamedTuple

from xaibench.runner.config import Step

TITLE = ("Samek et al. (2017): Evaluating the visualization of what a deep neural network "
         "has learned -- AOPC of sensitivity, deconvolution and LRP heatmaps")

#: Sec. IV-A's protocol as printed there, each number once (the tests check each against the
#: rest of the paper where it allows)
PAPER = {
    "Sec. IV-A, region size (px)": 9,                   # "9x9 non-overlapping regions"
    "Sec. IV-A, region share of the image (%)": 0.157,  # "each covering 0.157% of the image"
    "Sec. IV-A, perturbation steps L": 100,             # "restricted ... perturbation steps to 100"
    "Sec. IV-A, image share perturbed after L steps (%)": 15.7,   # "15.7% of the image"
    "Sec. IV-A, repeats of the random perturbation": 10,    # "we repeat the process 10 times"
    "Sec. IV-A, images per data set": 5040,             # "the first 5040 images of the ILSVRC2012"
    # not printed: the input of the Caffe reference model [40], the side on which the
    # 9 x 9 px regions are 0.157 %
    "Sec. IV-A, input side of the network (px)": 227,
}
#: the appendix: "region sizes smaller and larger than 9x9, namely 1x1, 3x3, 5x5 and 19x19"
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
    """A heatmap method: its analyzer, its pooling over the colour channels (Sec. II:
    sensitivity and deconvolution by a norm, LRP summed) and its label."""

    analyzer: Step
    pooling: str
    label: str


#: Fig. 4's methods: sensitivity (eq. 3), deconvolution (Sec. II-B), LRP eq. 7 with
#: epsilon = 0.01 / 100 and eq. 8 with alpha = 2, beta = -1 (Sec. II-C), epsilon = 1 (appendix)
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
#: Fig. 8's methods (the appendix leaves out l-inf and eps=0.01), its reference first
FIG8 = ("sens_l2", "deconv", "lrp_a2b1", "lrp_eps1", "lrp_eps100")
#: Fig. 5: LRP (alpha2-beta1, the paper's "LRP") against deconvolution and sensitivity
FIG5_LRP = "lrp_a2b1"
FIG5_OTHERS = ("deconv", "sens_l2")
