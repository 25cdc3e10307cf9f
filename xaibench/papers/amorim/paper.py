"""The numbers and settings of Amorim et al., IJCNN 2020 (text:
``shared/papers/000_fc1550f9518a81b7.txt``), each citing its table or section."""

TITLE = ("Amorim et al. (2020): Interpretability vs. Complexity -- L2 regularisation vs. "
         "confidence-drop AOPC of five saliency methods")

#: L2 weight decays and layer groups regularised (Sec. III-A): conv blocks B1, B2, B3, all
#: of them B, dense layers D1, D2, both D, all layers A
PAPER_DECAYS = (0.0, 1e-4, 1e-3, 5e-3, 1e-2, 5e-2)
PAPER_GROUPS = ("B1", "B2", "B3", "B", "D1", "D2", "D", "A")
#: k of the cross-validation over train + test, early-stopping patience in epochs (Sec. III-A)
PAPER_FOLDS, PAPER_PATIENCE = 10, 10
#: fractions of most relevant pixels of eq. 3 (Sec. III-C); the tests' level (Sec. IV-A)
FRACTIONS = (.05, .1, .2, .3, .4, .5, .75)
ALPHA = 0.05

#: xaibench analyzer -> the paper's name of the method (Sec. III-B)
METHODS = {"deconvnet": "DeConvNet", "deep_taylor": "Deep Taylor", "gradient": "Gradient",
           "guided_backprop": "Guided Backprop", "lrp.epsilon": "LRP"}

#: Table II: mean AOPC over 10 folds, all layers regularised, per decay of PAPER_DECAYS
#: (the 0.05 column is printed as 9.3E-12)
TABLE_II = {
    "deconvnet": (0.314, 0.293, 0.253, 0.232, 0.134, 9.3e-12),
    "deep_taylor": (0.218, 0.230, 0.229, 0.201, 0.114, 9.3e-12),
    "gradient": (0.419, 0.413, 0.417, 0.356, 0.226, 9.3e-12),
    "guided_backprop": (0.269, 0.281, 0.263, 0.224, 0.132, 9.3e-12),
    "lrp.epsilon": (0.423, 0.421, 0.427, 0.362, 0.231, 9.3e-12),
}

