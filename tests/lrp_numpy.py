"""A plain-numpy LRP written from the rule formulas, the independent reference of
``test_lrp_rules.py`` and ``test_lrp_composites_numpy.py``.

Two networks: :class:`SmallNet`, Conv2D(ReLU, 'valid') -> MaxPool(2) -> Flatten ->
Dense(ReLU) -> Dense(linear), and :class:`KerasNet`, a copy of any Sequential model
of Conv2D ('valid' / 'same'), Dense, MaxPooling2D, AveragePooling2D and Flatten
layers (the three-conv network of ``test_lrp_composites_numpy.py``), both read from
the Keras layers' ``get_weights()`` only. Conv layers are unrolled into dense
matrices ``W[i, j]`` with a connectivity mask (zero padding is no input), so that
every rule is the textbook sum over i and j:

* z (Kohlbrenner eq. 1):      R_i = sum_j a_i w_ij / z_j R_j,  z_j = sum_i a_i w_ij + b_j
* epsilon (Samek eq. 7):      denominator z_j + eps * sign(z_j), sign(0) = +1
* alpha-beta (Samek eq. 8):   R_i = sum_j (alpha z+_ij / z+_j - beta z-_ij / z-_j) R_j
* flat:                        R_i = sum_j 1[i -> j] / #{i' -> j} R_j
* w^2:                         R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j
* z+ :                         alpha-beta with alpha = 1, beta = 0, no bias
* z^B (bounded input):        R_i = sum_j (x_i w_ij - l w+_ij - h w-_ij) / sum_i'(...) R_j
* alpha-beta, iNNvestigate's bias convention (:func:`ab_whole_bias`): the whole b_j in
  both denominators, sum_i z+_ij + b_j and sum_i z-_ij + b_j

Max-pooling passes each window's relevance to its (first, in row-major order) maximum,
as TensorFlow's max-pool gradient on CPU does with ties; average pooling uses the z rule
(LRP) or its gradient (Deep Taylor). A ReLU passes relevance unchanged.
"""
from __future__ import annotations

import numpy as np


