"""Plain-numpy LRP through the building blocks of standard architectures, written from
the formulas: the independent reference of ``test_native_architectures.py``.

Every linear map (conv, depthwise conv, dense, inference batch norm, average pooling)
is unrolled into a dense matrix ``W[i, j]`` with bias ``b_j`` and connectivity mask
``M[i, j]`` over flattened (H, W, C) tensors, so that each rule is the textbook sum:

* z (Kohlbrenner eq. 1):    R_i = sum_j a_i w_ij / z_j R_j,  z_j = sum_i a_i w_ij + b_j
* epsilon (Samek eq. 7):    denominator z_j + eps sign(z_j), sign(0) = +1
* alpha-beta (Samek eq. 8): R_i = sum_j (alpha z+_ij / (sum_i z+_ij + b_j)
                                         - beta z-_ij / (sum_i z-_ij + b_j)) R_j
  (iNNvestigate's convention: the whole bias in both denominators; ``bias=False``
  drops it)
* w^2:                      R_i = sum_j w_ij^2 / sum_i' w_i'j^2 R_j
* flat:                     R_i = sum_j M_ij / sum_i' M_i'j R_j

Blocks: batch norm after a conv is folded by hand, W' = W s, b' = (b - mean) s + beta,
s = gamma / sqrt(var + eps); a batch norm that stays is the diagonal map k x + b with
the same rule; ``Add`` gives each summand x_k / (sum_k x_k) R; average pooling is the
z rule without bias; ``Concatenate`` hands each input its slice; ReLU, ReLU6 and
``Multiply`` gating (all relevance to the signal) pass R unchanged.
"""
from __future__ import annotations

import numpy as np

from lrp_numpy import _out_size, unroll_conv

from xaibench._keras import depthwise_kernel


def _div(R, z):
    return np.divide(R, z, out=np.zeros_like(R), where=z != 0)


# ----------------------------------------------------------------------------- rules

def z_rule(a, W, b, M, R):
    return a * (W @ _div(R, a @ W + b))


def epsilon_rule(eps):
    def rule(a, W, b, M, R):
        z = a @ W + b
        return a * (W @ (R / (z + eps * np.where(z >= 0, 1.0, -1.0))))
    return rule


def alpha_beta_rule(alpha, beta, bias=True):
    def rule(a, W, b, M, R):
        zij = a[:, None] * W
        zp, zn = np.maximum(zij, 0), np.minimum(zij, 0)
        bb = b if bias else 0.0
        return alpha * (zp @ _div(R, zp.sum(0) + bb)) - beta * (zn @ _div(R, zn.sum(0) + bb))
    return rule


def w_square_rule(a, W, b, M, R):
    W2 = W ** 2
    return W2 @ _div(R, W2.sum(0))


def flat_rule(a, W, b, M, R):
    Mf = M.astype(float)
    return Mf @ _div(R, Mf.sum(0))


def z_no_bias(a, W, R):
    """The z rule of a weight-free linear layer (average pooling)."""
    return a * (W @ _div(R, a @ W))


# ----------------------------------------------------------------------------- linear maps

def conv_matrix(kernel, in_shape, strides=(1, 1), padding="valid"):
    """Conv2D as ``(W, M, out_shape)`` over flattened (H, W, C) (``lrp_numpy``'s unroller)."""
    W, _, M, out = unroll_conv(kernel, np.zeros(kernel.shape[-1]), in_shape, padding,
                               tuple(strides))
    return W, M, out


