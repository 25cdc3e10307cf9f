"""Amorim et al. (2020), "Interpretability vs. Complexity": L2 weight decay (eq. 1) on the
layer groups of the Fig. 1 CNN against the held-out accuracy (Fig. 3) and the confidence-drop
AOPC (eqs. 3-4) of five saliency methods, in k-fold cross-validation (Tables II-VII, Fig. 4,
the tests of Sec. IV-A). :mod:`.paper`: the paper's numbers and settings; :mod:`.protocol`:
what is run, and :func:`run`; :mod:`.claims`: the claims as pure functions of numbers;
:mod:`.figures`: the tables and figures."""
from xaibench.papers.amorim.paper import TITLE
from xaibench.papers.amorim.protocol import run

__all__ = ["TITLE", "run"]
