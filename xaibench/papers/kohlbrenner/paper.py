"""What Kohlbrenner et al. (2020) report and prescribe: Table 1's methods and numbers, the
settings of Sec. 3-4 and Figs. 1-3. Keys name the methods throughout the package."""

TITLE = ("Kohlbrenner et al. (2020): Towards best practice in explaining neural network "
         "decisions with LRP")

#: Table 1 / Sec. 3.3 methods: key -> (xaibench analyzer, label as in the paper). LRP_CMP:
#: LRP_eps on dense, LRP_alpha-beta on conv layers; "+b": LRP_b (flat) on the input layer
METHODS = {
    "cmp_a2b": ("lrp.cmp_alpha2_flat", "LRP_CMP:alpha2+b"),
    "cmp_a1": ("lrp.cmp_alpha1", "LRP_CMP:alpha1"),
    "cmp_a1b": ("lrp.cmp_alpha1_flat", "LRP_CMP:alpha1+b"),
    "cmp_a2": ("lrp.cmp_alpha2", "LRP_CMP:alpha2"),
    "lrp_a2": ("lrp.alpha_2_beta_1", "LRP_alpha2"),
    "lrp_a1": ("lrp.alpha_1_beta_0", "LRP_alpha1"),
    "lrp_z": ("lrp.z", "LRP_z"),
    "gb": ("guided_backprop", "GB"),
    "pa": ("pattern.attribution", "PA"),
}
#: Table 1's uniform attribution over the whole image (mu_w = 1)
BASELINE_KEY = "baseline"
LABELS = {**{k: v[1] for k, v in METHODS.items()}, BASELINE_KEY: "Baseline"}
#: the four LRP_CMP variants and the uniformly applied LRP rules of Table 1
CMP = ("cmp_a2b", "cmp_a1", "cmp_a1b", "cmp_a2")
UNIFORM_LRP = ("lrp_a2", "lrp_a1", "lrp_z")
#: Table 1's columns: mu_w, mu for boxes <= 25 % and <= 50 % of the image, mu (eq. 2)
COLUMNS = ("mu_w", "mu<=0.25", "mu<=0.5", "mu")

#: the table this reproduction is set against (single-label data), and the multi-label
#: half, shown for reference only (its CaffeNet, trained on PVOC 2012, is not available)
REFERENCE, PVOC = "Table 1, ImageNet (VGG-16)", "Table 1, PVOC 2007 (CaffeNet)"
#: Table 1: (mu_w, mu<=0.25, mu<=0.5, mu) per method and data set
PAPER = {
    REFERENCE: {
        "cmp_a2b": (1.902, 0.397, 0.534, 0.714),
        "cmp_a2": (1.797, 0.368, 0.505, 0.693),
        "cmp_a1": (1.7044, 0.3467, 0.4887, 0.6898),
        "cmp_a1b": (1.7043, 0.3466, 0.4886, 0.6898),
        "lrp_a2": (1.702, 0.332, 0.496, 0.706),
        "gb": (1.640, 0.312, 0.485, 0.710),
        "lrp_a1": (1.609, 0.306, 0.475, 0.699),
        "pa": (1.591, 0.303, 0.471, 0.698),
        "lrp_z": (1.347, 0.236, 0.389, 0.632),
        "baseline": (1.000, 0.128, 0.260, 0.547),
    },
    PVOC: {
        "cmp_a2b": (2.716, 0.307, 0.421, 0.532),
        "cmp_a1": (2.664, 0.306, 0.426, 0.539),
        "cmp_a1b": (2.598, 0.301, 0.421, 0.535),
        "cmp_a2": (2.475, 0.276, 0.388, 0.504),
        "lrp_z": (2.128, 0.236, 0.353, 0.480),
        "gb": (1.943, 0.212, 0.335, 0.470),
        "lrp_a2": (1.843, 0.205, 0.320, 0.452),
        "lrp_a1": (1.486, 0.163, 0.273, 0.403),
        "baseline": (1.000, 0.100, 0.186, 0.322),
    },
}

#: Fig. 3 / Sec. 4.2: mu against box size in 100 equally spaced intervals of [0, 1]
FIG3_BINS = 100
#: Fig. 3's vertical lines and Table 1's partial columns: boxes covering <= 25 % / > 50 %
SMALL_BOX, LARGE_BOX = 0.25, 0.5
#: Fig. 1 (g): LRP_b on the first three conv layers
FIG1_FLAT_LAYERS = 3
