"""What ``xaibench list`` prints, without importing TensorFlow.

The analyzer registry (:mod:`xaibench.analyzers.registry`) imports its providers, and
with them TensorFlow, before it can answer; ``xaibench list`` and ``--help`` must answer
in well under a second. This table repeats each registered analyzer's family and
one-line description, and each paper module's title; ``tests/test_new_user_cli.py``
checks that they equal ``xb.list_analyzers()``, the registry's families and the
``TITLE`` of each paper exactly, so a new or changed analyzer fails that test until it
is added here.
"""
from __future__ import annotations

#: analyzer name -> (family, one-line description), in the registry's order
ANALYZERS = {
    "input": ("utility", "The input x itself (a reference, not an explanation)."),
    "random": ("utility",
               "x plus Gaussian noise of standard deviation `stddev` (a sanity baseline)."),
    "gradient": ("gradient",
        "Sensitivity d f_c / d x (Simonyan et al.; Samek eq. 3 before channel pooling)."),
    "gradient.baseline": ("gradient",
        "Gradient through Keras's own gradient op (a check of 'gradient')."),
    "input_t_gradient": ("gradient", "Input times gradient, x * d f_c / d x."),
    "deconvnet": ("gradient",
        "DeConvNet (Zeiler and Fergus): ReLU applied to the backward signal, max-pool switches "
        "from the forward pass."),
    "guided_backprop": ("gradient",
        "Guided backprop (Springenberg et al.): gradient masked by forward and backward ReLU."),
    "integrated_gradients": ("gradient",
        "Integrated gradients (Sundararajan et al.) from a reference input in `steps` steps."),
    "smoothgrad": ("gradient",
        "SmoothGrad (Smilkov et al.): gradients averaged over `augment_by_n` noisy copies."),
    "lrp": ("lrp",
        "LRP with rule(s) given by name (`rule`, `input_layer_rule`, `until_layer_idx`, "
        "`until_layer_rule`)."),
    "lrp.z": ("lrp", "LRP-z, R_i = sum_j z_ij / z_j R_j (Kohlbrenner eq. 1), bias as an input."),
    "lrp.epsilon": ("lrp", "LRP-epsilon, z_j + eps sign(z_j) in the denominator (Samek eq. 7)."),
    "lrp.w_square": ("lrp", "LRP-w^2 (Montavon et al.): R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j."),
    "lrp.flat": ("lrp", "LRP-flat (LRP_b): relevance spread uniformly over each neuron's inputs."),
    "lrp.alpha_beta": ("lrp", "LRP-alpha-beta with alpha - beta = 1 (Samek eq. 8)."),
    "lrp.alpha_2_beta_1": ("lrp", "LRP-alpha2-beta1 (Samek eq. 8), Samek's 'LRP'."),
    "lrp.alpha_2_beta_1_IB": ("lrp", "LRP-alpha2-beta1 ignoring biases."),
    "lrp.alpha_1_beta_0": ("lrp", "LRP-alpha1-beta0 (Samek eq. 8 with beta = 0)."),
    "lrp.alpha_1_beta_0_IB": ("lrp", "LRP-alpha1-beta0 ignoring biases."),
    "lrp.z_plus": ("lrp", "LRP-z+ (positive weights and inputs, no bias)."),
    "lrp.z_plus_fast": ("lrp", "LRP-z+ assuming non-negative inputs."),
    "lrp.sequential_preset_a": ("lrp", "Composite: epsilon on dense, alpha1-beta0 on conv layers."),
    "lrp.sequential_preset_b": ("lrp", "Composite: epsilon on dense, alpha2-beta1 on conv layers."),
    "lrp.sequential_preset_a_flat": ("lrp", "Preset A with flat on the input layer."),
    "lrp.sequential_preset_b_flat": ("lrp", "Preset B with flat on the input layer."),
    "lrp.sequential_preset_b_flat_until_idx": ("lrp",
        "Preset B with flat on model.layers[0..until_layer_idx] (the index counts every layer, "
        "the InputLayer too)."),
    "deep_taylor": ("deep_taylor",
        "Deep Taylor decomposition (Montavon et al.), z+ rule, unbounded input."),
    "deep_taylor.bounded": ("deep_taylor",
        "Deep Taylor with the z^B rule for inputs in [low, high]."),
    "lrp.cmp_alpha1": ("lrp",
        "LRP_CMP:alpha1 (Kohlbrenner): LRP_eps on dense, LRP_alpha1beta0 on conv layers."),
    "lrp.cmp_alpha1_flat": ("lrp",
        "LRP_CMP:alpha1+b: as LRP_CMP:alpha1 with LRP_b (flat) on the input layer."),
    "lrp.cmp_alpha2": ("lrp", "LRP_CMP:alpha2: LRP_eps on dense, LRP_alpha2beta1 on conv layers."),
    "lrp.cmp_alpha2_flat": ("lrp",
        "LRP_CMP:alpha2+b: as LRP_CMP:alpha2 with LRP_b (flat) on the input layer."),
    "lrp.cmp_flat_until": ("lrp",
        "LRP_CMP with LRP_b on the first `flat_layers` conv/dense layers (Kohlbrenner Fig. 1 "
        "e-g), alpha in {1, 2} on the other conv layers, LRP_eps on dense."),
    "lrp.cam": ("lrp",
        "LRP_CAM (Kohlbrenner): LRP_z on the dense part, LRP_b (flat) over the whole conv stack."),
    "contextual_importance": ("perturbation",
        "Contextual importance (Anjomshoae et al. eq. 2): drop of the class probability when each"
        " SLIC region is masked, over absmax - absmin."),
    "lime": ("perturbation",
        "LIME (Ribeiro et al.): ridge regression of the class probability on random super-pixel "
        "on/off masks, cosine exponential kernel; super-pixels painted with their coefficients."),
    "occlusion": ("perturbation",
        "Occlusion (Zeiler and Fergus): drop of the logit when a patch x patch square slid with "
        "`stride` is replaced by `fill`."),
    "prediction_difference": ("perturbation",
        "Prediction difference (Zintgraf et al.; Seo Alg. 2): k x k windows resampled r times "
        "from the l x l ring's normal (or the training marginal)."),
    "rmpd": ("perturbation",
        "Regional multi-scale prediction difference (Seo Alg. 3): super-pixels at 2^1..2^r "
        "regions excluded by boundary-prior noise, max(0, difference) averaged over scales."),
    "pattern.net": ("pattern",
        "PatternNet (Kindermans et al. 2018): signal back-projected with learned patterns; needs "
        "fit(x) or patterns="),
    "pattern.attribution": ("pattern",
        "PatternAttribution (Kindermans et al. 2018): LRP with w*a, patterns learned by fit(x) or"
        " given as patterns="),
    "grad_cam": ("gradient",
        "Grad-CAM (Selvaraju et al. 2017): the ReLU of a conv layer's feature maps weighted by "
        "their mean gradients, upsampled to the image."),
}


def analyzer_families() -> dict:
    """``{family: [analyzer names]}`` in the order of :data:`ANALYZERS`."""
    families: dict = {}
    for name, (family, _) in ANALYZERS.items():
        families.setdefault(family, []).append(name)
    return families


#: paper name -> title (``xaibench reproduce NAME``), as each paper module's TITLE
PAPERS = {
    "amorim": (
        "Amorim et al. (2020): Interpretability vs. Complexity -- L2 regularisation vs. "
        "confidence-drop AOPC of five saliency methods"),
    "kohlbrenner": (
        "Kohlbrenner et al. (2020): Towards best practice in explaining neural network "
        "decisions with LRP"),
    "samek": (
        "Samek et al. (2017): Evaluating the visualization of what a deep neural network has "
        "learned -- AOPC of sensitivity, deconvolution and LRP heatmaps"),
    "seo": (
        "Seo et al. (2018): regional multi-scale prediction difference (Alg. 3) against DC, SA,"
        " LRP, PD and Grad-CAM"),
    "anjomshoae": (
        "Anjomshoae et al. (2021): Visual explanations for DNNs with contextual importance "
        "(MNIST, CI vs masking vs LIME)"),
}
