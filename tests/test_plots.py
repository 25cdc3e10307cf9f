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


def _bar_axes(fig, grid):
    """The axes of ``fig`` that are not cells of the grid: its colour bars."""
    cells = {id(ax) for ax in np.asarray(grid).ravel()}
    return [ax for ax in fig.axes if id(ax) not in cells]


def test_heatmap_grid_colour_bar_scales_and_column_order():
    rng = np.random.default_rng(1)
    x = rng.random((2, 10, 10, 1)).astype(np.float32)
    small = np.zeros((2, 10, 10, 1))
    small[0, 2, 3] = 4.0                        # image 0: max 4, a lone saturated pixel
    small[0, 5:, 5:] = 0.5
    small[1, 1, 1] = -1.0                       # image 1: max |R| 1, negative
    other = rng.normal(size=(2, 10, 10, 1))
    fig = plots.heatmap_figure(x, {"zeta.b": other, "alpha": small}, order=["alpha"])
    grid = np.array(fig.axes[:6]).reshape(2, 3)
    assert [ax.get_title() for ax in grid[0]] == ["input", "alpha", "zeta.b"]
    bars = _bar_axes(fig, grid)
    assert len(bars) == 1
    bar = bars[0]
    assert bar.get_ylim() == (-1.0, 1.0)                                   # symmetric about 0
    assert [t.get_text() for t in bar.get_yticklabels()] == ["-s", "0", "+s"]
    solids = [c for c in bar.collections if c.get_array() is not None and c.get_array().size > 2]
    assert len(solids) == 1                                                # the colour ramp
    cmap = solids[0].cmap
    assert cmap.name == "bwr"
    rgba = cmap([0.0, 0.5, 1.0])
    assert rgba[0][2] > 0.9 > rgba[0][0] and rgba[2][0] > 0.9 > rgba[2][2]  # blue -, red +
    assert np.all(rgba[1][:3] > 0.99)                                        # white at 0
    drawn = grid[0, 1].images[-1]
    assert drawn.norm.vmin == -1 and drawn.norm.vmax == 1 and drawn.cmap.name == "bwr"
    # per image (default): image 0 divided by its own max 4
    np.testing.assert_allclose(grid[0, 1].images[-1].get_array()[2, 3], 1.0)
    np.testing.assert_allclose(grid[0, 1].images[-1].get_array()[6, 6], 0.125)
    np.testing.assert_allclose(grid[1, 1].images[-1].get_array()[1, 1], -1.0)
    # per analyzer: both images of "alpha" divided by 4
    fig = plots.heatmap_figure(x, {"alpha": small}, scale="analyzer")
    np.testing.assert_allclose(fig.axes[3].images[-1].get_array()[1, 1], -0.25)
    assert "s = 4" in fig.axes[1].get_title()
    # robust percentile: the 90th percentile of |R| of image 0 is 0.5 (26 of its 100 pixels
    # are >= 0.5), the lone pixel saturates; image 1's is 0, so its max is used
    s = plots.heatmap_scales([small[0, ..., 0], small[1, ..., 0]], "percentile", 90)
    np.testing.assert_allclose(s, [0.5, 1.0])
    fig = plots.heatmap_figure(x, {"alpha": small}, scale="percentile", percentile=90)
    np.testing.assert_allclose(fig.axes[1].images[-1].get_array()[6, 6], 1.0)
    np.testing.assert_allclose(fig.axes[1].images[-1].get_array()[2, 3], 8.0)   # clipped
    drawn = fig.axes[1].images[-1]
    assert drawn.cmap(drawn.norm(8.0)) == drawn.cmap(1.0)                   # saturates
    assert "90th percentile" in " ".join(t.get_text() for t in fig.texts)
    with pytest.raises(ValueError, match="use one of image, analyzer, percentile"):
        plots.heatmap_figure(x, {"alpha": small}, scale="max")


def test_no_text_overlaps_in_a_wide_grid_and_a_16_line_plot():
    rng = np.random.default_rng(2)
    names = ["lrp.cmp_alpha2_flat(epsilon=0.1,flat_layers=2)", "contextual_importance",
             "lrp.alpha_2_beta_1", "guided_backprop", "pattern.attribution(patterns=/a/b.npz)"]
    x = rng.random((3, 8, 8, 3)).astype(np.float32)
    fig = plots.heatmap_figure(x, {k: rng.normal(size=(3, 8, 8, 3)) for k in names},
                               titles=["image 0: class 3 (12.5)", "y=4", "y=1"])
    assert plots.text_overlaps(fig) == []
    steps = np.arange(49)
    curves = {f"analyzer_number_{k}": (steps, np.log1p(steps) * (1 + k / 10)) for k in range(16)}
    curves["baseline"] = (steps, 0.05 * steps)
    fig = plots.line_figure(curves, "perturbation steps L", "AOPC (eq. 12)",
                            baseline=("baseline", "random order"))
    assert plots.text_overlaps(fig) == []
    # the check itself finds labels drawn over each other
    fig, ax = plots.new_figure()
    ax.set_xticks([0, 0.01], ["a long tick label", "another long one"])
    assert plots.text_overlaps(fig) == [("a long tick label", "another long one")]


def test_line_plot_distinct_styles_and_no_legend_for_all_zero_series(tmp_path):
    steps = np.arange(10)
    curves = {f"m{k}": (steps, steps * (k + 1.0)) for k in range(15)}
    curves["dead"] = (steps, np.zeros(10))
    curves["nan"] = (steps, np.full(10, np.nan))
    curves["baseline"] = (steps, steps * 0.5)
    fig = plots.line_figure(curves, "L", "AOPC", baseline=("baseline", "random order"))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["random order"] + [f"m{k}" for k in range(15)]
    from matplotlib.colors import to_rgb

    styles = [(tuple(np.round(to_rgb(ln.get_color()), 3)), ln.get_marker(), ln.get_linestyle())
              for ln in ax.get_lines()]
    assert len(styles) == 16 and len(set(styles)) == 16
    assert styles[0][0] == (0.0, 0.0, 0.0) and styles[0][2] == "--"          # the baseline
    assert len({s[0] for s in styles[1:]}) == 10                           # ten colours ...
    assert {s[2] for s in styles[1:]} == {"-", "--"}                       # ... then dashed
    notes = [t.get_text() for t in ax.texts]
    assert notes == ["all zero, not drawn: dead, nan"]
    assert len({(s["color"], s["marker"], s["linestyle"]) for s in plots.line_styles(40)}) == 40
    path = plots.line_plot(curves, str(tmp_path / "l.png"), "L", "AOPC",
                           baseline=("baseline", "random order"))
    assert (tmp_path / "l.png").stat().st_size > 1000 and path.endswith("l.png")


def test_no_rainbow_colour_map_anywhere():
    import json
    import os
    import re

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    pattern = re.compile(r"""['"](jet|rainbow|gist_rainbow|hsv|nipy_spectral)['"]""")
    found = []
    for folder in ("xaibench", "notebooks"):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            for name in files:
                path = os.path.join(dirpath, name)
                if name.endswith(".py"):
                    text = open(path).read()
                elif name.endswith(".ipynb"):
                    text = "\n".join("".join(c["source"]) for c in json.load(open(path))["cells"])
                else:
                    continue
                found += [f"{os.path.relpath(path, root)}: {m.group(0)}"
                          for m in pattern.finditer(text)]
    assert found == []
