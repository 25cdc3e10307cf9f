"""xaibench: explain and benchmark the decisions of Keras image classifiers.

    import xaibench as xb
    model = xb.zoo.mnist_cnn()
    an = xb.create_analyzer("lrp.sequential_preset_a_flat", model)
    R = an.analyze(x, neuron_selection=y)
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from xaibench.analyzers import create_analyzer, list_analyzers  # noqa: E402
from xaibench.prepare import prepare  # noqa: E402
from xaibench import zoo  # noqa: E402
from xaibench import data, evaluate  # noqa: E402
from xaibench.papers import reproduce  # noqa: E402

__version__ = "0.1.0"
__all__ = ["create_analyzer", "list_analyzers", "prepare", "zoo", "data", "evaluate", "reproduce", "__version__"]