#: Tables III (DeConvNet), IV (Deep Taylor), V (Gradient), VI (Guided Backprop) and
#: VII (LRP): mean AOPC per layer group (rows) and decay of PAPER_DECAYS (columns)
TABLES_III_VII = {
    "deconvnet": ("Table III", {
        "B1": (0.3142, 0.3082, 0.3004, 0.2810, 0.2772, 0.2292),
        "B2": (0.3142, 0.3368, 0.3065, 0.2882, 0.2651, 0.2328),
        "B3": (0.3142, 0.3107, 0.3135, 0.3037, 0.2710, 0.3228),
        "B": (0.3142, 0.2878, 0.2651, 0.2451, 0.2603, 0.1600),
        "D1": (0.3142, 0.3253, 0.3265, 0.3298, 0.3425, 0.3666),
        "D2": (0.3142, 0.3247, 0.3238, 0.3197, 0.3249, 0.3155),
        "D": (0.3142, 0.3262, 0.3344, 0.3298, 0.3395, 0.3503),
        "A": (0.3142, 0.2934, 0.2526, 0.2316, 0.1343, 0.0000)}),
    "deep_taylor": ("Table IV", {
        "B1": (0.2183, 0.2216, 0.2252, 0.2274, 0.2211, 0.2188),
        "B2": (0.2183, 0.2283, 0.2232, 0.2226, 0.2224, 0.1988),
        "B3": (0.2183, 0.2368, 0.2310, 0.2323, 0.2245, 0.2416),
        "B": (0.2183, 0.2269, 0.2312, 0.2326, 0.2236, 0.1453),
        "D1": (0.2183, 0.2279, 0.2465, 0.2427, 0.2499, 0.2526),
        "D2": (0.2183, 0.2267, 0.2302, 0.2405, 0.2235, 0.2354),
        "D": (0.2183, 0.2250, 0.2348, 0.2452, 0.2473, 0.2516),
        "A": (0.2183, 0.2301, 0.2292, 0.2014, 0.1138, 0.0000)}),
    "gradient": ("Table V", {
        "B1": (0.4192, 0.4212, 0.4249, 0.4167, 0.4145, 0.4153),
        "B2": (0.4192, 0.4242, 0.4244, 0.4101, 0.4153, 0.3898),
        "B3": (0.4192, 0.4301, 0.4252, 0.4295, 0.4230, 0.4279),
        "B": (0.4192, 0.4279, 0.4272, 0.4149, 0.3963, 0.2309),
        "D1": (0.4192, 0.4227, 0.4252, 0.4287, 0.4226, 0.4358),
        "D2": (0.4192, 0.4181, 0.4291, 0.4303, 0.4273, 0.4341),
        "D": (0.4192, 0.4211, 0.4248, 0.4289, 0.4266, 0.4201),
        "A": (0.4192, 0.4127, 0.4174, 0.3564, 0.2260, 0.0000)}),
    "guided_backprop": ("Table VI", {
        "B1": (0.2690, 0.2722, 0.2720, 0.2698, 0.2563, 0.2454),
        "B2": (0.2690, 0.2884, 0.2696, 0.2700, 0.2561, 0.2312),
        "B3": (0.2690, 0.2860, 0.2844, 0.2825, 0.2615, 0.2881),
        "B": (0.2690, 0.2777, 0.2723, 0.2611, 0.2678, 0.1629),
        "D1": (0.2690, 0.2867, 0.2852, 0.2912, 0.2903, 0.2993),
        "D2": (0.2690, 0.2792, 0.2716, 0.2922, 0.2878, 0.2755),
        "D": (0.2690, 0.2788, 0.2919, 0.2867, 0.2951, 0.3022),
        "A": (0.2690, 0.2813, 0.2630, 0.2243, 0.1324, 0.0000)}),
    "lrp.epsilon": ("Table VII", {
        "B1": (0.4226, 0.4274, 0.4304, 0.4202, 0.4203, 0.4196),
        "B2": (0.4226, 0.4295, 0.4289, 0.4154, 0.4184, 0.3947),
        "B3": (0.4226, 0.4340, 0.4284, 0.4344, 0.4256, 0.4302),
        "B": (0.4226, 0.4309, 0.4312, 0.4206, 0.4055, 0.2336),
        "D1": (0.4226, 0.4282, 0.4278, 0.4351, 0.4288, 0.4439),
        "D2": (0.4226, 0.4227, 0.4333, 0.4337, 0.4351, 0.4387),
        "D": (0.4226, 0.4273, 0.4301, 0.4334, 0.4317, 0.4281),
        "A": (0.4226, 0.4211, 0.4265, 0.3622, 0.2313, 0.0000)}),
}

#: (method, group, decay) -> the paper's mean AOPC: group A from Table II, the others from
#: Tables III-VII
PAPER_AOPC = {(m, g, d): TABLE_II[m][j] if g == "A" else TABLES_III_VII[m][1][g][j]
              for m in METHODS for g in PAPER_GROUPS for j, d in enumerate(PAPER_DECAYS)}

#: Table II, decay 0: the methods from the highest AOPC to the lowest
TABLE_II_ORDER = ("lrp.epsilon", "gradient", "deconvnet", "guided_backprop", "deep_taylor")
#: Sec. IV-A and V: the methods of highest fidelity (AOPC)
HIGHEST_FIDELITY = ("lrp.epsilon", "gradient")
#: the layer groups the paper recommends regularising (Sec. IV-B, Fig. 4, Sec. V)
LATE_GROUPS = ("B3", "D1", "D2", "D")


def decay_text(decay: float) -> str:
    """A decay as the paper's tables head it: ``0``, ``0.0001``, ... ``0.05``."""
    return "0" if decay == 0 else f"{decay:g}"
