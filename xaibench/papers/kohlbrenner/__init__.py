"""Kohlbrenner et al. (2020), "Towards best practice in explaining neural network decisions
with LRP" (/work/shared/papers/001_2d849346cf7e9cea.txt): LRP_CMP (LRP_eps on dense,
LRP_alpha-beta on conv layers, optionally LRP_b on the first) against uniform LRP rules,
guided backprop and PatternAttribution, by the share of positive relevance inside the
object's box, mu = R_in / R_tot and mu_w = mu * S_tot / S_in (eq. 2).

Reproduced: Table 1 and its claims (Sec. 4.2), Fig. 3 (mu against box size), Fig. 2 (the
true-class logit when object or context is replaced by the training mean) and a Fig. 1 grid
(true and runner-up class), on ``clutter`` with the demo CNN (default) or on
``imagenet_val:PATH`` with VGG-16 (the paper's protocol; a GPU is expected). Not
reproduced: Table 1's PVOC half (its CaffeNet is not available; shown for reference) and
LRP_CAM.

:mod:`.paper`: the paper's numbers and settings; :mod:`.protocol`: the runs and
:func:`run`; :mod:`.claims`: the claims as pure functions; :mod:`.figures`: Figs. 1-3 and
the tables.
"""
from xaibench.papers.kohlbrenner.claims import (
    Measured, class_correlation, fig1_rows, fig2_rows, fig3_rows, kendall_tau, rows,
    spearman_rho, table1_columns, table1_rows, table1_verdicts)
from xaibench.papers.kohlbrenner.paper import (
    COLUMNS, LABELS, METHODS, PAPER, PVOC, REFERENCE, TITLE)
from xaibench.papers.kohlbrenner.protocol import (
    CLUTTER, N_IMAGES, PATTERN_IMAGES, run, training_statistics)

__all__ = ["CLUTTER", "COLUMNS", "LABELS", "METHODS", "Measured", "N_IMAGES", "PAPER",
           "PATTERN_IMAGES", "PVOC", "REFERENCE", "TITLE", "class_correlation",
           "fig1_rows", "fig2_rows", "fig3_rows", "kendall_tau", "rows", "run",
           "spearman_rho", "table1_columns", "table1_rows", "table1_verdicts",
           "training_statistics"]
