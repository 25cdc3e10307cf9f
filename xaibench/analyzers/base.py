"""The one analyzer shape every method shares (iNNvestigate's ``analyze`` API)."""
from __future__ import annotations

import abc

import numpy as np

from xaibench._checks import check_images, model_num_classes, resolve_neuron_selection


class Analyzer(abc.ABC):
    """Base class of every xaibench analyzer.

    ``analyze(x, neuron_selection)`` validates ``x`` against the model's input
    shape (and NaN/inf) and the class indices against the number of outputs,
    then calls :meth:`_analyze` with ``x`` as float32 ``(N, H, W, C)`` and the
    selection as ``None`` (explain the top logit) or one int64 per image.
    Subclasses return a heatmap of ``x``'s shape.
    """

    #: registry name, set by :func:`xaibench.analyzers.registry.register`
    name: str = ""
    #: the method works on image regions, so on (N, H, W, C): a model of grey images
    #: without a channel axis (input (N, H, W)) is explained on x[..., None]
    needs_channels: bool = False

    def __init__(self, model, **params):
        self.model = model
        self.params = dict(params)
        self.num_classes = model_num_classes(model)

    def analyze(self, x, neuron_selection=None) -> np.ndarray:
        """Heatmaps of ``x`` (float32, same shape) for the selected output neurons.

        ``neuron_selection``: ``None`` or ``"max_activation"`` explains each image's
        top-scoring class, an int explains that class for all images, an array of
        ``N`` ints one class per image.
        """
        x = check_images(x, self.model)
        selection = resolve_neuron_selection(neuron_selection, len(x), self.num_classes)
        if self.needs_channels and x.ndim == 3:
            heatmaps = np.asarray(self._analyze(x[..., None], selection), np.float32)[..., 0]
        else:
            heatmaps = np.asarray(self._analyze(x, selection), dtype=np.float32)
        if heatmaps.shape != x.shape:  # pragma: no cover - a bug in a subclass
            raise RuntimeError(
                f"{type(self).__name__} returned shape {heatmaps.shape} for input {x.shape}"
            )
        return heatmaps

    def fit(self, x=None, *args, **kwargs):
        """Analyzers that learn nothing from data accept ``fit`` and ignore it (as iNNvestigate)."""
        return self

    @abc.abstractmethod
    def _analyze(self, x: np.ndarray, neuron_selection: np.ndarray | None) -> np.ndarray:
        """Compute heatmaps for validated input; see :meth:`analyze`."""

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in sorted(self.params.items()))
        return f"<{type(self).__name__} {self.name!r} on {self.model.name!r}({params})>"


def run_in_batches(fn, x: np.ndarray, neuron_selection, batch_size: int) -> np.ndarray:
    """``fn(x_chunk, selection_chunk)`` over chunks of ``batch_size`` images, as tensors;
    the selection is -1 where the top class is to be explained."""
    import tensorflow as tf

    sel = (np.full(len(x), -1, np.int64) if neuron_selection is None
           else np.asarray(neuron_selection, np.int64))
    out = [fn(tf.constant(x[i:i + batch_size]), tf.constant(sel[i:i + batch_size])).numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out, axis=0)