def depthwise_matrix(kernel, in_shape, strides=(1, 1), padding="valid"):
    """DepthwiseConv2D (kernel ``(kh, kw, C, m)``, output channel c * m + k)."""
    kh, kw, cin, mult = kernel.shape
    h, w, _ = in_shape
    oh, pt = _out_size(h, kh, strides[0], padding)
    ow, pl = _out_size(w, kw, strides[1], padding)
    cout = cin * mult
    W = np.zeros((h * w * cin, oh * ow * cout))
    M = np.zeros(W.shape, dtype=bool)
    for p in range(oh):
        for q in range(ow):
            for di in range(kh):
                for dj in range(kw):
                    r, c = p * strides[0] + di - pt, q * strides[1] + dj - pl
                    if not (0 <= r < h and 0 <= c < w):
                        continue
                    for ch in range(cin):
                        for k in range(mult):
                            i = (r * w + c) * cin + ch
                            j = (p * ow + q) * cout + ch * mult + k
                            W[i, j] = kernel[di, dj, ch, k]
                            M[i, j] = True
    return W, M, (oh, ow, cout)


def average_pool_matrix(in_shape, size):
    """AveragePooling2D(size) ('valid', stride = size) and GlobalAveragePooling2D
    (``size=None``) as matrices of 1 / (window size)."""
    h, w, c = in_shape
    sh, sw = (h, w) if size is None else (size, size)
    oh, ow = h // sh, w // sw
    P = np.zeros((h * w * c, oh * ow * c))
    for p in range(oh):
        for q in range(ow):
            for di in range(sh):
                for dj in range(sw):
                    rows = ((p * sh + di) * w + (q * sw + dj)) * c + np.arange(c)
                    cols = (p * ow + q) * c + np.arange(c)
                    P[rows, cols] = 1.0 / (sh * sw)
    return P, (oh, ow, c)


def bn_params(layer):
    """``(s, b)`` of inference batch norm y = s x + b, s = gamma / sqrt(var + eps),
    b = beta - mean s."""
    w = {v.name.split("/")[-1].split(":")[0]: v.numpy().astype(np.float64) for v in layer.weights}
    mean, var = w["moving_mean"], w["moving_variance"]
    gamma = w.get("gamma", np.ones_like(mean))
    beta = w.get("beta", np.zeros_like(mean))
    s = gamma / np.sqrt(var + layer.epsilon)
    return s, beta - mean * s


class Linear:
    """One unrolled linear map: ``z = a W + b`` with mask ``M``."""

    def __init__(self, W, b, M, out_shape):
        self.W, self.b, self.M, self.out_shape = W, b, M, out_shape

    def __call__(self, a):
        return a @ self.W + self.b

    def lrp(self, rule, a, R):
        return rule(a, self.W, self.b, self.M, R)


def _bias(layer, n):
    return layer.bias.numpy().astype(np.float64) if getattr(layer, "use_bias", False) \
        else np.zeros(n)


def conv(layer, in_shape, bn=None):
    """A Conv2D (``bn``: the batch norm folded into it by hand); a grouped one as the full
    kernel that is zero between an output channel's group and the other inputs."""
    kernel = layer.kernel.numpy().astype(np.float64)
    groups = getattr(layer, "groups", 1)
    if groups > 1:
        kh, kw, per_group, out = kernel.shape
        full = np.zeros((kh, kw, per_group * groups, out))
        for o in range(out):
            g = o // (out // groups)
            full[:, :, g * per_group:(g + 1) * per_group, o] = kernel[..., o]
        kernel = full
    W, M, out = conv_matrix(kernel, in_shape, layer.strides, layer.padding)
    b = _bias(layer, out[2])
    return _fold(W, b, M, out, bn)


def depthwise(layer, in_shape, bn=None):
    kernel = depthwise_kernel(layer).numpy().astype(np.float64)
    W, M, out = depthwise_matrix(kernel, in_shape, layer.strides, layer.padding)
    b = _bias(layer, out[2])
    return _fold(W, b, M, out, bn)


def dense(layer):
    W = layer.kernel.numpy().astype(np.float64)
    return Linear(W, _bias(layer, W.shape[1]), np.ones(W.shape, dtype=bool), (W.shape[1],))


