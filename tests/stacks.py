"""Which stack the tests run on, and skip markers (with their reason) for tests that only
make sense on one of them."""
import pytest


def _innvestigate_unavailable() -> str | None:
    from xaibench.analyzers.innvestigate_backend import BackendUnavailableError, check_available

    try:
        check_available()
    except BackendUnavailableError as err:
        return str(err)
    return None


INNVESTIGATE_UNAVAILABLE = _innvestigate_unavailable()

#: a test of iNNvestigate itself (the legacy stack: TF 2.14, Keras 2, iNNvestigate 2.1.2)
needs_innvestigate = pytest.mark.skipif(
    INNVESTIGATE_UNAVAILABLE is not None,
    reason=f"needs iNNvestigate: {INNVESTIGATE_UNAVAILABLE}")

#: a comparison with iNNvestigate's stored heatmaps that the legacy stack makes directly:
#: there test_innvestigate_differential.py runs iNNvestigate itself on models with the same
#: layers (small_cnn, mnist_cnn: conv, batch norm, stand-alone ReLU, max / average pooling,
#: Dense; caffenet: Dropout)
compared_directly_where_innvestigate_runs = pytest.mark.skipif(
    INNVESTIGATE_UNAVAILABLE is None,
    reason="iNNvestigate is here: test_innvestigate_differential.py compares with it "
           "directly on models with these layers; the stored heatmaps are checked on the "
           "stacks without it")
