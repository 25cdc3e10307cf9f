"""Heatmap evaluation: faithfulness, localisation, complexity and statistics.

    curves = xb.evaluate.perturbation_curve(model, x, R)       # Samek et al. eq. 11
    xb.evaluate.aopc(curves, relative_to=random_curves)         # eq. 12, Fig. 4
    xb.evaluate.confidence_drop(model, x, R)                    # Amorim et al. eq. 3
    xb.evaluate.relevance_ratio(R, boxes)                       # Kohlbrenner et al. eq. 2
"""
from xaibench.evaluate.faithfulness import (Curves, aopc, aopc_curve, confidence_drop,
                                            perturbation_curve)

__all__ = ["Curves", "aopc", "aopc_curve", "confidence_drop", "perturbation_curve"]