def _out_size(n, k, s, padding):
    """Output length and leading zero padding of one spatial axis (Keras' rules)."""
    if padding == "valid":
        return (n - k) // s + 1, 0
    out = -(-n // s)
    return out, max((out - 1) * s + k - n, 0) // 2


def unroll_conv(kernel, bias, in_shape, padding="valid", strides=(1, 1)):
    """Dense matrix, bias and connectivity mask of a 2-D conv ('valid' or 'same',
    channels last). Zero-padded positions are no inputs: they get no row, so the
    mask counts the real inputs of each output only."""
    kh, kw, cin, cout = kernel.shape
    h, w, _ = in_shape
    oh, top = _out_size(h, kh, strides[0], padding)
    ow, left = _out_size(w, kw, strides[1], padding)
    n_in, n_out = h * w * cin, oh * ow * cout
    W = np.zeros((n_in, n_out))
    M = np.zeros((n_in, n_out), dtype=bool)
    for p in range(oh):
        for q in range(ow):
            for f in range(cout):
                j = (p * ow + q) * cout + f
                for di in range(kh):
                    for dj in range(kw):
                        r, s = p * strides[0] + di - top, q * strides[1] + dj - left
                        if not (0 <= r < h and 0 <= s < w):
                            continue
                        for c in range(cin):
                            i = (r * w + s) * cin + c
                            W[i, j] = kernel[di, dj, c, f]
                            M[i, j] = True
    b = np.tile(bias, oh * ow).astype(np.float64)
    return W, b, M, (oh, ow, cout)


def pool_windows(in_shape, pool, strides):
    """Membership matrix ``P[i, j]`` (input i in the window of output j) of a 'valid'
    2-D pooling, and the output shape."""
    h, w, c = in_shape
    oh, _ = _out_size(h, pool[0], strides[0], "valid")
    ow, _ = _out_size(w, pool[1], strides[1], "valid")
    P = np.zeros((h * w * c, oh * ow * c), dtype=bool)
    for p in range(oh):
        for q in range(ow):
            for k in range(c):
                j = (p * ow + q) * c + k
                for di in range(pool[0]):
                    for dj in range(pool[1]):
                        P[((p * strides[0] + di) * w + (q * strides[1] + dj)) * c + k, j] = True
    return P, (oh, ow, c)


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


def ab_whole_bias(alpha, beta):
    """Alpha-beta with iNNvestigate's bias convention: the whole bias b_j in both
    denominators, sum_i z+_ij + b_j and sum_i z-_ij + b_j (the bias is in no numerator)."""
    def rule(a, W, b, M, R):
        zij = a[:, None] * W
        zp, zn = np.maximum(zij, 0), np.minimum(zij, 0)
        return alpha * (zp @ _div(R, zp.sum(0) + b)) - beta * (zn @ _div(R, zn.sum(0) + b))
    return rule


# ----------------------------------------------------------------------------- any Sequential

class Stage:
    """One layer of :class:`KerasNet`: ``kind`` is "kernel", "max", "avg" or "flatten"."""

    def __init__(self, kind, name, **kw):
        self.kind, self.name = kind, name
        self.W = self.b = self.M = self.P = None
        self.relu = False
        vars(self).update(kw)


class KerasNet:
    """A plain-numpy copy of a Sequential Keras model of Conv2D / Dense (ReLU or linear),
    MaxPooling2D, AveragePooling2D ('valid') and Flatten layers, read from the layers'
    configs and ``get_weights()``; kernel layers unrolled into dense matrices.

    ``lrp(x, cls, rules)`` applies ``rules[k]`` (a ``rule(a, W, b, M, R)``) at the k-th
    kernel layer, input side first; relevance passes the ReLU unchanged (the kernel
    layer's rule works with its pre-activation z_j), max pooling sends each window's
    relevance to its first maximum in row-major order, Flatten keeps it, and average
    pooling applies the z rule R_i = x_i (1/n) R_j / z_j (``avg="z"``, LRP) or its
    gradient R_i = (1/n) R_j (``avg="gradient"``, Deep Taylor)."""

    def __init__(self, keras_model):
        shape = tuple(keras_model.input_shape[1:])
        self.in_shape = shape
        self.stages = []
        for layer in keras_model.layers:
            kind = type(layer).__name__
            cfg = layer.get_config()
            if kind == "Conv2D":
                assert tuple(cfg["dilation_rate"]) == (1, 1) and cfg["groups"] == 1
                k, b = [w.astype(np.float64) for w in layer.get_weights()]
                W, b, M, shape = unroll_conv(k, b, shape, cfg["padding"], cfg["strides"])
                self.stages.append(Stage("kernel", layer.name, W=W, b=b, M=M,
                                         relu=self._relu(cfg)))
            elif kind == "Dense":
                W, b = [w.astype(np.float64) for w in layer.get_weights()]
                shape = (W.shape[1],)
                self.stages.append(Stage("kernel", layer.name, W=W, b=b,
                                         M=np.ones_like(W, dtype=bool), relu=self._relu(cfg)))
            elif kind in ("MaxPooling2D", "AveragePooling2D"):
                assert cfg["padding"] == "valid"
                P, shape = pool_windows(shape, cfg["pool_size"], cfg["strides"])
                self.stages.append(Stage("max" if kind.startswith("Max") else "avg",
                                         layer.name, P=P))
            elif kind == "Flatten":
                shape = (int(np.prod(shape)),)
                self.stages.append(Stage("flatten", layer.name))
            else:
                raise TypeError(f"KerasNet has no {kind}")
        self.kernels = [s for s in self.stages if s.kind == "kernel"]

    @staticmethod
    def _relu(cfg):
        assert cfg["activation"] in ("relu", "linear"), cfg["activation"]
        return cfg["activation"] == "relu"

    def forward(self, x):
        """The input of every stage, the pre-activations of the kernel layers and the
        output (flat float64 vectors)."""
        a = np.asarray(x, np.float64).reshape(-1)
        inputs, pre = [], []
        for s in self.stages:
            inputs.append(a)
            if s.kind == "kernel":
                z = a @ s.W + s.b
                pre.append(z)
                a = np.maximum(z, 0) if s.relu else z
            elif s.kind == "max":
                a = np.array([a[s.P[:, j]].max() for j in range(s.P.shape[1])])
            elif s.kind == "avg":
                a = a @ s.P / s.P.sum(0)
        return inputs, pre, a

    def lrp(self, x, cls, rules, start=None, avg="z"):
        inputs, _, out = self.forward(x)
        assert len(rules) == len(self.kernels)
        R = np.zeros_like(out)
        R[cls] = out[cls] if start is None else start(out[cls])
        k = len(rules)
        for s, a in zip(reversed(self.stages), reversed(inputs)):
            if s.kind == "kernel":
                k -= 1
                R = rules[k](a, s.W, s.b, s.M, R)
            elif s.kind == "max":
                Rin = np.zeros_like(a)
                for j in range(s.P.shape[1]):
                    window = np.flatnonzero(s.P[:, j])       # increasing = row-major order
                    Rin[window[np.argmax(a[window])]] += R[j]
                R = Rin
            elif s.kind == "avg":
                Pn = s.P / s.P.sum(0)
                R = a * (Pn @ _div(R, a @ Pn)) if avg == "z" else Pn @ R
        return R.reshape(x.shape), out
