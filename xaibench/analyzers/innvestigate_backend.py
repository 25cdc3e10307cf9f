"""Every iNNvestigate 2.1.2 analyzer, plus the LRP composites of Kohlbrenner et al.,
callable from an ordinary eager TF2 session.

Execution: iNNvestigate needs graph mode, which is process-wide. Running it in a
private ``tf.Graph`` inside the user's process was measured to break the user's
eagerly built model (Keras 2.14 swaps layer base classes under a graph) and
``tf.data`` iteration, so the analysis runs in one worker process per Python
session (:mod:`xaibench.analyzers.innvestigate_worker`), started on first use.
The model is first :func:`~xaibench.prepare`-d here (softmax stripped, batch
norm folded, activations merged), then sent once as (JSON config, weights);
each analyzer is built once in the worker and reused. The user's model object
is never touched. ``benchmarks/analyzer_overhead.py`` measures the cost of this
isolation against calling iNNvestigate directly.

The analyzer snapshots the model's weights when it is created (train, then
create the analyzer).
"""
from __future__ import annotations

import atexit
import itertools
import numbers
import os
import socket
import subprocess
import sys
import tempfile
import threading
import weakref
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

import numpy as np

from xaibench._checks import check_in_range
from xaibench.analyzers.base import Analyzer
from xaibench.analyzers.registry import register

#: images per call inside the worker; bounds the memory of one analysis step
DEFAULT_BATCH_SIZE = 32


# --------------------------------------------------------------------------- worker

class WorkerError(RuntimeError):
    """The iNNvestigate worker failed in a way that is not the caller's input."""


class _Worker:
    """Connection to the graph-mode worker process."""

    def __init__(self):
        parent, child = socket.socketpair()
        self.log = tempfile.NamedTemporaryFile(prefix="xaibench-worker-", suffix=".log",
                                               delete=False)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
        script = os.path.join(os.path.dirname(__file__), "innvestigate_worker.py")
        self.proc = subprocess.Popen(
            [sys.executable, script, str(child.fileno())],
            pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, env=env, close_fds=True,
        )
        child.close()
        self.conn = Connection(parent.detach())
        self.lock = threading.Lock()
        self.shm = None             # shared-memory block for images and heatmaps

    def call(self, *msg):
        with self.lock:
            return self._call_locked(*msg)

    def _call_locked(self, *msg):
        """Send one request and wait for its reply; the caller holds ``self.lock``."""
        try:
            if _pending_drops:
                drops = [_pending_drops.pop() for _ in range(len(_pending_drops))]
                self.conn.send(("drop", drops))
                self.conn.recv()
            self.conn.send(msg)
            reply = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError) as err:
            raise WorkerError(
                f"the iNNvestigate worker process died ({err!r}); its log is {self.log.name}:\n"
                + self.tail()
            ) from None
        if reply[0] == "ok":
            return reply[1]
        _, kind, message, trace = reply
        if kind in ("ValueError", "TypeError", "KeyError"):
            raise {"ValueError": ValueError, "TypeError": TypeError, "KeyError": KeyError}[kind](
                message)
        raise WorkerError(f"iNNvestigate failed with {kind}: {message}\n{trace}")

    def analyze(self, key, model_key, recipe, params, x, indices, batch_size):
        """Heatmaps of ``x``: x goes to the worker and the heatmaps come back through a
        shared-memory block (grown on demand), not through the socket."""
        with self.lock:   # the block is shared with the worker for the whole call
            buf = self._buffer(x.nbytes)
            view = np.ndarray(x.shape, dtype=np.float32, buffer=buf.buf)
            view[...] = x
            self._call_locked("analyze", key, model_key, recipe, params, buf.name, x.shape,
                              indices, batch_size)
            return np.array(view)

    def _buffer(self, nbytes: int):
        from multiprocessing import shared_memory

        if self.shm is None or self.shm.size < nbytes:
            if self.shm is not None:
                self.shm.close()
                self.shm.unlink()
            self.shm = shared_memory.SharedMemory(create=True, size=max(nbytes, 1 << 20))
        return self.shm

    def tail(self, n: int = 4000) -> str:
        try:
            with open(self.log.name, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - n))
                return fh.read().decode(errors="replace")
        except OSError:  # pragma: no cover
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.alive():
            try:
                with self.lock:
                    self.conn.send(("shutdown",))
                    self.conn.recv()
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                self.proc.kill()
        self.conn.close()
        if self.shm is not None:
            self.shm.close()
            self.shm.unlink()
            self.shm = None


