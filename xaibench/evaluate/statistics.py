"""Significance of differences between heatmap methods or settings (evaluator arrow of
DESIGN.md): the Friedman test at 5 % with a Nemenyi post-hoc test, as Amorim et al. (2023,
Sec. IV-A) report which regularisation values differ.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class FriedmanResult:
    """``statistic``/``pvalue``: Friedman chi^2 (scipy.stats.friedmanchisquare); ``mean_ranks``
    (k,) (rank 1 = smallest value); ``critical_difference``: Nemenyi CD at ``alpha``;
    ``pairwise_p`` (k, k): Nemenyi p-values; ``significant`` (k, k): pairs that differ at
    ``alpha`` (only meaningful when the Friedman test itself rejects, see ``reject``)."""

    statistic: float
    pvalue: float
    reject: bool
    mean_ranks: np.ndarray
    critical_difference: float
    pairwise_p: np.ndarray
    significant: np.ndarray
    names: list
    alpha: float

    def pairs(self):
        """The (name_i, name_j) pairs that differ significantly (empty if not ``reject``)."""
        if not self.reject:
            return []
        k = len(self.names)
        return [(self.names[i], self.names[j]) for i in range(k) for j in range(i + 1, k)
                if self.significant[i, j]]


def friedman(table, alpha: float = 0.05, names=None) -> FriedmanResult:
    """Friedman test over a table of n blocks (rows: folds, data sets, images, or methods)
    x k treatments (columns: the methods or settings compared), then the Nemenyi post-hoc test
    (Demsar 2006): treatments i, j differ when |Rbar_i - Rbar_j| >= CD with

        CD = q_alpha * sqrt(k (k + 1) / (6 n)),  q_alpha = studentized_range.ppf(1 - alpha, k, inf) / sqrt(2),

    pairwise p = studentized_range.sf(sqrt(2) |Rbar_i - Rbar_j| / sqrt(k (k + 1) / (6 n)), k, inf).
    Ranks within a block are scipy.stats.rankdata (ties: average ranks). ``table``: 2-D
    array-like or a pandas DataFrame (its columns name the treatments).
    """
    if names is None and hasattr(table, "columns"):
        names = [str(c) for c in table.columns]
    t = np.asarray(table, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"table has shape {t.shape}; pass a 2-D table: blocks (rows) x "
                         "treatments (columns).")
    n, k = t.shape
    if k < 3 or n < 2:
        raise ValueError(f"table is {n} x {k}; the Friedman test needs at least 3 treatments "
                         "(columns) and 2 blocks (rows). For 2 treatments use scipy.stats.wilcoxon.")
    if not np.all(np.isfinite(t)):
        raise ValueError("table contains NaN or inf; drop or fill those blocks first.")
    if not (0 < alpha < 1):
        raise ValueError(f"alpha={alpha!r} must lie in (0, 1), e.g. 0.05.")
    names = list(names) if names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} names for {k} columns; pass one name per column.")
    res = stats.friedmanchisquare(*t.T)
    ranks = stats.rankdata(t, axis=1).mean(axis=0)
    se = np.sqrt(k * (k + 1) / (6.0 * n))
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / np.sqrt(2)
    diff = np.abs(ranks[:, None] - ranks[None, :])
    p = stats.studentized_range.sf(np.sqrt(2) * diff / se, k, np.inf)
    p = np.where(diff == 0, 1.0, np.clip(p, 0.0, 1.0))
    return FriedmanResult(statistic=float(res.statistic), pvalue=float(res.pvalue),
                          reject=bool(res.pvalue < alpha), mean_ranks=ranks,
                          critical_difference=float(q * se), pairwise_p=p,
                          significant=(diff >= q * se) & (diff > 0), names=names, alpha=alpha)


def pearson_rows(a, b) -> np.ndarray:
    """Pearson correlation of each row of ``a`` with the same row of ``b`` ((N, M) each);
    NaN for a row with no variance."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(axis=1) / den, np.nan)
