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
from xaibench.analyzers.innvestigate_names import SPECS, check_layer_count, validate

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
    json_config: str = field(repr=False)


_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def prepared_for(model) -> _PreparedModel:
    """The prepared copy of ``model`` with its worker key, rebuilt when its weights changed."""
    from xaibench.prepare import cached_prepare

    prepared = cached_prepare(model)
    entry = _prepared.get(model)
    if entry is None or entry.model is not prepared:
        entry = _PreparedModel(f"m{next(_ids)}", prepared, prepared.to_json())
        _prepared[model] = entry
    return entry


def _ensure_loaded(entry: _PreparedModel, w: _Worker) -> None:
    if entry.key not in _loaded_models:
        w.call("load_model", entry.key, entry.json_config, entry.model.get_weights())
        _loaded_models.add(entry.key)


# --------------------------------------------------------------------------- analyzer

class BackendUnavailableError(ImportError):
    """``backend="innvestigate"`` on a stack where iNNvestigate 2.1.2 cannot run."""


def check_available() -> None:
    """Refuse ``backend="innvestigate"`` where iNNvestigate 2.1.2 is missing or cannot
    run (it needs TensorFlow < 2.15 with Keras 2), in one line naming what to install."""
    import importlib.util

    from xaibench._keras import is_keras3

    if is_keras3():
        import tensorflow as tf

        raise BackendUnavailableError(
            "backend='innvestigate' needs iNNvestigate 2.1.2, which runs only on TensorFlow "
            f"< 2.15 with Keras 2 (this is TensorFlow {tf.__version__} with Keras 3): pip install "
            "'xaibench[innvestigate]' in a TF 2.14 environment, or use backend='native'.")
    if importlib.util.find_spec("innvestigate") is None:
        raise BackendUnavailableError(
            "backend='innvestigate' needs iNNvestigate 2.1.2, which is not installed: pip "
            "install 'xaibench[innvestigate]' (TensorFlow < 2.15 with Keras 2), or use "
            "backend='native'.")


class InnvestigateAnalyzer(Analyzer):
    """An iNNvestigate analyzer (or LRP composite) run in the graph-mode worker."""

    def __init__(self, model, name: str, batch_size: int = DEFAULT_BATCH_SIZE,
                 jit_compile: bool = False, **params):
        if jit_compile:
            raise ValueError("jit_compile applies to the native engine; iNNvestigate builds its "
                             "own graph (drop backend='innvestigate' to compile with XLA).")
        check_available()
        spec = SPECS[name]
        self._spec = spec
        batch_size = int(check_in_range("batch_size", batch_size, 1, integer=True))
        validated = validate(name, spec, params, model)
        super().__init__(model, **params)
        self.batch_size = batch_size
        self._prepared = prepared_for(model)
        check_layer_count(name, validated, self._prepared.model)
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
