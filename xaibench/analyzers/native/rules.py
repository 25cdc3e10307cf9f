"""LRP rules, one small class each: how a kernel layer ``z_j = sum_i x_i w_ij + b_j``
passes the relevance ``R_j`` of its outputs to its inputs.

Each rule is "input times the gradient of a modified forward pass, with the
incoming relevance divided by a stabilised output and held constant", which
is how iNNvestigate 2.1.2 builds them; the same algebra runs here eagerly with
``tf.GradientTape``, with iNNvestigate's conventions kept exactly:

* ``safe_divide(a, b) = a / (b + 1e-7 [b == 0])``;
* epsilon takes the sign of z with sign(0) = +1;
* alpha-beta puts the whole bias into both denominators (b+ with the positive
  weights, b- with the negative ones: ``sum z+ + b`` and ``sum z- + b``);
* w^2 and flat return the gradient (they do not multiply by x) and divide by
  the layer applied to ones.

A rule is called as ``rule(op, layer, x, R)`` with ``op`` the layer's
:class:`~xaibench.analyzers.native.linear.LinearLayer`.
"""
from __future__ import annotations

import tensorflow as tf

EPS = 1e-7   # iNNvestigate's (Keras') epsilon in safe_divide


def safe_divide(a, b):
    return a / (b + EPS * tf.cast(tf.equal(b, 0.0), b.dtype))


def _positive(t):
    return t * tf.cast(t > 0, t.dtype)


def _negative(t):
    return t * tf.cast(t < 0, t.dtype)


def _forward(f, x):
    """``(z, tape)`` with z = f(x) recorded for one gradient."""
    tape = tf.GradientTape()
    with tape:
        tape.watch(x)
        z = f(x)
    return z, tape


class Rule:
    """Base of every rule; ``name`` is iNNvestigate's rule name."""

    name = ""

    def __call__(self, op, layer, x, R):
        raise NotImplementedError

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


class Z(Rule):
    """LRP-z (Bach et al. 2015; Kohlbrenner eq. 1): R_i = sum_j x_i w_ij / z_j R_j,
    the bias a constant input (``bias=False`` drops it)."""

    name = "Z"

    def __init__(self, bias: bool = True):
        self.bias = bias

    def __call__(self, op, layer, x, R):
        b = op.bias(layer) if self.bias else None
        z, tape = _forward(lambda t: op.apply(layer, t, op.kernels(layer), b), x)
        return x * tape.gradient(z, x, output_gradients=safe_divide(R, z))


class Epsilon(Rule):
    """LRP-epsilon (Samek et al. eq. 7): R_i = sum_j x_i w_ij / (z_j + eps sign(z_j)) R_j."""

    name = "Epsilon"

    def __init__(self, epsilon: float = 1e-7, bias: bool = True):
        self.epsilon, self.bias = epsilon, bias

    def __call__(self, op, layer, x, R):
        b = op.bias(layer) if self.bias else None
        z, tape = _forward(lambda t: op.apply(layer, t, op.kernels(layer), b), x)
        sign = tf.cast(z >= 0, z.dtype) * 2 - 1
        return x * tape.gradient(z, x, output_gradients=R / (z + sign * self.epsilon))


class WSquare(Rule):
    """w^2 rule (Montavon et al. 2017, Deep Taylor): R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j."""

    name = "WSquare"

    def weights(self, kernels):
        return [w ** 2 for w in kernels]

    def __call__(self, op, layer, x, R):
        kernels = self.weights(op.kernels(layer))
        y, tape = _forward(lambda t: op.apply(layer, t, kernels), x)
        z = op.apply(layer, tf.ones_like(x), kernels)
        return tape.gradient(y, x, output_gradients=safe_divide(R, z))


class Flat(WSquare):
    """Flat rule (LRP_b): R_i = sum_j 1[i -> j] / #{i' -> j} R_j, w^2 with all weights 1."""

    name = "Flat"

    def weights(self, kernels):
        return [tf.ones_like(w) for w in kernels]


def _two_sided(op, layer, R, k1, b1, k2, b2, x1, x2):
    """x1 * d/dx1 + x2 * d/dx2 of z1 + z2 with z1 = op(x1; k1, b1), z2 = op(x2; k2, b2),
    R divided by z1 + z2 (one term of the alpha-beta rule)."""
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x1, x2])
        z1 = op.apply(layer, x1, k1, b1)
        z2 = op.apply(layer, x2, k2, b2)
    s = safe_divide(R, z1 + z2)
    g1 = tape.gradient(z1, x1, output_gradients=s)
    g2 = tape.gradient(z2, x2, output_gradients=s)
    return x1 * g1 + x2 * g2


class AlphaBeta(Rule):
    """LRP-alpha-beta (Samek et al. eq. 8), alpha - beta = 1:
    R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j, with
    z+_j = sum_i (x+ w+ + x- w-)_ij + b_j and z-_j = sum_i (x+ w- + x- w+)_ij + b_j
    (iNNvestigate's bias convention; ``bias=False`` drops b)."""

    name = "AlphaBeta"

    def __init__(self, alpha: float = None, beta: float = None, bias: bool = True):
        if alpha is None:
            alpha = beta + 1
        if beta is None:
            beta = alpha - 1
        self.alpha, self.beta, self.bias = alpha, beta, bias

    def __call__(self, op, layer, x, R):
        kernels = op.kernels(layer)
        kp, kn = [_positive(w) for w in kernels], [_negative(w) for w in kernels]
        b = op.bias(layer) if self.bias else None
        bp, bn = (None, None) if b is None else (_positive(b), _negative(b))
        xp, xn = _positive(x), _negative(x)
        active = _two_sided(op, layer, R, kp, bp, kn, bn, xp, xn)
        if not self.beta:
            return active
        inhibit = _two_sided(op, layer, R, kn, bn, kp, bp, xp, xn)
        return active * self.alpha - inhibit * self.beta


