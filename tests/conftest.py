import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN's reordered float32 sums (on by default in TF >= 2.16) differ from the plain
# kernels by ~1e-6 relative; tests compare against numpy at that scale, so turn them off.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, os.path.dirname(__file__))

import pytest  # noqa: E402


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Print every skip's reason in the summary (``-rs``): a test that runs on one stack
    only says so, and why, on the other."""
    chars = config.option.reportchars or ""
    if not {"s", "a", "A"} & set(chars):
        config.option.reportchars = chars + "s"


def pytest_collection_finish(session):
    """Start the iNNvestigate side of test_innvestigate_differential.py (one background
    process, minutes of graph building) as soon as its tests are collected, so that it runs
    beside the test files before it instead of after them."""
    items = [item for item in session.items
             if getattr(item, "originalname", None) in DIFFERENTIAL_TESTS
             and item.module.__name__ == "test_innvestigate_differential"]
    if not items or session.config.option.collectonly:
        return
    from stacks import INNVESTIGATE_UNAVAILABLE

    if INNVESTIGATE_UNAVAILABLE is None:
        try:
            items[0].module.direct_runs({item.callspec.params["label"] for item in items})
        except Exception:         # the first test that needs it starts it, and fails there
            pass


DIFFERENTIAL_TESTS = ("test_same_numbers_as_innvestigate",
                      "test_smoothgrad_averages_innvestigate_gradients_on_its_noisy_copies")


def pytest_sessionfinish(session):
    """No background iNNvestigate process outlives the session (e.g. after ``-x``)."""
    module = sys.modules.get("test_innvestigate_differential")
    for runs in getattr(module, "_direct_runs", ()):
        if runs.proc.poll() is None:
            runs.proc.kill()
            runs.proc.wait()
