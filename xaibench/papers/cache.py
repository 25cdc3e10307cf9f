"""Artefacts a reproduction computes once: trained models, arrays, facts, figures.

:func:`cached` is the one way a paper module keeps what it computed: the file at
``path`` when it is there (and was made under the same ``key``), else ``compute()``
written to a temporary name and renamed, so a reproduction killed at any moment keeps
every finished artefact and never leaves a half-written one. The kind follows the
file's extension:

=========  =====================================  ==========================
extension  ``compute()`` returns                   ``cached`` returns
=========  =====================================  ==========================
``.npz``   a dict of arrays                        that dict (arrays)
``.json``  a JSON value                            the value
``.keras`` a Keras model (trained)                 the model (for inference,
                                                   unless ``trainable``)
``.png``   a Matplotlib figure                     ``path``
=========  =====================================  ==========================

``depends``: files the artefact is made from (e.g. the arrays a figure draws); it is
made again when one of them is newer.
"""
from __future__ import annotations

import json
import os

import numpy as np

#: the key an ``.npz`` / ``.json`` artefact is stored under, beside its content
KEY = "__key__"


def _fresh(path: str, depends) -> bool:
    if not os.path.isfile(path):
        return False
    made = os.path.getmtime(path)
    return all(os.path.getmtime(d) <= made for d in depends if os.path.exists(d))


def _load(path: str, kind: str, key, trainable: bool):
    """The artefact at ``path``, or ``None`` when it was made under another key."""
    if kind == ".npz":
        with np.load(path, allow_pickle=False) as f:
            if key is not None and (KEY not in f.files or str(f[KEY]) != str(key)):
                return None
            return {k: f[k] for k in f.files if k != KEY}
    if kind == ".json":
        with open(path) as fh:
            stored = json.load(fh)
        if key is None:
            return stored
        if not isinstance(stored, dict) or stored.get(KEY) != key:
            return None
        return stored["value"]
    if kind == ".keras":
        if trainable:
            import tensorflow as tf

            return tf.keras.models.load_model(path)
        from xaibench.zoo import load_file

        return load_file(path)
    return path                                         # .png


def _save(value, tmp: str, kind: str, key, savefig: dict):
    if kind == ".npz":
        np.savez_compressed(tmp, **value, **({} if key is None else {KEY: str(key)}))
    elif kind == ".json":
        with open(tmp, "w") as fh:
            json.dump(value if key is None else {KEY: key, "value": value}, fh, indent=1,
                      default=float)
    elif kind == ".keras":
        value.save(tmp)
    else:
        value.savefig(tmp, **{"dpi": 100, **savefig})
        try:
            import matplotlib.pyplot as plt

            plt.close(value)
        except Exception:               # a Figure made without pyplot: nothing to close
            pass


def cached(path: str, compute, key=None, depends=(), trainable: bool = False, **savefig):
    """The artefact at ``path``, or ``compute()`` saved there atomically (see the module
    docstring for the kinds). ``key`` (a string, or any JSON value for ``.json``): an
    artefact made under another key is made again. ``trainable``: a ``.keras`` model is
    loaded with its optimizer, to train on. ``savefig``: keyword arguments of
    ``Figure.savefig`` for a ``.png`` (``dpi`` defaults to 100)."""
    kind = os.path.splitext(path)[1].lower()
    if kind not in (".npz", ".json", ".keras", ".png"):
        raise ValueError(f"cached: cannot keep {path!r}; use a .npz, .json, .keras or .png path")
    if _fresh(path, depends):
        value = _load(path, kind, key, trainable)
        if value is not None:
            return value
    value = compute()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path[:-len(kind)]}.part{os.getpid()}{kind}"
    _save(value, tmp, kind, key, savefig)
    os.replace(tmp, path)
    return path if kind == ".png" else value