class AlphaBetaIgnoreBias(AlphaBeta):
    name = "AlphaBetaIgnoreBias"

    def __init__(self, alpha=None, beta=None):
        super().__init__(alpha, beta, bias=False)


class Alpha2Beta1(AlphaBeta):
    name = "Alpha2Beta1"

    def __init__(self):
        super().__init__(2, 1, bias=True)


class Alpha2Beta1IgnoreBias(AlphaBeta):
    name = "Alpha2Beta1IgnoreBias"

    def __init__(self):
        super().__init__(2, 1, bias=False)


class Alpha1Beta0(AlphaBeta):
    name = "Alpha1Beta0"

    def __init__(self):
        super().__init__(1, 0, bias=True)


class Alpha1Beta0IgnoreBias(AlphaBeta):
    name = "Alpha1Beta0IgnoreBias"

    def __init__(self):
        super().__init__(1, 0, bias=False)


class ZPlus(Alpha1Beta0IgnoreBias):
    """z+ rule (Montavon et al. 2017): alpha1-beta0 without bias (equal to it for x >= 0)."""

    name = "ZPlus"


class ZPlusFast(Rule):
    """z+ for non-negative inputs: R_i = sum_j x_i w+_ij / sum_i' x_i' w+_i'j R_j."""

    name = "ZPlusFast"

    def __call__(self, op, layer, x, R):
        kernels = [_positive(w) for w in op.kernels(layer)]
        z, tape = _forward(lambda t: op.apply(layer, t, kernels), x)
        return x * tape.gradient(z, x, output_gradients=safe_divide(R, z))


class Bounded(Rule):
    """z^B rule (Montavon et al. 2017) for inputs in [low, high]:
    R_i = sum_j (x_i w_ij - l w+_ij - h w-_ij) / sum_i' (x_i' w_i'j - l w+_i'j - h w-_i'j) R_j."""

    name = "Bounded"

    def __init__(self, low: float = -1.0, high: float = 1.0):
        self.low, self.high = low, high

    def __call__(self, op, layer, x, R):
        kernels = op.kernels(layer)
        kp, kn = [_positive(w) for w in kernels], [_negative(w) for w in kernels]
        low = x * 0 + self.low
        high = x * 0 + self.high
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, low, high])
            a = op.apply(layer, x, kernels)
            b = op.apply(layer, low, kp)
            c = op.apply(layer, high, kn)
        s = safe_divide(R, a - (b + c))
        ra = x * tape.gradient(a, x, output_gradients=s)
        rb = low * tape.gradient(b, low, output_gradients=s)
        rc = high * tape.gradient(c, high, output_gradients=s)
        return ra - (rb + rc)


class AlphaBetaX(Rule):
    """Binder's alpha-beta with separate weights for the four sign combinations
    (iNNvestigate's ``AlphaBetaXRule``, including its use of beta[1] for the x- w- term)."""

    name = "AlphaBetaX"

    def __init__(self, alpha=(0.5, 0.5), beta=(0.5, 0.5), bias: bool = True):
        self.alpha, self.beta, self.bias = tuple(alpha), tuple(beta), bias

    def __call__(self, op, layer, x, R):
        kernels = op.kernels(layer)
        kp, kn = [_positive(w) for w in kernels], [_negative(w) for w in kernels]
        b = op.bias(layer) if self.bias else None
        bp, bn = (None, None) if b is None else (_positive(b), _negative(b))
        xp, xn = _positive(x), _negative(x)

        def part(k, bias, t):
            z, tape = _forward(lambda u: op.apply(layer, u, k, bias), t)
            return t * tape.gradient(z, t, output_gradients=safe_divide(R, z))

        r_pos = part(kp, bp, xp) * self.alpha[0] + part(kn, bn, xn) * self.beta[1]
        r_neg = part(kn, bn, xp) * self.beta[0] + part(kp, bp, xn) * self.beta[1]
        return r_pos - r_neg


class AlphaBetaX2m100(AlphaBetaX):
    name = "AlphaBetaX2m100"

    def __init__(self):
        super().__init__((2, 0), (1, 0), bias=True)


#: iNNvestigate's rule names (``LRP_RULES``) -> rule class
RULES: dict[str, type] = {cls.name: cls for cls in (
    Z, Epsilon, WSquare, Flat, AlphaBeta, AlphaBetaIgnoreBias, Alpha2Beta1,
    Alpha2Beta1IgnoreBias, Alpha1Beta0, Alpha1Beta0IgnoreBias, ZPlus, ZPlusFast, Bounded)}


def rule_from(spec) -> Rule:
    """A rule from a name (``"Epsilon"``), a rule instance, or ``(low, high)`` bounds."""
    if isinstance(spec, Rule):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2:
        return Bounded(float(spec[0]), float(spec[1]))
    if isinstance(spec, type) and issubclass(spec, Rule):
        return spec()
    return RULES[spec]()
