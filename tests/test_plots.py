"""Figures: written as PNGs with the numbers drawn, without touching pyplot's
backend or figure list (a notebook that calls them keeps its inline plots)."""
import numpy as np
import pytest

from xaibench import plots


@pytest.fixture
def svg_backend():
    """A non-Agg pyplot backend with one open figure, restored afterwards."""
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    plt.switch_backend("svg")
    plt.figure()
    yield plt
    plt.close("all")
    plt.switch_backend(before)


def test_figures_leave_the_backend_and_open_figures_alone(svg_backend, tmp_path):
    import matplotlib
    from matplotlib.image import imread

    rng = np.random.default_rng(0)
    x = rng.random((2, 8, 8, 3)).astype(np.float32)
    R = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    grid = plots.heatmap_grid(x, {"a": R}, str(tmp_path / "grid.png"))
    lines = plots.line_plot({"m": ([0, 1, 2], [0.1, 0.5, 0.2])}, str(tmp_path / "l.png"),
                            "step", "value")
    fig, axes = plots.new_figure(2, 3, squeeze=False, figsize=(3, 2))
    assert axes.shape == (2, 3)
    assert matplotlib.get_backend() == "svg"
    assert svg_backend.get_fignums() == [1]
    img = imread(grid)
    assert img.ndim == 3 and img.shape[0] > 50 and img.std() > 0.05    # drawn, not blank
    assert imread(lines).std() > 0.01


def test_paper_figures_leave_the_backend_alone(svg_backend, tmp_path):
    import matplotlib

    from xaibench.papers import seo

    pr = {"RMPD": {k: np.linspace(0, 1, 5) for k in ("precision", "recall", "f")}}
    path = seo.figure_curves(str(tmp_path / "fig5.png"), pr, np.linspace(0, 1, 5))
    assert (tmp_path / "fig5.png").stat().st_size > 1000 and path.endswith("fig5.png")
    assert matplotlib.get_backend() == "svg"
