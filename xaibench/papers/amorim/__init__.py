"""Amorim et al. (2020), "Interpretability vs. Complexity: The Friction in Deep Neural
Networks": how L2 weight decay on different layer groups of a CIFAR-10 CNN changes the
faithfulness of five saliency methods.

The reproduction trains the CNN of Fig. 1 (:func:`xaibench.zoo.cifar_cnn`) with L2 weight
decay (eq. 1) on the layer groups B1, B2, B3, B, D1, D2, D, A (Sec. III-A) in k-fold
cross-validation over the training and test images combined, with early stopping; it
measures the held-out accuracy (Fig. 3) and the confidence drop of eq. 3 at the 5 ... 75 %
most relevant pixels for gradient, DeConvNet, guided backprop, deep Taylor and LRP, with
random pixels as the control, summed into the paper's AOPC (eq. 4); it compares Table II
(methods x decays, all layers regularised), Tables III-VII (groups x decays per method),
Fig. 4 (the group of the best AOPC) and the Friedman tests of Sec. IV-A (a Wilcoxon test
with only two decays) with the paper's.

Where each part lives:

* :mod:`.paper` -- the paper's numbers and settings (Tables II-VII, decays, groups,
  fractions), each citing its table or section;
* :mod:`.protocol` -- data, folds, training (cached models), the runner configs, the
  numbers read from the runs, and :func:`run`;
* :mod:`.claims` -- the paper's claims as pure functions of numbers (verdicts and the
  numbers they compared), and the tests over decays and methods;
* :mod:`.figures` -- the Markdown tables and the figures.

Full protocol (``quick=False``): CIFAR-10 from the Keras cache, the paper's six decays and
eight groups, 10 folds, patience 10 (:data:`FULL`; a GPU is expected; ``data="digits"``
runs the same on scikit-learn's digits at 32 x 32). Quick mode
(:data:`QUICK`): scikit-learn's digits at 16 x 16, a narrow CNN, 2 folds, decays 0 and
0.01 on the groups A and D, 32 evaluated images per fold: a minute on 2 CPU cores.
Models are cached under ``<out>/models``, evaluations are resumable runs under
``<out>/runs``.
"""
from xaibench.papers.amorim.claims import DecayTest, Verdict, decay_test
from xaibench.papers.amorim.paper import (FRACTIONS, LATE_GROUPS, METHODS, PAPER_DECAYS,
                                          PAPER_GROUPS, TABLE_II, TABLES_III_VII, TITLE)
from xaibench.papers.amorim.protocol import FULL, QUICK, Settings, aopc_per_image, run

__all__ = ["DecayTest", "FRACTIONS", "FULL", "LATE_GROUPS", "METHODS", "PAPER_DECAYS",
           "PAPER_GROUPS", "QUICK", "Settings", "TABLES_III_VII", "TABLE_II", "TITLE",
           "Verdict", "aopc_per_image", "decay_test", "run"]
