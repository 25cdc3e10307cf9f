"""xaibench: explain and benchmark the decisions of Keras image classifiers.

    import xaibench as xb
    model = xb.zoo.shipped("digits")          # the trained digits CNN of models/
    an = xb.create_analyzer("lrp.sequential_preset_a_flat", model)
    R = an.analyze(x, neuron_selection=y)

The submodules and functions below are imported on first use, so ``import xaibench``
(and the ``xaibench`` command's ``--help`` and ``list``) does not import TensorFlow.
"""
import importlib as _importlib
import os as _os

#: TF_CPP_MIN_LOG_LEVEL as the user set it before xaibench was imported (None: unset; the
#: ``xaibench`` command then uses 3, which hides TensorFlow's C++ start-up messages)
_USER_TF_LOG_LEVEL = _os.environ.get("TF_CPP_MIN_LOG_LEVEL")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"

#: public name -> (module, attribute or None for the module itself)
_LAZY = {
    "create_analyzer": ("xaibench.analyzers", "create_analyzer"),
    "list_analyzers": ("xaibench.analyzers", "list_analyzers"),
    "prepare": ("xaibench.prepare", "prepare"),
    "reproduce": ("xaibench.papers", "reproduce"),
    "zoo": ("xaibench.zoo", None),
    "data": ("xaibench.data", None),
    "evaluate": ("xaibench.evaluate", None),
}


#: the oldest TensorFlow xaibench runs on (the legacy stack's)
_MIN_TENSORFLOW = (2, 14, 1)


def _check_tensorflow() -> None:
    """Refuse, in one line, an environment without a TensorFlow xaibench runs on.

    TensorFlow is not an install requirement (``tensorflow`` and ``tensorflow-cpu`` are
    different distributions of the same package), so its absence is found here."""
    from importlib import metadata, util

    if util.find_spec("tensorflow") is None:
        raise ImportError(
            "xaibench needs TensorFlow >= 2.14.1, which is not installed: "
            "pip install tensorflow (or tensorflow-cpu, or 'xaibench[cpu]')"
        )
    for dist in ("tensorflow", "tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
        if parts < _MIN_TENSORFLOW:
            raise ImportError(
                f"xaibench needs TensorFlow >= 2.14.1, found {dist} {version}: "
                f"pip install --upgrade {dist}"
            )
        return


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'xaibench' has no attribute {name!r}")
    if not globals().get("_TENSORFLOW_CHECKED"):
        _check_tensorflow()
        globals()["_TENSORFLOW_CHECKED"] = True
    module, attribute = _LAZY[name]
    value = _importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


class _Package(type(_os)):
    """``xb.prepare`` stays the function when the submodule ``xaibench.prepare`` is
    imported later (the import system sets the package attribute to the module)."""

    def __setattr__(self, name, value):
        if name == "prepare" and isinstance(value, type(_os)):
            value = value.prepare
        super().__setattr__(name, value)


import sys as _sys  # noqa: E402

_sys.modules[__name__].__class__ = _Package


__all__ = ["create_analyzer", "list_analyzers", "prepare", "zoo", "data", "evaluate", "reproduce", "__version__"]
