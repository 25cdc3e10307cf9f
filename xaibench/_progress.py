"""Progress bars inside analyzers and evaluators stay quiet while an outer bar runs."""
import contextlib
import contextvars

_inner = contextvars.ContextVar("xaibench_inner_progress", default=True)


@contextlib.contextmanager
def outer_bar():
    """Within this block (e.g. a batch run with its own bar) inner bars are off."""
    token = _inner.set(False)
    try:
        yield
    finally:
        _inner.reset(token)


def inner_enabled() -> bool:
    return _inner.get()