def _fold(W, b, M, out, bn):
    if bn is not None:
        s, shift = bn_params(bn)
        oh, ow, c = out
        W = W * np.tile(s, oh * ow)
        b = b * s + shift                    # (b - mean) s + beta
    return Linear(W, np.tile(b, out[0] * out[1]), M, out)


def batch_norm(layer, shape):
    """A batch norm that is kept: the diagonal map k x + b."""
    s, shift = bn_params(layer)
    n = int(np.prod(shape))
    return Linear(np.diag(np.tile(s, n // shape[-1])), np.tile(shift, n // shape[-1]),
                  np.eye(n, dtype=bool), shape)


def relu(z, max_value=None):
    return np.clip(z, 0, max_value) if max_value is not None else np.maximum(z, 0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def start(out, cls):
    """The relevance at the logits: the explained logit's value, 0 elsewhere."""
    R = np.zeros_like(out)
    R[cls] = out[cls]
    return R


# ----------------------------------------------------------------------------- blocks

def residual(model, x, cls, rule):
    """conv-BN-ReLU, conv-BN on one path, 1x1 conv-BN shortcut, ``Add``, ReLU, global
    average pooling, dense (ResNet's bottleneck in small)."""
    g = model.get_layer
    shape = x.shape
    c1 = conv(g("c1"), shape, g("bn1"))
    c2 = conv(g("c2"), c1.out_shape, g("bn2"))
    sc = conv(g("sc"), shape, g("bn_sc"))
    P, pooled = average_pool_matrix(c2.out_shape, None)
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = relu(c1(a0))
    zh, zs = c2(a1), sc(a0)
    y = zh + zs
    a3 = relu(y)
    gp = a3 @ P
    out = d(gp)
    R = d.lrp(rule, gp, start(out, cls))
    R = z_no_bias(a3, P, R)
    Rh, Rs = zh * _div(R, y), zs * _div(R, y)           # Add: z rule over the summands
    R1 = c2.lrp(rule, a1, Rh)
    R = c1.lrp(rule, a0, R1) + sc.lrp(rule, a0, Rs)
    return R.reshape(shape), out


def dense_block(model, x, cls, rule):
    """stem conv (ReLU) -> [BN -> ReLU -> conv] -> Concatenate with the stem ->
    BN -> ReLU -> average pooling -> Flatten -> dense (DenseNet's pre-activation
    batch norms, kept as k x + b)."""
    g = model.get_layer
    shape = x.shape
    stem = conv(g("stem"), shape)
    hs = stem.out_shape
    bn1 = batch_norm(g("bn1"), hs)
    c1 = conv(g("c1"), hs)
    cat_shape = hs[:2] + (hs[2] + c1.out_shape[2],)
    bn2 = batch_norm(g("bn2"), cat_shape)
    P, pooled = average_pool_matrix(cat_shape, 2)
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    s = relu(stem(a0))
    y1 = bn1(s)
    a1 = relu(y1)
    zc = c1(a1)
    cat = np.concatenate([s.reshape(hs), zc.reshape(c1.out_shape)], axis=-1).reshape(-1)
    y2 = bn2(cat)
    a2 = relu(y2)
    p = a2 @ P
    out = d(p)
    R = d.lrp(rule, p, start(out, cls))
    R = z_no_bias(a2, P, R)
    R = bn2.lrp(rule, cat, R).reshape(cat_shape)
    Rs, Rc = R[..., :hs[2]].reshape(-1), R[..., hs[2]:].reshape(-1)   # Concatenate: slices
    R1 = c1.lrp(rule, a1, Rc)
    Rs = Rs + bn1.lrp(rule, s, R1)
    R = stem.lrp(rule, a0, Rs)
    return R.reshape(shape), out


def post_activation_bn(model, x, cls, rule):
    """conv (ReLU) -> BN -> conv (ReLU) -> average pooling -> BN -> Flatten -> dense: batch
    norms after an activation and after pooling, which cannot be folded and are kept as
    k x + b with the composite's rule."""
    g = model.get_layer
    shape = x.shape
    c1 = conv(g("c1"), shape)
    bn1 = batch_norm(g("bn1"), c1.out_shape)
    c2 = conv(g("c2"), c1.out_shape)
    P, pooled = average_pool_matrix(c2.out_shape, 2)
    bn2 = batch_norm(g("bn2"), pooled)
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = relu(c1(a0))
    y1 = bn1(a1)
    a2 = relu(c2(y1))
    p = a2 @ P
    y2 = bn2(p)
    out = d(y2)
    R = d.lrp(rule, y2, start(out, cls))
    R = bn2.lrp(rule, p, R)
    R = z_no_bias(a2, P, R)
    R = c2.lrp(rule, y1, R)
    R = bn1.lrp(rule, a1, R)
    R = c1.lrp(rule, a0, R)
    return R.reshape(shape), out


def resize_matrix(layer, in_shape):
    """``(J, out shape)``: a resizing layer as the matrix of z = a J, read column by column
    from the layer applied to the unit images."""
    n = int(np.prod(in_shape))
    unit = np.eye(n, dtype=np.float32).reshape((n,) + tuple(in_shape))
    out = np.asarray(layer(unit)).astype(np.float64)
    return out.reshape(n, -1), out.shape[1:]


def resized(model, x, cls, rule):
    """conv (ReLU) -> Resizing (bilinear) -> conv (ReLU) -> Flatten -> dense: the resizing
    a weight-free linear layer under the z rule, like average pooling (of the first conv's
    activations >= 0: its z is not near-cancelled)."""
    g = model.get_layer
    c0 = conv(g("c0"), x.shape)
    J, shape = resize_matrix(g("resize"), c0.out_shape)
    c1 = conv(g("c1"), shape)
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = relu(c0(a0))
    r = a1 @ J
    a2 = relu(c1(r))
    out = d(a2)
    R = d.lrp(rule, a2, start(out, cls))
    R = c1.lrp(rule, r, R)
    R = z_no_bias(a1, J, R)
    R = c0.lrp(rule, a0, R)
    return R.reshape(x.shape), out


def grouped(model, x, cls, rule):
    """grouped conv-BN-ReLU (2 groups), grouped 1x1 conv (ReLU), Flatten, dense (RegNet's
    and ResNeXt's grouped convolutions)."""
    g = model.get_layer
    c1 = conv(g("c1"), x.shape, g("bn1"))
    c2 = conv(g("c2"), c1.out_shape)
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = relu(c1(a0))
    a2 = relu(c2(a1))
    out = d(a2)
    R = d.lrp(rule, a2, start(out, cls))
    R = c2.lrp(rule, a1, R)
    R = c1.lrp(rule, a0, R)
    return R.reshape(x.shape), out


def layer_norm(layer, a, shape):
    """LayerNormalization over the channels with sigma held fixed (the LN-rule of Ali et
    al. 2022) as one linear map z = a W + b: per pixel diag(gamma / sigma) (I - 1/C)."""
    p = a.reshape(-1, shape[-1])
    c = shape[-1]
    sigma = np.sqrt(p.var(axis=1) + layer.epsilon)
    gamma = layer.gamma.numpy().astype(np.float64)
    beta = layer.beta.numpy().astype(np.float64)
    n = p.size
    W = np.zeros((n, n))
    for i, s in enumerate(sigma):
        block = (np.eye(c) - 1.0 / c) * (gamma / s)[None, :]
        W[i * c:(i + 1) * c, i * c:(i + 1) * c] = block
    M = W != 0
    return Linear(W, np.tile(beta, len(sigma)), M, shape)


def layer_norm_block(model, x, cls, rule):
    """conv -> LayerNormalization -> Dense (per pixel, ReLU) -> Flatten -> dense
    (ConvNeXt's block in small): the LN's rule is the z rule whatever the composite."""
    g = model.get_layer
    c1 = conv(g("c1"), x.shape)
    pw = g("pw")
    Wp = pw.kernel.numpy().astype(np.float64)
    h, w, c = c1.out_shape
    P = np.kron(np.eye(h * w), Wp)                  # the per-pixel dense as one matrix
    pwl = Linear(P, np.tile(pw.bias.numpy().astype(np.float64), h * w),
                 np.kron(np.eye(h * w, dtype=bool), np.ones(Wp.shape, dtype=bool)),
                 (h, w, Wp.shape[1]))
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = c1(a0)
    ln = layer_norm(g("ln"), a1, c1.out_shape)
    y = ln(a1)
    a2 = relu(pwl(y))
    out = d(a2)
    R = d.lrp(rule, a2, start(out, cls))
    R = pwl.lrp(rule, y, R)
    R = z_rule(a1, ln.W, ln.b, ln.M, R)
    R = c1.lrp(rule, a0, R)
    return R.reshape(x.shape), out


def relu6_block(model, x, cls, rule):
    """1x1 expand conv-BN-ReLU6, 3x3 project conv-BN, identity ``Add``, Flatten, dense
    (MobileNetV2's inverted residual without the depthwise step)."""
    g = model.get_layer
    shape = x.shape
    e = conv(g("expand"), shape, g("bn_e"))
    p = conv(g("project"), e.out_shape, g("bn_p"))
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    a1 = relu(e(a0), 6.0)
    zp = p(a1)
    y = a0 + zp
    out = d(y)
    R = d.lrp(rule, y, start(out, cls))
    Rx, Rp = a0 * _div(R, y), zp * _div(R, y)
    R = Rx + e.lrp(rule, a0, p.lrp(rule, a1, Rp))        # ReLU6 passes R unchanged
    return R.reshape(shape), out


def squeeze_excite(model, x, cls, rule):
    """conv (ReLU) -> x * sigmoid(conv(ReLU(conv(GAP(x))))) -> Flatten -> dense: the gate
    path gets no relevance, the signal all of it."""
    g = model.get_layer
    shape = x.shape
    c = conv(g("c"), shape)
    hs = c.out_shape
    P, _ = average_pool_matrix(hs, None)
    r, e = conv(g("se_r"), (1, 1, hs[2])), conv(g("se_e"), (1, 1, 2))
    d = dense(g("logits"))
    a0 = x.reshape(-1).astype(np.float64)
    h = relu(c(a0))
    gate = sigmoid(e(relu(r(h @ P))))
    m = (h.reshape(hs) * gate.reshape(1, 1, -1)).reshape(-1)
    out = d(m)
    R = d.lrp(rule, m, start(out, cls))
    R = c.lrp(rule, a0, R)                               # Multiply: all R to the signal
    return R.reshape(shape), out


def depthwise_block(model, x, cls, rule):
    """ZeroPadding2D -> DepthwiseConv2D (stride 2, multiplier 2)-BN-ReLU6 -> 1x1 conv ->
    Flatten -> dense (MobileNet's strided depthwise step)."""
    g = model.get_layer
    shape = x.shape
    (top, bottom), (left, right) = g("pad").padding
    padded = (shape[0] + top + bottom, shape[1] + left + right, shape[2])
    dw = depthwise(g("dw"), padded, g("bn"))
    pw = conv(g("pw"), dw.out_shape)
    d = dense(g("logits"))
    xp = np.zeros(padded)
    xp[top:top + shape[0], left:left + shape[1]] = x
    a0 = xp.reshape(-1)
    a1 = relu(dw(a0), 6.0)
    a2 = pw(a1)
    out = d(a2)
    R = d.lrp(rule, a2, start(out, cls))
    R = pw.lrp(rule, a1, R)
    R = dw.lrp(rule, a0, R).reshape(padded)
    return R[top:top + shape[0], left:left + shape[1]], out    # padding: R of the pads drops
