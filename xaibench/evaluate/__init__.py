"""Heatmap evaluation: faithfulness, localisation, complexity and statistics.

    curves = xb.evaluate.perturbation_curve(model, x, R)       # Samek et al. eq. 11
    xb.evaluate.aopc(curves, relative_to=random_curves)         # eq. 12, Fig. 4
    xb.evaluate.confidence_drop(model, x, R)                    # Amorim et al. eq. 3
    xb.evaluate.relevance_ratio(R, boxes)                       # Kohlbrenner et al. eq. 2
    xb.evaluate.pointing_game(R, boxes)
    xb.evaluate.precision_recall_curves(R, masks)               # Seo et al.
    xb.evaluate.complexity(R)                                   # Samek et al. Fig. 5
    xb.evaluate.kept_score(model, x, R)                         # Anjomshoae et al. Fig. 3
    xb.evaluate.object_occlusion(model, x, boxes)               # Kohlbrenner et al. Fig. 2
    xb.evaluate.friedman(table)                                 # Amorim et al. Sec. IV-A
"""
from xaibench.evaluate.complexity import complexity, encoded_size, image_entropy
from xaibench.evaluate.faithfulness import (Curves, aopc, aopc_curve, confidence_drop,
                                            perturbation_curve)
from xaibench.evaluate.localisation import (boxes_to_masks, mu_by_box_size, pointing_game,
                                            precision_recall_curves, relevance_ratio,
                                            relevance_ratio_table, uniform_relevance_ratio)
from xaibench.evaluate.occlusion import kept_score, object_occlusion
from xaibench.evaluate.statistics import FriedmanResult, friedman
from xaibench.evaluate.road import linear_imputation, road
from xaibench.evaluate.insertion_deletion import abpc, area_between_curves, insertion_deletion
from xaibench.evaluate.faithfulness_correlation import faithfulness_correlation
from xaibench.evaluate.sparseness import sparseness
from xaibench.evaluate.randomisation import (efficient_randomisation, random_logit,
                                             randomisation)

__all__ = [
    "Curves", "aopc", "aopc_curve", "confidence_drop", "perturbation_curve",
    "boxes_to_masks", "mu_by_box_size", "pointing_game", "precision_recall_curves",
    "relevance_ratio", "relevance_ratio_table", "uniform_relevance_ratio",
    "complexity", "encoded_size", "image_entropy", "FriedmanResult", "friedman",
    "linear_imputation", "road", "abpc", "area_between_curves", "insertion_deletion",
    "faithfulness_correlation", "sparseness", "efficient_randomisation", "random_logit",
    "randomisation", "kept_score", "object_occlusion",
]
