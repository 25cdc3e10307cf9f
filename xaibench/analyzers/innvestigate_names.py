"""The iNNvestigate 2.1.2 analyzer names and their parameters, checked before any work.

Both backends take this table: the native engine (:mod:`xaibench.analyzers.native`,
the default) and the iNNvestigate worker (``backend="innvestigate"``). Each entry
lists every keyword iNNvestigate's analyzer class for the name accepts, with a
validator, plus the LRP composites of Kohlbrenner et al. (``lrp.cmp_*``, ``lrp.cam``).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from xaibench._checks import check_in_range, check_parameters

def _number(low=None, high=None, low_inclusive=True):
    def check(name, value):
        return float(check_in_range(name, value, low, high, low_inclusive=low_inclusive))
    return check


def _integer(low=None, high=None):
    def check(name, value):
        return int(check_in_range(name, value, low, high, integer=True))
    return check


def _boolean(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return bool(value)


def _choice(*options):
    def check(name, value):
        if value not in options:
            raise ValueError(f"{name}={value!r} is not valid; use one of {options}.")
        return value
    return check


def _rule(name, value):
    rules = ("Z", "Epsilon", "WSquare", "Flat", "AlphaBeta", "AlphaBetaIgnoreBias",
             "Alpha2Beta1", "Alpha2Beta1IgnoreBias", "Alpha1Beta0", "Alpha1Beta0IgnoreBias",
             "ZPlus", "ZPlusFast", "Bounded")
    values = value if isinstance(value, (list, tuple)) else [value]
    for v in values:
        if v not in rules:
            raise ValueError(
                f"{name}={v!r} is not an iNNvestigate rule name; use one of {rules} (rule "
                "objects and conditional rule lists do not cross into the worker process; "
                "the lrp.cmp_* analyzers give the composites)."
            )
    return list(value) if isinstance(value, (list, tuple)) else value


def _input_rule(name, value):
    """A rule name, or ``(low, high)`` bounds of the input for the bounded rule."""
    if isinstance(value, tuple) and len(value) == 2 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value):
        low, high = float(value[0]), float(value[1])
        if not low < high:
            raise ValueError(f"{name}={value!r}: the bounds (low, high) need low < high.")
        return (low, high)
    if isinstance(value, (list, tuple)):
        raise ValueError(f"{name}={value!r}: give one rule name or (low, high) bounds.")
    return _rule(name, value)


def _reference(name, value):
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    arr = np.asarray(value, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf.")
    return arr


def _seed(name, value):
    return int(check_in_range(name, value, 0, 2**31 - 1, integer=True))


_POSTPROCESS = _choice(None, "abs", "square")


@dataclass(frozen=True)
class _Spec:
    recipe: str                 # iNNvestigate name, or "cmp" / "cam"
    description: str
    family: str
    params: dict                # name -> validator
    defaults: dict = field(default_factory=dict)
    required: tuple = ()


def _eps(default):
    return {"epsilon": _number(0.0, low_inclusive=False)}, {"epsilon": default}


SPECS: dict[str, _Spec] = {
    "input": _Spec("input", "The input x itself (a reference, not an explanation).", "utility", {}),
    "random": _Spec("random",
                    "x plus Gaussian noise of standard deviation `stddev` (a sanity baseline).", "utility",
                    {"stddev": _number(0.0, low_inclusive=False), "seed": _seed}, {"seed": 0}),
    "gradient": _Spec("gradient", "Sensitivity d f_c / d x (Simonyan et al.; Samek eq. 3 before "
                      "channel pooling).", "gradient", {"postprocess": _POSTPROCESS}),
    "gradient.baseline": _Spec("gradient.baseline", "Gradient through Keras's own gradient op "
                               "(a check of 'gradient').", "gradient", {}),
    "input_t_gradient": _Spec("input_t_gradient", "Input times gradient, x * d f_c / d x.",
                              "gradient", {}),
    "deconvnet": _Spec("deconvnet", "DeConvNet (Zeiler and Fergus): ReLU applied to the "
                       "backward signal, max-pool switches from the forward pass.", "gradient", {}),
    "guided_backprop": _Spec("guided_backprop", "Guided backprop (Springenberg et al.): gradient "
                             "masked by forward and backward ReLU.", "gradient", {}),
    "integrated_gradients": _Spec(
        "integrated_gradients", "Integrated gradients (Sundararajan et al.) from a reference "
        "input in `steps` steps.", "gradient",
        {"reference_inputs": _reference, "steps": _integer(1), "postprocess": _POSTPROCESS}),
    "smoothgrad": _Spec(
        "smoothgrad", "SmoothGrad (Smilkov et al.): gradients averaged over `augment_by_n` noisy "
        "copies.", "gradient",
        {"augment_by_n": _integer(1), "noise_scale": _number(0.0), "postprocess": _POSTPROCESS,
         "seed": _seed}, {"seed": 0}),
    "lrp": _Spec("lrp", "LRP with rule(s) given by name (`rule`, `input_layer_rule`, "
                 "`until_layer_idx`, `until_layer_rule`).", "lrp",
                 {"rule": _rule, "input_layer_rule": _rule, "until_layer_idx": _integer(0),
                  "until_layer_rule": _rule, "bn_layer_rule": _rule}, required=("rule",)),
    "lrp.z": _Spec("lrp.z", "LRP-z, R_i = sum_j z_ij / z_j R_j (Kohlbrenner eq. 1), bias as "
                   "an input.", "lrp", {}),
    "lrp.epsilon": _Spec("lrp.epsilon", "LRP-epsilon, z_j + eps sign(z_j) in the denominator "
                         "(Samek eq. 7).", "lrp",
                         {"epsilon": _number(0.0, low_inclusive=False), "bias": _boolean}),
    "lrp.w_square": _Spec("lrp.w_square", "LRP-w^2 (Montavon et al.): R_i = sum_j w_ij^2 / "
                          "sum_i' w_i'j^2 R_j.", "lrp", {}),
    "lrp.flat": _Spec("lrp.flat", "LRP-flat (LRP_b): relevance spread uniformly over each "
                      "neuron's inputs.", "lrp", {}),
    "lrp.alpha_beta": _Spec("lrp.alpha_beta", "LRP-alpha-beta with alpha - beta = 1 (Samek eq. 8).",
                            "lrp", {"alpha": _number(1.0), "beta": _number(0.0),
                                    "bias": _boolean}),
    "lrp.alpha_2_beta_1": _Spec("lrp.alpha_2_beta_1", "LRP-alpha2-beta1 (Samek eq. 8), Samek's "
                                "'LRP'.", "lrp", {}),
    "lrp.alpha_2_beta_1_IB": _Spec("lrp.alpha_2_beta_1_IB", "LRP-alpha2-beta1 ignoring biases.",
                                   "lrp", {}),
    "lrp.alpha_1_beta_0": _Spec("lrp.alpha_1_beta_0", "LRP-alpha1-beta0 (Samek eq. 8 with "
                                "beta = 0).", "lrp", {}),
    "lrp.alpha_1_beta_0_IB": _Spec("lrp.alpha_1_beta_0_IB", "LRP-alpha1-beta0 ignoring biases.",
                                   "lrp", {}),
    "lrp.z_plus": _Spec("lrp.z_plus", "LRP-z+ (positive weights and inputs, no bias).", "lrp", {}),
    "lrp.z_plus_fast": _Spec("lrp.z_plus_fast", "LRP-z+ assuming non-negative inputs.", "lrp", {}),
    "lrp.sequential_preset_a": _Spec(
        "lrp.sequential_preset_a", "Composite: epsilon on dense, alpha1-beta0 on conv layers.",
        "lrp", *_eps(0.1)),
    "lrp.sequential_preset_b": _Spec(
        "lrp.sequential_preset_b", "Composite: epsilon on dense, alpha2-beta1 on conv layers.",
        "lrp", *_eps(0.1)),
    "lrp.sequential_preset_a_flat": _Spec(
        "lrp.sequential_preset_a_flat", "Preset A with flat on the input layer.", "lrp",
        *_eps(0.1)),
    "lrp.sequential_preset_b_flat": _Spec(
        "lrp.sequential_preset_b_flat", "Preset B with flat on the input layer.", "lrp",
        *_eps(0.1)),
    "lrp.sequential_preset_b_flat_until_idx": _Spec(
        "lrp.sequential_preset_b_flat_until_idx", "Preset B with flat on model.layers[0.."
        "until_layer_idx] (the index counts every layer, the InputLayer too).", "lrp",
        {"epsilon": _number(0.0, low_inclusive=False), "until_layer_idx": _integer(0)},
        {"epsilon": 0.1}),
    "deep_taylor": _Spec("deep_taylor", "Deep Taylor decomposition (Montavon et al.), z+ rule, "
                         "unbounded input.", "deep_taylor", {}),
    "deep_taylor.bounded": _Spec("deep_taylor.bounded", "Deep Taylor with the z^B rule for inputs "
                                 "in [low, high].", "deep_taylor",
                                 {"low": _number(), "high": _number()},
                                 required=("low", "high")),
    # the paper names of Kohlbrenner et al. (Sec. 2, Table 1)
    "lrp.cmp_alpha1": _Spec(
        "lrp.sequential_preset_a", "LRP_CMP:alpha1 (Kohlbrenner): LRP_eps on dense, "
        "LRP_alpha1beta0 on conv layers.", "lrp", *_eps(0.1)),
    "lrp.cmp_alpha1_flat": _Spec(
        "lrp.sequential_preset_a_flat", "LRP_CMP:alpha1+b: as LRP_CMP:alpha1 with LRP_b (flat) "
        "on the input layer.", "lrp", *_eps(0.1)),
    "lrp.cmp_alpha2": _Spec(
        "lrp.sequential_preset_b", "LRP_CMP:alpha2: LRP_eps on dense, LRP_alpha2beta1 on conv "
        "layers.", "lrp", *_eps(0.1)),
    "lrp.cmp_alpha2_flat": _Spec(
        "lrp.sequential_preset_b_flat", "LRP_CMP:alpha2+b: as LRP_CMP:alpha2 with LRP_b (flat) "
        "on the input layer.", "lrp", *_eps(0.1)),
    "lrp.cmp_flat_until": _Spec(
        "cmp", "LRP_CMP with LRP_b on the first `flat_layers` conv/dense layers (Kohlbrenner "
        "Fig. 1 e-g), alpha in {1, 2} on the other conv layers, LRP_eps on dense.", "lrp",
        {"flat_layers": _integer(1), "alpha": _choice(1, 2),
         "epsilon": _number(0.0, low_inclusive=False)},
        {"alpha": 2, "epsilon": 0.1}, required=("flat_layers",)),
    "lrp.cam": _Spec(
        "cam", "LRP_CAM (Kohlbrenner): LRP_z on the dense part, LRP_b (flat) over the whole "
        "conv stack.", "lrp", {}),
}


#: keywords every iNNvestigate LRP analyzer class passes on to ``LRP`` (``**kwargs``)
_LRP_KEYWORDS = {"input_layer_rule": _input_rule, "until_layer_idx": _integer(0),
                 "until_layer_rule": _rule}
for _spec in SPECS.values():
    if _spec.family == "lrp" and _spec.recipe.startswith("lrp"):
        extra = dict(_LRP_KEYWORDS)
        if "preset" in _spec.recipe:
            extra["bn_layer_rule"] = _rule
        if _spec.recipe.endswith("_flat"):
            extra["input_layer_rule"] = _choice("Flat")
        if _spec.recipe.endswith("_until_idx"):
            del extra["until_layer_rule"]      # fixed to Flat by the class
        for _key, _check in extra.items():
            _spec.params.setdefault(_key, _check)
SPECS["lrp"].params["input_layer_rule"] = _input_rule


def validate(name: str, spec: _Spec, params: dict, model) -> dict:
    check_parameters(name, params, spec.params, common=("batch_size", "jit_compile"))
    missing = [p for p in spec.required if p not in params]
    if missing:
        raise TypeError(f"{name!r} needs the parameter(s) {', '.join(missing)}.")
    out = dict(spec.defaults)
    for key, value in params.items():
        out[key] = spec.params[key](key, value)
    if name == "lrp.alpha_beta":
        alpha, beta = out.get("alpha"), out.get("beta")
        if alpha is None and beta is None:
            raise TypeError("'lrp.alpha_beta' needs alpha or beta (with alpha - beta = 1).")
        if alpha is not None and beta is not None and abs(alpha - beta - 1) > 1e-9:
            raise ValueError(f"alpha - beta must be 1 for conservation, got alpha={alpha}, "
                             f"beta={beta}.")
    if name == "deep_taylor.bounded" and not out["low"] < out["high"]:
        raise ValueError(f"low={out['low']} must be below high={out['high']}.")
    return out


def check_layer_count(name: str, params: dict, prepared) -> None:
    kernels = [layer for layer in prepared.layers if getattr(layer, "kernel", None) is not None]
    if "flat_layers" in params and params["flat_layers"] > len(kernels):
        raise ValueError(
            f"flat_layers={params['flat_layers']} exceeds the {len(kernels)} conv/dense layers of "
            "the model."
        )
    if "until_layer_idx" in params and params["until_layer_idx"] >= len(prepared.layers):
        raise ValueError(
            f"until_layer_idx={params['until_layer_idx']} is beyond the model's last layer "
            f"(index {len(prepared.layers) - 1} after prepare)."
        )


