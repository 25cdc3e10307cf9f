"""Input validation shared by every analyzer and evaluator.

Each check runs before any expensive work and raises ``ValueError`` (or
``TypeError``) with a message that names the problem and the fix.
"""
from __future__ import annotations

import numbers

import numpy as np


def model_input_shape(model) -> tuple:
    """The per-image input shape ``(H, W, C)`` of a single-input Keras model."""
    from xaibench._keras import input_shape

    shapes = input_shape(model)
    if isinstance(shapes, list):
        if len(shapes) != 1:
            raise ValueError(
                f"model {model.name!r} has {len(shapes)} inputs; xaibench explains "
                "single-input image classifiers. Wrap the model so it takes one image tensor."
            )
        shapes = shapes[0]
    return tuple(shapes[1:])


def model_num_classes(model) -> int:
    from xaibench._keras import output_shape

    shape = output_shape(model)
    if isinstance(shape, list):
        if len(shape) != 1:
            raise ValueError(
                f"model {model.name!r} has {len(shape)} outputs; xaibench explains "
                "single-output classifiers. Build a Model with the class scores as its only output."
            )
        shape = shape[0]
    if len(shape) != 2:
        raise ValueError(
            f"model {model.name!r} outputs shape {shape}; a classifier must output "
            "(batch, classes). Add a Flatten/Dense head or select one output."
        )
    return int(shape[1])


def check_images(x, model=None, name: str = "x", channels: bool = False) -> np.ndarray:
    """Return ``x`` as float32 in the shape ``model`` takes (``(N, H, W, C)``); refuse wrong
    rank/shape and NaN/inf. ``channels``: the images of a model of (N, H, W) grey images
    come back as (N, H, W, 1), the shape the image metrics work on."""
    if isinstance(x, (list, tuple)):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        try:
            x = np.asarray(x)
        except Exception as err:  # pragma: no cover - exotic inputs
            raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}") from err
    if x.dtype == object or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    if model is not None:
        expected = model_input_shape(model)
        if x.ndim == len(expected) and all(w is None or g == w for g, w in zip(x.shape, expected)):
            raise ValueError(
                f"{name} has shape {x.shape}, which is a single image; the model expects a batch "
                f"(N, {', '.join(map(str, expected))}). Use x[None] to add the batch axis."
            )
        if x.ndim != len(expected) + 1:
            raise ValueError(
                f"{name} has rank {x.ndim} (shape {x.shape}); the model expects rank "
                f"{len(expected) + 1}: (N, {', '.join(map(str, expected))}), channels last."
            )
        for got, want in zip(x.shape[1:], expected):
            if want is not None and got != want:
                raise ValueError(
                    f"{name} has shape {x.shape}; model {model.name!r} expects "
                    f"(N, {', '.join(map(str, expected))}). Resize or preprocess the images "
                    "to the model's input size (channels last)."
                )
    elif x.ndim != 4:
        raise ValueError(
            f"{name} has rank {x.ndim} (shape {x.shape}); images must be (N, H, W, C), channels last."
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty (batch size 0); pass at least one image.")
    x = np.asarray(x, dtype=np.float32)
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); clean or re-preprocess the images "
            "(for example np.nan_to_num) before explaining them."
        )
    return x[..., None] if channels and x.ndim == 3 else x      # 3-D: the model's rank


def resolve_neuron_selection(neuron_selection, n: int, num_classes: int):
    """Normalise ``neuron_selection`` to ``None`` (explain the top logit) or ``int64[n]``.

    Accepts ``None`` / ``"max_activation"``, one int for all images, or ``n`` ints.
    """
    if neuron_selection is None or (
        isinstance(neuron_selection, str) and neuron_selection == "max_activation"
    ):
        return None
    if isinstance(neuron_selection, str):
        raise ValueError(
            f"neuron_selection={neuron_selection!r} is not understood; use None or "
            "'max_activation' for the top class, an int, or one int per image."
        )
    if isinstance(neuron_selection, (bool, np.bool_)):
        raise TypeError("neuron_selection must be an int class index, not a bool.")
    if isinstance(neuron_selection, numbers.Integral):
        idx = np.full(n, int(neuron_selection), dtype=np.int64)
    else:
        arr = np.asarray(neuron_selection)
        if arr.ndim == 0:
            arr = arr.reshape(1).repeat(n)
        if arr.ndim != 1 or arr.shape[0] != n:
            raise ValueError(
                f"neuron_selection has shape {arr.shape}; pass one int for all images or "
                f"exactly one int per image ({n})."
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if np.issubdtype(arr.dtype, np.floating) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise TypeError(
                    f"neuron_selection must hold integer class indices, got dtype {arr.dtype}."
                )
        idx = arr.astype(np.int64)
    bad = (idx < 0) | (idx >= num_classes)
    if np.any(bad):
        raise ValueError(
            f"class index {int(idx[bad][0])} in neuron_selection is out of range: the model "
            f"has {num_classes} classes (valid indices 0..{num_classes - 1})."
        )
    return idx


def check_in_range(name: str, value, low=None, high=None, *, low_inclusive=True,
                   high_inclusive=True, integer=False):
    """Refuse a parameter outside [low, high] with a message naming the range."""
    if integer:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{name} must be an int, got {value!r}.")
    elif isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}.")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}.")
    ok_low = low is None or (value >= low if low_inclusive else value > low)
    ok_high = high is None or (value <= high if high_inclusive else value < high)
    if not (ok_low and ok_high):
        lo = "-inf" if low is None else f"{low}"
        hi = "inf" if high is None else f"{high}"
        lb = "[" if low_inclusive and low is not None else "("
        rb = "]" if high_inclusive and high is not None else ")"
        raise ValueError(f"{name}={value!r} is out of range; it must lie in {lb}{lo}, {hi}{rb}.")
    return value


def close_matches(unknown, names) -> list:
    """The names in ``names`` close to any of ``unknown`` (two at most each, sorted): the
    "did you mean" of a refused name."""
    import difflib

    names = list(names)
    return sorted({m for u in unknown for m in difflib.get_close_matches(str(u), names, n=2)})


def check_parameters(analyzer: str, params, accepted, common=()) -> None:
    """Refuse keywords ``analyzer`` does not take, naming what it accepts (its own, then
    the ``common`` ones every analyzer of its kind takes) and close matches."""
    names = list(accepted) + list(common)
    unknown = sorted(set(params) - set(names))
    if not unknown:
        return
    close = close_matches(unknown, names)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    also = f" (and {', '.join(common)})" if common else ""
    raise TypeError(f"{analyzer!r} got unknown parameter(s) {', '.join(unknown)}; it accepts: "
                    f"{', '.join(sorted(accepted)) or 'none'}{also}.{hint}")


def check_heatmap_array(R) -> np.ndarray:
    """``R`` as a numeric, finite (N, H, W, C) or (N, H, W) array with N >= 1."""
    R = np.asarray(R)
    if R.dtype == object or not np.issubdtype(R.dtype, np.number):
        raise TypeError(f"R must be a numeric array, got dtype {R.dtype}.")
    if R.ndim not in (3, 4) or R.shape[0] == 0:
        raise ValueError(f"R has shape {R.shape}; pass heatmaps (N, H, W, C) or (N, H, W), N >= 1.")
    if not np.all(np.isfinite(R)):
        raise ValueError("R contains NaN or infinite values; fix or np.nan_to_num them first.")
    return R
