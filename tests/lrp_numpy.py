"""A plain-numpy LRP written from the rule formulas, the independent reference of
``test_lrp_rules.py``.

The network is Conv2D(ReLU, 'valid') -> MaxPool(2) -> Flatten -> Dense(ReLU) ->
Dense(linear). Conv layers are unrolled into dense matrices ``W[i, j]`` with a
connectivity mask, so that every rule is the textbook sum over i and j:

* z (Kohlbrenner eq. 1):      R_i = sum_j a_i w_ij / z_j R_j,  z_j = sum_i a_i w_ij + b_j
* epsilon (Samek eq. 7):      denominator z_j + eps * sign(z_j), sign(0) = +1
* alpha-beta (Samek eq. 8):   R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j
* flat:                        R_i = sum_j 1[i -> j] / #{i' -> j} R_j
* w^2:                         R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j
* z+ :                         alpha-beta with alpha = 1, beta = 0, no bias
* z^B (bounded input):        R_i = sum_j (x_i w_ij - l w+_ij - h w-_ij) / sum_i'(...) R_j

Max-pooling passes each window's relevance to its (first) maximum.
"""
from __future__ import annotations

import numpy as np


def unroll_conv(kernel, bias, in_shape):
    """Dense matrix, bias and connectivity mask of a stride-1 'valid' conv."""
    kh, kw, cin, cout = kernel.shape
    h, w, _ = in_shape
    oh, ow = h - kh + 1, w - kw + 1
    n_in, n_out = h * w * cin, oh * ow * cout
    W = np.zeros((n_in, n_out))
    M = np.zeros((n_in, n_out), dtype=bool)
    for p in range(oh):
        for q in range(ow):
            for f in range(cout):
                j = (p * ow + q) * cout + f
                for di in range(kh):
                    for dj in range(kw):
                        for c in range(cin):
                            i = ((p + di) * w + (q + dj)) * cin + c
                            W[i, j] = kernel[di, dj, c, f]
                            M[i, j] = True
    b = np.tile(bias, oh * ow)
    return W, b, M, (oh, ow, cout)


def maxpool_forward(a, shape):
    h, w, c = shape
    a = a.reshape(h, w, c)
    oh, ow = h // 2, w // 2
    out = np.zeros((oh, ow, c))
    arg = np.zeros((oh, ow, c), dtype=int)   # flat index into the input
    for p in range(oh):
        for q in range(ow):
            for k in range(c):
                win = [((2 * p + di) * w + (2 * q + dj)) * c + k for di in (0, 1) for dj in (0, 1)]
                vals = a.reshape(-1)[win]
                m = int(np.argmax(vals))
                out[p, q, k] = vals[m]
                arg[p, q, k] = win[m]
    return out.reshape(-1), arg.reshape(-1), (oh, ow, c)


def maxpool_backward(R, arg, n_in):
    out = np.zeros(n_in)
    np.add.at(out, arg, R)
    return out


# ----------------------------------------------------------------------------- rules

def _div(R, z):
    """R / z with 0 where z == 0 (a neuron that is off passes no relevance)."""
    return np.divide(R, z, out=np.zeros_like(R), where=z != 0)


def rule_z(a, W, b, R, bias=True):
    z = a @ W + (b if bias else 0)
    return a * (W @ _div(R, z))


def rule_epsilon(a, W, b, R, eps, bias=True):
    z = a @ W + (b if bias else 0)
    z = z + eps * np.where(z >= 0, 1.0, -1.0)
    return a * (W @ (R / z))


def rule_alpha_beta(a, W, b, R, alpha, beta, bias=True):
    """Samek eq. 8; with ``bias`` the bias is a constant input neuron, so b+ joins the
    activating and b- the inhibiting denominator."""
    zij = a[:, None] * W
    zp, zn = np.maximum(zij, 0), np.minimum(zij, 0)
    bp, bn = (np.maximum(b, 0), np.minimum(b, 0)) if bias else (0.0, 0.0)
    dp = zp.sum(0) + bp
    dn = zn.sum(0) + bn
    return alpha * (zp @ _div(R, dp)) - beta * (zn @ _div(R, dn))


def rule_flat(M, R):
    return (M / M.sum(0)) @ R


def rule_w_square(W, R):
    W2 = W ** 2
    return (W2 / W2.sum(0)) @ R


def rule_z_plus_fast(a, W, R):
    Wp = np.maximum(W, 0)
    return a * (Wp @ _div(R, a @ Wp))


def rule_bounded(x, W, R, low, high):
    Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
    zij = x[:, None] * W - low * Wp - high * Wn
    return zij @ _div(R, zij.sum(0))


# ----------------------------------------------------------------------------- network

class SmallNet:
    """Weights of the test network as numpy arrays, with a forward pass."""

    def __init__(self, keras_model, in_shape):
        conv, dense1, dense2 = [l for l in keras_model.layers if l.get_weights()]
        k, cb = conv.get_weights()
        self.W1, self.b1, self.M1, self.conv_shape = unroll_conv(k, cb, in_shape)
        self.W2, self.b2 = [w.astype(np.float64) for w in dense1.get_weights()]
        self.W3, self.b3 = [w.astype(np.float64) for w in dense2.get_weights()]
        self.M2 = np.ones_like(self.W2, dtype=bool)
        self.M3 = np.ones_like(self.W3, dtype=bool)

    def forward(self, x):
        a0 = x.reshape(-1).astype(np.float64)
        a1 = np.maximum(a0 @ self.W1 + self.b1, 0)
        a2, arg, _ = maxpool_forward(a1, self.conv_shape)
        a3 = np.maximum(a2 @ self.W2 + self.b2, 0)
        out = a3 @ self.W3 + self.b3
        return a0, a1, a2, arg, a3, out

    def lrp(self, x, cls, rules, start=None):
        """``rules``: three callables ``rule(a, W, b, M, R)`` for conv, dense1, dense2
        (input side first). ``start`` maps the logit to the initial relevance."""
        a0, a1, a2, arg, a3, out = self.forward(x)
        R = np.zeros_like(out)
        R[cls] = out[cls] if start is None else start(out[cls])
        R = rules[2](a3, self.W3, self.b3, self.M3, R)
        R = rules[1](a2, self.W2, self.b2, self.M2, R)
        R = maxpool_backward(R, arg, a1.size)
        R = rules[0](a0, self.W1, self.b1, self.M1, R)
        return R.reshape(x.shape), out


def z(a, W, b, M, R):
    return rule_z(a, W, b, R)


def eps(e, bias=True):
    return lambda a, W, b, M, R: rule_epsilon(a, W, b, R, e, bias)


def ab(alpha, beta, bias=True):
    return lambda a, W, b, M, R: rule_alpha_beta(a, W, b, R, alpha, beta, bias)


def flat(a, W, b, M, R):
    return rule_flat(M, R)


def w_square(a, W, b, M, R):
    return rule_w_square(W, R)


def z_plus_fast(a, W, b, M, R):
    return rule_z_plus_fast(a, W, R)


def bounded(low, high):
    return lambda a, W, b, M, R: rule_bounded(a, W, R, low, high)