_worker_instance: _Worker | None = None
_pending_drops: list = []
_worker_lock = threading.Lock()
_loaded_models: set = set()


def worker() -> _Worker:
    """The session's worker, started on first use (and again if it died)."""
    global _worker_instance
    with _worker_lock:
        if _worker_instance is None or not _worker_instance.alive():
            _worker_instance = _Worker()
            _loaded_models.clear()
        return _worker_instance


def shutdown_worker() -> None:
    """Stop the worker process (it is restarted on the next analysis)."""
    global _worker_instance
    with _worker_lock:
        if _worker_instance is not None:
            _worker_instance.close()
            _worker_instance = None
            _loaded_models.clear()


atexit.register(shutdown_worker)


# --------------------------------------------------------------------------- models

_ids = itertools.count()


@dataclass
class _PreparedModel:
    key: str
    model: object                 # the prepared Keras model (eager, in this process)
    fingerprint: tuple
    json_config: str = field(repr=False)


_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _fingerprint(model) -> tuple:
    """Cheap identity of a model's weights: shape, sum and a strided sample sum per array."""
    fp = []
    for w in model.weights:
        a = np.asarray(w.numpy())
        step = max(1, a.size // 251)
        fp.append((a.shape, float(a.sum(dtype=np.float64)), float(a.ravel()[::step].sum())))
    return tuple(fp)


def prepared_for(model) -> _PreparedModel:
    """The prepared copy of ``model``, rebuilt when its weights changed."""
    from xaibench.prepare import prepare

    fp = _fingerprint(model)
    entry = _prepared.get(model)
    if entry is None or entry.fingerprint != fp:
        prepared = prepare(model)
        entry = _PreparedModel(f"m{next(_ids)}", prepared, fp, prepared.to_json())
        _prepared[model] = entry
    return entry


def _ensure_loaded(entry: _PreparedModel, w: _Worker) -> None:
    if entry.key not in _loaded_models:
        w.call("load_model", entry.key, entry.json_config, entry.model.get_weights())
        _loaded_models.add(entry.key)


# --------------------------------------------------------------------------- parameters

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
    "random": _Spec("random", "Gaussian noise of x's shape (a sanity baseline).", "utility",
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


def _validate(name: str, spec: _Spec, params: dict, model) -> dict:
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(sorted(spec.params)) or "none"
        raise TypeError(
            f"{name!r} got unknown parameter(s) {', '.join(unknown)}; it accepts: {allowed} "
            "(and batch_size)."
        )
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


def _check_layer_count(name: str, params: dict, prepared) -> None:
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


# --------------------------------------------------------------------------- analyzer

class InnvestigateAnalyzer(Analyzer):
    """An iNNvestigate analyzer (or LRP composite) run in the graph-mode worker."""

    def __init__(self, model, name: str, batch_size: int = DEFAULT_BATCH_SIZE, **params):
        spec = SPECS[name]
        self._spec = spec
        batch_size = int(check_in_range("batch_size", batch_size, 1, integer=True))
        validated = _validate(name, spec, params, model)
        super().__init__(model, **params)
        self.batch_size = batch_size
        self._prepared = prepared_for(model)
        _check_layer_count(name, validated, self._prepared.model)
        self._recipe = spec.recipe
        self._worker_params = validated
        self._key = f"a{next(_ids)}"

    @property
    def prepared_model(self):
        """The analyzable model (pre-softmax logits) this analyzer explains."""
        return self._prepared.model

    def _analyze(self, x, neuron_selection):
        w = worker()
        _ensure_loaded(self._prepared, w)
        return w.analyze(self._key, self._prepared.key, self._recipe, self._worker_params, x,
                         neuron_selection, self.batch_size)

    def __del__(self):
        # never talk to the worker from a finalizer (it may run inside a call);
        # the next call tells the worker to free this analyzer's graph
        key = getattr(self, "_key", None)   # absent when __init__ refused the input
        if key is not None:
            for mode in ("max_activation", "index"):
                _pending_drops.append((key, mode))


def _factory(name):
    def make(model, **params):
        return InnvestigateAnalyzer(model, name, **params)
    make.__name__ = f"create_{name.replace('.', '_')}"
    return make


for _name, _spec in SPECS.items():
    register(_name, _spec.description, _spec.family)(_factory(_name))
