"""xb.heatmaps.render: a batch of heatmaps in, one RGB image per heatmap out; a single
heatmap is refused with the fix instead of being read as a batch of rows."""
import numpy as np
import pytest

from xaibench import heatmaps


def test_render_refuses_a_single_heatmap_and_takes_it_with_a_batch_axis():
    R = np.zeros((6, 5, 3))
    R[1, 2] = [1.0, 0.5, 0.5]                           # pixel (1, 2): +2 after the channel sum
    with pytest.raises(ValueError, match=r"single heatmap \(H, W, C\).*pass R\[None\]") as err:
        heatmaps.render(R)
    assert len(str(err.value).splitlines()) == 1
    img = heatmaps.render(R[None])
    assert img.shape == (1, 6, 5, 3) and img.dtype == np.uint8
    assert tuple(img[0, 1, 2]) == (255, 0, 0) and np.all(img[0, 0, 0] >= 254)
    with pytest.raises(ValueError, match=r"single channel-pooled heatmap \(H, W\).*R\[None\]"):
        heatmaps.render(R.sum(-1))
    assert heatmaps.render(R.sum(-1)[None]).shape == (1, 6, 5, 3)


def test_render_pooled_batches_and_the_escape_for_width_three():
    import matplotlib

    pooled = np.random.default_rng(0).normal(size=(4, 6, 7))      # (N, H, W): accepted
    assert heatmaps.render(pooled).shape == (4, 6, 7, 3)
    narrow = np.zeros((2, 4, 3))                                  # (N, H, 3): ambiguous
    narrow[0, 1, 2], narrow[0, 0, 0], narrow[1, 3, 1] = 2.0, -1.0, -5.0
    with pytest.raises(ValueError, match=r"R\[\.\.\., None\] if these are 2 channel-pooled"):
        heatmaps.render(narrow)
    img = heatmaps.render(narrow[..., None])                      # the escape: a channel axis
    assert img.shape == (2, 4, 3, 3)
    assert tuple(img[0, 1, 2]) == (255, 0, 0) and tuple(img[1, 3, 1]) == (0, 0, 255)
    quarter = matplotlib.colormaps["bwr"](0.25, bytes=True)[:3]   # -1 on the scale of 2
    assert tuple(img[0, 0, 0]) == tuple(quarter)
    assert np.all(img[1, 0, 0] >= 254)                           # 0 is white
