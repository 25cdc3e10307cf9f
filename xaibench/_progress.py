"""Progress bars: the text bar unless a notebook can draw its widget, and inner bars
(inside analyzers and evaluators) quiet while an outer bar runs."""
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


def bar_class():
    """``tqdm.auto.tqdm`` where it draws without complaint (a terminal, or a notebook with
    ``ipywidgets``), else the text bar ``tqdm.std.tqdm``: a notebook without ipywidgets
    gets the text bar, not tqdm's "IProgress not found" warning."""
    import importlib.util

    if importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.auto import tqdm
    else:
        from tqdm.std import tqdm
    return tqdm


def progress_bar(*args, **kwargs):
    """A bar of :func:`bar_class` (``tqdm``'s arguments)."""
    return bar_class()(*args, **kwargs)
