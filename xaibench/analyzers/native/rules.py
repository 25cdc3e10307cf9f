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

A rule is called as ``rule(op, layer, x, R, z=None, nonnegative=False)`` with
``op`` the layer's :class:`~xaibench.analyzers.native.linear.LinearLayer`. What the
engine knows from the forward pass spares work without changing a number:

* ``z``: the layer's pre-activation ``W x + b`` from the forward pass, given to
  rules whose ``uses_forward_z`` is true (z and epsilon with the bias). The rule
  still differentiates ``op.apply`` on a tape, but only the gradient (the
  transposed op, which reads x and W, not z) is used, so inside the traced walk
  the recomputed forward op is dead and pruned;
* ``nonnegative``: the input is known to be >= 0 (it comes from a ReLU, max pooling
  of one, ...), so x- = 0 and the alpha-beta family drops its x- terms:
  ``op(x-; W, b) = b`` exactly and ``x- * gradient = 0``.
"""
from __future__ import annotations

import tensorflow as tf

EPS = 1e-7   # iNNvestigate's (Keras') epsilon in safe_divide


def safe_divide(a, b):
    return a / (b + EPS * tf.cast(tf.equal(b, 0.0), b.dtype))


def _positive(t):
    """t+ (one op; no mask tensor next to a large kernel's copy)."""
    return tf.nn.relu(t)


def _negative(t):
    return tf.minimum(t, 0.0)


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
    #: the rule's z is the layer's own pre-activation (the forward pass may give it)
    uses_forward_z = False

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
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

    @property
    def uses_forward_z(self):
        return self.bias

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
        b = op.bias(layer) if self.bias else None
        y, tape = _forward(lambda t: op.apply(layer, t, op.kernels(layer), b), x)
        z = y if z is None else z
        return x * tape.gradient(y, x, output_gradients=safe_divide(R, z))


class Epsilon(Rule):
    """LRP-epsilon (Samek et al. eq. 7): R_i = sum_j x_i w_ij / (z_j + eps sign(z_j)) R_j."""

    name = "Epsilon"

    def __init__(self, epsilon: float = 1e-7, bias: bool = True):
        self.epsilon, self.bias = epsilon, bias

    @property
    def uses_forward_z(self):
        return self.bias

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
        b = op.bias(layer) if self.bias else None
        y, tape = _forward(lambda t: op.apply(layer, t, op.kernels(layer), b), x)
        z = y if z is None else z
        sign = tf.cast(z >= 0, z.dtype) * 2 - 1
        return x * tape.gradient(y, x, output_gradients=R / (z + sign * self.epsilon))


class WSquare(Rule):
    """w^2 rule (Montavon et al. 2017, Deep Taylor): R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j."""

    name = "WSquare"

    def weights(self, kernels):
        return [w ** 2 for w in kernels]

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
        kernels = self.weights(op.kernels(layer))
        y, tape = _forward(lambda t: op.apply(layer, t, kernels), x)
        z = op.apply(layer, tf.ones_like(x), kernels)
        return tape.gradient(y, x, output_gradients=safe_divide(R, z))


class Flat(WSquare):
    """Flat rule (LRP_b): R_i = sum_j 1[i -> j] / #{i' -> j} R_j, w^2 with all weights 1."""

    name = "Flat"

    def weights(self, kernels):
        return [tf.ones_like(w) for w in kernels]


def _two_sided(op, layer, R, w1, b1, w2, b2, x, nonnegative):
    """One term of the alpha-beta rule: x+ * d/dx+ + x- * d/dx- of z1 + z2, with
    z1 = op(x+; w1(W), b1) and z2 = op(x-; w2(W), b2), R divided by z1 + z2.

    With x known >= 0, x- = 0: z2 = b2 exactly and the x- term is 0, so only z1 is
    computed (half the work, and w2(W) is never made)."""
    kernels = op.kernels(layer)
    xp = _positive(x)
    if nonnegative:
        z1, tape = _forward(lambda t: op.apply(layer, t, [w1(w) for w in kernels], b1), xp)
        z = z1 if b2 is None else op.add_bias(layer, z1, b2)
        return xp * tape.gradient(z1, xp, output_gradients=safe_divide(R, z))
    xn = _negative(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([xp, xn])
        z1 = op.apply(layer, xp, [w1(w) for w in kernels], b1)
        z2 = op.apply(layer, xn, [w2(w) for w in kernels], b2)
    s = safe_divide(R, z1 + z2)
    g1 = tape.gradient(z1, xp, output_gradients=s)
    g2 = tape.gradient(z2, xn, output_gradients=s)
    return xp * g1 + xn * g2


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

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
        b = op.bias(layer) if self.bias else None
        bp, bn = (None, None) if b is None else (_positive(b), _negative(b))
        active = _two_sided(op, layer, R, _positive, bp, _negative, bn, x, nonnegative)
        if not self.beta:
            return active
        # the inhibitor term starts once the activator's is done, so that W+ and W- are
        # never alive together (VGG-16's fc1: 392 MiB each)
        with tf.control_dependencies([active]):
            inhibit = _two_sided(op, layer, R, _negative, bn, _positive, bp, x, nonnegative)
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

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
        kernels = [_positive(w) for w in op.kernels(layer)]
        z, tape = _forward(lambda t: op.apply(layer, t, kernels), x)
        return x * tape.gradient(z, x, output_gradients=safe_divide(R, z))


class Bounded(Rule):
    """z^B rule (Montavon et al. 2017) for inputs in [low, high]:
    R_i = sum_j (x_i w_ij - l w+_ij - h w-_ij) / sum_i' (x_i' w_i'j - l w+_i'j - h w-_i'j) R_j."""

    name = "Bounded"

    def __init__(self, low: float = -1.0, high: float = 1.0):
        self.low, self.high = low, high

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
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

    def __call__(self, op, layer, x, R, z=None, nonnegative=False):
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
