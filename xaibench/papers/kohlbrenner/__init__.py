"""Kohlbrenner et al. (2020), "Towards best practice in explaining neural network decisions
with LRP" (/work/shared/papers/001_2d849346cf7e9cea.txt): LRP_CMP (LRP_eps on dense,
LRP_alpha-beta on conv layers, optionally LRP_b on the first) against uniformly applied
rules, guided backprop and PatternAttribution, measured by the share of positive relevance
inside the object's box, mu = R_in / R_tot and mu_w = mu * S_tot / S_in (eq. 2).

Reproduced: Table 1 (mu_w, mu<=0.25, mu<=0.5, mu, true class; the claims of Sec. 4.2),
Fig. 3 (mu against box size), Fig. 2 (the true-class logit change when the object or its
context is replaced by the training mean, Sec. 3.1) and a Fig. 1 style grid (two images
explained for their true and runner-up class; class discriminativity as the correlation of
the two heatmaps). Data: ``clutter`` with the shipped demo CNN (default; quick: 40 test
images), or ``imagenet_val:PATH`` with VGG-16's ImageNet weights (the paper's protocol; a
GPU is expected). Not reproduced: the PVOC 2007 half of Table 1 (its CaffeNet, trained on
multi-label PVOC 2012, is not available; shown for reference) and LRP_CAM.

Where each part lives:

* :mod:`.paper` -- the paper's numbers and settings (``PAPER``, ``METHODS``, ``TITLE``);
* :mod:`.protocol` -- options, data and model, patterns and training mean, the two batch
  runs, Fig. 1's heatmaps, :func:`run`;
* :mod:`.claims` -- the claims as pure functions of the numbers (:class:`Measured`);
* :mod:`.figures` -- Figs. 1-3 and the Markdown tables.
"""
from xaibench.papers.kohlbrenner.claims import (
    TABLE1_EVIDENCE, Measured, class_correlation, fig1_rows, fig2_rows, fig3_rows,
    kendall_tau, rows, spearman_rho, table1_claims, table1_columns, table1_evidence,
    table1_rows)
from xaibench.papers.kohlbrenner.figures import fig1, fig2, fig3, table1_markdown
from xaibench.papers.kohlbrenner.paper import (
    BASELINE_KEY, CMP, COLUMNS, FIG3_BINS, LABELS, METHODS, PAPER, PVOC, REFERENCE, TITLE,
    UNIFORM_LRP)
from xaibench.papers.kohlbrenner.protocol import (
    ALLOWED_DATA, CLUTTER, MODELS, N_IMAGES, PATTERN_IMAGES, QUICK_BINS, Setup,
    TrainingImages, correlation, fig1_heatmaps, fig1_steps, fit_patterns, method_steps,
    occlusion, pa_config, ratios, run, setup, table1_config, training_mean)

__all__ = ["ALLOWED_DATA", "BASELINE_KEY", "CLUTTER", "CMP", "COLUMNS", "FIG3_BINS",
           "LABELS", "METHODS", "MODELS", "Measured", "N_IMAGES", "PAPER", "PATTERN_IMAGES",
           "PVOC", "QUICK_BINS", "REFERENCE", "Setup", "TABLE1_EVIDENCE", "TITLE",
           "TrainingImages", "UNIFORM_LRP", "class_correlation", "correlation", "fig1",
           "fig1_heatmaps", "fig1_rows", "fig1_steps", "fig2", "fig2_rows", "fig3",
           "fig3_rows", "fit_patterns", "kendall_tau", "method_steps", "occlusion",
           "pa_config", "ratios", "rows", "run", "setup", "spearman_rho", "table1_claims",
           "table1_columns", "table1_config", "table1_evidence", "table1_markdown",
           "table1_rows", "training_mean"]
